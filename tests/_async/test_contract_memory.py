"""The store contract, run against the process-local stores."""

from __future__ import annotations

from typing import Any

from agent_session import AsyncCacheStore, AsyncInMemoryStore, AsyncSessionStore
from agent_session.testing import AsyncStoreContract

from .layered import layered_over


class TestInMemoryStore(AsyncStoreContract):
    async def make_store(self, **options: Any) -> AsyncSessionStore:
        return AsyncInMemoryStore(**options)


class TestInMemoryStoreWithCapacity(AsyncStoreContract):
    # A hard capacity counts sessions in and out: every path must keep that count right.
    async def make_store(self, **options: Any) -> AsyncSessionStore:
        return AsyncInMemoryStore(5000, stripes=1, **options)


class TestCacheStore(AsyncStoreContract):
    # Roomy enough that nothing is evicted: eviction has its own tests.
    async def make_store(self, **options: Any) -> AsyncSessionStore:
        return AsyncCacheStore(options.pop("default_ttl", None), capacity=100_000, **options)


class TestLayeredStore(TestInMemoryStore):
    async def make_store(self, **options: Any) -> AsyncSessionStore:
        return await layered_over(super().make_store, **options)
