# This file is generated from _async/test_layered.py by scripts/unasync.py: do not edit.
"""What only the layered store does: fall-through, write-back, degradation, stats."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Callable
from pathlib import Path
from typing import Any

import pytest

from agent_session import (
    CacheStore,
    InMemoryStore,
    LayeredStore,
    SQLiteStore,
    BackendError,
    Conversation,
    InvalidSessionId,
    Message,
    SessionMetadata,
    SessionNotFound,
    StoreClosed,
)
from agent_session._concurrency import Nursery, Result, sleep
from agent_session.testing import FakeClock


class FlakyLayer(InMemoryStore):
    """An in-memory layer whose backend fails while ``down`` is set (its hooks raise)."""

    down = False

    def _gate(self) -> None:
        if self.down:
            raise BackendError("layer down (test)")

    def _save(self, *args: Any) -> SessionMetadata:
        self._gate()
        return super()._save(*args)

    def _append(self, *args: Any) -> SessionMetadata:
        self._gate()
        return super()._append(*args)

    def _load(self, *args: Any) -> Conversation:
        self._gate()
        return super()._load(*args)

    def _pop(self, *args: Any) -> Message | None:
        self._gate()
        return super()._pop(*args)

    def _get_metadata(self, *args: Any) -> SessionMetadata:
        self._gate()
        return super()._get_metadata(*args)

    def _exists(self, *args: Any) -> bool:
        self._gate()
        return super()._exists(*args)

    def _delete(self, *args: Any) -> bool:
        self._gate()
        return super()._delete(*args)

    def _touch(self, *args: Any) -> SessionMetadata:
        self._gate()
        return super()._touch(*args)

    def _clear(self) -> int:
        self._gate()
        return super()._clear()

    def _list_sessions(self, *args: Any) -> list[str]:
        self._gate()
        return super()._list_sessions(*args)


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


def test_a_touch_never_vouches_for_a_doubtful_copy() -> None:
    # The cache's copy of "s" could be neither updated nor dropped; a touch through the
    # store used to succeed on it and so make the stale ["a"] readable again.
    cache, durable = FlakyLayer(), InMemoryStore()
    store = LayeredStore(cache, durable)
    store.save("s", Conversation().add_user("a"))
    cache.down = True
    store.append("s", Message("user", "b"))
    cache.down = False
    store.touch("s")
    assert [m.content for m in store.load("s")] == ["a", "b"]


def test_a_failed_clear_drops_the_copies() -> None:
    # Its outcome is unknown, as for any write that failed with BackendError.
    cache, durable = CacheStore(None), FlakyLayer()
    store = LayeredStore(cache, durable)
    store.save("s", Conversation().add_user("a"))
    durable.down = True
    with pytest.raises(BackendError):
        store.clear()
    assert not cache.exists("s")
    assert store.stats()[1].failures == 1


def test_a_sliding_read_keeps_its_write_back() -> None:
    # The TTL restart after a read used to overlap the read's own write-back and drop it.
    cache, durable = CacheStore(None), InMemoryStore(default_ttl=60)
    store = LayeredStore(cache, durable, sliding=True)
    store.save("s", Conversation().add_user("a"))
    cache.delete("s")
    store.load("s")
    assert cache.exists("s")
    store.load("s")
    assert stats(store)[0] == (1, 1, 1, 0)


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
    with LayeredStore(cache, durable) as store:
        pass
    store.close()  # twice is harmless
    for closed in (store, cache, durable):
        with pytest.raises(StoreClosed):
            closed.load("s")
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


#: The public methods of a store: a layer asked any of them "saw a call".
PUBLIC_METHODS = frozenset(
    "save append load load_tail pop get_metadata exists delete list_sessions iter_sessions "
    "touch purge_expired clear find_sessions".split()
)


class RecordingLayer(InMemoryStore):
    """An in-memory layer that records every public method asked of it."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def __getattribute__(self, name: str) -> Any:
        if name in PUBLIC_METHODS:
            object.__getattribute__(self, "calls").append(name)
        return super().__getattribute__(name)


def drain(sessions: Iterator[str]) -> list[str]:
    return [session_id for session_id in sessions]


