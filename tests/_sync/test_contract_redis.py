# This file is generated from _async/test_contract_redis.py by scripts/unasync.py: do not edit.
"""The store contract, run against Redis (asyncio only: redis.asyncio needs it)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from redis_helpers import PrivateCluster, new_prefix

from agent_session import RedisStore, SessionStore
from agent_session.testing import StoreContract

from .layered import layered_over


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def key_prefix(redis_url: str) -> Iterator[str]:
    """A fresh key prefix per test; its keys are deleted afterwards."""
    prefix = f"test:{uuid.uuid4().hex[:8]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


class TestRedisStore(StoreContract):
    @pytest.fixture(autouse=True)
    def _server(self, redis_url: str, key_prefix: str) -> None:
        self.url, self.prefix = redis_url, key_prefix

    def make_store(self, **options: Any) -> SessionStore:
        return RedisStore(self.url, prefix=self.prefix, **options)


class TestLayeredOverRedis(TestRedisStore):
    def make_store(self, **options: Any) -> SessionStore:
        return layered_over(super().make_store, **options)


class TestRedisClusterStore(StoreContract):
    """The contract on a private 3-master Redis Cluster (``redis+cluster://``)."""

    @pytest.fixture(autouse=True)
    def _server(self, redis_cluster: PrivateCluster) -> Iterator[None]:
        self.url, self.prefix = redis_cluster.cluster_url, new_prefix()
        yield
        redis_cluster.flush()

    def make_store(self, **options: Any) -> SessionStore:
        return RedisStore(self.url, prefix=self.prefix, **options)
