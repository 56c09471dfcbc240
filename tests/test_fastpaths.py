"""Each fast path in ``_fastpaths`` is really taken with the installed libraries.

A fast path that silently fell back (a cachetools release that renamed its LRU order,
say) would still give right answers, only slower: these tests make that a failure.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import pytest
from cachetools import TLRUCache

from agent_session import (
    CacheStore,
    Conversation,
    InMemoryStore,
    Message,
    SessionMetadata,
    _fastpaths,
)
from agent_session._serialization import messages_size


def test_the_lru_order_of_the_installed_cachetools_is_found() -> None:
    cache: TLRUCache[str, int] = TLRUCache(4, ttu=lambda _k, _v, _now: float("inf"))
    cache["a"], cache["b"] = 1, 2
    order = _fastpaths.lru_order(cache)
    assert isinstance(order, OrderedDict)
    order.move_to_end("a")  # what a hit does: "b" is now the least recently used
    cache["c"], cache["d"], cache["e"] = 3, 4, 5
    assert "b" not in cache and "a" in cache


def test_cache_store_reads_reorder_the_lru_through_the_fast_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    taken: list[object] = []
    real = _fastpaths.lru_order

    def spy(cache: object) -> OrderedDict[object, object] | None:
        order = real(cache)
        taken.append(order)
        return order

    from agent_session._backends import striped

    monkeypatch.setattr(striped, "lru_order", spy)
    with CacheStore(None, capacity=2, stripes=1) as store:
        store.append("old", Message("user", "1"))
        store.append("new", Message("user", "2"))
        store.load("old")  # a lock-free read: replayed into the LRU by the next write
        store.append("third", Message("user", "3"))
        assert taken and all(isinstance(order, OrderedDict) for order in taken)
        assert store.exists("old") and not store.exists("new")


def test_new_metadata_is_a_real_session_metadata() -> None:
    fields: tuple[Any, ...] = ("s", 1.0, 2.0, None, 3, 40, 5, {})
    fast = _fastpaths.new_metadata(fields)
    assert type(fast) is SessionMetadata
    assert fast == SessionMetadata(*fields)
    assert fast.version == 5 and fast._replace(version=6).version == 6


def test_a_loaded_conversation_knows_its_size_without_summing_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with InMemoryStore() as store:
        store.save("s", Conversation([Message("user", "é" * 10), Message("assistant", "ok")]))
        loaded = store.load("s")
        assert loaded._sized == (2, store.get_metadata("s").size_bytes)
        summed: list[int] = []

        def counting(messages: list[Message]) -> int:
            summed.append(len(messages))
            return messages_size(messages)

        monkeypatch.setattr(_fastpaths, "messages_size", counting)
        loaded.add(Message("user", "more"))
        store.save("s", loaded)  # only the new message is summed
        assert summed == [1]
        assert store.get_metadata("s").size_bytes == messages_size(store.load("s"))


def test_new_conversation_owns_its_list() -> None:
    messages = [Message("user", "a")]
    conversation = _fastpaths.new_conversation(messages, (0, 0))
    assert list(conversation) == messages
    assert _fastpaths.conversation_size(conversation) == messages_size(messages)
    conversation.add(Message("user", "b"))
    assert len(conversation) == 2


def test_saving_a_loaded_conversation_stamps_only_what_was_added(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from agent_session._backends import striped

    starts: list[int] = []
    real = striped.stamp  # type: ignore[attr-defined]  # imported there, patched here

    def spy(messages: list[Message], now: float, start: int = 0) -> list[Message]:
        starts.append(start)
        return real(messages, now, start)

    monkeypatch.setattr(striped, "stamp", spy)
    with InMemoryStore() as store:
        store.save("s", Conversation([Message("user", "a"), Message("assistant", "b")]))
        loaded = store.load("s")
        ids = [m.id for m in loaded]
        loaded.add(Message("user", "c"))
        store.save("s", loaded)
        assert starts == [0, 2]
        again = store.load("s")
        assert [m.id for m in again][:2] == ids and again[2].id is not None
        assert len({m.id for m in again}) == 3


def test_the_snapshot_is_a_new_list_the_core_may_keep() -> None:
    # The striped core keeps a save's ``args.messages`` as its entry's list: that is only
    # right while the snapshot is a list of the front door's own.
    loaded = _fastpaths.new_conversation([Message("user", "a")], (0, 0))
    messages, size, stamped = _fastpaths.conversation_snapshot(loaded)
    assert messages == loaded._messages and messages is not loaded._messages
    assert size == messages_size(messages) and stamped == 1
    loaded.add(Message("user", "b"))
    again, size, stamped = _fastpaths.conversation_snapshot(loaded)
    assert len(again) == 2 and size == messages_size(again) and stamped == 1
    assert len(messages) == 1  # the first snapshot did not move


def test_saving_a_loaded_conversation_unchanged_stamps_and_copies_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from agent_session._backends import striped

    calls: list[int] = []
    real = striped.stamp  # type: ignore[attr-defined]  # imported there, patched here

    def spy(messages: list[Message], now: float, start: int = 0) -> list[Message]:
        calls.append(start)
        return real(messages, now, start)

    with InMemoryStore() as store:
        store.save("s", Conversation([Message("user", "a"), Message("assistant", "b")]))
        loaded = store.load("s")
        monkeypatch.setattr(striped, "stamp", spy)
        store.save("s", loaded)
        assert calls == []  # the fast path: the front door's list is kept as it is
        entry = store._core._stripe("s").entries["s"]
        assert entry.messages is not loaded._messages  # a snapshot, not the caller's list
        loaded.add(Message("user", "c"))
        assert len(store.load("s")) == 2  # the caller's later edits change nothing stored


def test_the_front_door_guard_is_an_attribute_of_the_instance() -> None:
    # The hot paths test one instance attribute instead of two class attributes.
    store = InMemoryStore()
    assert "_guarded" in vars(store) and store._guarded is False
    store.close()
    assert store._guarded is True and store._closed is True

    class AsyncioOnly(InMemoryStore):
        _asyncio_only = True  # as the Redis and PostgreSQL stores: every call is checked

    assert AsyncioOnly()._guarded is True
