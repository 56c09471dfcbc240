# This file is generated from _async/test_memory_stores.py by scripts/unasync.py: do not edit.
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
    CacheStore,
    InMemoryStore,
    SessionStore,
    CapacityExceeded,
    Conversation,
    Message,
    SessionExpired,
    SessionNotFound,
)
from agent_session._concurrency import Nursery, sleep
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


def test_capacity_refuses_new_sessions_only() -> None:
    store = InMemoryStore(capacity=2)
    store.save("a", Conversation().add_user("x"))
    store.save("b", Conversation())
    with pytest.raises(CapacityExceeded, match="capacity of 2") as info:
        store.save("c", Conversation())
    assert info.value.session_id == "c"
    with pytest.raises(CapacityExceeded) as info:
        store.append("c", _user("x"))
    assert info.value.session_id == "c"
    with pytest.raises(CapacityExceeded):
        store.save("c", Conversation(), expected_version=0)
    assert not store.exists("c")
    with pytest.raises(SessionNotFound):
        store.load("c")
    # Updating an existing session still works, whatever the write.
    assert (store.append("a", _user("updates still work"))).version == 2
    assert (store.save("b", Conversation().add_user("replaced"))).version == 2
    assert (store.pop("a")) == _user("updates still work")
    assert (store.touch("a", ttl=100)).version == 3
    assert store.list_sessions() == ["a", "b"]


def test_removing_sessions_frees_places() -> None:
    clock = FakeClock()
    store = InMemoryStore(capacity=3, clock=clock)
    for session_id in ["a", "b", "c"]:
        store.save(session_id, Conversation())
    assert store.delete("b")
    store.save("d", Conversation())  # deleting freed a place
    with pytest.raises(CapacityExceeded):
        store.save("e", Conversation())
    assert store.clear() == 3
    for session_id in ["e", "f", "g"]:  # clearing freed them all
        store.save(session_id, Conversation())
    with pytest.raises(CapacityExceeded):
        store.save("h", Conversation())
    store.save("e", Conversation(), ttl=5)
    clock.advance(5)
    assert store.purge_expired() == 1
    store.save("h", Conversation())  # purging freed one too
    assert store.list_sessions() == ["f", "g", "h"]


def test_capacity_purges_expired_sessions_to_make_room() -> None:
    clock = FakeClock()
    store = InMemoryStore(capacity=3, default_ttl=10, clock=clock)
    store.save("a", Conversation())
    store.save("b", Conversation(), ttl=None)
    store.save("c", Conversation(), ttl=20)
    clock.advance(11)
    store.save("d", Conversation(), ttl=None)  # "a" expired: purged for room
    assert store.list_sessions() == ["b", "c", "d"]
    with pytest.raises(SessionNotFound) as info:
        store.load("a")  # purged, not merely expired
    assert not isinstance(info.value, SessionExpired)
    with pytest.raises(CapacityExceeded):
        store.save("e", Conversation())  # nothing expired: still full
    clock.advance(10)  # "c" expires
    assert (store.append("c", _user("again"))).version == 1  # its own place
    with pytest.raises(CapacityExceeded):
        store.save("e", Conversation())


def test_expired_session_keeps_its_place_when_written_again() -> None:
    clock = FakeClock()
    store = InMemoryStore(capacity=1, clock=clock)
    store.save("only", Conversation(), ttl=1)
    clock.advance(2)
    meta = store.save("only", Conversation().add_user("new"))
    assert meta.version == 1 and meta.expires_at is None
    with pytest.raises(CapacityExceeded):
        store.save("other", Conversation())


@pytest.mark.usefixtures("switch_often")
def test_capacity_holds_under_concurrency() -> None:
    store = InMemoryStore(capacity=50)
    created: list[str] = []
    refused: list[str] = []

    def creator(worker: int) -> None:
        for i in range(20):
            session_id = f"w{worker}-{i}"
            try:
                store.append(session_id, _user("x"))
                created.append(session_id)
            except CapacityExceeded:
                refused.append(session_id)
            sleep(0)

    with Nursery() as nursery:
        for worker in range(8):
            nursery.start_soon(creator, worker)
    assert len(created) == 50 and len(refused) == 8 * 20 - 50
    assert store.list_sessions() == sorted(created)


