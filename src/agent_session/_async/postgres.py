"""``AsyncPostgresStore``: sessions in PostgreSQL (psycopg 3 and its pool)."""

from __future__ import annotations

import json
import math
import time
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from typing import Any

from .._concurrency import AsyncLock, aensure_asyncio
from .._drivers import apostgres_driver
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
from .base import AsyncSessionStore

__all__ = ["AsyncPostgresStore"]

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


class AsyncPostgresStore(AsyncSessionStore):
    """Sessions in PostgreSQL: a row per session and a row per message.

    Every write is one round trip: a call of a PL/pgSQL function that locks the
    session's row, so concurrent writers in any number of processes never lose a
    message, and ``append`` inserts only the new rows. The schema (tables,
    indexes, functions) is created and migrated on first use under an advisory
    lock; ``schema`` and ``table_prefix`` let several applications share a
    database. The async flavour needs asyncio (psycopg's async connections do not
    run under trio) and says so under trio.

    :param dsn_or_pool: a connection string (the store owns its pool and closes it)
        or a psycopg_pool pool of yours (``AsyncConnectionPool`` for the async store,
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
        (psycopg, _pool_module, pool_class), self._errors = apostgres_driver()
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
        self._ready_lock = AsyncLock()
        self._closed = False

    # -- plumbing ---------------------------------------------------------------------

    def _sql(self, template: str) -> str:
        return template.format(**self._names)

    def _backend(self) -> map_backend_errors:
        return map_backend_errors("PostgreSQL", self._errors)

    async def _check(self) -> None:
        aensure_asyncio("PostgresStore")
        if self._closed:
            raise StoreClosed(self.name)
        if not self._ready:
            await self._prepare()

    async def _prepare(self) -> None:
        """Open the pool and create or migrate the schema, once."""
        async with self._ready_lock:
            if self._ready:
                return
            with self._backend():
                if self._owns_pool:
                    await self._pool.open()
                async with self._pool.connection() as conn:
                    async with conn.transaction():
                        key = advisory_key(self._schema, self._prefix)
                        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (key,))
                        await conn.execute(
                            self._sql("CREATE TABLE IF NOT EXISTS {schema} (version integer)")
                        )
                        row = await (
                            await conn.execute(self._sql("SELECT max(version) FROM {schema}"))
                        ).fetchone()
                        version = row[0] or 0
                        if version > SCHEMA_VERSION:
                            raise SerializationError(
                                f"the PostgreSQL tables have schema version {version}, newer "
                                f"than the {SCHEMA_VERSION} this agent-session knows: upgrade "
                                "agent-session"
                            )
                        for step in migrations()[version:]:
                            await conn.execute(self._sql(step))
                        if version < SCHEMA_VERSION:
                            await conn.execute(self._sql("DELETE FROM {schema}"))
                            await conn.execute(
                                self._sql("INSERT INTO {schema} (version) VALUES (%s)"),
                                (SCHEMA_VERSION,),
                            )
            self._ready = True

    async def _fetch(self, sql: str, params: Any = ()) -> list[Any]:
        with self._backend():
            async with self._pool.connection() as conn:
                cursor = await conn.execute(self._sql(sql), params)
                return list(await cursor.fetchall())

    def _ttl_params(self, ttl: object) -> tuple[str, float | None]:
        if ttl is DEFAULT:
            return "D", None
        if ttl is None:
            return "N", None
        return "S", ttl  # type: ignore[return-value]  # validated seconds

    async def _write(
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
        rows = await self._fetch(
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

    async def _missing(self, session_id: str) -> None:
        """Raise ``SessionExpired`` or ``SessionNotFound`` for a session a write missed."""
        rows = await self._fetch("SELECT expires_at FROM {sessions} WHERE id = %s", (session_id,))
        if rows and rows[0][0] is not None:
            raise SessionExpired(session_id, rows[0][0])
        raise SessionNotFound(session_id)

    # -- writes -----------------------------------------------------------------------

    async def save(
        self,
        session_id: str,
        conversation: Conversation,
        *,
        ttl: TTLArg = DEFAULT,
        expected_version: int | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> SessionMetadata:
        aensure_asyncio("PostgresStore")
        check_session_id(session_id)
        if not isinstance(conversation, Conversation):
            raise TypeError(f"save() takes a Conversation, not {conversation!r:.80}")
        messages = list(conversation)
        ttl_arg = resolve_ttl_arg(ttl)
        check_expected_version(expected_version)
        new_labels = None if labels is None else check_labels(labels)
        self._limits.check_each(session_id, messages)
        await self._check()
        return await self._write(
            session_id,
            messages,
            replace=True,
            ttl=ttl_arg,
            expected_version=expected_version,
            labels=new_labels,
        )

    async def append(
        self,
        session_id: str,
        *messages: Message,
        ttl: TTLArg = DEFAULT,
        expected_version: int | None = None,
    ) -> SessionMetadata:
        aensure_asyncio("PostgresStore")
        check_session_id(session_id)
        new = check_messages(messages)
        ttl_arg = resolve_ttl_arg(ttl)
        check_expected_version(expected_version)
        self._limits.check_each(session_id, new)
        await self._check()
        return await self._write(
            session_id,
            new,
            replace=False,
            ttl=ttl_arg,
            expected_version=expected_version,
            labels=None,
        )

    async def pop(self, session_id: str) -> Message | None:
        aensure_asyncio("PostgresStore")
        check_session_id(session_id)
        await self._check()
        rows = await self._fetch("SELECT * FROM {f_pop}(%s, %s)", (session_id, self._clock()))
        status, body, expires_at = rows[0]
        if status == "missing":
            raise SessionNotFound(session_id)
        if status == "expired":
            raise SessionExpired(session_id, expires_at)
        if status == "empty":
            return None
        return decode_message(body)

    async def touch(self, session_id: str, *, ttl: TTLArg = DEFAULT) -> SessionMetadata:
        aensure_asyncio("PostgresStore")
        check_session_id(session_id)
        mode, seconds = self._ttl_params(resolve_ttl_arg(ttl))
        await self._check()
        now = self._clock()
        rows = await self._fetch(
            "UPDATE {sessions} SET ttl = CASE %(mode)s::text WHEN 'D' THEN ttl WHEN 'N' THEN NULL "
            "ELSE %(ttl)s::double precision END, "
            "expires_at = CASE %(mode)s::text WHEN 'D' THEN %(now)s::double precision + ttl "
            "WHEN 'N' THEN NULL ELSE %(now)s::double precision + %(ttl)s::double precision END "
            "WHERE id = %(id)s AND (expires_at IS NULL OR expires_at > %(now)s) "
            f"RETURNING {_META}",
            {"mode": mode, "ttl": seconds, "now": now, "id": session_id},
        )
        if not rows:
            await self._missing(session_id)
        return _meta(rows[0])

    async def delete(self, session_id: str) -> bool:
        aensure_asyncio("PostgresStore")
        check_session_id(session_id)
        await self._check()
        rows = await self._fetch(
            "DELETE FROM {sessions} WHERE id = %s RETURNING expires_at", (session_id,)
        )
        return bool(rows) and (rows[0][0] is None or rows[0][0] > self._clock())

    async def purge_expired(self) -> int:
        await self._check()
        rows = await self._fetch(
            "DELETE FROM {sessions} WHERE expires_at <= %s RETURNING 1", (self._clock(),)
        )
        return len(rows)

    async def clear(self) -> int:
        await self._check()
        with self._backend():
            async with self._pool.connection() as conn:
                async with conn.transaction():
                    cursor = await conn.execute(
                        self._sql(
                            "WITH gone AS (DELETE FROM {sessions} RETURNING expires_at) "
                            "SELECT count(*) FROM gone WHERE expires_at IS NULL "
                            "OR expires_at > %s"
                        ),
                        (self._clock(),),
                    )
                    row = await cursor.fetchone()
        return int(row[0])

    # -- reads ------------------------------------------------------------------------

    async def load(self, session_id: str, *, last: int | None = None) -> Conversation:
        aensure_asyncio("PostgresStore")
        check_session_id(session_id)
        check_last(last)
        await self._check()
        now = self._clock()
        if self._sliding:
            await self._fetch(
                "UPDATE {sessions} SET expires_at = %(now)s + ttl WHERE id = %(id)s "
                "AND ttl IS NOT NULL AND expires_at > %(now)s RETURNING 1",
                {"now": now, "id": session_id},
            )
        inner = "ORDER BY seq" if last is None else "ORDER BY seq DESC LIMIT %(last)s"
        rows = await self._fetch(
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

    async def get_metadata(self, session_id: str) -> SessionMetadata:
        aensure_asyncio("PostgresStore")
        check_session_id(session_id)
        await self._check()
        rows = await self._fetch(f"SELECT {_META} FROM {{sessions}} WHERE id = %s", (session_id,))
        if not rows:
            raise SessionNotFound(session_id)
        meta = _meta(rows[0])
        if meta.is_expired(self._clock()):
            raise SessionExpired(session_id, meta.expires_at)  # type: ignore[arg-type]
        return meta

    async def exists(self, session_id: str) -> bool:
        aensure_asyncio("PostgresStore")
        check_session_id(session_id)
        await self._check()
        rows = await self._fetch(
            "SELECT 1 FROM {sessions} WHERE id = %s AND (expires_at IS NULL OR expires_at > %s)",
            (session_id, self._clock()),
        )
        return bool(rows)

    async def _ids(self, prefix: str | None, after: str | None, limit: int | None) -> list[str]:
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
        return [row[0] for row in await self._fetch(sql, params)]

    async def list_sessions(
        self, *, prefix: str | None = None, limit: int | None = None
    ) -> list[str]:
        aensure_asyncio("PostgresStore")
        check_prefix(prefix)
        check_limit(limit)
        await self._check()
        return await self._ids(prefix, None, limit)

    async def iter_sessions(self, *, prefix: str | None = None) -> AsyncIterator[str]:
        aensure_asyncio("PostgresStore")
        check_prefix(prefix)
        await self._check()
        after: str | None = None
        while True:
            page = await self._ids(prefix, after, _PAGE)
            for session_id in page:
                yield session_id
            if len(page) < _PAGE:
                return
            after = page[-1]

    async def find_sessions(
        self,
        *,
        labels: Mapping[str, str] | None = None,
        updated_after: float | None = None,
        updated_before: float | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page:
        aensure_asyncio("PostgresStore")
        query = FindQuery(labels, updated_after, updated_before, limit, cursor)
        await self._check()
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
        rows = await self._fetch(sql, params)
        items = [_meta(row) for row in rows[: query.limit]]
        more = len(rows) > query.limit
        next_cursor = encode_cursor(items[-1].updated_at, items[-1].session_id) if more else None
        return Page(items, next_cursor)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._owns_pool:
            with self._backend():
                await self._pool.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} schema={self._schema!r} table_prefix={self._prefix!r}>"
