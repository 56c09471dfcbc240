# This file is generated from _async/test_contract_memory.py by scripts/unasync.py: do not edit.
"""The store contract, run against the process-local stores."""

from __future__ import annotations

from typing import Any

from agent_session import (
    CacheStore,
    InMemoryStore,
    LayeredStore,
    SessionStore,
)
from agent_session.testing import StoreContract


class TestInMemoryStore(StoreContract):
    def make_store(self, **options: Any) -> SessionStore:
        return InMemoryStore(**options)


class TestInMemoryStoreWithCapacity(StoreContract):
    # A hard capacity counts sessions in and out: every path must keep that count right.
    def make_store(self, **options: Any) -> SessionStore:
        return InMemoryStore(5000, stripes=1, **options)


class TestCacheStore(StoreContract):
    # Roomy enough that nothing is evicted: eviction has its own tests.
    def make_store(self, **options: Any) -> SessionStore:
        return CacheStore(options.pop("default_ttl", None), capacity=100_000, **options)


class TestLayeredStore(StoreContract):
    def make_store(self, **options: Any) -> SessionStore:
        # The layers do not slide themselves: the layered store touches them on load.
        cache_options = {k: v for k, v in options.items() if k not in ("default_ttl", "sliding")}
        cache = CacheStore(options.get("default_ttl"), capacity=1000, **cache_options)
        sliding = options.pop("sliding", False)
        return LayeredStore(
            cache, InMemoryStore(**options), sliding=sliding, clock=options["clock"]
        )
