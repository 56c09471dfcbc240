"""The blocking SQLite engine behind both halves of the SQLite store.

All SQL lives here, once. Each public store call is one engine call: at most one
transaction, under the connection's own lock (one sqlite3 connection used from
several threads without a lock of its own loses writes), so the async half makes
exactly one worker-thread hop per call and the sync half none.

Layout (schema version 1):

- ``sessions``: one row per session (counters, TTL duration, labels as JSON,
  ``next_seq``), indexed by ``(updated_at DESC, id)`` for ``find_sessions`` and
  by ``expires_at`` for ``purge_expired``.
- ``messages``: one row per message, wire form, keyed by ``(session_id, seq)``, so
  ``append`` inserts only the new rows and ``load(last=N)`` reads only N of them.
- ``labels``: one row per label of a labelled session, carrying a copy of the
  session's ``updated_at`` and indexed by ``(key, value, updated_at DESC,
  session_id)``, so ``find_sessions(labels=...)`` walks one label's sessions
  already in page order. Writes that move ``updated_at`` move the copies too
  (a labelled session only: an unlabelled one has no rows to move).

Every time is a parameter from the store's clock; SQLite's own clock is never used.
"""

from __future__ import annotations

import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import SplitResult

from .._errors import (
    SerializationError,
    SessionExpired,
    SessionNotFound,
    StoreClosed,
    VersionConflict,
)
from .._metadata import EMPTY_LABELS, Page, SessionMetadata
from .._model import Conversation, Message, stamp
from .._paging import FindQuery, encode_cursor, prefix_upper_bound
from .._serialization import (
    decode_message,
    decode_messages,
    encode_labels,
    encode_message,
    message_size,
    read_only_labels,
)
from .._validation import DEFAULT, Default, Limits

__all__ = [
    "SCHEMA_VERSION",
    "SQLiteEngine",
    "SYNCHRONOUS_MODES",
    "sqlite_path",
    "sqlite_url_target",
]

SCHEMA_VERSION = 1
SYNCHRONOUS_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")
# UPDATE ... RETURNING (SQLite 3.35, 2021) lets append read and bump the session row
# in one statement; older libraries take the SELECT-then-UPDATE path.
HAS_RETURNING = sqlite3.sqlite_version_info >= (3, 35, 0)

