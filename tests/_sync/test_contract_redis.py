# This file is generated from _async/test_contract_redis.py by scripts/unasync.py: do not edit.
"""The store contract, run against Redis (asyncio only: redis.asyncio needs it)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from agent_session import CacheStore, LayeredStore, RedisStore, SessionStore
from agent_session.testing import StoreContract


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class TestRedisStore(StoreContract):
    @pytest.fixture(autouse=True)
    def _server(self, redis_url: str) -> None:
        self.url = redis_url
        self.prefix = f"test:{uuid.uuid4().hex[:8]}:"

    def make_store(self, **options: Any) -> SessionStore:
        return RedisStore(self.url, prefix=self.prefix, **options)


class TestLayeredOverRedis(StoreContract):
    @pytest.fixture(autouse=True)
    def _server(self, redis_url: str) -> None:
        self.url = redis_url
        self.prefix = f"test:{uuid.uuid4().hex[:8]}:"

    def make_store(self, **options: Any) -> SessionStore:
        sliding = options.pop("sliding", False)
        cache_options = {k: v for k, v in options.items() if k != "default_ttl"}
        cache = CacheStore(options.get("default_ttl"), capacity=1000, **cache_options)
        durable = RedisStore(self.url, prefix=self.prefix, **options)
        return LayeredStore(cache, durable, sliding=sliding, clock=options["clock"])
