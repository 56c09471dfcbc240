"""The blocking SQLite engine behind both halves of the SQLite store.

All SQL lives here, once. Each public store call is one engine call: one
transaction under the connection's own lock (one sqlite3 connection used from
several threads without a lock of its own loses writes), so the async half
makes exactly one worker-thread hop per call and the sync half none.

Layout: a ``sessions`` row per session (counters, TTL, labels as JSON) and a
``messages`` row per message keyed by ``(session_id, seq)``, so ``append``
touches only the new rows and one session row, whatever the session's length;
a ``labels`` table indexed by ``(key, value)`` answers ``find_sessions``.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from ._errors import (
    SerializationError,
    SessionExpired,
    SessionNotFound,
    StoreClosed,
    VersionConflict,
    map_backend_errors,
)
from ._metadata import EMPTY_LABELS, Page, SessionMetadata
from ._model import Conversation, Message
from ._paging import FindQuery, encode_cursor, prefix_upper_bound
from ._serialization import decode_message, encode_labels, read_only_labels
from ._validation import DEFAULT, Limits

__all__ = ["SCHEMA_VERSION", "SQLiteEngine", "SYNCHRONOUS_MODES"]

T = TypeVar("T")

SCHEMA_VERSION = 1
SYNCHRONOUS_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")

_MIGRATIONS: list[list[str]] = [
    # version 0 -> 1
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
            next_seq INTEGER NOT NULL DEFAULT 0
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
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            session_id TEXT NOT NULL,
            PRIMARY KEY (key, value, session_id)
        ) WITHOUT ROWID""",
        "CREATE INDEX labels_by_session ON labels (session_id)",
    ],
]

_META_COLUMNS = "id, created_at, updated_at, expires_at, message_count, size_bytes, version, labels"
_ITER_PAGE = 500


def _meta(row: Sequence[Any]) -> SessionMetadata:
    return SessionMetadata(
        row[0], row[1], row[2], row[3], row[4], row[5], row[6], read_only_labels(row[7])
    )