# One list of statements per schema version: _MIGRATIONS[v] takes version v to v + 1.
# Released steps are never edited; a new layout is a new step.
_MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            expires_at REAL,
            ttl REAL,
            version INTEGER NOT NULL,
            message_count INTEGER NOT NULL,
            size_bytes INTEGER NOT NULL,
            labels TEXT NOT NULL DEFAULT '{}',
            next_seq INTEGER NOT NULL
        ) WITHOUT ROWID""",
        "CREATE INDEX sessions_by_update ON sessions (updated_at DESC, id)",
        "CREATE INDEX sessions_by_expiry ON sessions (expires_at) WHERE expires_at IS NOT NULL",
        """CREATE TABLE messages (
            session_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            body TEXT NOT NULL,
            size INTEGER NOT NULL,
            PRIMARY KEY (session_id, seq)
        ) WITHOUT ROWID""",
        """CREATE TABLE labels (
            session_id TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (session_id, key)
        ) WITHOUT ROWID""",
        "CREATE INDEX labels_by_pair ON labels (key, value, updated_at DESC, session_id)",
    ],
]
assert len(_MIGRATIONS) == SCHEMA_VERSION

_LIVE = "(expires_at IS NULL OR expires_at > ?)"
_META_COLUMNS = "id, created_at, updated_at, expires_at, message_count, size_bytes, version, labels"
_ITER_PAGE = 500

# -- statements (constant strings, so sqlite3's statement cache prepares each once) -------

_SELECT_FOR_WRITE = (
    "SELECT created_at, expires_at, ttl, version, message_count, size_bytes, labels, next_seq "
    "FROM sessions WHERE id = ?"
)
_SELECT_META = f"SELECT {_META_COLUMNS}, ttl FROM sessions WHERE id = ?"
_SELECT_EXPIRY = "SELECT expires_at FROM sessions WHERE id = ?"
# A row the fast append may bump: every counter what agent-session wrote, else the
# slow path reads it and reports it (arithmetic on garbage would hide it: 'abc' + 1 = 1).
_WELL_FORMED = (
    "typeof(version) = 'integer' AND typeof(message_count) = 'integer' "
    "AND message_count >= 0 AND typeof(size_bytes) = 'integer' "
    "AND typeof(next_seq) = 'integer' AND typeof(created_at) IN ('real', 'integer') "
    "AND typeof(ttl) IN ('real', 'integer', 'null') AND typeof(labels) = 'text'"
)
# The bumped row of a live session, new values; no row: missing or expired.
_RETURNING_NEW = "RETURNING created_at, expires_at, version, message_count, size_bytes, labels"
_APPEND_KEEP_TTL = (
    "UPDATE sessions SET updated_at = ?, expires_at = ? + ttl, version = version + 1, "
    "message_count = message_count + ?, size_bytes = size_bytes + ?, next_seq = next_seq + ? "
    f"WHERE id = ? AND {_LIVE} AND {_WELL_FORMED} {_RETURNING_NEW}, next_seq"
)
_APPEND_SET_TTL = (
    "UPDATE sessions SET updated_at = ?, expires_at = ? + ?, ttl = ?, version = version + 1, "
    "message_count = message_count + ?, size_bytes = size_bytes + ?, next_seq = next_seq + ? "
    f"WHERE id = ? AND {_LIVE} AND {_WELL_FORMED} {_RETURNING_NEW}, next_seq"
)
_UPDATE_AFTER_APPEND = (
    "UPDATE sessions SET updated_at = ?, expires_at = ?, ttl = ?, version = version + 1, "
    "message_count = message_count + ?, size_bytes = size_bytes + ?, next_seq = ? WHERE id = ?"
)
_INSERT_SESSION = (
    "INSERT INTO sessions (id, created_at, updated_at, expires_at, ttl, version, "
    "message_count, size_bytes, labels, next_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_MESSAGE = "INSERT INTO messages (session_id, seq, body, size) VALUES (?, ?, ?, ?)"
_MOVE_LABELS = "UPDATE labels SET updated_at = ? WHERE session_id = ?"
_INSERT_LABEL = "INSERT INTO labels (session_id, key, value, updated_at) VALUES (?, ?, ?, ?)"
_DELETE_MESSAGES = "DELETE FROM messages WHERE session_id = ?"
_DELETE_LABELS = "DELETE FROM labels WHERE session_id = ?"
_DELETE_SESSION = "DELETE FROM sessions WHERE id = ?"
_NEWEST_MESSAGE = (
    "SELECT seq, body, size FROM messages WHERE session_id = ? ORDER BY seq DESC LIMIT 1"
)
_DELETE_MESSAGE = "DELETE FROM messages WHERE session_id = ? AND seq = ?"
_UPDATE_AFTER_POP = (
    "UPDATE sessions SET updated_at = ?, expires_at = ? + ttl, version = version + 1, "
    "message_count = message_count - 1, size_bytes = size_bytes - ? WHERE id = ?"
)
_UPDATE_EXPIRY = "UPDATE sessions SET expires_at = ?, ttl = ? WHERE id = ?"
_SLIDE = "UPDATE sessions SET expires_at = ? + ttl WHERE id = ? AND ttl IS NOT NULL"
# load: one read transaction (a snapshot, shared by every process): the session's row,
# then its messages. Two statements, not one join: a join repeats the session's columns
# on every row, which costs as much as the bodies themselves on a long session. The
# bodies come as bytes (CAST: no UTF-8 decode into a str the decoder would encode
# again), where the database holds text as UTF-8 (``_connect`` checks).
_LOAD_HEAD = "SELECT expires_at, size_bytes, message_count FROM sessions WHERE id = ?"
_BODIES = "SELECT CAST(body AS BLOB) FROM messages WHERE session_id = ? ORDER BY seq"
_BODIES_LAST = (
    "SELECT CAST(body AS BLOB) FROM messages WHERE session_id = ? ORDER BY seq DESC LIMIT ?"
)
_TEXT_BODIES = "SELECT body FROM messages WHERE session_id = ? ORDER BY seq"
_TEXT_BODIES_LAST = "SELECT body FROM messages WHERE session_id = ? ORDER BY seq DESC LIMIT ?"
_COUNT_LIVE = f"SELECT count(*) FROM sessions WHERE {_LIVE}"
# The partial expiry index serves these: a comparison implies expires_at IS NOT NULL.
_EXPIRED_IDS = "SELECT id FROM sessions WHERE expires_at <= ?"
_PURGE = (
    f"DELETE FROM messages WHERE session_id IN ({_EXPIRED_IDS})",
    f"DELETE FROM labels WHERE session_id IN ({_EXPIRED_IDS})",
    "DELETE FROM sessions WHERE expires_at <= ?",
)


# Column kinds of the rows read back: "f" a number, "F" a number or NULL, "i" an int,
# "s" a str. A row that breaks them was changed outside agent-session (issue 7, defect 6).
_META_KINDS = "sffFiiis"  # _META_COLUMNS
_META_TTL_KINDS = _META_KINDS + "F"  # _SELECT_META
_WRITE_KINDS = "fFFiiisi"  # _SELECT_FOR_WRITE


#: What runs a statement: the connection, or a cursor of it (a transaction's).
_Executor = sqlite3.Connection | sqlite3.Cursor


def _checked(row: Any, kinds: str, session_id: str) -> Any:
    """``row`` if each column holds what its kind says, else ``SerializationError``."""
    for value, kind in zip(row, kinds, strict=True):
        if kind == "s":
            ok = isinstance(value, str)
        elif kind == "i":
            ok = type(value) is int and value >= 0
        else:
            ok = (value is None and kind == "F") or (
                type(value) in (int, float) and math.isfinite(value)
            )
        if not ok:
            raise SerializationError(
                f"session {session_id!r} has a malformed row in the sessions table "
                f"({value!r:.80} where {'text' if kind == 's' else 'a number'} belongs): "
                "it was changed outside agent-session; delete the session to start it anew",
                session_id=session_id,
            )
    return row


def _meta(row: Sequence[Any]) -> SessionMetadata:
    return SessionMetadata(
        row[0],
        float(row[1]),
        float(row[2]),
        _time(row[3]),
        row[4],
        row[5],
        row[6],
        _labels(row[7], row[0]),
    )


def _time(value: float | None) -> float | None:
    # SQLite hands back a whole-number REAL as an int: timestamps are floats (defect 13).
    return None if value is None else float(value)


def _labels(text: str, session_id: str) -> Mapping[str, str]:
    # Most sessions have none: skip the JSON parser on the hot path.
    if text == "{}":
        return EMPTY_LABELS
    try:
        return read_only_labels(text)
    except SerializationError as exc:
        raise SerializationError(
            f"session {session_id!r}: {exc}; delete the session to start it anew",
            session_id=session_id,
        ) from exc


def _bodies(messages: list[Message], now: float) -> list[tuple[str, int]]:
    """Stored forms and payload sizes, each message stamped with an id and ``now``."""
    return [(encode_message(message), message_size(message)) for message in stamp(messages, now)]


def _expired(expires_at: float | None, now: float) -> bool:
    return expires_at is not None and expires_at <= now


class _Transaction:
    """``with engine._write as conn``: one transaction on the open connection.

    Used inside ``with engine._lock``; a driver error (from BEGIN, the body, COMMIT or
    ROLLBACK) propagates as it is, and the store's front door makes it a BackendError.
    A class rather than a generator context manager: it runs on every call.
    """

    __slots__ = ("_begin", "_engine")

    def __init__(self, engine: SQLiteEngine, begin: str) -> None:
        self._engine = engine
        self._begin = begin

    def __enter__(self) -> sqlite3.Cursor:
        # One cursor for the transaction's statements: conn.execute makes one per call.
        cursor = self._engine._connection().cursor()
        cursor.execute(self._begin)
        return cursor

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        conn = self._engine._conn
        if conn is None:  # pragma: no cover  # only close() clears it, under the same lock
            return
        if exc is None:
            try:
                conn.execute("COMMIT")
            except BaseException:
                self._engine._rollback(conn)
                raise
        else:
            self._engine._rollback(conn)


class SQLiteEngine:
    """One connection, its lock, the schema and every statement."""

    def __init__(
        self,
        path: str,
        *,
        default_ttl: float | None,
        sliding: bool,
        clock: Callable[[], float],
        limits: Limits,
        synchronous: str,
        busy_timeout: float,
    ) -> None:
        self.path = path
        self._default_ttl = default_ttl
        self._sliding = sliding
        self._clock = clock
        self._limits = limits
        self._synchronous = synchronous
        self._busy_timeout = busy_timeout
        self._returning = HAS_RETURNING  # tests switch it off to cover the fallback
        self._lock = threading.Lock()
        self._write = _Transaction(self, "BEGIN IMMEDIATE")
        self._read = _Transaction(self, "BEGIN")
        #: load's statements for all and for the newest N bodies (see _connect).
        self._bodies = (_BODIES, _BODIES_LAST)
        self._conn: sqlite3.Connection | None = None
        self._closed = False

    # -- connection and schema ------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        """The open connection (opened on first use); the caller holds the lock."""
        if self._closed:
            raise StoreClosed("sqlite")
        conn = self._conn
        if conn is None:
            # A failed open leaves _conn None: the next call tries again, so a store
            # outlives a database that was briefly unusable.
            conn = self._conn = self._open()
        return conn

    def _open(self) -> sqlite3.Connection:
        # Switching a fresh file to WAL while another process does the same can fail
        # with "database is locked" at once, without the busy handler: retry until the
        # busy timeout runs out.
        deadline = time.monotonic() + self._busy_timeout
        while True:
            try:
                return self._connect()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.01)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            timeout=self._busy_timeout,  # sqlite3's busy handler: wait for other writers
            isolation_level=None,  # autocommit: we issue BEGIN/COMMIT ourselves
            check_same_thread=False,  # our lock serializes every use
            cached_statements=64,
        )
        try:
            if self.path != ":memory:":
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    # e.g. a file system without shared memory: refuse rather than run
                    # with other durability and concurrency than documented.
                    raise sqlite3.OperationalError(
                        f"SQLite could not switch {self.path!r} to WAL mode (it stays in "
                        f"{mode!r} mode)"
                    )
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
            self._migrate(conn)
            # A file made UTF-16 before agent-session first touched it: a body CAST to a
            # BLOB would be UTF-16 bytes, so read such a file's bodies as str.
            encoding = conn.execute("PRAGMA encoding").fetchone()[0]
            utf8 = str(encoding).upper() == "UTF-8"
            self._bodies = (_BODIES, _BODIES_LAST) if utf8 else (_TEXT_BODIES, _TEXT_BODIES_LAST)
        except BaseException:
            conn.close()
            raise
        return conn

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        # BEGIN IMMEDIATE takes the write lock before reading the version, so of two
        # processes opening a fresh file at once one migrates and the other, once the
        # lock is free, finds the work done.
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise SerializationError(
                    f"the SQLite database has schema version {version}, newer than the "
                    f"{SCHEMA_VERSION} this agent-session knows: upgrade agent-session"
                )
            for steps in _MIGRATIONS[version:]:
                for statement in steps:
                    conn.execute(statement)
            if version < SCHEMA_VERSION:
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _rollback(self, conn: sqlite3.Connection) -> None:
        if not conn.in_transaction:
            return
        try:
            conn.execute("ROLLBACK")
        except BaseException:
            # A connection stuck inside a transaction would fail every later BEGIN:
            # drop it, the next call opens a fresh one.
            self._conn = None
            conn.close()
            raise

    def close(self) -> None:
        """Close the connection (waiting for a call in progress); idempotent."""
        with self._lock:
            self._closed = True
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.close()

    def check_open(self) -> None:
        """Raise :class:`StoreClosed` once :meth:`close` has run."""
        if self._closed:
            raise StoreClosed("sqlite")

    # -- shared pieces --------------------------------------------------------------------

    def _expiry(
        self, ttl_arg: float | None | Default, own_ttl: float | None, exists: bool, now: float
    ) -> tuple[float | None, float | None]:
        """The TTL duration a write keeps, and the ``expires_at`` it sets."""
        if ttl_arg is DEFAULT:
            seconds = own_ttl if exists else self._default_ttl
        else:
            seconds = ttl_arg
        return seconds, (None if seconds is None else now + seconds)

    @staticmethod
    def _live_row(conn: _Executor, session_id: str, now: float) -> tuple[Any, ...] | None:
        """The row of ``_SELECT_FOR_WRITE``, or None; an expired session is wiped first."""
        row: tuple[Any, ...] | None = conn.execute(_SELECT_FOR_WRITE, (session_id,)).fetchone()
        if row is not None:
            _checked(row, _WRITE_KINDS, session_id)
        if row is not None and _expired(row[1], now):
            SQLiteEngine._remove(conn, session_id)  # a write to an expired session starts anew
            return None
        return row

    @staticmethod
    def _remove(conn: _Executor, session_id: str) -> None:
        conn.execute(_DELETE_MESSAGES, (session_id,))
        conn.execute(_DELETE_LABELS, (session_id,))
        conn.execute(_DELETE_SESSION, (session_id,))

    @staticmethod
    def _row_for_read(conn: _Executor, session_id: str, now: float) -> tuple[Any, ...]:
        """``_SELECT_META``'s row of a live session, else SessionNotFound/SessionExpired."""
        row: tuple[Any, ...] | None = conn.execute(_SELECT_META, (session_id,)).fetchone()
        if row is None:
            raise SessionNotFound(session_id)
        _checked(row, _META_TTL_KINDS, session_id)
        if _expired(row[3], now):
            raise SessionExpired(session_id, row[3])
        return row

    @staticmethod
    def _insert_messages(
        conn: _Executor, session_id: str, first_seq: int, bodies: list[tuple[str, int]]
    ) -> None:
        if len(bodies) == 1:  # the common case, without executemany's per-call setup
            body, size = bodies[0]
            conn.execute(_INSERT_MESSAGE, (session_id, first_seq, body, size))
        elif bodies:
            conn.executemany(
                _INSERT_MESSAGE,
                [(session_id, first_seq + i, body, n) for i, (body, n) in enumerate(bodies)],
            )

    # -- writes ---------------------------------------------------------------------------

    def save(
        self,
        session_id: str,
        messages: list[Message],
        size: int,
        ttl_arg: float | None | Default,
        expected_version: int | None,
        labels: Mapping[str, str] | None,
    ) -> SessionMetadata:
        """Replace the session's messages (and labels, unless None) in one transaction."""
        with self._lock, self._write as conn:
            now = self._clock()
            bodies = _bodies(messages, now)
            row = self._live_row(conn, session_id, now)
            version = 0 if row is None else row[3]
            if expected_version is not None and expected_version != version:
                raise VersionConflict(session_id, expected_version, version)
            if self._limits.active:
                self._limits.check_totals(session_id, len(bodies), size)
            seconds, expires_at = self._expiry(
                ttl_arg, None if row is None else row[2], row is not None, now
            )
            if row is None:
                created_at = now
                kept = labels if labels is not None else EMPTY_LABELS
            else:
                created_at = float(row[0])
                kept = labels if labels is not None else _labels(row[6], session_id)
                conn.execute(_DELETE_MESSAGES, (session_id,))
                conn.execute(_DELETE_LABELS, (session_id,))
                conn.execute(_DELETE_SESSION, (session_id,))
            conn.execute(
                _INSERT_SESSION,
                (
                    session_id,
                    created_at,
                    now,
                    expires_at,
                    seconds,
                    version + 1,
                    len(bodies),
                    size,
                    encode_labels(kept) if kept else "{}",
                    len(bodies),
                ),
            )
            self._insert_messages(conn, session_id, 0, bodies)
            if kept:
                conn.executemany(_INSERT_LABEL, [(session_id, k, v, now) for k, v in kept.items()])
            return SessionMetadata(
                session_id,
                created_at,
                now,
                expires_at,
                len(bodies),
                size,
                version + 1,
                kept or EMPTY_LABELS,  # read-only already (check_labels, _labels)
            )

    def append(
        self,
        session_id: str,
        messages: list[Message],
        added: int,
        ttl_arg: float | None | Default,
        expected_version: int | None,
    ) -> SessionMetadata:
        """Add messages at the end in one transaction that touches one session row."""
        count = len(messages)
        with self._lock, self._write as conn:
            now = self._clock()
            bodies = _bodies(messages, now)
            if self._returning:
                # One statement bumps a live session and returns its new state; checks
                # that fail below roll the transaction back, so nothing is written.
                if ttl_arg is DEFAULT:
                    sql = _APPEND_KEEP_TTL
                    params: tuple[Any, ...] = (now, now, count, added, count, session_id, now)
                else:
                    sql = _APPEND_SET_TTL
                    params = (now, now, ttl_arg, ttl_arg, count, added, count, session_id, now)
                bumped = conn.execute(sql, params).fetchone()
                if bumped is not None:
                    created_at, expires_at, version, total, size, labels_json, next_seq = bumped
                    created_at, expires_at = float(created_at), _time(expires_at)
                    if expected_version is not None and expected_version != version - 1:
                        raise VersionConflict(session_id, expected_version, version - 1)
                    if self._limits.active:
                        self._limits.check_totals(session_id, total, size)
                    self._insert_messages(conn, session_id, next_seq - count, bodies)
                    if labels_json != "{}":
                        conn.execute(_MOVE_LABELS, (now, session_id))
                    return SessionMetadata(
                        session_id,
                        created_at,
                        now,
                        expires_at,
                        total,
                        size,
                        version,
                        _labels(labels_json, session_id),
                    )
            # A new or expired session (or an SQLite without RETURNING).
            row = self._live_row(conn, session_id, now)
            if row is None:
                created_at, version, total, size, labels_json, seq = now, 0, 0, 0, "{}", 0
            else:
                created_at, _, _, version, total, size, labels_json, seq = row
                created_at = float(created_at)
            if expected_version is not None and expected_version != version:
                raise VersionConflict(session_id, expected_version, version)
            if self._limits.active:
                self._limits.check_totals(session_id, total + count, size + added)
            seconds, expires_at = self._expiry(
                ttl_arg, None if row is None else row[2], row is not None, now
            )
            if row is None:
                conn.execute(
                    _INSERT_SESSION,
                    (session_id, now, now, expires_at, seconds, 1, count, added, "{}", count),
                )
            else:
                conn.execute(
                    _UPDATE_AFTER_APPEND,
                    (now, expires_at, seconds, count, added, seq + count, session_id),
                )
                if labels_json != "{}":
                    conn.execute(_MOVE_LABELS, (now, session_id))
            self._insert_messages(conn, session_id, seq, bodies)
            return SessionMetadata(
                session_id,
                created_at,
                now,
                expires_at,
                total + count,
                size + added,
                version + 1,
                _labels(labels_json, session_id),
            )

    def pop(self, session_id: str, expected_version: int | None = None) -> Message | None:
        """Remove and return the newest message; None (and no write) on an empty session."""
        with self._lock, self._write as conn:
            now = self._clock()
            row = self._row_for_read(conn, session_id, now)
            if expected_version is not None and expected_version != row[6]:
                raise VersionConflict(session_id, expected_version, row[6])
            if row[4] == 0:
                return None
            seq, body, size = conn.execute(_NEWEST_MESSAGE, (session_id,)).fetchone()
            # Decode before deleting: a corrupted row raises and the transaction rolls back.
            message = decode_message(body, session_id)
            conn.execute(_DELETE_MESSAGE, (session_id, seq))
            conn.execute(_UPDATE_AFTER_POP, (now, now, size, session_id))
            if row[7] != "{}":
                conn.execute(_MOVE_LABELS, (now, session_id))
            return message

    def touch(self, session_id: str, ttl_arg: float | None | Default) -> SessionMetadata:
        """Restart the session's TTL; only ``expires_at`` (and the duration) change."""
        with self._lock, self._write as conn:
            now = self._clock()
            row = self._row_for_read(conn, session_id, now)
            seconds, expires_at = self._expiry(ttl_arg, row[8], True, now)
            conn.execute(_UPDATE_EXPIRY, (expires_at, seconds, session_id))
            return _meta(row)._replace(expires_at=expires_at)

    def delete(self, session_id: str) -> bool:
        """Remove the session; True if it was live."""
        with self._lock, self._write as conn:
            row = conn.execute(_SELECT_EXPIRY, (session_id,)).fetchone()
            if row is None:
                return False
            self._remove(conn, session_id)
            return not _expired(row[0], self._clock())

    def clear(self) -> int:
        """Remove every session; the number of live ones removed."""
        with self._lock, self._write as conn:
            live = conn.execute(_COUNT_LIVE, (self._clock(),)).fetchone()[0]
            conn.execute("DELETE FROM messages")
            conn.execute("DELETE FROM labels")
            conn.execute("DELETE FROM sessions")
            return int(live)

    def purge_expired(self) -> int:
        """Remove the expired sessions (found through the expiry index); how many."""
        with self._lock, self._write as conn:
            now = self._clock()
            conn.execute(_PURGE[0], (now,))
            conn.execute(_PURGE[1], (now,))
            return int(conn.execute(_PURGE[2], (now,)).rowcount)

    # -- reads ----------------------------------------------------------------------------

    def _read_bodies(
        self, conn: _Executor, session_id: str, last: int | None, count: Any
    ) -> list[Any]:
        """The bodies of load (the newest ``last``, newest first), in the caller's
        transaction; SerializationError if they are not the ``count`` the session says."""
        if last is None:
            bodies = [row[0] for row in conn.execute(self._bodies[0], (session_id,)).fetchall()]
        elif last:
            rows = conn.execute(self._bodies[1], (session_id, last)).fetchall()
            bodies = [row[0] for row in rows]
        else:  # LIMIT 0: no rows to read
            bodies = []
        if type(count) is not int or len(bodies) != (count if last is None else min(last, count)):
            # Rows deleted or added outside agent-session (issue 7, defect 6).
            raise SerializationError(
                f"session {session_id!r} counts {count!r} messages but its rows say "
                f"otherwise ({len(bodies)} read): the database was changed outside "
                "agent-session",
                session_id=session_id,
            )
        return bodies

    def load(self, session_id: str, last: int | None) -> Conversation:
        """The session's messages (the newest ``last`` of them), in one read transaction."""
        # sliding=True writes the new expiry: the write lock from the start.
        transaction = self._write if self._sliding else self._read
        with self._lock, transaction as conn:
            now = self._clock()
            head = conn.execute(_LOAD_HEAD, (session_id,)).fetchone()
            if head is None:
                raise SessionNotFound(session_id)
            expires_at, size, count = head
            if type(size) is not int or (expires_at is not None and type(expires_at) is not float):
                _checked(head, "Fii", session_id)  # raises, unless a whole-number expiry
            if _expired(expires_at, now):
                raise SessionExpired(session_id, expires_at)
            # last=0 needs an int count too: the check below raises on any other.
            bodies = self._read_bodies(conn, session_id, last, count)
            if self._sliding:
                conn.execute(_SLIDE, (now, session_id))
        if not bodies:
            return Conversation._adopt([], 0)
        # Decoded outside the lock: the slow part, and it needs no database.
        messages = decode_messages(bodies, session_id)
        if last is None:
            return Conversation._adopt(messages, size)
        messages.reverse()
        return Conversation._adopt(messages)

    def load_with_metadata(
        self, session_id: str, last: int | None
    ) -> tuple[Conversation, SessionMetadata]:
        """The session's messages and metadata, of one read transaction (a snapshot)."""
        # sliding=True writes the new expiry: the write lock from the start.
        transaction = self._write if self._sliding else self._read
        with self._lock, transaction as conn:
            now = self._clock()
            row = self._row_for_read(conn, session_id, now)
            bodies = self._read_bodies(conn, session_id, last, row[4])
            meta = _meta(row)
            if self._sliding and row[8] is not None:
                conn.execute(_SLIDE, (now, session_id))
                meta = meta._replace(expires_at=now + row[8])
        if not bodies:
            return Conversation._adopt([], 0), meta
        messages = decode_messages(bodies, session_id)
        if last is None:
            return Conversation._adopt(messages, meta.size_bytes), meta
        messages.reverse()
        return Conversation._adopt(messages), meta

    def get_metadata(self, session_id: str) -> SessionMetadata:
        """The live session's metadata."""
        with self._lock:
            conn = self._connection()
            return _meta(self._row_for_read(conn, session_id, self._clock()))

    def exists(self, session_id: str) -> bool:
        """True if the session is stored and live."""
        with self._lock:
            row = self._connection().execute(_SELECT_EXPIRY, (session_id,)).fetchone()
            return row is not None and not _expired(row[0], self._clock())

    def list_sessions(
        self, prefix: str | None, limit: int | None, after: str | None = None
    ) -> list[str]:
        """Live ids in order, optionally with ``prefix``, strictly after ``after``."""
        sql = f"SELECT id FROM sessions WHERE {_LIVE}"
        params: list[Any] = [self._clock()]
        if prefix:
            # A range on the primary key: SQLite's BINARY collation compares UTF-8
            # bytes, which orders like code points.
            sql += " AND id >= ?"
            params.append(prefix)
            upper = prefix_upper_bound(prefix)
            if upper is not None:
                sql += " AND id < ?"
                params.append(upper)
        if after is not None:
            sql += " AND id > ?"
            params.append(after)
        sql += " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with self._lock:
            return [row[0] for row in self._connection().execute(sql, params)]

    def iter_page(self, prefix: str | None, after: str | None) -> list[str]:
        """One page of ``iter_sessions``: keyset on the id, so memory stays constant."""
        return self.list_sessions(prefix, _ITER_PAGE, after)

    def find_sessions(self, query: FindQuery) -> Page:
        """One page of matching live sessions, newest ``updated_at`` first, by index.

        Without labels the walk follows ``sessions_by_update``; with labels it follows
        the first pair's entries in ``labels_by_pair`` (already in page order) and
        probes the other pairs by primary key.
        """
        params: list[Any] = []
        if query.labels:
            pairs = iter(query.labels.items())
            key, value = next(pairs)
            # CROSS JOIN keeps labels as the outer loop, so its index gives the order.
            sql = (
                "SELECT s.id, s.created_at, s.updated_at, s.expires_at, s.message_count, "
                "s.size_bytes, s.version, s.labels FROM labels l CROSS JOIN sessions s "
                "WHERE l.key = ? AND l.value = ? AND s.id = l.session_id "
                "AND (s.expires_at IS NULL OR s.expires_at > ?)"
            )
            params += [key, value, self._clock()]
            updated, session = "l.updated_at", "l.session_id"
            for key, value in pairs:
                sql += (
                    " AND EXISTS (SELECT 1 FROM labels x WHERE x.session_id = l.session_id "
                    "AND x.key = ? AND x.value = ?)"
                )
                params += [key, value]
        else:
            sql = f"SELECT {_META_COLUMNS} FROM sessions WHERE {_LIVE}"
            params.append(self._clock())
            updated, session = "updated_at", "id"
        if query.updated_after is not None:
            sql += f" AND {updated} > ?"
            params.append(query.updated_after)
        if query.updated_before is not None:
            sql += f" AND {updated} < ?"
            params.append(query.updated_before)
        if query.after is not None:
            # The first term bounds the index range, so a deep page starts where the
            # last one ended instead of skipping over the earlier ones.
            sql += f" AND {updated} <= ? AND ({updated} < ? OR {session} > ?)"
            params += [query.after[0], query.after[0], query.after[1]]
        sql += f" ORDER BY {updated} DESC, {session} LIMIT ?"
        params.append(query.limit + 1)
        with self._lock:
            rows = self._connection().execute(sql, params).fetchall()
        items = [_meta(_checked(row, _META_KINDS, str(row[0]))) for row in rows[: query.limit]]
        more = len(rows) > query.limit
        cursor = encode_cursor(items[-1].updated_at, items[-1].session_id) if more else None
        return Page(items, cursor)


