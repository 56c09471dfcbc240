"""The SQL behind both halves of the PostgreSQL store, written once.

Nothing here imports psycopg, so ``import agent_session`` works without the
``postgres`` extra; the stores load the driver (``postgres_driver`` below) when one is built.

Layout (every name carries the store's ``table_prefix``, in its ``schema``: the one
given, else the first connection's ``current_schema()``; every statement names it):

- ``<prefix>sessions``: one row per session (times, TTL duration, version,
  counters, ``labels`` as jsonb, ``next_seq``), its id in the "C" collation so
  the primary key orders ids by code point; indexed by ``(updated_at DESC, id)``
  for ``find_sessions``, by ``expires_at`` for ``purge_expired`` and with a GIN
  index on ``labels`` for label searches (``labels @> ...``). The GIN index
  leaves out sessions without labels: every write moves ``updated_at``, so no
  update of a session row is HOT, and a full GIN index would take a new entry
  on every ``append``.
- ``<prefix>messages``: one row per message, keyed by ``(session_id, seq)``, the
  body in wire form (text, so the stored bytes are exactly what we wrote);
  deleting a session cascades to its messages.
- ``<prefix>schema``: the schema version, one row.

A live session's messages are exactly the rows with
``next_seq - message_count <= seq < next_seq``: ``append`` adds at the top,
``pop`` removes the top and lowers ``next_seq``, ``save`` and a write to an
expired session start the new messages at the old ``next_seq`` and delete the
old window. The window's lower end never moves down, so the deleting statement
bounds its scan with the value its snapshot saw (never above the true one), and
the dead rows of older replacements stay out of the scan. Reads only ever look
inside the window, so a row a concurrent transaction left below it (one the
deleting statement's snapshot could not see) is never served; it goes when the
session is removed (``delete``, ``purge_expired``, ``clear``).

Every write is one statement (one round trip, one transaction, whatever the
connection's autocommit setting): an ``INSERT .. ON CONFLICT DO UPDATE`` or an
``UPDATE`` locks the session row and decides on its newest version, and
data-modifying CTEs insert and delete the message rows in the same statement.
Times are always parameters from the store's clock, never ``now()``.
"""

from __future__ import annotations

import hashlib
import re
import select
from typing import Final

from . import DriverInfo, import_driver

__all__ = [
    "CURRENT_SCHEMA",
    "SCHEMA_VERSION",
    "PostgresSQL",
    "apostgres_driver",
    "check_identifiers",
    "connection_usable",
    "postgres_driver",
]


# The loaders come as an async/sync pair so the generated sync half picks the blocking
# pool by the renamed name (scripts/unasync.py).
def apostgres_driver() -> DriverInfo:
    """psycopg, psycopg_pool, ``AsyncConnectionPool`` and the failure exceptions."""
    pool = import_driver("psycopg_pool", "postgres", "PostgresStore")
    psycopg = import_driver("psycopg", "postgres", "PostgresStore")
    return (psycopg, pool, pool.AsyncConnectionPool), (psycopg.Error, pool.PoolTimeout, OSError)


def postgres_driver() -> DriverInfo:
    """psycopg, psycopg_pool, ``ConnectionPool`` and the failure exceptions."""
    pool = import_driver("psycopg_pool", "postgres", "PostgresStore")
    psycopg = import_driver("psycopg", "postgres", "PostgresStore")
    return (psycopg, pool, pool.ConnectionPool), (psycopg.Error, pool.PoolTimeout, OSError)


SCHEMA_VERSION: Final = 1

#: Where a store given no ``schema`` keeps its tables: the schema that unqualified
#: names would be created in (NULL when the search_path names no existing schema),
#: and the search_path, for the error that case raises.
CURRENT_SCHEMA: Final = "SELECT current_schema(), current_setting('search_path')"

_PREFIX = re.compile(r"[A-Za-z0-9_]{0,40}")
_NAMEDATALEN = 63  # PostgreSQL truncates longer identifiers


