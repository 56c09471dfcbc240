"""What only the Redis store promises: hash tags, Redis-side expiry, processes, faults."""

from __future__ import annotations

import socket
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from durable_checks import check_cross_process_appends

from agent_session import (
    BackendError,
    CacheStore,
    Conversation,
    LayeredStore,
    Message,
    RedisStore,
    SerializationError,
    open_store,
)


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    prefix = f"test:{uuid.uuid4().hex[:8]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)
    client.close()


def hash_tag(key: str) -> str:
    start = key.index("{")
    return key[start + 1 : key.index("}", start + 1)]


def test_a_sessions_keys_share_a_hash_tag(redis_url: str, prefix: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    with RedisStore(redis_url, prefix=prefix) as store:
        for session_id in ["plain", "with{brace", "close}brace", "}{", "ünï:cødé"]:
            store.append(session_id, Message("user", "x"))
            keys = [k for k in client.scan_iter(match=prefix + "{*") if k.endswith((":m", ":l"))]
            tags = {hash_tag(k) for k in keys}
            assert len(keys) == 2 and len(tags) == 1, keys
            assert len(store.load(session_id)) == 1
            store.delete(session_id)
    client.close()


def test_redis_expires_the_keys_itself(redis_url: str, prefix: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    with RedisStore(redis_url, prefix=prefix) as store:
        store.append("brief", Message("user", "x"), ttl=1.0)
        keys = [f"{prefix}{{brief}}:m", f"{prefix}{{brief}}:l"]  # no SCAN: keep it quick
        assert all(client.exists(k) for k in keys)
        assert all(0 < client.pttl(k) <= 1000 for k in keys)
        deadline = time.monotonic() + 5
        while any(client.exists(k) for k in keys) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(client.exists(k) for k in keys)
        assert not store.exists("brief")
        assert store.list_sessions() == []
        store.append("forever", Message("user", "x"))
        assert all(client.pttl(k) == -1 for k in client.scan_iter(match=prefix + "{forever}*"))
    client.close()


def test_callers_client_is_not_closed(redis_url: str, prefix: str) -> None:
    client = redis.Redis.from_url(redis_url)
    with RedisStore(client, prefix=prefix) as store:
        store.append("s", Message("user", "x"))
    assert client.ping()
    client.close()


def test_corrupted_message_raises_serialization_error(redis_url: str, prefix: str) -> None:
    client = redis.Redis.from_url(redis_url)
    with RedisStore(redis_url, prefix=prefix) as store:
        store.append("s", Message("user", "x"))
        client.lset(f"{prefix}{{s}}:l", 0, "not json")
        with pytest.raises(SerializationError):
            store.load("s")
    client.close()


def test_open_store_url(redis_url: str, prefix: str) -> None:
    with open_store(f"{redis_url}?prefix={prefix}&default_ttl=30") as store:
        assert isinstance(store, RedisStore)
        assert store.append("s", Message("user", "x")).expires_at is not None


def test_four_processes_append_to_one_session(redis_url: str, prefix: str) -> None:
    with RedisStore(redis_url, prefix=prefix) as store:
        check_cross_process_appends(store, f"{redis_url}?prefix={prefix}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_redis(port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            redis.Redis(port=port, socket_connect_timeout=0.2).ping()
            return server
        except redis.RedisError:
            time.sleep(0.05)
    server.kill()
    raise RuntimeError("the private redis-server did not start")


def test_survives_a_redis_restart(redis_url: str) -> None:
    """A layered store keeps reading from its cache while Redis is down, then recovers."""
    port = _free_port()
    server = _start_redis(port)
    try:
        durable = RedisStore(f"redis://127.0.0.1:{port}/0", socket_timeout=1.0)
        with LayeredStore(CacheStore(60), durable) as store:
            store.save("s", Conversation().add_user("before the outage"))
            server.kill()
            server.wait(timeout=10)
            started = time.monotonic()
            with pytest.raises(BackendError) as info:
                durable.load("s")
            assert isinstance(info.value.__cause__, redis.RedisError | OSError)
            assert time.monotonic() - started < 5  # promptly, not after a long hang
            assert len(store.load("s")) == 1  # served by the cache meanwhile
            with pytest.raises(BackendError):
                store.append("s", Message("user", "during the outage"))
            server = _start_redis(port)
            # Same objects, no restart: Redis kept nothing, so write anew and read back.
            store.save("s", Conversation().add_user("after the outage"))
            assert [m.content for m in durable.load("s")] == ["after the outage"]
            assert [m.content for m in store.load("s")] == ["after the outage"]
    finally:
        server.kill()
        server.wait(timeout=10)
