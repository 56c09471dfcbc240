"""What only the process-local stores do: capacity, eviction, stripes, constructor checks.

The behaviour every store shares is in the contract suite (test_contract_memory.py).
"""

from __future__ import annotations

import random
import re
import sys
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from agent_session import (
    AsyncCacheStore,
    AsyncInMemoryStore,
    AsyncSessionStore,
    CapacityExceeded,
    Conversation,
    Message,
    SessionExpired,
    SessionNotFound,
)
from agent_session._concurrency import AsyncNursery, asleep
from agent_session._serialization import message_size
from agent_session.testing import FakeClock


def _user(text: str) -> Message:
    return Message("user", text)


@pytest.fixture
def switch_often() -> Iterator[None]:
    """Threads switch every microsecond meanwhile (not every 5 ms), so races show up."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


# -- InMemoryStore: capacity is a hard limit -----------------------------------------------


async def test_capacity_refuses_new_sessions_only() -> None:
    store = AsyncInMemoryStore(capacity=2)
    await store.save("a", Conversation().add_user("x"))
    await store.save("b", Conversation())
    with pytest.raises(CapacityExceeded, match="capacity of 2") as info:
        await store.save("c", Conversation())
    assert info.value.session_id == "c"
    with pytest.raises(CapacityExceeded) as info:
        await store.append("c", _user("x"))
    assert info.value.session_id == "c"
    with pytest.raises(CapacityExceeded):
        await store.save("c", Conversation(), expected_version=0)
    assert not await store.exists("c")
    with pytest.raises(SessionNotFound):
        await store.load("c")
    # Updating an existing session still works, whatever the write.
    assert (await store.append("a", _user("updates still work"))).version == 2
    assert (await store.save("b", Conversation().add_user("replaced"))).version == 2
    assert (await store.pop("a")) == _user("updates still work")
    assert (await store.touch("a", ttl=100)).version == 3
    assert await store.list_sessions() == ["a", "b"]


async def test_removing_sessions_frees_places() -> None:
    clock = FakeClock()
    store = AsyncInMemoryStore(capacity=3, clock=clock)
    for session_id in ["a", "b", "c"]:
        await store.save(session_id, Conversation())
    assert await store.delete("b")
    await store.save("d", Conversation())  # deleting freed a place
    with pytest.raises(CapacityExceeded):
        await store.save("e", Conversation())
    assert await store.clear() == 3
    for session_id in ["e", "f", "g"]:  # clearing freed them all
        await store.save(session_id, Conversation())
    with pytest.raises(CapacityExceeded):
        await store.save("h", Conversation())
    await store.save("e", Conversation(), ttl=5)
    clock.advance(5)
    assert await store.purge_expired() == 1
    await store.save("h", Conversation())  # purging freed one too
    assert await store.list_sessions() == ["f", "g", "h"]


async def test_capacity_purges_expired_sessions_to_make_room() -> None:
    clock = FakeClock()
    store = AsyncInMemoryStore(capacity=3, default_ttl=10, clock=clock)
    await store.save("a", Conversation())
    await store.save("b", Conversation(), ttl=None)
    await store.save("c", Conversation(), ttl=20)
    clock.advance(11)
    await store.save("d", Conversation(), ttl=None)  # "a" expired: purged for room
    assert await store.list_sessions() == ["b", "c", "d"]
    with pytest.raises(SessionNotFound) as info:
        await store.load("a")  # purged, not merely expired
    assert not isinstance(info.value, SessionExpired)
    with pytest.raises(CapacityExceeded):
        await store.save("e", Conversation())  # nothing expired: still full
    clock.advance(10)  # "c" expires
    assert (await store.append("c", _user("again"))).version == 1  # its own place
    with pytest.raises(CapacityExceeded):
        await store.save("e", Conversation())


async def test_expired_session_keeps_its_place_when_written_again() -> None:
    clock = FakeClock()
    store = AsyncInMemoryStore(capacity=1, clock=clock)
    await store.save("only", Conversation(), ttl=1)
    clock.advance(2)
    meta = await store.save("only", Conversation().add_user("new"))
    assert meta.version == 1 and meta.expires_at is None
    with pytest.raises(CapacityExceeded):
        await store.save("other", Conversation())


@pytest.mark.usefixtures("switch_often")
async def test_capacity_holds_under_concurrency() -> None:
    store = AsyncInMemoryStore(capacity=50)
    created: list[str] = []
    refused: list[str] = []

    async def creator(worker: int) -> None:
        for i in range(20):
            session_id = f"w{worker}-{i}"
            try:
                await store.append(session_id, _user("x"))
                created.append(session_id)
            except CapacityExceeded:
                refused.append(session_id)
            await asleep(0)

    async with AsyncNursery() as nursery:
        for worker in range(8):
            nursery.start_soon(creator, worker)
    assert len(created) == 50 and len(refused) == 8 * 20 - 50
    assert await store.list_sessions() == sorted(created)


@pytest.mark.usefixtures("switch_often")
async def test_capacity_counts_exactly_after_churn() -> None:
    # Creating and removing sessions from many workers at once must leave the count of
    # held sessions right: afterwards exactly `capacity` sessions fit, not one more or less.
    clock = FakeClock()
    store = AsyncInMemoryStore(capacity=20, stripes=4, clock=clock)

    async def churner(worker: int) -> None:
        for i in range(60):
            session_id = f"w{worker}-{i % 5}"
            try:
                if i % 4 == 3:
                    await store.delete(session_id)
                elif i % 4 == 2:
                    await store.save(session_id, Conversation(), ttl=1)
                else:
                    await store.append(session_id, _user("x"))
            except CapacityExceeded:
                pass
            if i % 10 == 9 and worker == 0:
                await store.purge_expired()
            await asleep(0)

    async with AsyncNursery() as nursery:
        for worker in range(8):
            nursery.start_soon(churner, worker)
    assert len(await store.list_sessions()) <= 20
    clock.advance(2)
    await store.clear()
    for i in range(20):
        await store.save(f"fill-{i}", Conversation())
    with pytest.raises(CapacityExceeded):
        await store.save("one-too-many", Conversation())


async def test_in_memory_store_never_evicts() -> None:
    store = AsyncInMemoryStore(stripes=1)
    for i in range(3000):
        await store.append(f"s{i:04d}", _user(str(i)))
    assert len(await store.list_sessions()) == 3000
    assert [m.content for m in await store.load("s0000")] == ["0"]


# -- CacheStore: eviction ----------------------------------------------------------------------


async def test_cache_evicts_least_recently_used() -> None:
    store = AsyncCacheStore(None, capacity=3)
    for session_id in ["a", "b", "c"]:
        await store.save(session_id, Conversation())
    await store.load("a")  # "b" is now the least recently used
    await store.save("d", Conversation())
    assert await store.list_sessions() == ["a", "c", "d"]
    with pytest.raises(SessionNotFound) as info:
        await store.load("b")  # evicted is simply gone
    assert not isinstance(info.value, SessionExpired)
    assert await store.delete("b") is False
    await store.append("c", _user("x"))  # a write is a use too: "a" is now the oldest
    await store.save("e", Conversation())
    assert await store.list_sessions() == ["c", "d", "e"]


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


@pytest.mark.parametrize("capacity", [1, 2, 3, 5, 10, 127])
async def test_small_caches_are_exact_lru(capacity: int) -> None:
    # Under 128 sessions a cache has one stripe: it must behave exactly like a model LRU.
    rng = random.Random(capacity)
    store = AsyncCacheStore(None, capacity=capacity)
    model: OrderedDict[str, int] = OrderedDict()
    ids = [f"s{i}" for i in range(2 * capacity + 1)]
    for step in range(40 * capacity + 40):
        session_id = rng.choice(ids)
        operation = rng.choice(["save", "append", "load", "load", "delete"])
        if operation == "load":
            if session_id in model:
                assert len(await store.load(session_id)) == model[session_id]
                model.move_to_end(session_id)
            else:
                with pytest.raises(SessionNotFound):
                    await store.load(session_id)
        elif operation == "delete":
            assert await store.delete(session_id) is (session_id in model)
            model.pop(session_id, None)
        else:
            if operation == "save":
                await store.save(session_id, Conversation().add_user(str(step)))
                count = 1
            else:
                meta = await store.append(session_id, _user(str(step)))
                count = meta.message_count
                assert count == model.get(session_id, 0) + 1
            if session_id not in model and len(model) == capacity:
                model.popitem(last=False)
            model[session_id] = count
            model.move_to_end(session_id)
        assert await store.list_sessions() == sorted(model), f"step {step}: {operation}"
    assert len(await store.list_sessions()) <= capacity


@pytest.mark.usefixtures("switch_often")
async def test_cache_never_exceeds_capacity() -> None:
    store = AsyncCacheStore(None, capacity=1000)

    async def writer(worker: int) -> None:
        for i in range(400):
            await store.append(f"{worker}-{i}", _user("x"))
            if i % 50 == 0:
                await asleep(0)

    async with AsyncNursery() as nursery:
        for worker in range(8):
            nursery.start_soon(writer, worker)
    assert len(await store.list_sessions()) == 1000
    assert await store.clear() == 1000


async def test_cache_sliding_keeps_read_sessions() -> None:
    clock = FakeClock()
    store = AsyncCacheStore(10, capacity=10, sliding=True, clock=clock)
    await store.save("read", Conversation().add_user("x"))
    await store.save("unread", Conversation().add_user("x"))
    for _ in range(3):
        clock.advance(6)
        await store.load("read")
    assert await store.list_sessions() == ["read"]
    assert (await store.get_metadata("read")).expires_at == clock() + 10
    plain = AsyncCacheStore(10, capacity=10, clock=clock)
    await plain.save("read", Conversation())
    clock.advance(6)
    await plain.load("read")
    clock.advance(6)
    assert not await plain.exists("read")  # without sliding, reads do not extend


async def test_cache_ttl_is_the_default_ttl() -> None:
    clock = FakeClock()
    store = AsyncCacheStore(30, clock=clock)
    assert (await store.save("s1", Conversation())).expires_at == clock() + 30
    assert (await store.save("s2", Conversation(), ttl=None)).expires_at is None
    forever = AsyncCacheStore(None, clock=clock)
    assert (await forever.save("s1", Conversation())).expires_at is None


# -- both: stripes and constructor checks --------------------------------------------------


Factory = Callable[..., AsyncSessionStore]


def _memory(**options: Any) -> AsyncSessionStore:
    return AsyncInMemoryStore(**options)


def _cache(**options: Any) -> AsyncSessionStore:
    return AsyncCacheStore(options.pop("default_ttl", None), **options)


@pytest.mark.parametrize("factory", [_memory, _cache], ids=["memory", "cache"])
@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"capacity": 0}, ValueError),
        ({"capacity": -1}, ValueError),
        ({"capacity": "x"}, TypeError),
        ({"capacity": 2.5}, TypeError),
        ({"capacity": True}, TypeError),
        ({"stripes": 3}, ValueError),
        ({"stripes": 6}, ValueError),
        ({"stripes": 0}, ValueError),
        ({"stripes": -4}, ValueError),
        ({"stripes": "4"}, TypeError),
        ({"default_ttl": -1}, ValueError),
        ({"default_ttl": 0}, ValueError),
        ({"default_ttl": float("nan")}, ValueError),
        ({"default_ttl": "60"}, TypeError),
        ({"clock": 5}, TypeError),
        ({"clock": "time"}, TypeError),
        ({"sliding": "yes"}, TypeError),
        ({"max_messages": 0}, ValueError),
        ({"max_message_bytes": -5}, ValueError),
        ({"max_session_bytes": "big"}, TypeError),
    ],
)
async def test_bad_constructor_arguments(
    factory: Factory, options: dict[str, Any], error: type[Exception]
) -> None:
    (value,) = options.values()
    with pytest.raises(error, match=re.escape(repr(value))):
        factory(**options)


async def test_cache_needs_a_capacity() -> None:
    with pytest.raises(TypeError, match="None"):
        AsyncCacheStore(10, capacity=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        AsyncCacheStore()  # type: ignore[call-arg]  # ttl has no default: say it


@pytest.mark.parametrize("stripes", [1, 2, 64, 1024])
async def test_any_power_of_two_stripes_works(stripes: int) -> None:
    for store in [
        AsyncInMemoryStore(stripes=stripes, capacity=100),
        AsyncCacheStore(None, stripes=stripes, capacity=100),
    ]:
        for i in range(100):
            await store.append(f"s{i}", _user("x"))
        assert len(await store.list_sessions()) == 100
        assert await store.clear() == 100


# -- both: concurrency stress --------------------------------------------------------------


@pytest.mark.usefixtures("switch_often")
@pytest.mark.parametrize("factory", [_memory, _cache], ids=["memory", "cache"])
async def test_mixed_hammering_keeps_invariants(factory: Factory) -> None:
    store = factory(stripes=4, capacity=1000)
    sessions = [f"shared-{i}" for i in range(3)]
    for session_id in sessions:
        await store.save(session_id, Conversation())
    counts: list[dict[str, int]] = []  # each worker's successful writes per session

    async def worker(number: int) -> None:
        rng = random.Random(number)
        own = f"own-{number}"
        await store.save(own, Conversation())
        writes = {own: 1}  # this worker's own: no other thread updates it
        last_seen: dict[str, int] = {}

        def observed(session_id: str, version: int, *, wrote: bool) -> None:
            before = last_seen.get(session_id, 0)
            assert version > before if wrote else version >= before, (session_id, version)
            last_seen[session_id] = version
            if wrote:
                writes[session_id] = writes.get(session_id, 0) + 1

        for i in range(150):
            session_id = rng.choice([*sessions, own])
            operation = rng.random()
            if operation < 0.15:
                meta = await store.save(
                    session_id, Conversation([_user(f"{number}:{i}:a"), _user(f"{number}:{i}:b")])
                )
                observed(session_id, meta.version, wrote=True)
            elif operation < 0.55:
                meta = await store.append(session_id, _user(f"{number}:{i}"))
                observed(session_id, meta.version, wrote=True)
            elif operation < 0.7:
                if await store.pop(session_id) is not None:
                    writes[session_id] = writes.get(session_id, 0) + 1
                observed(session_id, (await store.get_metadata(session_id)).version, wrote=False)
            else:
                loaded = await store.load(session_id, last=rng.choice([None, 1, 3]))
                assert all(isinstance(m, Message) for m in loaded)
                observed(session_id, (await store.get_metadata(session_id)).version, wrote=False)
            if i % 3 == 0:
                await asleep(0)
        counts.append(writes)

    async with AsyncNursery() as nursery:
        for number in range(8):
            nursery.start_soon(worker, number)
    assert await store.list_sessions() == sorted([*sessions, *(f"own-{n}" for n in range(8))])
    assert len(counts) == 8
    writes = dict.fromkeys(sessions, 1)
    for mine in counts:
        for session_id, count in mine.items():
            writes[session_id] = writes.get(session_id, 0) + count
    for session_id in await store.list_sessions():
        meta = await store.get_metadata(session_id)
        loaded = await store.load(session_id)
        assert meta.message_count == len(loaded)
        assert meta.size_bytes == sum(message_size(m) for m in loaded)
        assert meta.version == writes[session_id], session_id  # no write lost or doubled


async def test_a_cache_holds_at_most_its_capacity_even_of_sessions_expired_on_arrival() -> None:
    # Issue 7, defect 5: entries expired when inserted never entered the LRU, so 5,000
    # of them stayed in a CacheStore(capacity=2).
    store = AsyncCacheStore(1e-8, capacity=2)
    for n in range(5000):
        await store.save(f"s{n}", Conversation().add_user("x"))
    await store.save("live", Conversation().add_user("x"), ttl=3600)
    held = sum(len(stripe.entries) for stripe in store._core._stripes)
    assert held <= 2
    assert await store.list_sessions() == ["live"]
    await store.aclose()
