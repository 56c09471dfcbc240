"""The store contract, run against SQLite (a file, ``:memory:``, the path for SQLite
before 3.35) and a cache over it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent_session import AsyncCacheStore, AsyncLayeredStore, AsyncSessionStore, AsyncSQLiteStore
from agent_session.testing import AsyncStoreContract


class TestSQLiteFileStore(AsyncStoreContract):
    @pytest.fixture(autouse=True)
    def _directory(self, tmp_path: Path) -> None:
        self.directory = tmp_path

    async def make_store(self, **options: Any) -> AsyncSessionStore:
        return AsyncSQLiteStore(self.directory / "sessions.db", **options)


class TestSQLiteMemoryStore(AsyncStoreContract):
    async def make_store(self, **options: Any) -> AsyncSessionStore:
        return AsyncSQLiteStore(":memory:", **options)


class TestSQLiteWithoutReturning(AsyncStoreContract):
    """The path for SQLite libraries older than 3.35 (no ``UPDATE ... RETURNING``)."""

    @pytest.fixture(autouse=True)
    def _directory(self, tmp_path: Path) -> None:
        self.directory = tmp_path

    async def make_store(self, **options: Any) -> AsyncSessionStore:
        store = AsyncSQLiteStore(self.directory / "sessions.db", **options)
        store._engine._returning = False
        return store


class TestLayeredOverSQLite(AsyncStoreContract):
    @pytest.fixture(autouse=True)
    def _directory(self, tmp_path: Path) -> None:
        self.directory = tmp_path

    async def make_store(self, **options: Any) -> AsyncSessionStore:
        sliding = options.pop("sliding", False)
        cache_options = {k: v for k, v in options.items() if k != "default_ttl"}
        cache = AsyncCacheStore(options.get("default_ttl"), capacity=1000, **cache_options)
        durable = AsyncSQLiteStore(self.directory / "layered.db", **options)
        return AsyncLayeredStore(cache, durable, sliding=sliding, clock=options["clock"])
