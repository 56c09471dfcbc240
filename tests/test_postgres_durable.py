"""What only the Postgres store promises: schema, pools, processes, durability, faults."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest
from durable_checks import (
    check_concurrent_first_open,
    check_cross_process_appends,
    check_kill_keeps_acknowledged,
)
from postgres_helpers import drop_tables, new_prefix, terminate
from psycopg_pool import ConnectionPool

from agent_session import (
    BackendError,
    Message,
    PostgresStore,
    SerializationError,
    open_store,
)


@pytest.fixture
def prefix(postgres_dsn: str) -> Iterator[str]:
    prefix = new_prefix()
    yield prefix
    drop_tables(postgres_dsn, prefix)


def url(dsn: str, prefix: str) -> str:
    return f"{dsn}?table_prefix={prefix}"


def test_prefixes_isolate_stores(postgres_dsn: str, prefix: str) -> None:
    other = prefix + "b_"
    try:
        with PostgresStore(postgres_dsn, table_prefix=prefix) as one:
            with PostgresStore(postgres_dsn, table_prefix=other) as two:
                one.append("s", Message("user", "one"))
                assert not two.exists("s")
                assert two.list_sessions() == []
    finally:
        drop_tables(postgres_dsn, other)


def test_callers_pool_is_not_closed(postgres_dsn: str, prefix: str) -> None:
    with ConnectionPool(postgres_dsn, min_size=1, max_size=2, open=True) as pool:
        with PostgresStore(pool, table_prefix=prefix) as store:
            store.append("s", Message("user", "x"))
        assert not pool.closed
        with pool.connection() as conn:
            assert conn.execute(f'SELECT count(*) FROM "{prefix}messages"').fetchone() == (1,)


def test_newer_schema_is_refused(postgres_dsn: str, prefix: str) -> None:
    with PostgresStore(postgres_dsn, table_prefix=prefix) as store:
        store.exists("s")
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f'UPDATE "{prefix}schema" SET version = version + 1')
    with PostgresStore(postgres_dsn, table_prefix=prefix) as store:
        with pytest.raises(SerializationError, match="upgrade agent-session"):
            store.exists("s")


def test_corrupted_message_raises_serialization_error(postgres_dsn: str, prefix: str) -> None:
    with PostgresStore(postgres_dsn, table_prefix=prefix) as store:
        store.append("s", Message("user", "x"))
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            conn.execute(f'UPDATE "{prefix}messages" SET body = \'{{"role": "wizard"}}\'')
        with pytest.raises(SerializationError):
            store.load("s")


def test_unreachable_server_raises_backend_error_promptly(prefix: str) -> None:
    dsn = "postgresql://postgres@127.0.0.1:1/test"
    with PostgresStore(dsn, table_prefix=prefix, connect_timeout=1.0) as store:
        started = time.monotonic()
        with pytest.raises(BackendError) as info:
            store.exists("s")
        assert time.monotonic() - started < 10
        assert info.value.__cause__ is not None


def test_killed_connections_are_replaced(postgres_dsn: str, prefix: str) -> None:
    # Kill only this store's connections: other tests share the server.
    name = f"agent-session-{prefix}"
    options = {"kwargs": {"application_name": name}}
    with PostgresStore(postgres_dsn, table_prefix=prefix, pool_kwargs=options) as store:
        store.append("s", Message("user", "before"))
        assert terminate(postgres_dsn, name) >= 1
        store.append("s", Message("user", "after"))  # the pool replaces the dead connection
        assert [m.content for m in store.load("s")] == ["before", "after"]


def test_open_store_url(postgres_dsn: str, prefix: str) -> None:
    with open_store(url(postgres_dsn, prefix) + "&default_ttl=30") as store:
        assert isinstance(store, PostgresStore)
        assert store.append("s", Message("user", "x")).expires_at is not None


def test_four_processes_append_to_one_session(postgres_dsn: str, prefix: str) -> None:
    with PostgresStore(postgres_dsn, table_prefix=prefix) as store:
        check_cross_process_appends(store, url(postgres_dsn, prefix))


def test_kill_9_loses_no_acknowledged_append(postgres_dsn: str, prefix: str) -> None:
    with PostgresStore(postgres_dsn, table_prefix=prefix) as store:
        store.exists("warm")
        check_kill_keeps_acknowledged(store, url(postgres_dsn, prefix))


def test_two_processes_open_fresh_tables_at_once(postgres_dsn: str, prefix: str) -> None:
    with PostgresStore(postgres_dsn, table_prefix=prefix) as reopen:
        check_concurrent_first_open(url(postgres_dsn, prefix), reopen)
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        rows = conn.execute(f'SELECT version FROM "{prefix}schema"').fetchall()
    assert rows == [(1,)]  # migrated exactly once