@pytest.mark.usefixtures("switch_often")
def test_capacity_counts_exactly_after_churn() -> None:
    # Creating and removing sessions from many workers at once must leave the count of
    # held sessions right: afterwards exactly `capacity` sessions fit, not one more or less.
    clock = FakeClock()
    store = InMemoryStore(capacity=20, stripes=4, clock=clock)

    def churner(worker: int) -> None:
        for i in range(60):
            session_id = f"w{worker}-{i % 5}"
            try:
                if i % 4 == 3:
                    store.delete(session_id)
                elif i % 4 == 2:
                    store.save(session_id, Conversation(), ttl=1)
                else:
                    store.append(session_id, _user("x"))
            except CapacityExceeded:
                pass
            if i % 10 == 9 and worker == 0:
                store.purge_expired()
            sleep(0)

    with Nursery() as nursery:
        for worker in range(8):
            nursery.start_soon(churner, worker)
    assert len(store.list_sessions()) <= 20
    clock.advance(2)
    store.clear()
    for i in range(20):
        store.save(f"fill-{i}", Conversation())
    with pytest.raises(CapacityExceeded):
        store.save("one-too-many", Conversation())


def test_in_memory_store_never_evicts() -> None:
    store = InMemoryStore(stripes=1)
    for i in range(3000):
        store.append(f"s{i:04d}", _user(str(i)))
    assert len(store.list_sessions()) == 3000
    assert [m.content for m in store.load("s0000")] == ["0"]


# -- CacheStore: eviction ----------------------------------------------------------------------


def test_cache_evicts_least_recently_used() -> None:
    store = CacheStore(None, capacity=3)
    for session_id in ["a", "b", "c"]:
        store.save(session_id, Conversation())
    store.load("a")  # "b" is now the least recently used
    store.save("d", Conversation())
    assert store.list_sessions() == ["a", "c", "d"]
    with pytest.raises(SessionNotFound) as info:
        store.load("b")  # evicted is simply gone
    assert not isinstance(info.value, SessionExpired)
    assert store.delete("b") is False
    store.append("c", _user("x"))  # a write is a use too: "a" is now the oldest
    store.save("e", Conversation())
    assert store.list_sessions() == ["c", "d", "e"]


def test_cache_evicts_expired_first() -> None:
    clock = FakeClock()
    store = CacheStore(None, capacity=3, clock=clock)
    store.save("old", Conversation())
    store.save("brief", Conversation(), ttl=5)
    store.save("new", Conversation())
    store.load("brief")  # recently used, but about to expire
    clock.advance(6)
    store.save("newest", Conversation())
    assert store.list_sessions() == ["new", "newest", "old"]


@pytest.mark.parametrize("capacity", [1, 2, 3, 5, 10, 127])
def test_small_caches_are_exact_lru(capacity: int) -> None:
    # Under 128 sessions a cache has one stripe: it must behave exactly like a model LRU.
    rng = random.Random(capacity)
    store = CacheStore(None, capacity=capacity)
    model: OrderedDict[str, int] = OrderedDict()
    ids = [f"s{i}" for i in range(2 * capacity + 1)]
    for step in range(40 * capacity + 40):
        session_id = rng.choice(ids)
        operation = rng.choice(["save", "append", "load", "load", "delete"])
        if operation == "load":
            if session_id in model:
                assert len(store.load(session_id)) == model[session_id]
                model.move_to_end(session_id)
            else:
                with pytest.raises(SessionNotFound):
                    store.load(session_id)
        elif operation == "delete":
            assert store.delete(session_id) is (session_id in model)
            model.pop(session_id, None)
        else:
            if operation == "save":
                store.save(session_id, Conversation().add_user(str(step)))
                count = 1
            else:
                meta = store.append(session_id, _user(str(step)))
                count = meta.message_count
                assert count == model.get(session_id, 0) + 1
            if session_id not in model and len(model) == capacity:
                model.popitem(last=False)
            model[session_id] = count
            model.move_to_end(session_id)
        assert store.list_sessions() == sorted(model), f"step {step}: {operation}"
    assert len(store.list_sessions()) <= capacity


@pytest.mark.usefixtures("switch_often")
def test_cache_never_exceeds_capacity() -> None:
    store = CacheStore(None, capacity=1000)

    def writer(worker: int) -> None:
        for i in range(400):
            store.append(f"{worker}-{i}", _user("x"))
            if i % 50 == 0:
                sleep(0)

    with Nursery() as nursery:
        for worker in range(8):
            nursery.start_soon(writer, worker)
    assert len(store.list_sessions()) == 1000
    assert store.clear() == 1000


def test_cache_sliding_keeps_read_sessions() -> None:
    clock = FakeClock()
    store = CacheStore(10, capacity=10, sliding=True, clock=clock)
    store.save("read", Conversation().add_user("x"))
    store.save("unread", Conversation().add_user("x"))
    for _ in range(3):
        clock.advance(6)
        store.load("read")
    assert store.list_sessions() == ["read"]
    assert (store.get_metadata("read")).expires_at == clock() + 10
    plain = CacheStore(10, capacity=10, clock=clock)
    plain.save("read", Conversation())
    clock.advance(6)
    plain.load("read")
    clock.advance(6)
    assert not plain.exists("read")  # without sliding, reads do not extend


