"""What only the process-local stores do: capacity, eviction, stripes, constructor checks."""

from __future__ import annotations

from typing import Any

import pytest

from agent_session import (
    AsyncCacheStore,
    AsyncInMemoryStore,
    CapacityExceeded,
    Conversation,
    Message,
    SessionNotFound,
)
from agent_session._concurrency import AsyncNursery
from agent_session.testing import FakeClock


async def test_capacity_refuses_new_sessions_only() -> None:
    store = AsyncInMemoryStore(capacity=2)
    await store.save("a", Conversation())
    await store.save("b", Conversation())
    with pytest.raises(CapacityExceeded) as info:
        await store.save("c", Conversation())
    assert info.value.session_id == "c"
    with pytest.raises(CapacityExceeded):
        await store.append("c", Message("user", "x"))
    assert not await store.exists("c")
    await store.append("a", Message("user", "updates still work"))
    assert await store.delete("b")
    await store.save("c", Conversation())  # deleting freed a place
    assert await store.list_sessions() == ["a", "c"]


async def test_capacity_purges_expired_sessions_to_make_room() -> None:
    clock = FakeClock()
    store = AsyncInMemoryStore(capacity=2, default_ttl=10, clock=clock)
    await store.save("a", Conversation())
    await store.save("b", Conversation(), ttl=None)
    clock.advance(11)
    await store.save("c", Conversation())  # "a" expired: purged for room
    assert await store.list_sessions() == ["b", "c"]


async def test_capacity_holds_under_concurrency() -> None:
    store = AsyncInMemoryStore(capacity=50)
    refused: list[str] = []

    async def creator(worker: int) -> None:
        for i in range(20):
            try:
                await store.append(f"w{worker}-{i}", Message("user", "x"))
            except CapacityExceeded:
                refused.append(f"w{worker}-{i}")

    async with AsyncNursery() as nursery:
        for worker in range(8):
            nursery.start_soon(creator, worker)
    assert len(await store.list_sessions()) == 50
    assert len(refused) == 8 * 20 - 50


async def test_cache_evicts_least_recently_used() -> None:
    store = AsyncCacheStore(None, capacity=3)
    for session_id in ["a", "b", "c"]:
        await store.save(session_id, Conversation())
    await store.load("a")  # "b" is now the least recently used
    await store.save("d", Conversation())
    assert await store.list_sessions() == ["a", "c", "d"]
    with pytest.raises(SessionNotFound):
        await store.load("b")


async def test_cache_evicts_expired_first() -> None:
    clock = FakeClock()
    store = AsyncCacheStore(None, capacity=3, clock=clock)
    await store.save("old", Conversation())
    await store.save("brief", Conversation(), ttl=5)
    await store.save("new", Conversation())
    await store.load("brief")  # recently used, but about to expire
    clock.advance(6)
    await store.save("newest", Conversation())
    assert await store.list_sessions() == ["new", "newest", "old"]


async def test_cache_never_exceeds_capacity() -> None:
    store = AsyncCacheStore(None, capacity=1000)

    async def writer(worker: int) -> None:
        for i in range(400):
            await store.append(f"{worker}-{i}", Message("user", "x"))

    async with AsyncNursery() as nursery:
        for worker in range(8):
            nursery.start_soon(writer, worker)
    assert len(await store.list_sessions()) == 1000


async def test_mixed_hammering_keeps_invariants() -> None:
    store = AsyncInMemoryStore(stripes=4)

    async def worker(number: int) -> None:
        for i in range(60):
            session_id = f"s{i % 6}"
            if i % 5 == 0:
                await store.save(session_id, Conversation().add_user("reset"))
            elif i % 7 == 0:
                try:
                    await store.pop(session_id)
                except SessionNotFound:
                    pass
            else:
                await store.append(session_id, Message("user", f"{number}:{i}"))
            try:
                loaded = await store.load(session_id)
            except SessionNotFound:
                continue
            assert all(isinstance(m, Message) for m in loaded)

    async with AsyncNursery() as nursery:
        for number in range(8):
            nursery.start_soon(worker, number)
    for session_id in await store.list_sessions():
        meta = await store.get_metadata(session_id)
        assert meta.message_count == len(await store.load(session_id))


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"capacity": 0}, ValueError),
        ({"capacity": -1}, ValueError),
        ({"capacity": "10"}, TypeError),
        ({"stripes": 3}, ValueError),
        ({"stripes": 0}, ValueError),
        ({"default_ttl": -1}, ValueError),
        ({"default_ttl": float("nan")}, ValueError),
        ({"clock": 5}, TypeError),
        ({"sliding": "yes"}, TypeError),
        ({"max_messages": 0}, ValueError),
        ({"max_message_bytes": -5}, ValueError),
    ],
)
async def test_bad_constructor_arguments(options: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error, match=str(list(options.values())[0])[:3]):
        AsyncInMemoryStore(**options)


async def test_cache_needs_a_capacity() -> None:
    with pytest.raises(TypeError):
        AsyncCacheStore(10, capacity=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        AsyncCacheStore(-1)
