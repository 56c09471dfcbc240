# This file is generated from _async/postgres.py by scripts/unasync.py: do not edit.
"""``PostgresStore``: sessions in PostgreSQL (psycopg 3 and its pool)."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

from .._concurrency import Lock, ensure_asyncio
from .._drivers import postgres_driver
from .._errors import (
    CapacityExceeded,
    SerializationError,
    SessionExpired,
    SessionNotFound,
    StoreClosed,
    VersionConflict,
    map_backend_errors,
)
from .._metadata import EMPTY_LABELS, Page, SessionMetadata
from .._model import Conversation, Message
from .._paging import FindQuery, encode_cursor, prefix_upper_bound
from .._postgres_schema import SCHEMA_VERSION, advisory_key, migrations
from .._serialization import decode_message, encode_message, message_size
from .._striped import resolve_ttl_arg
from .._validation import (
    DEFAULT,
    Clock,
    Limits,
    TTLArg,
    check_clock,
    check_expected_version,
    check_labels,
    check_last,
    check_limit,
    check_messages,
    check_prefix,
    check_session_id,
    check_ttl,
)
from .base import SessionStore

__all__ = ["PostgresStore"]

_PAGE = 500
_META = "id, created_at, updated_at, expires_at, message_count, size_bytes, version, labels"


def _meta(row: Any) -> SessionMetadata:
    labels = row[7] or {}
    return SessionMetadata(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        row[5],
        row[6],
        dict(labels) if labels else EMPTY_LABELS,
    )


class PostgresStore(SessionStore):
    """Sessions in PostgreSQL: a row per session and a row per message.

    Every write is one round trip: a call of a PL/pgSQL function that locks the
    session's row, so concurrent writers in any number of processes never lose a
    message, and ``append`` inserts only the new rows. The schema (tables,
    indexes, functions) is created and migrated on first use under an advisory
    lock; ``schema`` and ``table_prefix`` let several applications share a
    database. The async flavour needs asyncio (psycopg's async connections do not
    run under trio) and says so under trio.

    :param dsn_or_pool: a connection string (the store owns its pool and closes it)
        or a psycopg_pool pool of yours (``ConnectionPool`` for the async store,
        ``ConnectionPool`` for the sync one; never closed by the store)
    :param schema: the PostgreSQL schema holding the tables (it must exist)
    :param table_prefix: the start of every table and function name
    :param default_ttl: seconds or ``timedelta`` a session lives after its last
        write; None: forever
    :param sliding: True: a ``load`` restarts the TTL too
    :param clock: a zero-argument callable returning epoch seconds
    :param max_messages: at most this many messages per session
    :param max_message_bytes: at most this many bytes per message (wire form)
    :param max_session_bytes: at most this many bytes per session (wire form)
    :param connect_timeout: seconds to wait for a connection before raising
        :class:`BackendError`
    :param pool_kwargs: more arguments for the pool the store creates
    """

    name = "postgres"

    def __init__(
        self,
        dsn_or_pool: Any,
        *,
        schema: str = "public",
        table_prefix: str = "agent_session_",
        default_ttl: float | timedelta | None = None,
        sliding: bool = False,
        clock: Clock = time.time,
        max_messages: int | None = None,
        max_message_bytes: int | None = None,
        max_session_bytes: int | None = None,
        connect_timeout: float = 5.0,
        pool_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        (psycopg, _pool_module, pool_class), self._errors = postgres_driver()
        for what, value in (("schema", schema), ("table_prefix", table_prefix)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{what} must be a non-empty str, not {value!r}")
        if not isinstance(sliding, bool):
            raise TypeError(f"sliding must be a bool, not {sliding!r}")
        timeout = check_ttl(connect_timeout, "connect_timeout") or 5.0
        self._default_ttl = check_ttl(default_ttl, "default_ttl")
        self._sliding = sliding
        self._clock = check_clock(clock)
        self._limits = Limits(max_messages, max_message_bytes, max_session_bytes)
        self._schema, self._prefix = schema, table_prefix
        if isinstance(dsn_or_pool, str):
            self._pool = pool_class(
                conninfo=dsn_or_pool,
                open=False,
                min_size=1,
                max_size=10,
                timeout=timeout,
                kwargs={"autocommit": True, "connect_timeout": max(1, math.ceil(timeout))},
                check=pool_class.check_connection,  # drop connections killed meanwhile
                **dict(pool_kwargs or {}),
            )
            self._owns_pool = True
        elif hasattr(dsn_or_pool, "connection"):
            self._pool = dsn_or_pool
            self._owns_pool = False
        else:
            raise TypeError(
                f"dsn_or_pool must be a DSN or a psycopg_pool pool, not {dsn_or_pool!r}"
            )
        ident = psycopg.sql.Identifier

        def name(suffix: str) -> str:
            return str(ident(schema, table_prefix + suffix).as_string(None))

        self._names = {
            "sessions": name("sessions"),
            "messages": name("messages"),
            "schema": name("schema"),
            "idx_updated": ident(table_prefix + "sessions_updated").as_string(None),
            "idx_expires": ident(table_prefix + "sessions_expires").as_string(None),
            "idx_labels": ident(table_prefix + "sessions_labels").as_string(None),
            "f_lock": name("lock"),
            "f_write": name("write"),
            "f_pop": name("pop"),
        }
        self._ready = False
        self._ready_lock = Lock()
        self._closed = False

    # -- plumbing ---------------------------------------------------------------------

    def _sql(self, template: str) -> str:
        return template.format(**self._names)

    def _backend(self) -> map_backend_errors:
        return map_backend_errors("PostgreSQL", self._errors)

    def _check(self) -> None:
        ensure_asyncio("PostgresStore")
        if self._closed:
            raise StoreClosed(self.name)
        if not self._ready:
            self._prepare()

    def _prepare(self) -> None:
        """Open the pool and create or migrate the schema, once."""
        with self._ready_lock:
            if self._ready:
                return
            with self._backend():
                if self._owns_pool:
                    self._pool.open()
                with self._pool.connection() as conn:
                    with conn.transaction():
                        key = advisory_key(self._schema, self._prefix)
                        conn.execute("SELECT pg_advisory_xact_lock(%s)", (key,))
                        conn.execute(
                            self._sql("CREATE TABLE IF NOT EXISTS {schema} (version integer)")
                        )
                        row = (
                            conn.execute(self._sql("SELECT max(version) FROM {schema}"))
                        ).fetchone()
                        version = row[0] or 0
                        if version > SCHEMA_VERSION:
                            raise SerializationError(
                                f"the PostgreSQL tables have schema version {version}, newer "
                                f"than the {SCHEMA_VERSION} this agent-session knows: upgrade "
                                "agent-session"
                            )
                        for step in migrations()[version:]:
                            conn.execute(self._sql(step))
                        if version < SCHEMA_VERSION:
                            conn.execute(self._sql("DELETE FROM {schema}"))
                            conn.execute(
                                self._sql("INSERT INTO {schema} (version) VALUES (%s)"),
                                (SCHEMA_VERSION,),
                            )
            self._ready = True

    def _fetch(self, sql: str, params: Any = ()) -> list[Any]:
        with self._backend():
            with self._pool.connection() as conn:
                cursor = conn.execute(self._sql(sql), params)
                return list(cursor.fetchall())

    def _ttl_params(self, ttl: object) -> tuple[str, float | None]:
        if ttl is DEFAULT:
            return "D", None
        if ttl is None:
            return "N", None
        return "S", ttl  # type: ignore[return-value]  # validated seconds

    def _write(
        self,
        session_id: str,
        messages: tuple[Message, ...] | list[Message],
        *,
        replace: bool,
        ttl: object,
        expected_version: int | None,
        labels: Mapping[str, str] | None,
    ) -> SessionMetadata:
        mode, seconds = self._ttl_params(ttl)
        bodies = [encode_message(message) for message in messages]
        sizes = [message_size(message) for message in messages]
        rows = self._fetch(
            "SELECT * FROM {f_write}(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, "
            "%s::text[], %s::integer[])",
            (
                session_id,
                self._clock(),
                replace,
                mode,
                seconds,
                self._default_ttl,
                expected_version,
                self._limits.max_messages,
                self._limits.max_session_bytes,
                None if labels is None else json.dumps(dict(labels)),
                bodies,
                sizes,
            ),
        )
        status, created, updated, expires, count, size, version, stored_labels = rows[0]
        if status == "conflict":
            raise VersionConflict(session_id, expected_version or 0, version)
        if status == "limit":
            raise CapacityExceeded(
                f"session {session_id!r} would hold {count} messages / {size} bytes, over "
                f"max_messages={self._limits.max_messages} or max_session_bytes="
                f"{self._limits.max_session_bytes}: start a new session or raise the limit",
                session_id=session_id,
            )
        return SessionMetadata(
            session_id,
            created,
            updated,
            expires,
            count,
            size,
            version,
            dict(stored_labels) if stored_labels else EMPTY_LABELS,
        )

    def _missing(self, session_id: str) -> None:
        """Raise ``SessionExpired`` or ``SessionNotFound`` for a session a write missed."""
        rows = self._fetch("SELECT expires_at FROM {sessions} WHERE id = %s", (session_id,))
        if rows and rows[0][0] is not None:
            raise SessionExpired(session_id, rows[0][0])
        raise SessionNotFound(session_id)

    # -- writes -----------------------------------------------------------------------

    def save(
        self,
        session_id: str,
        conversation: Conversation,
        *,
        ttl: TTLArg = DEFAULT,
        expected_version: int | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> SessionMetadata:
        ensure_asyncio("PostgresStore")
        check_session_id(session_id)
        if not isinstance(conversation, Conversation):
            raise TypeError(f"save() takes a Conversation, not {conversation!r:.80}")
        messages = list(conversation)
        ttl_arg = resolve_ttl_arg(ttl)
        check_expected_version(expected_version)
        new_labels = None if labels is None else check_labels(labels)
        self._limits.check_each(session_id, messages)
        self._check()
        return self._write(
            session_id,
            messages,
            replace=True,
            ttl=ttl_arg,
            expected_version=expected_version,
            labels=new_labels,
        )

    def append(
        self,
        session_id: str,
        *messages: Message,
        ttl: TTLArg = DEFAULT,
        expected_version: int | None = None,
    ) -> SessionMetadata:
        ensure_asyncio("PostgresStore")
        check_session_id(session_id)
        new = check_messages(messages)
        ttl_arg = resolve_ttl_arg(ttl)
        check_expected_version(expected_version)
        self._limits.check_each(session_id, new)
        self._check()
        return self._write(
            session_id,
            new,
            replace=False,
            ttl=ttl_arg,
            expected_version=expected_version,
            labels=None,
        )

    def pop(self, session_id: str) -> Message | None:
        ensure_asyncio("PostgresStore")
        check_session_id(session_id)
        self._check()
        rows = self._fetch("SELECT * FROM {f_pop}(%s, %s)", (session_id, self._clock()))
        status, body, expires_at = rows[0]
        if status == "missing":
            raise SessionNotFound(session_id)
        if status == "expired":
            raise SessionExpired(session_id, expires_at)
        if status == "empty":
            return None
        return decode_message(body)

    def touch(self, session_id: str, *, ttl: TTLArg = DEFAULT) -> SessionMetadata:
        ensure_asyncio("PostgresStore")
        check_session_id(session_id)
        mode, seconds = self._ttl_params(resolve_ttl_arg(ttl))
        self._check()
        now = self._clock()
        rows = self._fetch(
            "UPDATE {sessions} SET ttl = CASE %(mode)s::text WHEN 'D' THEN ttl WHEN 'N' THEN NULL "
            "ELSE %(ttl)s::double precision END, "
            "expires_at = CASE %(mode)s::text WHEN 'D' THEN %(now)s::double precision + ttl "
            "WHEN 'N' THEN NULL ELSE %(now)s::double precision + %(ttl)s::double precision END "
            "WHERE id = %(id)s AND (expires_at IS NULL OR expires_at > %(now)s) "
            f"RETURNING {_META}",
            {"mode": mode, "ttl": seconds, "now": now, "id": session_id},
        )
        if not rows:
            self._missing(session_id)
        return _meta(rows[0])

    def delete(self, session_id: str) -> bool:
        ensure_asyncio("PostgresStore")
        check_session_id(session_id)
        self._check()
        rows = self._fetch(
            "DELETE FROM {sessions} WHERE id = %s RETURNING expires_at", (session_id,)
        )
        return bool(rows) and (rows[0][0] is None or rows[0][0] > self._clock())

    def purge_expired(self) -> int:
        self._check()
        rows = self._fetch(
            "DELETE FROM {sessions} WHERE expires_at <= %s RETURNING 1", (self._clock(),)
        )
        return len(rows)

    def clear(self) -> int:
        self._check()
        with self._backend():
            with self._pool.connection() as conn:
                with conn.transaction():
                    cursor = conn.execute(
                        self._sql(
                            "WITH gone AS (DELETE FROM {sessions} RETURNING expires_at) "
                            "SELECT count(*) FROM gone WHERE expires_at IS NULL "
                            "OR expires_at > %s"
                        ),
                        (self._clock(),),
                    )
                    row = cursor.fetchone()
        return int(row[0])

    # -- reads ------------------------------------------------------------------------

    def load(self, session_id: str, *, last: int | None = None) -> Conversation:
        ensure_asyncio("PostgresStore")
        check_session_id(session_id)
        check_last(last)
        self._check()
        now = self._clock()
        if self._sliding:
            self._fetch(
                "UPDATE {sessions} SET expires_at = %(now)s + ttl WHERE id = %(id)s "
                "AND ttl IS NOT NULL AND expires_at > %(now)s RETURNING 1",
                {"now": now, "id": session_id},
            )
        inner = "ORDER BY seq" if last is None else "ORDER BY seq DESC LIMIT %(last)s"
        rows = self._fetch(
            "SELECT s.expires_at, s.size_bytes, m.body FROM {sessions} s LEFT JOIN LATERAL "
            f"(SELECT body, seq FROM {{messages}} WHERE session_id = s.id {inner}) m ON true "
            "WHERE s.id = %(id)s ORDER BY m.seq",
            {"id": session_id, "last": last},
        )
        if not rows:
            raise SessionNotFound(session_id)
        expires_at = rows[0][0]
        if expires_at is not None and expires_at <= now:
            raise SessionExpired(session_id, expires_at)
        messages = [decode_message(body) for _, _, body in rows if body is not None]
        return Conversation._adopt(messages, rows[0][1] if last is None else -1)

    def get_metadata(self, session_id: str) -> SessionMetadata:
        ensure_asyncio("PostgresStore")
        check_session_id(session_id)
        self._check()
        rows = self._fetch(f"SELECT {_META} FROM {{sessions}} WHERE id = %s", (session_id,))
        if not rows:
            raise SessionNotFound(session_id)
        meta = _meta(rows[0])
        if meta.is_expired(self._clock()):
            raise SessionExpired(session_id, meta.expires_at)  # type: ignore[arg-type]
        return meta

    def exists(self, session_id: str) -> bool:
        ensure_asyncio("PostgresStore")
        check_session_id(session_id)
        self._check()
        rows = self._fetch(
            "SELECT 1 FROM {sessions} WHERE id = %s AND (expires_at IS NULL OR expires_at > %s)",
            (session_id, self._clock()),
        )
        return bool(rows)

    def _ids(self, prefix: str | None, after: str | None, limit: int | None) -> list[str]:
        sql = "SELECT id FROM {sessions} WHERE (expires_at IS NULL OR expires_at > %s)"
        params: list[Any] = [self._clock()]
        if prefix:
            sql += " AND id >= %s"
            params.append(prefix)
            upper = prefix_upper_bound(prefix)
            if upper is not None:
                sql += " AND id < %s"
                params.append(upper)
        if after is not None:
            sql += " AND id > %s"
            params.append(after)
        sql += " ORDER BY id"
        if limit is not None:
            sql += " LIMIT %s"
            params.append(limit)
        return [row[0] for row in self._fetch(sql, params)]

    def list_sessions(
        self, *, prefix: str | None = None, limit: int | None = None
    ) -> list[str]:
        ensure_asyncio("PostgresStore")
        check_prefix(prefix)
        check_limit(limit)
        self._check()
        return self._ids(prefix, None, limit)

    def iter_sessions(self, *, prefix: str | None = None) -> Iterator[str]:
        ensure_asyncio("PostgresStore")
        check_prefix(prefix)
        self._check()
        after: str | None = None
        while True:
            page = self._ids(prefix, after, _PAGE)
            for session_id in page:
                yield session_id
            if len(page) < _PAGE:
                return
            after = page[-1]

    def find_sessions(
        self,
        *,
        labels: Mapping[str, str] | None = None,
        updated_after: float | None = None,
        updated_before: float | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page:
        ensure_asyncio("PostgresStore")
        query = FindQuery(labels, updated_after, updated_before, limit, cursor)
        self._check()
        sql = f"SELECT {_META} FROM {{sessions}} WHERE (expires_at IS NULL OR expires_at > %s)"
        params: list[Any] = [self._clock()]
        if query.labels:
            sql += " AND labels @> %s::jsonb"
            params.append(json.dumps(query.labels))
        if query.updated_after is not None:
            sql += " AND updated_at > %s"
            params.append(query.updated_after)
        if query.updated_before is not None:
            sql += " AND updated_at < %s"
            params.append(query.updated_before)
        if query.after is not None:
            sql += " AND (updated_at < %s OR (updated_at = %s AND id > %s))"
            params += [query.after[0], query.after[0], query.after[1]]
        sql += " ORDER BY updated_at DESC, id LIMIT %s"
        params.append(query.limit + 1)
        rows = self._fetch(sql, params)
        items = [_meta(row) for row in rows[: query.limit]]
        more = len(rows) > query.limit
        next_cursor = encode_cursor(items[-1].updated_at, items[-1].session_id) if more else None
        return Page(items, next_cursor)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._owns_pool:
            with self._backend():
                self._pool.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} schema={self._schema!r} table_prefix={self._prefix!r}>"