def check_identifiers(schema: object, table_prefix: object) -> tuple[str | None, str]:
    """``schema`` and ``table_prefix`` if usable in identifiers, else a clear error.

    :param schema: None: the connection's current schema, resolved on first use
    :raises TypeError: if the schema is not a str or None, or the prefix not a str
    :raises ValueError: if the schema is empty, too long or holds a NUL, or the prefix
        is not up to 40 letters, digits and underscores
    """
    if schema is not None and not isinstance(schema, str):
        raise TypeError(f"schema must be a str or None, not {schema!r}")
    if not isinstance(table_prefix, str):
        raise TypeError(f"table_prefix must be a str, not {table_prefix!r}")
    if schema is not None and (
        not schema or "\x00" in schema or len(schema.encode("utf-8")) > _NAMEDATALEN
    ):
        raise ValueError(
            f"schema must be a PostgreSQL schema name of 1 to {_NAMEDATALEN} bytes without "
            f"NUL, not {schema!r}"
        )
    if not _PREFIX.fullmatch(table_prefix):
        raise ValueError(
            f"table_prefix must be up to 40 letters, digits and underscores, not {table_prefix!r}"
        )
    return schema, table_prefix


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def connection_usable(conn: object) -> bool:
    """True if a pooled, idle connection still looks alive, without a round trip.

    An idle connection receives nothing unless the server is going away (a
    ``pg_terminate_backend``, a shutdown sends a FATAL error, then closes the
    socket): one that has anything to read is discarded, and the pool replaces it.
    """
    pgconn = conn.pgconn  # type: ignore[attr-defined]  # any psycopg connection
    # libpq's CONNECTION_OK and PQTRANS_IDLE are both 0.
    if pgconn.status != 0 or pgconn.transaction_status != 0:
        return False
    try:
        return not _readable(pgconn.socket)
    except Exception:  # noqa: BLE001  # OSError, or psycopg's OperationalError: no socket
        return False


def _readable(fd: int) -> bool:
    if hasattr(select, "poll"):  # no FD_SETSIZE limit, unlike select()
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([fd], [], [], 0)[0])  # pragma: no cover - Windows


