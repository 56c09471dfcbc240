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