def test_bad_arguments_never_reach_a_layer() -> None:
    # Issue 7, defect 12: the layered store handed bad arguments (ids, TTLs, labels,
    # cursors) on to its layers. The front door refuses them before any layer is asked.
    cache, durable = RecordingLayer(), RecordingLayer()
    store = LayeredStore(cache, durable)
    conv, message = Conversation().add_user("a"), Message("user", "b")
    bad_ids: list[Callable[[], Result[object]]] = [
        lambda: store.save("", conv),
        lambda: store.append("a\nb", message),
        lambda: store.load("x" * 513),
        lambda: store.load_tail("", 3),
        lambda: store.pop(""),
        lambda: store.get_metadata(""),
        lambda: store.exists(""),
        lambda: store.delete(""),
        lambda: store.touch(""),
    ]
    for call in bad_ids:
        with pytest.raises(InvalidSessionId):
            call()
    bad_values: list[Callable[[], Result[object]]] = [
        lambda: store.save("s", conv, ttl=-1),
        lambda: store.append("s", message, ttl=float("nan")),
        lambda: store.touch("s", ttl=0),
        lambda: store.save("s", conv, expected_version=-1),
        lambda: store.load("s", last=-1),
        lambda: store.list_sessions(limit=0),
        lambda: store.find_sessions(cursor="not a cursor"),
        lambda: store.find_sessions(updated_after=float("nan")),
    ]
    for call in bad_values:
        with pytest.raises(ValueError):
            call()
    bad_types: list[Callable[[], Result[object]]] = [
        lambda: store.save("s", conv, ttl="1"),  # type: ignore[arg-type]
        lambda: store.save("s", conv, labels={"k": 1}),  # type: ignore[dict-item]
        lambda: store.save("s", ["not a conversation"]),  # type: ignore[arg-type]
        lambda: store.append("s", "not a message"),  # type: ignore[arg-type]
        lambda: store.find_sessions(labels=["k"]),  # type: ignore[arg-type]
        lambda: store.find_sessions(cursor=5),  # type: ignore[arg-type]
        lambda: store.list_sessions(prefix=5),  # type: ignore[arg-type]
        lambda: drain(store.iter_sessions(prefix=5)),  # type: ignore[arg-type]
    ]
    for call in bad_types:
        with pytest.raises(TypeError):
            call()
    assert (cache.calls, durable.calls) == ([], [])


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        sleep(0.001)


