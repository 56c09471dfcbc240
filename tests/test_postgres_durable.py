"""The PostgreSQL store across processes: concurrent appends, kill -9, concurrent first open.

The single-process PostgreSQL tests, for both halves, are in ``tests/_async/test_postgres.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from durable_checks import (
    check_concurrent_first_open,
    check_cross_process_appends,
    check_kill_keeps_acknowledged,
)
from postgres_helpers import drop_tables, new_prefix

from agent_session import PostgresStore


@pytest.fixture
def prefix(postgres_dsn: str) -> Iterator[str]:
    prefix = new_prefix()
    yield prefix
    drop_tables(postgres_dsn, prefix)


def url(dsn: str, prefix: str) -> str:
    return f"{dsn}?table_prefix={prefix}"


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


def test_pop_under_steady_appends_never_gives_up(postgres_dsn: str, prefix: str) -> None:
    # Issue 7, defect 10: pop retried on a changed snapshot and gave up after 50 tries.
    # Now it locks the session row: every pop succeeds, and no message is lost or doubled.
    import threading
    import time

    from agent_session import Message

    with PostgresStore(postgres_dsn, table_prefix=prefix, pool_kwargs={"max_size": 6}) as store:
        store.append("s", *[Message("user", f"seed {i}") for i in range(200)])
        stop = threading.Event()
        appended: list[str] = []

        def appender(worker: int) -> None:
            n = 0
            while not stop.is_set() and n < 2000:
                text = f"w{worker}-{n}"
                store.append("s", Message("user", text))
                appended.append(text)
                n += 1

        threads = [threading.Thread(target=appender, args=(w,)) for w in range(3)]
        for thread in threads:
            thread.start()
        popped: list[str] = []
        deadline = time.monotonic() + 20
        try:
            while len(popped) < 150 and time.monotonic() < deadline:
                message = store.pop("s")
                assert message is not None
                popped.append(message.text)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
        assert len(popped) == 150
        left = [m.text for m in store.load("s")]
        assert sorted(left + popped) == sorted([f"seed {i}" for i in range(200)] + appended)
