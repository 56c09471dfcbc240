# This file is generated from _async/postgres.py by scripts/unasync.py: do not edit.
"""``PostgresStore``: sessions in PostgreSQL, through psycopg 3 and its connection pool."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Callable, Mapping
from datetime import timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .._backends.loops import PerLoop
from .._backends.postgres import (
    CURRENT_SCHEMA,
    SCHEMA_VERSION,
    PostgresSQL,
    postgres_driver,
    check_identifiers,
    connection_usable,
)
from .._concurrency import Lock, run_to_completion
from .._errors import (
    BackendError,
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
    decode_labels,
    decode_message,
    decode_messages,
    encode_labels,
    encode_message,
    message_size,
)
from .._urls import COMMON_OPTIONS, URLSpec, driver_url
from .._validation import (
    DEFAULT,
    Clock,
    Default,
    Limits,
    WriteArgs,
    check_clock,
    check_ttl,
)
from .base import SessionStore

if TYPE_CHECKING:
    from psycopg import Connection
    from psycopg_pool import ConnectionPool

__all__ = ["PostgresStore"]

_ITER_PAGE = 500
# A write that finds its session changed between its statement and the look at why it
# wrote nothing tries again; this many times at most (it takes a storm of writers).
_ATTEMPTS = 50


def _expired(expires_at: float | None, now: float) -> bool:
    return expires_at is not None and expires_at <= now


def _labels(text: str, session_id: str) -> Mapping[str, str]:
    if text == "{}":
        return EMPTY_LABELS
    try:
        return MappingProxyType(decode_labels(text))
    except SerializationError as exc:  # name the session (issue 7, defect 13)
        raise SerializationError(
            f"session {session_id!r}: {exc}; delete the session to start it anew",
            session_id=session_id,
        ) from exc


class _Pool:
    """One of the store's connection pools, and how far the store got with it."""

    __slots__ = ("lock", "opened", "pool", "ready")

    def __init__(self, pool: ConnectionPool[Any]) -> None:
        self.pool = pool
        self.lock = Lock()  # one opening at a time, and closing waits for it
        self.opened = False  # opened by the store: closing closes it
        self.ready = False  # the tables checked and the pool open: statements can run


def _check_no_nul(labels: Mapping[str, str]) -> None:
    for key, value in labels.items():
        if "\x00" in key or "\x00" in value:
            raise ValueError(
                f"PostgreSQL cannot store the NUL character in labels ({key!r}: {value!r}): "
                "remove it"
            )


