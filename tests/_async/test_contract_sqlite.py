"""The store contract, run against SQLite (a file, ``:memory:``, the path for SQLite
before 3.35) and a cache over it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent_session import AsyncSessionStore, AsyncSQLiteStore
from agent_session.testing import AsyncStoreContract

from .layered import layered_over


class TestSQLiteFileStore(AsyncStoreContract):
    @pytest.fixture(autouse=True)
    def _directory(self, tmp_path: Path) -> None:
        self.directory = tmp_path

    async def make_store(self, **options: Any) -> AsyncSessionStore:
        return AsyncSQLiteStore(self.directory / "sessions.db", **options)


class TestSQLiteMemoryStore(AsyncStoreContract):
    async def make_store(self, **options: Any) -> AsyncSessionStore:
        return AsyncSQLiteStore(":memory:", **options)


class TestSQLiteWithoutReturning(TestSQLiteFileStore):
    """The path for SQLite libraries older than 3.35 (no ``UPDATE ... RETURNING``)."""

    async def make_store(self, **options: Any) -> AsyncSessionStore:
        store = AsyncSQLiteStore(self.directory / "sessions.db", **options)
        store._engine._returning = False
        return store


class TestLayeredOverSQLite(TestSQLiteFileStore):
    async def make_store(self, **options: Any) -> AsyncSessionStore:
        return await layered_over(super().make_store, **options)
