"""The store contract, run against the process-local stores."""

from __future__ import annotations

from typing import Any

from agent_session import (
    AsyncCacheStore,
    AsyncInMemoryStore,
    AsyncLayeredStore,
    AsyncSessionStore,
)
from agent_session.testing import AsyncStoreContract


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


class TestLayeredStore(AsyncStoreContract):
    async def make_store(self, **options: Any) -> AsyncSessionStore:
        # The layers do not slide themselves: the layered store touches them on load.
        cache_options = {k: v for k, v in options.items() if k not in ("default_ttl", "sliding")}
        cache = AsyncCacheStore(options.get("default_ttl"), capacity=1000, **cache_options)
        sliding = options.pop("sliding", False)
        return AsyncLayeredStore(
            cache, AsyncInMemoryStore(**options), sliding=sliding, clock=options["clock"]
        )
