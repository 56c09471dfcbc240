"""The store contract, run against PostgreSQL (asyncio only: psycopg's async needs it)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from postgres_helpers import drop_tables, new_prefix

from agent_session import AsyncPostgresStore, AsyncSessionStore
from agent_session.testing import AsyncStoreContract

from .layered import layered_over


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def table_prefix(postgres_dsn: str) -> Iterator[str]:
    """A fresh table prefix per test; its tables are dropped afterwards."""
    prefix = new_prefix()
    yield prefix
    drop_tables(postgres_dsn, prefix)


class TestPostgresStore(AsyncStoreContract):
    @pytest.fixture(autouse=True)
    def _server(self, postgres_dsn: str, table_prefix: str) -> None:
        self.dsn, self.prefix = postgres_dsn, table_prefix

    async def make_store(self, **options: Any) -> AsyncSessionStore:
        return AsyncPostgresStore(self.dsn, table_prefix=self.prefix, **options)


class TestLayeredOverPostgres(TestPostgresStore):
    async def make_store(self, **options: Any) -> AsyncSessionStore:
        return await layered_over(super().make_store, **options)