class PostgresSQL:
    """Every statement of one store, for its ``schema`` and ``table_prefix``."""

    def __init__(self, schema: str, table_prefix: str) -> None:
        self.schema = schema
        self.table_prefix = table_prefix
        q_schema = _quote(schema)
        sessions = f"{q_schema}.{_quote(table_prefix + 'sessions')}"
        messages = f"{q_schema}.{_quote(table_prefix + 'messages')}"
        version_table = f"{q_schema}.{_quote(table_prefix + 'schema')}"
        self.sessions, self.messages, self.version_table = sessions, messages, version_table

        digest = hashlib.sha256(f"agent-session\x00{schema}\x00{table_prefix}".encode()).digest()
        #: The key of the advisory lock that serializes migrations of these tables.
        self.lock_key = int.from_bytes(digest[:8], "big", signed=True)

        # -- schema ----------------------------------------------------------------------
        self.schema_exists = "SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = %s"
        self.create_schema = f"CREATE SCHEMA IF NOT EXISTS {q_schema}"
        self.version_table_exists = "SELECT to_regclass(%s)"
        self.create_version_table = (
            f"CREATE TABLE IF NOT EXISTS {version_table} (version integer NOT NULL)"
        )
        self.read_version = f"SELECT max(version) FROM {version_table}"
        self.clear_version = f"DELETE FROM {version_table}"
        self.write_version = f"INSERT INTO {version_table} (version) VALUES (%s)"
        self.migrations: list[list[str]] = [
            # version 0 -> 1
            [
                f"""CREATE TABLE {sessions} (
                    id text COLLATE "C" PRIMARY KEY,
                    created_at double precision NOT NULL,
                    updated_at double precision NOT NULL,
                    expires_at double precision,
                    ttl double precision,
                    version bigint NOT NULL,
                    message_count integer NOT NULL,
                    size_bytes bigint NOT NULL,
                    labels jsonb NOT NULL DEFAULT '{{}}',
                    next_seq bigint NOT NULL DEFAULT 0
                )""",
                f"CREATE INDEX {_quote(table_prefix + 'sessions_by_update')} "
                f"ON {sessions} (updated_at DESC, id)",
                f"CREATE INDEX {_quote(table_prefix + 'sessions_by_expiry')} "
                f"ON {sessions} (expires_at) WHERE expires_at IS NOT NULL",
                f"CREATE INDEX {_quote(table_prefix + 'sessions_by_labels')} "
                f"ON {sessions} USING gin (labels jsonb_path_ops) WHERE labels <> '{{}}'::jsonb",
                f"""CREATE TABLE {messages} (
                    session_id text COLLATE "C" NOT NULL
                        REFERENCES {sessions} (id) ON DELETE CASCADE,
                    seq bigint NOT NULL,
                    body text NOT NULL,
                    size integer NOT NULL,
                    PRIMARY KEY (session_id, seq)
                )""",
            ],
        ]

        # -- writes ------------------------------------------------------------------------
        live = "(s.expires_at IS NULL OR s.expires_at > %(now)s::float8)"
        # The time a write stamps: never before the session's last write or expiry change
        # (updated_at, expires_at - ttl), so a write that read the clock, then waited on
        # its way here, cannot move the session's time or expiry backwards (GREATEST skips
        # NULLs). For an expired session it is %(now)s itself.
        now_w = "GREATEST(%(now)s::float8, s.updated_at, s.expires_at - s.ttl)"
        now_t = now_w.replace("s.", "t.")
        # The metadata columns, in SessionMetadata's order after session_id, then next_seq.
        returning = (
            "RETURNING s.created_at, s.updated_at, s.expires_at, s.message_count, "
            "s.size_bytes, s.version, s.labels::text, s.next_seq"
        )
        # The new messages go at the top: seq = the new next_seq - n .. the new next_seq - 1.
        insert_messages = (
            f"added AS (INSERT INTO {messages} (session_id, seq, body, size) "
            "SELECT %(id)s::text, up.next_seq - %(n)s::int + m.ord - 1, m.body, m.size "
            "FROM up, unnest(%(bodies)s::text[], %(sizes)s::int[]) "
            "WITH ORDINALITY AS m(body, size, ord))"
        )
        # The same for the common append of one message, without arrays to dump.
        insert_message = (
            f"added AS (INSERT INTO {messages} (session_id, seq, body, size) "
            "SELECT %(id)s::text, up.next_seq - 1, %(body)s::text, %(size)s::int FROM up)"
        )
        fresh_row = (
            f"INSERT INTO {sessions} AS s (id, created_at, updated_at, expires_at, ttl, "
            "version, message_count, size_bytes, labels, next_seq) VALUES (%(id)s::text, "
            "%(now)s::float8, %(now)s::float8, %(now)s::float8 + %(ttl)s::float8, "
            "%(ttl)s::float8, 1, %(n)s::int, %(added)s::bigint, "
            "coalesce(%(labels)s::jsonb, '{}'), %(n)s::int) ON CONFLICT (id) DO UPDATE SET "
        )
        # ttl=DEFAULT keeps a live session's own duration; otherwise EXCLUDED.ttl holds the
        # given one (or, for a new session, the store's default_ttl).
        upsert_ttl = f"CASE WHEN {live} AND %(keep)s::bool THEN s.ttl ELSE EXCLUDED.ttl END"
        update_ttl = "CASE WHEN %(keep)s::bool THEN s.ttl ELSE %(ttl)s::float8 END"
        restart = (
            f"created_at = CASE WHEN {live} THEN s.created_at ELSE EXCLUDED.created_at END, "
            f"updated_at = {now_w}, "
            f"ttl = {upsert_ttl}, expires_at = {now_w} + {upsert_ttl}, "
            f"version = CASE WHEN {live} THEN s.version + 1 ELSE 1 END, "
        )
        # The lower end of the window before this statement, as its snapshot sees it.
        old_window = (
            f"WITH old AS (SELECT next_seq - message_count AS lo FROM {sessions} "
            "WHERE id = %(id)s::text), "
        )
        #: Labels a write keeps (and returns) are what agent-session writes, a str -> str
        #: object: a session whose labels were changed outside is not written, and the
        #: caller hears SerializationError (``state`` shows why) with nothing committed.
        #: Most sessions have none: the first test spares them the rest.
        labels_ok = (
            "(s.labels = '{}'::jsonb OR (jsonb_typeof(s.labels) = 'object' AND NOT EXISTS "
            "(SELECT FROM jsonb_each(s.labels) AS l WHERE jsonb_typeof(l.value) <> 'string')))"
        )
        within_limits = (
            "s.message_count + %(n)s::int <= coalesce(%(max_n)s::int, 2147483647) "
            "AND s.size_bytes + %(added)s::bigint "
            "<= coalesce(%(max_b)s::bigint, 9223372036854775807)"
        )

        #: append when expected_version is None (%(free)s true) or 0 (false: only a missing
        #: or expired session may be written). An expired session restarts: version 1,
        #: counters and labels reset, its old messages deleted.
        append_upsert = (
            old_window
            + "up AS ("
            + fresh_row
            + restart
            + f"message_count = CASE WHEN {live} THEN s.message_count ELSE 0 END "
            "+ EXCLUDED.message_count, "
            f"size_bytes = CASE WHEN {live} THEN s.size_bytes ELSE 0 END + EXCLUDED.size_bytes, "
            f"labels = CASE WHEN {live} THEN s.labels ELSE '{{}}' END, "
            "next_seq = s.next_seq + EXCLUDED.message_count "
            f"WHERE NOT {live} OR (%(free)s::bool AND {within_limits} AND {labels_ok}) "
            f"{returning}), "
            # Only a restarted (or new) session deletes: a gate evaluated before any scan.
            f"gone AS (DELETE FROM {messages} WHERE (SELECT version FROM up) = 1 "
            "AND session_id = %(id)s::text AND seq >= (SELECT lo FROM old) "
            "AND seq < (SELECT next_seq - %(n)s::int FROM up)), "
        )
        #: append with expected_version >= 1: only a live session at that version.
        append_update = (
            f"WITH up AS (UPDATE {sessions} AS s SET updated_at = {now_w}, "
            f"ttl = {update_ttl}, expires_at = {now_w} + {update_ttl}, "
            "version = s.version + 1, message_count = s.message_count + %(n)s::int, "
            "size_bytes = s.size_bytes + %(added)s::bigint, next_seq = s.next_seq + %(n)s::int "
            f"WHERE s.id = %(id)s::text AND {live} AND s.version = %(expected)s::bigint "
            f"AND {within_limits} AND {labels_ok} {returning}), "
        )
        self.append_upsert = append_upsert + insert_messages + " SELECT * FROM up"
        self.append_update = append_update + insert_messages + " SELECT * FROM up"
        #: The same, for one message (%(body)s and %(size)s instead of the arrays).
        self.append_upsert_one = append_upsert + insert_message + " SELECT * FROM up"
        self.append_update_one = append_update + insert_message + " SELECT * FROM up"
        replace_messages = (
            f"gone AS (DELETE FROM {messages} WHERE session_id = %(id)s::text "
            "AND seq >= (SELECT lo FROM old) AND seq < (SELECT next_seq - %(n)s::int FROM up)), "
            + insert_messages
        )
        #: save when expected_version is None (%(free)s true) or 0 (false).
        self.save_upsert = (
            old_window
            + "up AS ("
            + fresh_row
            + restart
            + "message_count = EXCLUDED.message_count, size_bytes = EXCLUDED.size_bytes, "
            f"labels = CASE WHEN %(labels)s::jsonb IS NULL AND {live} THEN s.labels "
            "ELSE EXCLUDED.labels END, "
            "next_seq = s.next_seq + EXCLUDED.message_count "
            f"WHERE NOT {live} OR (%(free)s::bool AND (%(labels)s::jsonb IS NOT NULL "
            f"OR {labels_ok})) {returning}), " + replace_messages + " SELECT * FROM up"
        )
        #: save with expected_version >= 1.
        self.save_update = (
            old_window + f"up AS (UPDATE {sessions} AS s SET updated_at = {now_w}, "
            f"ttl = {update_ttl}, expires_at = {now_w} + {update_ttl}, "
            "version = s.version + 1, message_count = %(n)s::int, "
            "size_bytes = %(added)s::bigint, labels = coalesce(%(labels)s::jsonb, s.labels), "
            "next_seq = s.next_seq + %(n)s::int "
            f"WHERE s.id = %(id)s::text AND {live} AND s.version = %(expected)s::bigint "
            f"AND (%(labels)s::jsonb IS NOT NULL OR {labels_ok}) {returning}), "
            + replace_messages
            + " SELECT * FROM up"
        )
        #: Why a write returned no row: the session's state now.
        self.state = (
            f"SELECT version, expires_at, message_count, size_bytes, labels::text FROM {sessions} "
            "WHERE id = %(id)s::text"
        )
        #: pop, in one transaction: lock the session row (every write to the session
        #: waits), read the newest message, and only once the caller decoded it remove
        #: it: a message that cannot be decoded is rolled back, never lost.
        self.pop_lock = (
            f"SELECT expires_at, message_count, next_seq, version FROM {sessions} "
            "WHERE id = %(id)s::text FOR UPDATE"
        )
        self.pop_top = (
            f"SELECT body FROM {messages} WHERE session_id = %(id)s::text AND seq = %(seq)s::bigint"
        )
        self.pop_remove = (
            f"WITH m AS (DELETE FROM {messages} WHERE session_id = %(id)s::text "
            "AND seq = %(seq)s::bigint RETURNING size) "
            f"UPDATE {sessions} AS t SET updated_at = {now_t}, "
            f"expires_at = {now_t} + t.ttl, version = t.version + 1, "
            "message_count = t.message_count - 1, size_bytes = t.size_bytes - m.size, "
            "next_seq = t.next_seq - 1 FROM m WHERE t.id = %(id)s::text"
        )
        self.touch = (
            f"WITH s AS (SELECT created_at, updated_at, expires_at, message_count, size_bytes, "
            f"version, labels::text, ttl FROM {sessions} WHERE id = %(id)s::text FOR UPDATE), "
            f"up AS (UPDATE {sessions} AS t SET ttl = {update_ttl.replace('s.ttl', 't.ttl')}, "
            f"expires_at = {now_t} + {update_ttl.replace('s.ttl', 't.ttl')} "
            f"FROM s WHERE t.id = %(id)s::text AND {live} AND {labels_ok.replace('s.', 't.')} "
            "RETURNING t.expires_at, true AS done) "
            "SELECT s.created_at, s.updated_at, s.expires_at, s.message_count, s.size_bytes, "
            "s.version, s.labels, up.expires_at, up.done FROM s LEFT JOIN up ON true"
        )
        self.delete = f"DELETE FROM {sessions} WHERE id = %(id)s::text RETURNING expires_at"
        self.clear = (
            f"WITH d AS (DELETE FROM {sessions} RETURNING expires_at) "
            "SELECT count(*) FILTER (WHERE expires_at IS NULL OR expires_at > %(now)s::float8) "
            "FROM d"
        )
        self.purge_expired = (
            f"WITH d AS (DELETE FROM {sessions} WHERE expires_at <= %(now)s::float8 "
            "RETURNING 1) SELECT count(*) FROM d"
        )

        # -- reads -------------------------------------------------------------------------
        window = (
            f"LEFT JOIN {messages} m ON m.session_id = s.id "
            "AND m.seq >= s.next_seq - LEAST(s.message_count, %(last)s::int) "
            f"AND m.seq < s.next_seq AND {live} "
        )
        #: load: the session's expiry and counters on every row, one row per message
        #: (one row with a NULL body when there are none); no row: no session.
        self.load = (
            f"SELECT s.expires_at, s.message_count, s.size_bytes, m.body FROM {sessions} s "
            + window
            + "WHERE s.id = %(id)s::text ORDER BY m.seq"
        )
        #: load with sliding=True: restart a live session's TTL in the same statement.
        self.load_sliding = (
            f"WITH s AS (UPDATE {sessions} AS t SET expires_at = CASE WHEN t.ttl IS NOT NULL "
            "AND (t.expires_at IS NULL OR t.expires_at > %(now)s::float8) "
            f"THEN {now_t} + t.ttl ELSE t.expires_at END WHERE t.id = %(id)s::text "
            "RETURNING t.id, t.expires_at, t.message_count, t.size_bytes, t.next_seq) "
            "SELECT s.expires_at, s.message_count, s.size_bytes, m.body FROM s "
            + window
            + "ORDER BY m.seq"
        )
        # The first row of load's (the oldest message read, or the one row of a session
        # with none): only it carries what load_with_metadata adds, not each message row.
        # A session whose rows are not all there fails load's count check before these
        # are read.
        first = "m.seq IS NULL OR m.seq = s.next_seq - LEAST(s.message_count, %(last)s::int)"
        more = (
            f"CASE WHEN {first} THEN s.created_at END, CASE WHEN {first} THEN s.updated_at END, "
            f"CASE WHEN {first} THEN s.version END, CASE WHEN {first} THEN s.labels::text END"
        )
        #: load_with_metadata: load's rows, the first with the rest of the metadata; one
        #: statement, so one snapshot of the session's row and its messages.
        self.load_with_metadata = (
            f"SELECT s.expires_at, s.message_count, s.size_bytes, m.body, {more} "
            f"FROM {sessions} s " + window + "WHERE s.id = %(id)s::text ORDER BY m.seq"
        )
        #: The same with sliding=True, restarting the TTL as load_sliding does. Its UPDATE
        #: sees the newest session row, its join the statement's snapshot: the last column
        #: says whether the row slid is the one of the snapshot (same version and
        #: creation), else messages and metadata could be of two moments.
        self.load_with_metadata_sliding = (
            f"WITH snap AS (SELECT version, created_at FROM {sessions} "
            "WHERE id = %(id)s::text), "
            f"s AS (UPDATE {sessions} AS t SET expires_at = CASE WHEN t.ttl IS NOT NULL "
            "AND (t.expires_at IS NULL OR t.expires_at > %(now)s::float8) "
            f"THEN {now_t} + t.ttl ELSE t.expires_at END WHERE t.id = %(id)s::text "
            "RETURNING t.id, t.expires_at, t.message_count, t.size_bytes, t.next_seq, "
            "t.created_at, t.updated_at, t.version, t.labels) "
            f"SELECT s.expires_at, s.message_count, s.size_bytes, m.body, {more}, "
            "coalesce(s.version = snap.version AND s.created_at = snap.created_at, false) "
            "FROM s LEFT JOIN snap ON true " + window + "ORDER BY m.seq"
        )
        self.metadata = (
            "SELECT created_at, updated_at, expires_at, message_count, size_bytes, version, "
            f"labels::text FROM {sessions} WHERE id = %(id)s::text"
        )
        self.exists = f"SELECT expires_at FROM {sessions} WHERE id = %(id)s::text"
        self.list_head = (
            f"SELECT id FROM {sessions} WHERE (expires_at IS NULL OR expires_at > %(now)s::float8)"
        )
        self.find_head = (
            "SELECT id, created_at, updated_at, expires_at, message_count, size_bytes, version, "
            f"labels::text FROM {sessions} "
            "WHERE (expires_at IS NULL OR expires_at > %(now)s::float8)"
        )

    def list_sessions(self, prefix: bool, upper: bool, after: bool, limit: bool) -> str:
        """``list_sessions``/``iter_sessions`` with the optional conditions asked for."""
        sql = self.list_head
        if prefix:
            sql += " AND id >= %(prefix)s::text"  # a range on the primary key ("C" order)
        if upper:
            sql += " AND id < %(upper)s::text"
        if after:
            sql += " AND id > %(after)s::text"
        sql += " ORDER BY id"
        if limit:
            sql += " LIMIT %(limit)s::int"
        return sql

    def find_sessions(self, labels: bool, after: bool, before: bool, cursor: bool) -> str:
        """``find_sessions`` with the optional conditions asked for, one row over the page."""
        sql = self.find_head
        if labels:
            # The first condition is the GIN index's predicate: it lets the planner use it.
            sql += " AND labels <> '{}'::jsonb AND labels @> %(labels)s::jsonb"
        if after:
            sql += " AND updated_at > %(updated_after)s::float8"
        if before:
            sql += " AND updated_at < %(updated_before)s::float8"
        if cursor:
            sql += (
                " AND (updated_at < %(at)s::float8 OR "
                "(updated_at = %(at)s::float8 AND id > %(sid)s::text))"
            )
        return sql + " ORDER BY updated_at DESC, id LIMIT %(limit)s::int"