class PostgresStore(SessionStore):
    """Sessions in PostgreSQL: durable, shared by every process that uses the same tables.

    Built on psycopg 3 and psycopg_pool (``pip install agent-session[postgres]``). The
    tables are created, or migrated, on first use, under an advisory lock so that
    processes opening a fresh database at once are safe. One row per message: every
    write is one SQL statement, hence one round trip and one transaction; ``append``
    never reads or rewrites the conversation, and ``load(last=N)`` reads N rows.

    Where the tables live: in ``schema`` when it is given; otherwise in the current
    schema of the store's first connection (``SELECT current_schema()``: the first
    existing schema of the DSN's or the role's ``search_path``, usually ``public``), as
    SQLAlchemy and Django put theirs. It is resolved once, on the first call, and every
    statement then names it, so ``schema`` and the repr show it from then on. A
    ``search_path`` that names no existing schema raises :class:`BackendError` on that
    call: pass ``schema=``, or create the schema.

    The async flavour runs on asyncio only (psycopg's async connections need it): under
    trio every call raises a clear ``RuntimeError``; use the blocking
    :class:`PostgresStore` in a worker thread there. The sync flavour works anywhere.
    An ``ConnectionPool`` belongs to the event loop that opened it (its
    connections and worker tasks live there), so a store built from a DSN keeps a
    pool per event loop that calls it: opened on that loop's first call, closed when
    that loop shuts down (as ``asyncio.run`` does) or when the store closes. One store
    serves every ``asyncio.run`` in turn and the loops of several threads at once; the
    tables are created or migrated once. The blocking pool is thread-safe: the sync
    flavour keeps one.

    :param dsn_or_pool: a libpq connection string or URL (the store makes its own
        pools, opens each on first use and closes them on close), or an open pool of
        the caller's (used as is, never closed by the store; an ``ConnectionPool``
        of yours belongs to the event loop of the store's first call, and a call from
        another loop raises ``RuntimeError``: give a DSN to use the store from several)
    :param schema: the PostgreSQL schema holding the tables, created if missing; None
        (the default): the connection's current schema, see above
    :param table_prefix: prefix of the table names (letters, digits, underscores), so
        several stores can share a database without seeing each other
    :param default_ttl: seconds or ``timedelta`` a session lives after its last write;
        None: forever
    :param sliding: True: a ``load`` restarts the TTL too
    :param clock: a zero-argument callable returning epoch seconds; every time the
        store writes or compares comes from it, never from the server
    :param max_messages: at most this many messages per session
    :param max_message_bytes: at most this many bytes per message (wire form)
    :param max_session_bytes: at most this many bytes per session (wire form)
    :param connect_timeout: seconds to wait for a connection (the libpq
        ``connect_timeout`` unless the DSN sets one, and the pool's wait) before
        raising :class:`BackendError`; with a pool of the caller's, its own timeout rules
    :param pool_kwargs: extra arguments for the pool made from a DSN (``min_size``,
        default 1; ``max_size``, default 10; ``kwargs`` for each connection, ...)
    :raises ImportError: if psycopg or psycopg_pool is not installed
    :raises TypeError: on an argument of the wrong type
    :raises ValueError: on a bad DSN, identifier, TTL, limit or timeout
    """

    name = "postgres"
    url_spec = URLSpec(
        "postgresql",
        ("postgresql", "postgres"),
        {**COMMON_OPTIONS, "schema": str, "table_prefix": str, "connect_timeout": float},
        target=driver_url,
        driver_parameters=True,  # libpq's own (sslmode, options, ...) stay in the DSN
    )
    _backend_name = "PostgreSQL"
    _asyncio_only = True

    def __init__(
        self,
        dsn_or_pool: str | ConnectionPool[Any],
        *,
        schema: str | None = None,
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
        # Loaded here, not imported at the top: `import agent_session` works without the extra.
        (psycopg, _, pool_class), errors = postgres_driver()
        if not isinstance(sliding, bool):
            raise TypeError(f"sliding must be a bool, not {sliding!r}")
        # None until the first connection says (see the class docstring).
        self._schema, self._prefix = check_identifiers(schema, table_prefix)
        self._default_ttl = check_ttl(default_ttl, "default_ttl")
        self._sliding = sliding
        self._clock = check_clock(clock)
        self._limits = Limits(max_messages, max_message_bytes, max_session_bytes)
        timeout = check_ttl(connect_timeout, "connect_timeout")
        if timeout is None:
            raise ValueError("connect_timeout must be a positive number of seconds, not None")
        if pool_kwargs is not None and not isinstance(pool_kwargs, Mapping):
            raise TypeError(f"pool_kwargs must be a mapping or None, not {pool_kwargs!r}")
        self._driver_errors = errors
        self._sql: PostgresSQL  # built by _open, once the schema is known
        self._operational: type[Exception] = psycopg.OperationalError
        self._tuple_row = psycopg.rows.tuple_row
        self._migrated = False  # schema known, tables created or migrated
        self._conninfo = ""
        self._connect_kwargs: dict[str, Any] = {}
        make: Callable[[], _Pool] | None = None
        first: _Pool
        if isinstance(dsn_or_pool, str):
            try:
                params = psycopg.conninfo.conninfo_to_dict(dsn_or_pool)
            except psycopg.Error as exc:
                raise ValueError(f"invalid PostgreSQL DSN: {exc}") from None
            options = dict(pool_kwargs or {})
            if "open" in options:
                raise ValueError("pool_kwargs cannot set 'open': the store opens its pool itself")
            # Autocommit: each statement is its own transaction, one round trip with no
            # BEGIN/COMMIT around it; every write here is a single statement.
            connect_kwargs: dict[str, Any] = {"autocommit": True}
            if "connect_timeout" not in params:
                connect_kwargs["connect_timeout"] = max(1, math.ceil(timeout))
            connect_kwargs.update(options.pop("kwargs", None) or {})
            self._conninfo = dsn_or_pool
            self._connect_kwargs = connect_kwargs
            pool_options = {"min_size": 1, "max_size": 10, "timeout": timeout, **options}

            def make() -> _Pool:
                return _Pool(
                    pool_class(dsn_or_pool, kwargs=connect_kwargs, open=False, **pool_options)
                )

            first = make()  # the first loop's (and the options' check, now)
            self._owns_pool = True
            where = f"{params.get('host') or 'localhost'}:{params.get('port') or 5432}"
            self._where = f"PostgreSQL at {where}/{params.get('dbname') or ''}"
        elif isinstance(dsn_or_pool, pool_class):
            if pool_kwargs is not None:
                raise ValueError(
                    "pool_kwargs configures the pool the store makes from a DSN: configure "
                    "your own pool when you create it"
                )
            first = _Pool(dsn_or_pool)
            self._owns_pool = False
            self._where = f"PostgreSQL pool {dsn_or_pool.name!r}"
        else:
            raise TypeError(
                f"dsn_or_pool must be a DSN (str) or a psycopg_pool {pool_class.__name__}, "
                f"not {type(dsn_or_pool).__name__}"
            )
        self._pool = first.pool  # the first loop's
        self._pool_timeout = timeout
        # An ConnectionPool belongs to the loop that opened it: one per loop.
        self._pools = PerLoop(
            first,
            self._close_pool,
            make,
            ended=self._end_pool,
            owner=type(self).__name__,
            what="connection pool",
            timeout=timeout,
        )
        self._backend_name = self._where  # a BackendError names the server or pool

    @property
    def schema(self) -> str | None:
        """The PostgreSQL schema holding the tables.

        The one given; without ``schema=``, the connection's current schema once the
        first call has connected, None before.
        """
        return self._schema

    @property
    def table_prefix(self) -> str:
        """The prefix of the table names."""
        return self._prefix

    # -- connections, schema, statements ----------------------------------------------

    def _here(self) -> ConnectionPool[Any]:
        """The running event loop's pool, ready for statements (opened on first use)."""
        here = self._pools.get()
        if not here.ready:
            self._open(here)
        return here.pool

    def _statements(self) -> PostgresSQL:
        """The store's statements, once the tables are ready (opening on first use)."""
        self._here()
        return self._sql

    def _open(self, here: _Pool) -> None:
        """Resolve the schema and create or migrate the tables (once), open the pool."""
        with here.lock:
            if self._closed:
                raise StoreClosed(self.name)
            if here.ready:
                return
            pool = here.pool
            if self._owns_pool:
                if not self._migrated:
                    # Migrate on a connection of our own: a server that is down, or
                    # refuses us, fails at once with libpq's reason, not a pool timeout.
                    conn = pool.connection_class.connect(
                        self._conninfo, **self._connect_kwargs
                    )
                    with conn:
                        self._migrate(conn)
                here.opened = True  # from here on, closing closes it
                # Waits for min_size connections: psycopg_pool's workers swallow a
                # cancellation while they connect, so an asyncio.run that ended while a
                # pool still connected in the background would never end.
                pool.open(wait=True, timeout=self._pool_timeout)
            elif not self._migrated:
                conn = self._checkout(pool)
                try:
                    self._migrate(conn)
                finally:
                    pool.putconn(conn)
            here.ready = True

    def _migrate(self, conn: Connection[Any]) -> None:
        with conn.transaction():
            cursor = conn.cursor(row_factory=self._tuple_row)
            schema = self._schema
            if schema is None:
                cursor.execute(CURRENT_SCHEMA)
                current, search_path = cursor.fetchone() or (None, "")
                schema = self._check_current_schema(current, search_path)
            sql = PostgresSQL(schema, self._prefix)
            # Two processes opening fresh tables at once: one migrates, the other waits
            # here and then finds the work done.
            cursor.execute("SELECT pg_advisory_xact_lock(%s::bigint)", (sql.lock_key,))
            cursor.execute(sql.schema_exists, (schema,))
            if cursor.fetchone() is None:
                cursor.execute(sql.create_schema)
            cursor.execute(sql.version_table_exists, (sql.version_table,))
            row = cursor.fetchone()
            if row is None or row[0] is None:
                cursor.execute(sql.create_version_table)
            cursor.execute(sql.read_version)
            row = cursor.fetchone()
            version = 0 if row is None or row[0] is None else int(row[0])
            if version > SCHEMA_VERSION:
                raise SerializationError(
                    f"the tables {self._prefix}* in schema {schema!r} have schema "
                    f"version {version}, newer than the {SCHEMA_VERSION} this agent-session "
                    "knows: upgrade agent-session"
                )
            for steps in sql.migrations[version:]:
                for statement in steps:
                    cursor.execute(statement)
            if version < SCHEMA_VERSION:
                cursor.execute(sql.clear_version)
                cursor.execute(sql.write_version, (SCHEMA_VERSION,))
        # Settled only once the tables are there: a failed first open resolves again.
        # (Two loops opening at once both migrate: the advisory lock makes that safe.)
        self._schema, self._sql = schema, sql
        self._migrated = True

    def _check_current_schema(self, schema: str | None, search_path: str) -> str:
        """The connection's current schema, if the tables can live there."""
        if schema is None:
            raise BackendError(
                f"{self._where}: the connection's search_path ({search_path!r}) names no "
                "existing schema, so there is no current schema to hold the tables: pass "
                "schema='...' to the store, or CREATE SCHEMA one that search_path names"
            )
        if schema.startswith("pg_temp_"):
            raise BackendError(
                f"{self._where}: the connection's search_path ({search_path!r}) puts a "
                f"temporary schema ({schema!r}) first, and tables there would vanish with "
                "the connection: pass schema='...' to the store"
            )
        return schema

    def _checkout(self, pool: ConnectionPool[Any]) -> Connection[Any]:
        """A connection from the pool, skipping any the server has dropped meanwhile."""
        while True:
            conn: Connection[Any] = pool.getconn()
            if connection_usable(conn):
                return conn
            # Killed (pg_terminate_backend, a server restart): the pool replaces it.
            conn.close()
            pool.putconn(conn)

    def _execute(
        self, pool: ConnectionPool[Any], query: str, params: Mapping[str, Any], retry: bool
    ) -> list[tuple[Any, ...]]:
        for attempt in range(2):
            conn = self._checkout(pool)
            try:
                cursor = conn.cursor(row_factory=self._tuple_row)
                # Prepared on first use: planning the write statements costs more than
                # running them. Not where preparing is switched off (prepare_threshold
                # None, as behind a PgBouncer in transaction mode).
                prepare = None if conn.prepare_threshold is None else True
                cursor.execute(query, params, prepare=prepare)
                rows = cursor.fetchall()
                if conn.pgconn.transaction_status:  # a caller's pool without autocommit
                    conn.commit()
                return rows
            except self._operational:
                # A read may run again when its connection died under it (the server
                # dropped it after the checkout check): the pool has a fresh one.
                if not (retry and attempt == 0 and conn.closed):
                    raise
            finally:
                pool.putconn(conn)  # rolls back what a failed statement left open
        raise AssertionError("unreachable")  # pragma: no cover

    def _run(
        self, query: str, params: Mapping[str, Any], retry: bool = False
    ) -> list[tuple[Any, ...]]:
        """Rows of one statement (driver errors propagate: the front door maps them).

        :param retry: the statement only reads: run it again once if its connection died
        """
        try:
            pool = self._here()
            if retry:  # a read: cut off midway, it changes nothing
                return self._execute(pool, query, params, retry)
            # A write, cancelled: psycopg cancels it at the server and waits for the answer,
            # uninterrupted (anyio's cancel scopes would cut that off, close the connection
            # and leave the statement running there): no write lands after the caller heard.
            return run_to_completion(
                self._execute, pool, query, params, retry, interrupt=True
            )
        except self._driver_errors:
            if self._closed:  # closed while this call waited: say that, not "backend down"
                raise StoreClosed(self.name) from None
            raise

    def _fits(self, count: int, size: int) -> bool:
        limits = self._limits
        return (limits.max_messages is None or count <= limits.max_messages) and (
            limits.max_session_bytes is None or size <= limits.max_session_bytes
        )

    def _write(
        self, query: str, params: dict[str, Any], expected: int | None, append: bool
    ) -> SessionMetadata:
        """Run a save/append statement; when it wrote nothing, raise the reason why."""
        session_id: str = params["id"]
        n, added = params["n"], params["added"]
        for _ in range(_ATTEMPTS):
            params["now"] = now = self._clock()
            # More than a limit on its own: refused whatever the session holds.
            rows = self._run(query, params) if self._fits(n, added) else []
            if rows:
                row = rows[0]
                return SessionMetadata(
                    session_id,
                    row[0],
                    row[1],
                    row[2],
                    row[3],
                    row[4],
                    row[5],
                    _labels(row[6], session_id),
                )
            state = self._run(self._sql.state, params, retry=True)
            if state and not _expired(state[0][1], now):
                version, _, count, size, labels = state[0]
            else:
                version, count, size, labels = 0, 0, 0, "{}"
            if expected is not None and expected != version:
                raise VersionConflict(session_id, expected, version)
            if append:
                self._limits.check_totals(session_id, count + n, size + added)
            else:
                self._limits.check_totals(session_id, n, added)
            if append or params["labels"] is None:
                # Labels changed outside agent-session, which the write would keep: it
                # wrote nothing (the statement checks them), and this says why.
                _labels(labels, session_id)
            # Neither: the session changed between the two statements; try again.
        raise BackendError(
            f"session {session_id!r} kept changing under this write ({_ATTEMPTS} tries): "
            "nothing was written; retry"
        )

    def _params(
        self,
        session_id: str,
        messages: list[Message],
        ttl_arg: object,
        expected_version: int | None,
        labels: str | None,
    ) -> dict[str, Any]:
        messages = stamp(messages, self._clock())
        bodies = [encode_message(message) for message in messages]
        sizes = [message_size(message) for message in messages]
        limits = self._limits
        keep = ttl_arg is DEFAULT
        return {
            "id": session_id,
            "n": len(bodies),
            "added": sum(sizes),
            "bodies": bodies,
            "sizes": sizes,
            "body": bodies[0] if bodies else None,
            "size": sizes[0] if sizes else None,
            "labels": labels,
            "keep": keep,
            # A new (or restarted) session takes this one; ttl=DEFAULT on a live one keeps its own.
            "ttl": self._default_ttl if keep else ttl_arg,
            "max_n": limits.max_messages,
            "max_b": limits.max_session_bytes,
            "free": expected_version is None,
            "expected": expected_version,
        }

    # -- writes ---------------------------------------------------------------------------

    def _save(self, session_id: str, args: WriteArgs) -> SessionMetadata:
        labels_json = None
        if args.labels is not None:
            _check_no_nul(args.labels)  # before any connection: nothing is written
            labels_json = encode_labels(args.labels)
        sql = self._statements()
        expected = args.expected_version
        params = self._params(session_id, args.messages, args.ttl, expected, labels_json)
        query = sql.save_upsert if not expected else sql.save_update
        return self._write(query, params, expected, append=False)

    def _append(self, session_id: str, args: WriteArgs) -> SessionMetadata:
        sql = self._statements()
        expected = args.expected_version
        params = self._params(session_id, args.messages, args.ttl, expected, None)
        if len(args.messages) == 1:  # the common case: no arrays to send
            query = sql.append_upsert_one if not expected else sql.append_update_one
        else:
            query = sql.append_upsert if not expected else sql.append_update
        return self._write(query, params, expected, append=True)

    def _pop(self, session_id: str, expected_version: int | None) -> Message | None:
        try:
            pool = self._here()
            return run_to_completion(
                self._pop_on, pool, session_id, expected_version, interrupt=True
            )
        except self._driver_errors:
            if self._closed:  # closed while this call waited: say that, not "backend down"
                raise StoreClosed(self.name) from None
            raise

    def _pop_on(
        self, pool: ConnectionPool[Any], session_id: str, expected_version: int | None
    ) -> Message | None:
        """pop's checkout, transaction and return of the connection, as one unit."""
        conn = self._checkout(pool)
        try:
            return self._pop_locked(conn, session_id, expected_version)
        finally:
            pool.putconn(conn)  # rolls back what a failure left open

    def _pop_locked(
        self, conn: Connection[Any], session_id: str, expected_version: int | None
    ) -> Message | None:
        """pop's transaction: no retries, the row lock keeps every other write out."""
        sql = self._sql
        prepare = None if conn.prepare_threshold is None else True
        params: dict[str, Any] = {"id": session_id}
        with conn.transaction():
            cursor = conn.cursor(row_factory=self._tuple_row)
            cursor.execute(sql.pop_lock, params, prepare=prepare)
            row = cursor.fetchone()
            if row is None:
                raise SessionNotFound(session_id)
            # Read under the lock: no write to this session can come between.
            params["now"] = now = self._clock()
            expires_at, count, next_seq, version = row
            if _expired(expires_at, now):
                raise SessionExpired(session_id, expires_at)
            if expected_version is not None and expected_version != version:
                raise VersionConflict(session_id, expected_version, version)
            if count == 0:
                return None
            params["seq"] = next_seq - 1
            cursor.execute(sql.pop_top, params, prepare=prepare)
            top = cursor.fetchone()
            if top is None:
                raise SerializationError(
                    f"session {session_id!r} should hold {count} messages but its newest "
                    "row is missing: the tables were changed outside agent-session",
                    session_id=session_id,
                )
            message = decode_message(top[0], session_id)  # raises: rolled back, kept
            cursor.execute(sql.pop_remove, params, prepare=prepare)
        return message

    def _touch(self, session_id: str, ttl: float | None | Default) -> SessionMetadata:
        sql = self._statements()
        keep = ttl is DEFAULT
        now = self._clock()
        params = {
            "id": session_id,
            "now": now,
            "keep": keep,
            "ttl": None if keep else ttl,
        }
        rows = self._run(sql.touch, params)
        if not rows:
            raise SessionNotFound(session_id)
        created_at, updated_at, old_expiry, count, size, version, labels, expires_at, done = rows[0]
        if not done:
            if not _expired(old_expiry, now):
                # Live, so its labels were changed outside agent-session (the statement
                # checks them): nothing was written, and this raises SerializationError.
                _labels(labels, session_id)
            raise SessionExpired(session_id, old_expiry)
        return SessionMetadata(
            session_id,
            created_at,
            updated_at,
            expires_at,
            count,
            size,
            version,
            _labels(labels, session_id),
        )

    def _delete(self, session_id: str) -> bool:
        sql = self._statements()
        now = self._clock()
        rows = self._run(sql.delete, {"id": session_id})
        return bool(rows) and not _expired(rows[0][0], now)

    def _purge_expired(self) -> int:
        sql = self._statements()
        rows = self._run(sql.purge_expired, {"now": self._clock()})
        return int(rows[0][0])

    def _clear(self) -> int:
        sql = self._statements()
        rows = self._run(sql.clear, {"now": self._clock()})
        return int(rows[0][0])

    # -- reads ----------------------------------------------------------------------------

    def _load(self, session_id: str, last: int | None) -> Conversation:
        sql = self._statements()
        params: dict[str, Any] = {"id": session_id, "last": last, "now": self._clock()}
        if self._sliding:
            # Restarts the TTL. Its UPDATE sees the newest session row but its join the
            # statement's snapshot, so a write committed in between shows as a mismatch.
            rows = self._run(sql.load_sliding, params)
            conversation = self._conversation(session_id, last, rows, params["now"])
            if conversation is not None:
                return conversation
        # One snapshot: rows that do not match their session were changed outside (and
        # after a sliding mismatch, this tells such rows from a write in between).
        rows = self._run(sql.load, params, retry=True)
        conversation = self._conversation(session_id, last, rows, params["now"])
        if conversation is None:
            raise SerializationError(
                f"session {session_id!r} should hold {rows[0][1]} messages but its rows do "
                "not match: the tables were changed outside agent-session",
                session_id=session_id,
            )
        return conversation

    def _load_with_metadata(
        self, session_id: str, last: int | None
    ) -> tuple[Conversation, SessionMetadata]:
        sql = self._statements()
        now = self._clock()
        params: dict[str, Any] = {"id": session_id, "last": last, "now": now}
        if self._sliding:
            rows = self._run(sql.load_with_metadata_sliding, params)
            if not rows or rows[0][8]:  # else a write came in between: read a snapshot
                snapshot = self._snapshot(session_id, last, rows, now)
                if snapshot is not None:
                    return snapshot
        # One statement, one snapshot: rows that do not match their session were changed
        # outside (after a sliding mismatch, this tells such rows from a write in between).
        rows = self._run(sql.load_with_metadata, params, retry=True)
        snapshot = self._snapshot(session_id, last, rows, now)
        if snapshot is None:
            raise SerializationError(
                f"session {session_id!r} should hold {rows[0][1]} messages but its rows do "
                "not match: the tables were changed outside agent-session",
                session_id=session_id,
            )
        return snapshot

    def _snapshot(
        self, session_id: str, last: int | None, rows: list[tuple[Any, ...]], now: float
    ) -> tuple[Conversation, SessionMetadata] | None:
        """load_with_metadata's answer from its rows; None if they do not match its count."""
        conversation = self._conversation(session_id, last, rows, now)
        if conversation is None:
            return None
        expires_at, count, size, _, created_at, updated_at, version, labels = rows[0][:8]
        meta = SessionMetadata(
            session_id,
            created_at,
            updated_at,
            expires_at,
            count,
            size,
            version,
            _labels(labels, session_id),
        )
        return conversation, meta

    def _conversation(
        self, session_id: str, last: int | None, rows: list[tuple[Any, ...]], now: float
    ) -> Conversation | None:
        """The session's messages from load's rows; None if they do not match its count."""
        if not rows:
            raise SessionNotFound(session_id)
        expires_at, count, size = rows[0][:3]
        if _expired(expires_at, now):
            raise SessionExpired(session_id, expires_at)
        bodies = [row[3] for row in rows if row[3] is not None]
        if len(bodies) != (count if last is None else min(count, last)):
            return None
        messages = decode_messages(bodies, session_id)
        return Conversation._adopt(messages, size if last is None else -1)

    def _get_metadata(self, session_id: str) -> SessionMetadata:
        sql = self._statements()
        now = self._clock()
        rows = self._run(sql.metadata, {"id": session_id}, retry=True)
        if not rows:
            raise SessionNotFound(session_id)
        row = rows[0]
        if _expired(row[2], now):
            raise SessionExpired(session_id, row[2])
        return SessionMetadata(
            session_id, row[0], row[1], row[2], row[3], row[4], row[5], _labels(row[6], session_id)
        )

    def _exists(self, session_id: str) -> bool:
        sql = self._statements()
        now = self._clock()
        rows = self._run(sql.exists, {"id": session_id}, retry=True)
        return bool(rows) and not _expired(rows[0][0], now)

    def _ids(self, prefix: str | None, limit: int | None, after: str | None) -> list[str]:
        if prefix and "\x00" in prefix:
            return []  # no id holds a NUL, and PostgreSQL text cannot carry one (defect 11)
        sql = self._statements()
        upper = prefix_upper_bound(prefix) if prefix else None
        query = sql.list_sessions(
            bool(prefix), upper is not None, after is not None, limit is not None
        )
        params = {
            "now": self._clock(),
            "prefix": prefix,
            "upper": upper,
            "after": after,
            "limit": limit,
        }
        return [row[0] for row in self._run(query, params, retry=True)]

    def _list_sessions(self, prefix: str | None, limit: int | None) -> list[str]:
        return self._ids(prefix, limit, None)

    def _iter_sessions(self, prefix: str | None) -> Iterator[str]:
        after: str | None = None
        while True:
            page = self._ids(prefix, _ITER_PAGE, after)
            for session_id in page:
                yield session_id
            if len(page) < _ITER_PAGE:
                return
            after = page[-1]

    def _find_sessions(self, query: FindQuery) -> Page:
        if any("\x00" in k or "\x00" in v for k, v in query.labels.items()):
            return Page([], None)  # no stored label can hold a NUL
        statements = self._statements()
        at, sid = query.after if query.after is not None else (None, None)
        sql = statements.find_sessions(
            bool(query.labels),
            query.updated_after is not None,
            query.updated_before is not None,
            query.after is not None,
        )
        params = {
            "now": self._clock(),
            "labels": encode_labels(query.labels),
            "updated_after": query.updated_after,
            "updated_before": query.updated_before,
            "at": at,
            "sid": sid,
            "limit": query.limit + 1,
        }
        rows = self._run(sql, params, retry=True)
        items = [
            SessionMetadata(
                row[0], row[1], row[2], row[3], row[4], row[5], row[6], _labels(row[7], row[0])
            )
            for row in rows[: query.limit]
        ]
        more = len(rows) > query.limit
        next_cursor = encode_cursor(items[-1].updated_at, items[-1].session_id) if more else None
        return Page(items, next_cursor)

    # -- closing --------------------------------------------------------------------------

    def _close_pool(self, here: _Pool) -> None:
        # Under the lock: an _open in flight finishes opening the pool, then it is closed
        # here (and the call that opened it gets StoreClosed, see _run).
        with here.lock:
            if here.opened:
                here.pool.close()

    def _end_pool(self, here: _Pool) -> None:
        """Close a pool as its event loop shuts down (``asyncio.run`` ending)."""
        with here.lock:
            if not here.opened:
                return
            pool = here.pool
            # asyncio cancelled every task of the loop first, the pool's workers too, and
            # close() stops at them: the idle connections are closed here, one checkout
            # at a time (kept out: the pool is closed next, and one put back would be
            # logged as a broken connection).
            for _ in range(pool.get_stats().get("pool_available", 0)):
                conn = pool.getconn(timeout=self._pool_timeout)
                conn.close()
            pool.close()

    def _aclose(self) -> None:
        """Close the pools the store made, every loop's; a pool of the caller's stays open."""
        self._pools.close()

    def __repr__(self) -> str:
        # Without schema=, the schema is known once the first call has connected.
        schema = "current_schema()" if self._schema is None else repr(self._schema)
        return (
            f"<{type(self).__name__} {self._where} schema={schema} table_prefix={self._prefix!r}>"
        )
