# This file is generated from _async/test_layered.py by scripts/unasync.py: do not edit.
"""What only the layered store does: fall-through, write-back, degradation, stats."""

from __future__ import annotations

from typing import Any

import pytest

from agent_session import (
    CacheStore,
    InMemoryStore,
    LayeredStore,
    BackendError,
    Conversation,
    InvalidSessionId,
    Message,
    SessionMetadata,
    SessionNotFound,
)
from agent_session.testing import FakeClock


class FlakyLayer(InMemoryStore):
    """An in-memory layer whose every call fails while ``down`` is set."""

    down = False

    def _gate(self) -> None:
        if self.down:
            raise BackendError("layer down (test)")

    def save(self, *args: Any, **kwargs: Any) -> SessionMetadata:
        self._gate()
        return super().save(*args, **kwargs)

    def append(self, *args: Any, **kwargs: Any) -> SessionMetadata:
        self._gate()
        return super().append(*args, **kwargs)

    def load(self, *args: Any, **kwargs: Any) -> Conversation:
        self._gate()
        return super().load(*args, **kwargs)

    def get_metadata(self, *args: Any, **kwargs: Any) -> SessionMetadata:
        self._gate()
        return super().get_metadata(*args, **kwargs)

    def exists(self, *args: Any, **kwargs: Any) -> bool:
        self._gate()
        return super().exists(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> bool:
        self._gate()
        return super().delete(*args, **kwargs)

    def list_sessions(self, *args: Any, **kwargs: Any) -> list[str]:
        self._gate()
        return super().list_sessions(*args, **kwargs)


def stats(store: LayeredStore) -> list[tuple[int, int, int, int]]:
    return [(s.hits, s.misses, s.write_backs, s.failures) for s in store.stats()]


def test_write_through_and_write_back() -> None:
    cache, durable = CacheStore(None), InMemoryStore()
    store = LayeredStore(cache, durable)
    store.save("s", Conversation().add_user("a"), labels={"k": "v"})
    assert cache.exists("s") and durable.exists("s")
    cache.delete("s")
    assert len(store.load("s")) == 1
    assert stats(store) == [(0, 1, 1, 0), (1, 0, 0, 0)]
    assert dict((cache.get_metadata("s")).labels) == {"k": "v"}
    assert len(store.load("s")) == 1
    assert stats(store) == [(1, 1, 1, 0), (1, 0, 0, 0)]
    assert [s.name for s in store.stats()] == ["cache", "memory"]


def test_with_layer_builds_the_same_store() -> None:
    store = LayeredStore().with_layer(CacheStore(None)).with_layer(InMemoryStore())
    assert [layer.name for layer in store.layers] == ["cache", "memory"]
    store.append("s", Message("user", "x"))
    assert len(store.load("s")) == 1
    with pytest.raises(ValueError, match="no layers"):
        LayeredStore().load("s")


def test_appends_keep_the_copy_in_step() -> None:
    cache, durable = CacheStore(None), InMemoryStore()
    store = LayeredStore(cache, durable)
    store.save("s", Conversation().add_user("a"))
    store.append("s", Message("assistant", "b"))
    assert cache.load("s") == durable.load("s")
    durable.append("s", Message("user", "behind the layered store's back"))
    store.append("s", Message("assistant", "c"))  # the copy no longer matches: dropped
    assert not cache.exists("s")
    assert store.load("s") == durable.load("s")
    assert store.pop("s") is not None
    assert cache.load("s") == durable.load("s")


def test_a_failing_cache_degrades_gracefully() -> None:
    cache, durable = FlakyLayer(), InMemoryStore()
    store = LayeredStore(cache, durable)
    store.save("s", Conversation().add_user("a"))
    cache.down = True
    assert len(store.load("s")) == 1  # served by the durable layer
    store.append("s", Message("user", "b"))  # the write still succeeds
    assert store.stats()[0].failures >= 2
    cache.down = False
    # The cache held ["a"]; it could not be updated nor dropped, so it is never read again
    # for "s" until rewritten: the reader gets the durable ["a", "b"].
    assert [m.content for m in store.load("s")] == ["a", "b"]
    assert [m.content for m in cache.load("s")] == ["a", "b"]  # written back


def test_a_failing_authority_fails_writes_and_falls_back_for_reads() -> None:
    cache, durable = CacheStore(None), FlakyLayer()
    store = LayeredStore(cache, durable)
    store.save("s", Conversation().add_user("a"))
    store.save("t", Conversation().add_user("t"))
    durable.down = True
    assert len(store.load("s")) == 1  # the cache answers
    with pytest.raises(BackendError):
        store.append("s", Message("user", "b"))
    assert store.stats()[1].failures == 1
    assert store.exists("t")  # the cache can answer while the authority fails
    assert store.list_sessions() == ["t"]  # "s" was dropped: its fate is unknown
    with pytest.raises(BackendError):
        store.load("s")
    durable.down = False
    assert [m.content for m in store.load("s")] == ["a"]


def test_expired_copy_falls_through() -> None:
    clock = FakeClock()
    cache = CacheStore(5, clock=clock)
    durable = InMemoryStore(default_ttl=100, clock=clock)
    store = LayeredStore(cache, durable, clock=clock)
    store.save("s", Conversation().add_user("a"))
    assert (cache.get_metadata("s")).expires_at == clock() + 5
    clock.advance(6)
    assert len(store.load("s")) == 1
    assert store.stats()[0].misses == 1 and store.stats()[0].write_backs == 1
    clock.advance(95)  # past the durable TTL: a copy never outlives its original
    with pytest.raises(SessionNotFound):
        store.load("s")


def test_missing_everywhere_raises_not_found() -> None:
    store = LayeredStore(CacheStore(None), InMemoryStore())
    with pytest.raises(SessionNotFound):
        store.load("nobody")
    assert stats(store) == [(0, 1, 0, 0), (0, 1, 0, 0)]


def test_closing_closes_the_layers() -> None:
    cache, durable = CacheStore(None), InMemoryStore()
    with LayeredStore(cache, durable):
        pass
    from agent_session import StoreClosed

    with pytest.raises(StoreClosed):
        durable.load("s")
    with pytest.raises(TypeError):
        LayeredStore("not a store")  # type: ignore[arg-type]


def test_bad_arguments_are_refused_before_a_failing_layer_is_asked() -> None:
    # Issue 7, defect 12: a failing layer turned an invalid id into BackendError.
    flaky = FlakyLayer()
    store = LayeredStore(flaky, InMemoryStore())
    store.save("s", Conversation().add_user("a"))
    flaky.down = True
    for call in (
        lambda: store.load(""),
        lambda: store.get_metadata("x" * 513),
        lambda: store.exists("a\nb"),
    ):
        with pytest.raises(InvalidSessionId):
            call()
    with pytest.raises(ValueError):
        store.load("s", last=-1)
    with pytest.raises(TypeError):
        store.list_sessions(prefix=5)  # type: ignore[arg-type]
    assert stats(store)[0][3] == 0  # no failure counted against the layer