def test_cache_ttl_is_the_default_ttl() -> None:
    clock = FakeClock()
    store = CacheStore(30, clock=clock)
    assert (store.save("s1", Conversation())).expires_at == clock() + 30
    assert (store.save("s2", Conversation(), ttl=None)).expires_at is None
    forever = CacheStore(None, clock=clock)
    assert (forever.save("s1", Conversation())).expires_at is None


# -- both: stripes and constructor checks --------------------------------------------------


Factory = Callable[..., SessionStore]


def _memory(**options: Any) -> SessionStore:
    return InMemoryStore(**options)


def _cache(**options: Any) -> SessionStore:
    return CacheStore(options.pop("default_ttl", None), **options)


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
def test_bad_constructor_arguments(
    factory: Factory, options: dict[str, Any], error: type[Exception]
) -> None:
    (value,) = options.values()
    with pytest.raises(error, match=re.escape(repr(value))):
        factory(**options)


def test_cache_needs_a_capacity() -> None:
    with pytest.raises(TypeError, match="None"):
        CacheStore(10, capacity=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        CacheStore()  # type: ignore[call-arg]  # ttl has no default: say it


@pytest.mark.parametrize("stripes", [1, 2, 64, 1024])
def test_any_power_of_two_stripes_works(stripes: int) -> None:
    for store in [
        InMemoryStore(stripes=stripes, capacity=100),
        CacheStore(None, stripes=stripes, capacity=100),
    ]:
        for i in range(100):
            store.append(f"s{i}", _user("x"))
        assert len(store.list_sessions()) == 100
        assert store.clear() == 100


# -- both: concurrency stress --------------------------------------------------------------


@pytest.mark.usefixtures("switch_often")
@pytest.mark.parametrize("factory", [_memory, _cache], ids=["memory", "cache"])
def test_mixed_hammering_keeps_invariants(factory: Factory) -> None:
    store = factory(stripes=4, capacity=1000)
    sessions = [f"shared-{i}" for i in range(3)]
    for session_id in sessions:
        store.save(session_id, Conversation())
    counts: list[dict[str, int]] = []  # each worker's successful writes per session

    def worker(number: int) -> None:
        rng = random.Random(number)
        own = f"own-{number}"
        store.save(own, Conversation())
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
                meta = store.save(
                    session_id, Conversation([_user(f"{number}:{i}:a"), _user(f"{number}:{i}:b")])
                )
                observed(session_id, meta.version, wrote=True)
            elif operation < 0.55:
                meta = store.append(session_id, _user(f"{number}:{i}"))
                observed(session_id, meta.version, wrote=True)
            elif operation < 0.7:
                if store.pop(session_id) is not None:
                    writes[session_id] = writes.get(session_id, 0) + 1
                observed(session_id, (store.get_metadata(session_id)).version, wrote=False)
            else:
                loaded = store.load(session_id, last=rng.choice([None, 1, 3]))
                assert all(isinstance(m, Message) for m in loaded)
                observed(session_id, (store.get_metadata(session_id)).version, wrote=False)
            if i % 3 == 0:
                sleep(0)
        counts.append(writes)

    with Nursery() as nursery:
        for number in range(8):
            nursery.start_soon(worker, number)
    assert store.list_sessions() == sorted([*sessions, *(f"own-{n}" for n in range(8))])
    assert len(counts) == 8
    writes = dict.fromkeys(sessions, 1)
    for mine in counts:
        for session_id, count in mine.items():
            writes[session_id] = writes.get(session_id, 0) + count
    for session_id in store.list_sessions():
        meta = store.get_metadata(session_id)
        loaded = store.load(session_id)
        assert meta.message_count == len(loaded)
        assert meta.size_bytes == sum(message_size(m) for m in loaded)
        assert meta.version == writes[session_id], session_id  # no write lost or doubled


def test_a_cache_holds_at_most_its_capacity_even_of_sessions_expired_on_arrival() -> None:
    # Issue 7, defect 5: entries expired when inserted never entered the LRU, so 5,000
    # of them stayed in a CacheStore(capacity=2).
    store = CacheStore(1e-8, capacity=2)
    for n in range(5000):
        store.save(f"s{n}", Conversation().add_user("x"))
    store.save("live", Conversation().add_user("x"), ttl=3600)
    held = sum(len(stripe.entries) for stripe in store._core._stripes)
    assert held <= 2
    assert store.list_sessions() == ["live"]
    store.close()