def sqlite_path(path: object) -> str:
    """``path`` as a str for sqlite3 (a str or ``os.PathLike``).

    :raises TypeError: if ``path`` is neither
    :raises ValueError: if it is empty
    """
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if isinstance(path, bytes):
        raise TypeError(f"path must be a str or os.PathLike of str, not {path!r}")
    if not isinstance(path, str):
        raise TypeError(f"path must be a str or os.PathLike, not {path!r}")
    if not path:
        raise ValueError("path must name a database file, or be ':memory:'")
    return path


def sqlite_url_target(url: str, parts: SplitResult, _parameters: list[tuple[str, str]]) -> str:
    """The database of a ``sqlite://`` URL, as in SQLAlchemy.

    ``sqlite:///relative.db``, ``sqlite:////absolute.db``, ``sqlite://:memory:``.
    """
    if parts.netloc == ":memory:" or parts.path in ("/:memory:", ":memory:"):
        return ":memory:"
    if parts.netloc:
        raise ValueError(
            f"store URL {url!r} names a host; use sqlite:///relative/path.db or "
            "sqlite:////absolute/path.db"
        )
    target = parts.path[1:] if parts.path.startswith("/") else parts.path
    if not target:
        raise ValueError(f"store URL {url!r} names no database file")
    return target
