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
