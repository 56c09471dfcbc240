"""The Redis store across processes and through an outage of a layered store.

Hand-written (blocking store only): the children are separate Python processes
(``tests/durable_helpers.py``), and the server is a private ``redis-server``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
from durable_checks import check_cross_process_appends
from redis_helpers import PrivateRedis, delete_prefix, new_prefix

from agent_session import BackendError, CacheStore, Conversation, LayeredStore, Message, RedisStore


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    prefix = new_prefix()
    yield prefix
    delete_prefix(redis_url, prefix)


def test_four_processes_append_to_one_session(redis_url: str, prefix: str) -> None:
    """4 processes x 200 appends: exactly 800 messages, each process's in its order."""
    with RedisStore(redis_url, prefix=prefix) as store:
        check_cross_process_appends(store, f"{redis_url}?prefix={prefix}", 4, 200)


def test_a_layered_store_reads_from_its_cache_while_redis_is_down() -> None:
    if not PrivateRedis.available():
        pytest.skip("redis-server is not installed")
    server = PrivateRedis()
    server.start()
    try:
        durable = RedisStore(server.url, socket_timeout=1.0)
        with LayeredStore(CacheStore(60), durable) as store:
            store.save("s", Conversation().add_user("before the outage"))
            server.stop()
            started = time.monotonic()
            with pytest.raises(BackendError) as info:
                durable.load("s")
            assert isinstance(info.value.__cause__, redis.RedisError)
            assert time.monotonic() - started < 10  # refused at once, no retries
            assert len(store.load("s")) == 1  # served by the cache meanwhile
            with pytest.raises(BackendError):
                store.append("s", Message("user", "during the outage"))
            server.start()
            # Same objects, no restart: Redis kept nothing, so write anew and read back.
            store.save("s", Conversation().add_user("after the outage"))
            assert [m.content for m in durable.load("s")] == ["after the outage"]
            assert [m.content for m in store.load("s")] == ["after the outage"]
    finally:
        server.stop()