class SlowCache(CacheStore):
    """A cache that can hold its next save twice, as a slow network would: on its way
    (``state == "waiting"`` until set to ``"land"``), then landed but unanswered
    (``"landed"`` until set to ``"answer"``)."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(None, clock=clock)
        self.hold_next = False
        self.state = ""

    def save(self, *args: Any, **kwargs: Any) -> SessionMetadata:
        held, self.hold_next = self.hold_next, False
        if held:
            self.state = "waiting"
            wait_until(lambda: self.state == "land", "the save to be let through")
        meta = super().save(*args, **kwargs)
        if held:
            self.state = "landed"
            wait_until(lambda: self.state == "answer", "the save to be answered")
        return meta


#: The writes that can race a write-back, each with what a load must then return
#: (None: SessionNotFound).
RACING_WRITES: dict[str, list[str] | None] = {
    "append": ["m1", "m2"],
    "save": ["m2"],
    "pop": [],
    "delete": None,
    "clear": None,
    "touch": None,  # down to 1 s, then 2 s pass: the session has expired
}


def check_reads(store: LayeredStore, expected: list[str] | None) -> None:
    for last in (None, 5):
        if expected is None:
            with pytest.raises(SessionNotFound):
                store.load("s", last=last)
        else:
            assert [m.content for m in store.load("s", last=last)] == expected


@pytest.mark.parametrize("write", list(RACING_WRITES))
def test_a_slow_write_back_never_covers_a_newer_write(write: str) -> None:
    # Issue 7, defect 4: a read falls through and copies what it read (["m1"]) back into
    # the cache; a write through the same store overtakes it; the late copy landed
    # after the write returned, and a load then served ["m1"].
    clock = FakeClock()
    cache, durable = SlowCache(clock), InMemoryStore(default_ttl=100, clock=clock)
    store = LayeredStore(cache, durable, clock=clock)
    store.save("s", Conversation().add_user("m1"))
    cache.delete("s")  # the next load falls through to the durable layer
    cache.hold_next = True
    read: list[list[object]] = []

    def slow_load() -> None:
        read.append([m.content for m in store.load("s")])

    expected = RACING_WRITES[write]
    with Nursery() as nursery:
        nursery.start_soon(slow_load)
        wait_until(lambda: cache.state == "waiting", "the write-back to start")
        if write == "append":
            store.append("s", Message("user", "m2"))
        elif write == "save":
            store.save("s", Conversation().add_user("m2"))
        elif write == "pop":
            store.pop("s")
        elif write == "delete":
            store.delete("s")
        elif write == "clear":
            store.clear()
        else:
            store.touch("s", ttl=1)
            clock.advance(2)
        cache.state = "land"
        try:
            wait_until(lambda: cache.state == "landed", "the write-back to land")
            # The old copy is in the cache now; the write returned before: never serve it.
            check_reads(store, expected)
        finally:
            cache.state = "answer"  # let the slow read finish, even when a check failed
    assert read == [["m1"]]  # the slow read itself overlapped the write: either is right
    check_reads(store, expected)  # nor once everything settled
    if cache.exists("s"):
        assert cache.load("s") == durable.load("s")


class JitteryCache(CacheStore):
    """A cache whose calls take a random little while before and after, as over a network."""

    def __init__(self, seed: int) -> None:
        super().__init__(None)
        self._random = random.Random(seed)

    def _jitter(self) -> None:
        sleep(self._random.choice((0, 0, 0.0002)))

    def save(self, *args: Any, **kwargs: Any) -> SessionMetadata:
        self._jitter()
        meta = super().save(*args, **kwargs)
        self._jitter()
        return meta

    def append(self, *args: Any, **kwargs: Any) -> SessionMetadata:
        self._jitter()
        meta = super().append(*args, **kwargs)
        self._jitter()
        return meta

    def get_metadata(self, *args: Any, **kwargs: Any) -> SessionMetadata:
        self._jitter()
        return super().get_metadata(*args, **kwargs)

    def load(self, *args: Any, **kwargs: Any) -> Conversation:
        self._jitter()
        return super().load(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> bool:
        self._jitter()
        return super().delete(*args, **kwargs)


def test_overlapping_reads_and_writes_always_read_what_was_written() -> None:
    # Writers that read right after each append, while evictions force write-backs:
    # none may ever read a copy older than its own append that returned.
    cache, durable = JitteryCache(7), InMemoryStore()
    store = LayeredStore(cache, durable)
    store.save("s", Conversation())

    def worker(name: str) -> None:
        for i in range(25):
            store.append("s", Message("user", f"{name}{i}"))
            if i % 3 == 0:
                cache.delete("s")  # an eviction: the next load writes back
            assert f"{name}{i}" in [m.content for m in store.load("s")]

    with Nursery() as nursery:
        for name in "abcd":
            nursery.start_soon(worker, name)
    assert len(store.load("s")) == 100
    if cache.exists("s"):
        assert cache.load("s") == durable.load("s")


def test_a_rewrite_never_drops_a_write_its_cache_did_not_see(tmp_path: Path) -> None:
    # Found by the soak run: load_with_metadata paired the cached copy's messages with the
    # authority's version, so a rewrite at that version dropped another object's append.
    path = tmp_path / "shared.db"
    a = LayeredStore(CacheStore(3600), SQLiteStore(path))
    b = LayeredStore(CacheStore(3600), SQLiteStore(path))
    try:
        a.append("s", Message("user", "A"))
        a.load("s")  # a's cache now holds [A]
        b.append("s", Message("user", "B"))  # a's cache cannot know
        conversation, meta = a.load_with_metadata("s")
        assert [m.content for m in conversation] == ["A", "B"] and meta.version == 2
        a.save("s", conversation, expected_version=meta.version)
        assert [m.content for m in b.load("s")] == ["A", "B"]
    finally:
        a.close()
        b.close()
