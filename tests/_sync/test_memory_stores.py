# This file is generated from _async/test_memory_stores.py by scripts/unasync.py: do not edit.
"""What only the process-local stores do: capacity, eviction, stripes, constructor checks."""

from __future__ import annotations

from typing import Any

import pytest

from agent_session import (
    CacheStore,
    InMemoryStore,
    CapacityExceeded,
    Conversation,
    Message,
    SessionNotFound,
)
from agent_session._concurrency import Nursery
from agent_session.testing import FakeClock


def test_capacity_refuses_new_sessions_only() -> None:
    store = InMemoryStore(capacity=2)
    store.save("a", Conversation())
    store.save("b", Conversation())
    with pytest.raises(CapacityExceeded) as info:
        store.save("c", Conversation())
    assert info.value.session_id == "c"
    with pytest.raises(CapacityExceeded):
        store.append("c", Message("user", "x"))
    assert not store.exists("c")
    store.append("a", Message("user", "updates still work"))
    assert store.delete("b")
    store.save("c", Conversation())  # deleting freed a place
    assert store.list_sessions() == ["a", "c"]


def test_capacity_purges_expired_sessions_to_make_room() -> None:
    clock = FakeClock()
    store = InMemoryStore(capacity=2, default_ttl=10, clock=clock)
    store.save("a", Conversation())
    store.save("b", Conversation(), ttl=None)
    clock.advance(11)
    store.save("c", Conversation())  # "a" expired: purged for room
    assert store.list_sessions() == ["b", "c"]


def test_capacity_holds_under_concurrency() -> None:
    store = InMemoryStore(capacity=50)
    refused: list[str] = []

    def creator(worker: int) -> None:
        for i in range(20):
            try:
                store.append(f"w{worker}-{i}", Message("user", "x"))
            except CapacityExceeded:
                refused.append(f"w{worker}-{i}")

    with Nursery() as nursery:
        for worker in range(8):
            nursery.start_soon(creator, worker)
    assert len(store.list_sessions()) == 50
    assert len(refused) == 8 * 20 - 50


def test_cache_evicts_least_recently_used() -> None:
    store = CacheStore(None, capacity=3)
    for session_id in ["a", "b", "c"]:
        store.save(session_id, Conversation())
    store.load("a")  # "b" is now the least recently used
    store.save("d", Conversation())
    assert store.list_sessions() == ["a", "c", "d"]
    with pytest.raises(SessionNotFound):
        store.load("b")


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


def test_cache_never_exceeds_capacity() -> None:
    store = CacheStore(None, capacity=1000)

    def writer(worker: int) -> None:
        for i in range(400):
            store.append(f"{worker}-{i}", Message("user", "x"))

    with Nursery() as nursery:
        for worker in range(8):
            nursery.start_soon(writer, worker)
    assert len(store.list_sessions()) == 1000


def test_mixed_hammering_keeps_invariants() -> None:
    store = InMemoryStore(stripes=4)

    def worker(number: int) -> None:
        for i in range(60):
            session_id = f"s{i % 6}"
            if i % 5 == 0:
                store.save(session_id, Conversation().add_user("reset"))
            elif i % 7 == 0:
                try:
                    store.pop(session_id)
                except SessionNotFound:
                    pass
            else:
                store.append(session_id, Message("user", f"{number}:{i}"))
            try:
                loaded = store.load(session_id)
            except SessionNotFound:
                continue
            assert all(isinstance(m, Message) for m in loaded)

    with Nursery() as nursery:
        for number in range(8):
            nursery.start_soon(worker, number)
    for session_id in store.list_sessions():
        meta = store.get_metadata(session_id)
        assert meta.message_count == len(store.load(session_id))


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
def test_bad_constructor_arguments(options: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error, match=str(list(options.values())[0])[:3]):
        InMemoryStore(**options)


def test_cache_needs_a_capacity() -> None:
    with pytest.raises(TypeError):
        CacheStore(10, capacity=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        CacheStore(-1)
