"""The two flavours of the Redis store: each refuses the other flavour's client.

Hand-written: the generated sync tests cannot express "the other flavour". The async
flavour's refusal of trio is in ``tests/test_asyncio_only_drivers.py``.
"""

from __future__ import annotations

import pytest
import redis
import redis.asyncio

from agent_session import AsyncRedisStore, RedisStore


def test_each_flavour_refuses_the_other_flavours_client(redis_url: str) -> None:
    blocking = redis.Redis.from_url(redis_url)
    with pytest.raises(TypeError, match=r"redis\.asyncio\.Redis client"):
        AsyncRedisStore(blocking)
    blocking.close()
    asynchronous = redis.asyncio.Redis.from_url(redis_url)  # never connects
    with pytest.raises(TypeError, match=r"redis\.Redis client"):
        RedisStore(asynchronous)
