# This file is generated from _async/test_contract_memory.py by scripts/unasync.py: do not edit.
"""The store contract, run against the process-local stores."""

from __future__ import annotations

from typing import Any

from agent_session import CacheStore, InMemoryStore, SessionStore
from agent_session.testing import StoreContract

from .layered import layered_over


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


class TestLayeredStore(TestInMemoryStore):
    def make_store(self, **options: Any) -> SessionStore:
        return layered_over(super().make_store, **options)
