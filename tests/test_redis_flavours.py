"""The two flavours of the Redis store: each refuses the other flavour's clients (plain
and cluster).

Hand-written: the generated sync tests cannot express "the other flavour". The async
flavour's refusal of trio is in ``tests/test_asyncio_only_drivers.py``.
"""

from __future__ import annotations

import pytest
import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.cluster
from redis_helpers import PrivateCluster, disconnect_nodes

from agent_session import AsyncRedisStore, RedisStore


def test_each_flavour_refuses_the_other_flavours_client(redis_url: str) -> None:
    blocking = redis.Redis.from_url(redis_url)
    with pytest.raises(TypeError, match=r"redis\.asyncio\.Redis or redis\.asyncio\.RedisCluster"):
        AsyncRedisStore(blocking)
    blocking.close()
    asynchronous = redis.asyncio.Redis.from_url(redis_url)  # never connects
    with pytest.raises(TypeError, match=r"redis\.Redis or redis\.RedisCluster client"):
        RedisStore(asynchronous)


def test_each_flavour_refuses_the_other_flavours_cluster_client(
    redis_cluster: PrivateCluster,
) -> None:
    blocking = redis.cluster.RedisCluster.from_url(redis_cluster.url)  # connects
    with pytest.raises(TypeError, match=r"redis\.asyncio\.RedisCluster client"):
        AsyncRedisStore(blocking)
    blocking.close()
    disconnect_nodes(blocking)
    asynchronous = redis.asyncio.cluster.RedisCluster.from_url(redis_cluster.url)  # does not
    with pytest.raises(TypeError, match=r"redis\.RedisCluster client"):
        RedisStore(asynchronous)


def test_each_flavour_takes_its_own_cluster_client(redis_cluster: PrivateCluster) -> None:
    client = redis.cluster.RedisCluster.from_url(redis_cluster.url, decode_responses=True)
    with RedisStore(client, prefix="flavours:") as store:
        assert store.list_sessions() == []
        assert store._cluster
    client.close()
    disconnect_nodes(client)
