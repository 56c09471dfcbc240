"""The two flavours of the Redis store: the async one refuses trio, each refuses the
other flavour's client.

Hand-written: the generated sync tests cannot express "the other flavour".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import redis
import redis.asyncio

from agent_session import AsyncRedisStore, Conversation, Message, RedisStore


@pytest.fixture
def anyio_backend() -> str:
    return "trio"


async def test_the_async_store_refuses_trio_on_every_call(redis_url: str) -> None:
    store = AsyncRedisStore(redis_url)  # building it touches nothing
    calls: dict[str, Callable[[], Any]] = {
        "save": lambda: store.save("s", Conversation().add_user("x")),
        "append": lambda: store.append("s", Message("user", "x")),
        "load": lambda: store.load("s"),
        "pop": lambda: store.pop("s"),
        "get_metadata": lambda: store.get_metadata("s"),
        "exists": lambda: store.exists("s"),
        "delete": lambda: store.delete("s"),
        "touch": lambda: store.touch("s"),
        "list_sessions": lambda: store.list_sessions(),
        "find_sessions": lambda: store.find_sessions(),
        "purge_expired": lambda: store.purge_expired(),
        "clear": lambda: store.clear(),
        "aclose": lambda: store.aclose(),
    }
    for name, call in calls.items():
        with pytest.raises(RuntimeError, match="AsyncRedisStore supports only asyncio") as info:
            await call()
        assert "trio" in str(info.value), name
    with pytest.raises(RuntimeError, match="only asyncio"):
        async for _session_id in store.iter_sessions():
            pass


def test_each_flavour_refuses_the_other_flavours_client(redis_url: str) -> None:
    blocking = redis.Redis.from_url(redis_url)
    with pytest.raises(TypeError, match=r"redis\.asyncio\.Redis client"):
        AsyncRedisStore(blocking)
    blocking.close()
    asynchronous = redis.asyncio.Redis.from_url(redis_url)  # never connects
    with pytest.raises(TypeError, match=r"redis\.Redis client"):
        RedisStore(asynchronous)