def _expired(expires_at: float | None, now: float) -> bool:
    return expires_at is not None and expires_at <= now


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
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._closed = False

    # -- connection and schema ------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        # Switching a fresh file to WAL, or migrating it, while another process does the
        # same can fail with "database is locked" at once, without the busy handler:
        # retry until the busy timeout runs out.
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
            timeout=self._busy_timeout,
            isolation_level=None,  # we issue BEGIN/COMMIT ourselves
            check_same_thread=False,  # our lock serializes every use
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
            if self.path != ":memory:":
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
            self._migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        # BEGIN IMMEDIATE takes the write lock first, so of two processes opening a
        # fresh file at once one migrates and the other then finds it done.
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

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[sqlite3.Connection]:
        """The connection, locked, inside one transaction; driver errors -> BackendError."""
        with self._lock, map_backend_errors(f"SQLite ({self.path})", (sqlite3.Error,)):
            if self._closed:
                raise StoreClosed("sqlite")
            conn = self._conn
            if conn is None:
                conn = self._conn = self._open()
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def check_open(self) -> None:
        if self._closed:
            raise StoreClosed("sqlite")

    # -- shared pieces ------------------------------------------------------------------

    def _expiry(
        self, ttl_arg: object, own_ttl: float | None, exists: bool, now: float
    ) -> tuple[float | None, float | None]:
        if ttl_arg is DEFAULT:
            seconds = own_ttl if exists else self._default_ttl
        else:
            seconds = ttl_arg  # type: ignore[assignment]  # validated by the caller
        return seconds, (None if seconds is None else now + seconds)

    @staticmethod
    def _live_row(conn: sqlite3.Connection, session_id: str, now: float) -> tuple[Any, ...] | None:
        """The session's row (see the SELECT) or None; an expired one is wiped first."""
        row = conn.execute(
            "SELECT created_at, expires_at, ttl, version, message_count, size_bytes, labels, "
            "next_seq FROM sessions WHERE id = ?",
            (session_id,),
        ).fetchone()
        if row is not None and _expired(row[1], now):
            SQLiteEngine._remove(conn, session_id)  # a write to an expired session starts anew
            return None
        return row  # type: ignore[no-any-return]

    @staticmethod
    def _remove(conn: sqlite3.Connection, session_id: str) -> None:
        conn.execute("DELETE FROM messages WHERE session_id = ?", (session_id,))
        conn.execute("DELETE FROM labels WHERE session_id = ?", (session_id,))
        conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))

    @staticmethod
    def _set_labels(conn: sqlite3.Connection, session_id: str, labels: Mapping[str, str]) -> None:
        conn.execute("DELETE FROM labels WHERE session_id = ?", (session_id,))
        conn.executemany(
            "INSERT INTO labels (key, value, session_id) VALUES (?, ?, ?)",
            [(key, value, session_id) for key, value in labels.items()],
        )

    @staticmethod
    def _row_for_read(conn: sqlite3.Connection, session_id: str, now: float) -> tuple[Any, ...]:
        row = conn.execute(
            f"SELECT {_META_COLUMNS}, ttl FROM sessions WHERE id = ?", (session_id,)
        ).fetchone()
        if row is None:
            raise SessionNotFound(session_id)
        if _expired(row[3], now):
            raise SessionExpired(session_id, row[3])
        return row  # type: ignore[no-any-return]

    # -- writes ---------------------------------------------------------------------------

    def save(
        self,
        session_id: str,
        bodies: list[tuple[str, int]],
        size: int,
        ttl_arg: object,
        expected_version: int | None,
        labels: Mapping[str, str] | None,
    ) -> SessionMetadata:
        with self._transaction(write=True) as conn:
            now = self._clock()
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
                created_at = row[0]
                kept = labels if labels is not None else read_only_labels(row[6])
                conn.execute("DELETE FROM messages WHERE session_id = ?", (session_id,))
            labels_json = encode_labels(kept)
            conn.execute(
                "INSERT OR REPLACE INTO sessions (id, created_at, updated_at, expires_at, ttl, "
                "version, message_count, size_bytes, labels, next_seq) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session_id,
                    created_at,
                    now,
                    expires_at,
                    seconds,
                    version + 1,
                    len(bodies),
                    size,
                    labels_json,
                    len(bodies),
                ),
            )
            conn.executemany(
                "INSERT INTO messages (session_id, seq, body, size) VALUES (?, ?, ?, ?)",
                [(session_id, seq, body, n) for seq, (body, n) in enumerate(bodies)],
            )
            if row is None or labels is not None:
                self._set_labels(conn, session_id, kept)
            return SessionMetadata(
                session_id,
                created_at,
                now,
                expires_at,
                len(bodies),
                size,
                version + 1,
                kept or EMPTY_LABELS,
            )

    def append(
        self,
        session_id: str,
        bodies: list[tuple[str, int]],
        added: int,
        ttl_arg: object,
        expected_version: int | None,
    ) -> SessionMetadata:
        with self._transaction(write=True) as conn:
            now = self._clock()
            row = self._live_row(conn, session_id, now)
            if row is None:
                created_at, version, count, size, labels_json, seq = now, 0, 0, 0, "{}", 0
            else:
                created_at, _, _, version, count, size, labels_json, seq = row
            if expected_version is not None and expected_version != version:
                raise VersionConflict(session_id, expected_version, version)
            if self._limits.active:
                self._limits.check_totals(session_id, count + len(bodies), size + added)
            seconds, expires_at = self._expiry(
                ttl_arg, None if row is None else row[2], row is not None, now
            )
            next_seq = seq + len(bodies)
            if row is None:
                conn.execute(
                    "INSERT INTO sessions (id, created_at, updated_at, expires_at, ttl, version, "
                    "message_count, size_bytes, labels, next_seq) "
                    "VALUES (?, ?, ?, ?, ?, 1, ?, ?, '{}', ?)",
                    (session_id, now, now, expires_at, seconds, len(bodies), added, next_seq),
                )
            else:
                conn.execute(
                    "UPDATE sessions SET updated_at = ?, expires_at = ?, ttl = ?, "
                    "version = version + 1, message_count = message_count + ?, "
                    "size_bytes = size_bytes + ?, next_seq = ? WHERE id = ?",
                    (now, expires_at, seconds, len(bodies), added, next_seq, session_id),
                )
            conn.executemany(
                "INSERT INTO messages (session_id, seq, body, size) VALUES (?, ?, ?, ?)",
                [(session_id, seq + i, body, n) for i, (body, n) in enumerate(bodies)],
            )
            labels = read_only_labels(labels_json)
            return SessionMetadata(
                session_id,
                created_at,
                now,
                expires_at,
                count + len(bodies),
                size + added,
                version + 1,
                labels or EMPTY_LABELS,
            )

    def pop(self, session_id: str) -> Message | None:
        with self._transaction(write=True) as conn:
            now = self._clock()
            row = self._row_for_read(conn, session_id, now)
            if row[4] == 0:
                return None
            seq, body, size = conn.execute(
                "SELECT seq, body, size FROM messages WHERE session_id = ? "
                "ORDER BY seq DESC LIMIT 1",
                (session_id,),
            ).fetchone()
            conn.execute("DELETE FROM messages WHERE session_id = ? AND seq = ?", (session_id, seq))
            ttl = row[8]
            conn.execute(
                "UPDATE sessions SET updated_at = ?, expires_at = ?, version = version + 1, "
                "message_count = message_count - 1, size_bytes = size_bytes - ? WHERE id = ?",
                (now, None if ttl is None else now + ttl, size, session_id),
            )
            return decode_message(body)

    def touch(self, session_id: str, ttl_arg: object) -> SessionMetadata:
        with self._transaction(write=True) as conn:
            now = self._clock()
            row = self._row_for_read(conn, session_id, now)
            seconds, expires_at = self._expiry(ttl_arg, row[8], True, now)
            conn.execute(
                "UPDATE sessions SET expires_at = ?, ttl = ? WHERE id = ?",
                (expires_at, seconds, session_id),
            )
            return _meta(row)._replace(expires_at=expires_at)

    def delete(self, session_id: str) -> bool:
        with self._transaction(write=True) as conn:
            row = conn.execute(
                "SELECT expires_at FROM sessions WHERE id = ?", (session_id,)
            ).fetchone()
            if row is None:
                return False
            self._remove(conn, session_id)
            return not _expired(row[0], self._clock())

    def clear(self) -> int:
        with self._transaction(write=True) as conn:
            live = conn.execute(
                "SELECT count(*) FROM sessions WHERE expires_at IS NULL OR expires_at > ?",
                (self._clock(),),
            ).fetchone()[0]
            conn.execute("DELETE FROM messages")
            conn.execute("DELETE FROM labels")
            conn.execute("DELETE FROM sessions")
            return int(live)

    def purge_expired(self) -> int:
        with self._transaction(write=True) as conn:
            ids = [
                row[0]
                for row in conn.execute(
                    "SELECT id FROM sessions WHERE expires_at IS NOT NULL AND expires_at <= ?",
                    (self._clock(),),
                )
            ]
            for session_id in ids:
                self._remove(conn, session_id)
            return len(ids)

    # -- reads ----------------------------------------------------------------------------

    def load(self, session_id: str, last: int | None) -> Conversation:
        with self._transaction(write=self._sliding) as conn:
            now = self._clock()
            row = self._row_for_read(conn, session_id, now)
            if last is None:
                cursor = conn.execute(
                    "SELECT body FROM messages WHERE session_id = ? ORDER BY seq", (session_id,)
                )
                bodies = [body for (body,) in cursor]
            else:
                cursor = conn.execute(
                    "SELECT body FROM messages WHERE session_id = ? ORDER BY seq DESC LIMIT ?",
                    (session_id, last),
                )
                bodies = [body for (body,) in cursor]
                bodies.reverse()
            if self._sliding and row[8] is not None:
                conn.execute(
                    "UPDATE sessions SET expires_at = ? WHERE id = ?", (now + row[8], session_id)
                )
        messages = [decode_message(body) for body in bodies]
        return Conversation._adopt(messages, row[5] if last is None else -1)

    def get_metadata(self, session_id: str) -> SessionMetadata:
        with self._transaction(write=False) as conn:
            return _meta(self._row_for_read(conn, session_id, self._clock()))

    def exists(self, session_id: str) -> bool:
        with self._transaction(write=False) as conn:
            row = conn.execute(
                "SELECT expires_at FROM sessions WHERE id = ?", (session_id,)
            ).fetchone()
            return row is not None and not _expired(row[0], self._clock())

    def list_sessions(
        self, prefix: str | None, limit: int | None, after: str | None = None
    ) -> list[str]:
        """Live ids in order, optionally with ``prefix``, strictly after ``after``."""
        sql = "SELECT id FROM sessions WHERE (expires_at IS NULL OR expires_at > ?)"
        params: list[Any] = [self._clock()]
        if prefix:
            # A range on the primary key: UTF-8 byte order is code point order.
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
        with self._transaction(write=False) as conn:
            return [row[0] for row in conn.execute(sql, params)]

    def iter_page(self, prefix: str | None, after: str | None) -> list[str]:
        """One page of ``iter_sessions``."""
        return self.list_sessions(prefix, _ITER_PAGE, after)

    def find_sessions(self, query: FindQuery) -> Page:
        sql = f"SELECT {_META_COLUMNS} FROM sessions s WHERE (expires_at IS NULL OR expires_at > ?)"
        params: list[Any] = [self._clock()]
        if query.updated_after is not None:
            sql += " AND updated_at > ?"
            params.append(query.updated_after)
        if query.updated_before is not None:
            sql += " AND updated_at < ?"
            params.append(query.updated_before)
        if query.after is not None:
            sql += " AND (updated_at < ? OR (updated_at = ? AND id > ?))"
            params += [query.after[0], query.after[0], query.after[1]]
        for key, value in query.labels.items():
            sql += (
                " AND EXISTS (SELECT 1 FROM labels l WHERE l.key = ? AND l.value = ? "
                "AND l.session_id = s.id)"
            )
            params += [key, value]
        sql += " ORDER BY updated_at DESC, id LIMIT ?"
        params.append(query.limit + 1)
        with self._transaction(write=False) as conn:
            rows = conn.execute(sql, params).fetchall()
        items = [_meta(row) for row in rows[: query.limit]]
        more = len(rows) > query.limit
        cursor = encode_cursor(items[-1].updated_at, items[-1].session_id) if more else None
        return Page(items, cursor)


def sqlite_path(path: object) -> str:
    """``path`` as a str for sqlite3 (a str or ``os.PathLike``)."""
    if isinstance(path, str):
        if not path:
            raise ValueError("path must name a database file, or be ':memory:'")
        return path
    if isinstance(path, os.PathLike):
        return str(os.fspath(path))
    raise TypeError(f"path must be a str or os.PathLike, not {path!r}")
