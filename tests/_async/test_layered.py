"""What only the layered store does: fall-through, write-back, degradation, stats."""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from agent_session import (
    AsyncCacheStore,
    AsyncInMemoryStore,
    AsyncLayeredStore,
    AsyncSQLiteStore,
    BackendError,
    Conversation,
    InvalidSessionId,
    Message,
    SessionMetadata,
    SessionNotFound,
    StoreClosed,
)
from agent_session._concurrency import AsyncNursery, AsyncResult, asleep
from agent_session.testing import FakeClock


class FlakyLayer(AsyncInMemoryStore):
    """An in-memory layer whose backend fails while ``down`` is set (its hooks raise)."""

    down = False

    def _gate(self) -> None:
        if self.down:
            raise BackendError("layer down (test)")

    async def _save(self, *args: Any) -> SessionMetadata:
        self._gate()
        return await super()._save(*args)

    async def _append(self, *args: Any) -> SessionMetadata:
        self._gate()
        return await super()._append(*args)

    async def _load(self, *args: Any) -> Conversation:
        self._gate()
        return await super()._load(*args)

    async def _pop(self, *args: Any) -> Message | None:
        self._gate()
        return await super()._pop(*args)

    async def _get_metadata(self, *args: Any) -> SessionMetadata:
        self._gate()
        return await super()._get_metadata(*args)

    async def _exists(self, *args: Any) -> bool:
        self._gate()
        return await super()._exists(*args)

    async def _delete(self, *args: Any) -> bool:
        self._gate()
        return await super()._delete(*args)

    async def _touch(self, *args: Any) -> SessionMetadata:
        self._gate()
        return await super()._touch(*args)

    async def _clear(self) -> int:
        self._gate()
        return await super()._clear()

    async def _list_sessions(self, *args: Any) -> list[str]:
        self._gate()
        return await super()._list_sessions(*args)


def stats(store: AsyncLayeredStore) -> list[tuple[int, int, int, int]]:
    return [(s.hits, s.misses, s.write_backs, s.failures) for s in store.stats()]


async def test_write_through_and_write_back() -> None:
    cache, durable = AsyncCacheStore(None), AsyncInMemoryStore()
    store = AsyncLayeredStore(cache, durable)
    await store.save("s", Conversation().add_user("a"), labels={"k": "v"})
    assert await cache.exists("s") and await durable.exists("s")
    await cache.delete("s")
    assert len(await store.load("s")) == 1
    assert stats(store) == [(0, 1, 1, 0), (1, 0, 0, 0)]
    assert dict((await cache.get_metadata("s")).labels) == {"k": "v"}
    assert len(await store.load("s")) == 1
    assert stats(store) == [(1, 1, 1, 0), (1, 0, 0, 0)]
    assert [s.name for s in store.stats()] == ["cache", "memory"]


async def test_with_layer_builds_the_same_store() -> None:
    store = AsyncLayeredStore().with_layer(AsyncCacheStore(None)).with_layer(AsyncInMemoryStore())
    assert [layer.name for layer in store.layers] == ["cache", "memory"]
    await store.append("s", Message("user", "x"))
    assert len(await store.load("s")) == 1
    with pytest.raises(ValueError, match="no layers"):
        await AsyncLayeredStore().load("s")


async def test_appends_keep_the_copy_in_step() -> None:
    cache, durable = AsyncCacheStore(None), AsyncInMemoryStore()
    store = AsyncLayeredStore(cache, durable)
    await store.save("s", Conversation().add_user("a"))
    await store.append("s", Message("assistant", "b"))
    assert await cache.load("s") == await durable.load("s")
    await durable.append("s", Message("user", "behind the layered store's back"))
    await store.append("s", Message("assistant", "c"))  # the copy no longer matches: dropped
    assert not await cache.exists("s")
    assert await store.load("s") == await durable.load("s")
    assert await store.pop("s") is not None
    assert await cache.load("s") == await durable.load("s")


async def test_a_failing_cache_degrades_gracefully() -> None:
    cache, durable = FlakyLayer(), AsyncInMemoryStore()
    store = AsyncLayeredStore(cache, durable)
    await store.save("s", Conversation().add_user("a"))
    cache.down = True
    assert len(await store.load("s")) == 1  # served by the durable layer
    await store.append("s", Message("user", "b"))  # the write still succeeds
    assert store.stats()[0].failures >= 2
    cache.down = False
    # The cache held ["a"]; it could not be updated nor dropped, so it is never read again
    # for "s" until rewritten: the reader gets the durable ["a", "b"].
    assert [m.content for m in await store.load("s")] == ["a", "b"]
    assert [m.content for m in await cache.load("s")] == ["a", "b"]  # written back


async def test_a_failing_authority_fails_writes_and_falls_back_for_reads() -> None:
    cache, durable = AsyncCacheStore(None), FlakyLayer()
    store = AsyncLayeredStore(cache, durable)
    await store.save("s", Conversation().add_user("a"))
    await store.save("t", Conversation().add_user("t"))
    durable.down = True
    assert len(await store.load("s")) == 1  # the cache answers
    with pytest.raises(BackendError):
        await store.append("s", Message("user", "b"))
    assert store.stats()[1].failures == 1
    assert await store.exists("t")  # the cache can answer while the authority fails
    assert await store.list_sessions() == ["t"]  # "s" was dropped: its fate is unknown
    with pytest.raises(BackendError):
        await store.load("s")
    durable.down = False
    assert [m.content for m in await store.load("s")] == ["a"]


async def test_a_touch_never_vouches_for_a_doubtful_copy() -> None:
    # The cache's copy of "s" could be neither updated nor dropped; a touch through the
    # store used to succeed on it and so make the stale ["a"] readable again.
    cache, durable = FlakyLayer(), AsyncInMemoryStore()
    store = AsyncLayeredStore(cache, durable)
    await store.save("s", Conversation().add_user("a"))
    cache.down = True
    await store.append("s", Message("user", "b"))
    cache.down = False
    await store.touch("s")
    assert [m.content for m in await store.load("s")] == ["a", "b"]


async def test_a_failed_clear_drops_the_copies() -> None:
    # Its outcome is unknown, as for any write that failed with BackendError.
    cache, durable = AsyncCacheStore(None), FlakyLayer()
    store = AsyncLayeredStore(cache, durable)
    await store.save("s", Conversation().add_user("a"))
    durable.down = True
    with pytest.raises(BackendError):
        await store.clear()
    assert not await cache.exists("s")
    assert store.stats()[1].failures == 1


async def test_a_sliding_read_keeps_its_write_back() -> None:
    # The TTL restart after a read used to overlap the read's own write-back and drop it.
    cache, durable = AsyncCacheStore(None), AsyncInMemoryStore(default_ttl=60)
    store = AsyncLayeredStore(cache, durable, sliding=True)
    await store.save("s", Conversation().add_user("a"))
    await cache.delete("s")
    await store.load("s")
    assert await cache.exists("s")
    await store.load("s")
    assert stats(store)[0] == (1, 1, 1, 0)


async def test_expired_copy_falls_through() -> None:
    clock = FakeClock()
    cache = AsyncCacheStore(5, clock=clock)
    durable = AsyncInMemoryStore(default_ttl=100, clock=clock)
    store = AsyncLayeredStore(cache, durable, clock=clock)
    await store.save("s", Conversation().add_user("a"))
    assert (await cache.get_metadata("s")).expires_at == clock() + 5
    clock.advance(6)
    assert len(await store.load("s")) == 1
    assert store.stats()[0].misses == 1 and store.stats()[0].write_backs == 1
    clock.advance(95)  # past the durable TTL: a copy never outlives its original
    with pytest.raises(SessionNotFound):
        await store.load("s")


async def test_missing_everywhere_raises_not_found() -> None:
    store = AsyncLayeredStore(AsyncCacheStore(None), AsyncInMemoryStore())
    with pytest.raises(SessionNotFound):
        await store.load("nobody")
    assert stats(store) == [(0, 1, 0, 0), (0, 1, 0, 0)]


async def test_closing_closes_the_layers() -> None:
    cache, durable = AsyncCacheStore(None), AsyncInMemoryStore()
    async with AsyncLayeredStore(cache, durable) as store:
        pass
    await store.aclose()  # twice is harmless
    for closed in (store, cache, durable):
        with pytest.raises(StoreClosed):
            await closed.load("s")
    with pytest.raises(TypeError):
        AsyncLayeredStore("not a store")  # type: ignore[arg-type]


async def test_bad_arguments_are_refused_before_a_failing_layer_is_asked() -> None:
    # Issue 7, defect 12: a failing layer turned an invalid id into BackendError.
    flaky = FlakyLayer()
    store = AsyncLayeredStore(flaky, AsyncInMemoryStore())
    await store.save("s", Conversation().add_user("a"))
    flaky.down = True
    for call in (
        lambda: store.load(""),
        lambda: store.get_metadata("x" * 513),
        lambda: store.exists("a\nb"),
    ):
        with pytest.raises(InvalidSessionId):
            await call()
    with pytest.raises(ValueError):
        await store.load("s", last=-1)
    with pytest.raises(TypeError):
        await store.list_sessions(prefix=5)  # type: ignore[arg-type]
    assert stats(store)[0][3] == 0  # no failure counted against the layer


#: The public methods of a store: a layer asked any of them "saw a call".
PUBLIC_METHODS = frozenset(
    "save append load load_tail pop get_metadata exists delete list_sessions iter_sessions "
    "touch purge_expired clear find_sessions".split()
)


class RecordingLayer(AsyncInMemoryStore):
    """An in-memory layer that records every public method asked of it."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def __getattribute__(self, name: str) -> Any:
        if name in PUBLIC_METHODS:
            object.__getattribute__(self, "calls").append(name)
        return super().__getattribute__(name)


async def drain(sessions: AsyncIterator[str]) -> list[str]:
    return [session_id async for session_id in sessions]


async def test_bad_arguments_never_reach_a_layer() -> None:
    # Issue 7, defect 12: the layered store handed bad arguments (ids, TTLs, labels,
    # cursors) on to its layers. The front door refuses them before any layer is asked.
    cache, durable = RecordingLayer(), RecordingLayer()
    store = AsyncLayeredStore(cache, durable)
    conv, message = Conversation().add_user("a"), Message("user", "b")
    bad_ids: list[Callable[[], AsyncResult[object]]] = [
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
            await call()
    bad_values: list[Callable[[], AsyncResult[object]]] = [
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
            await call()
    bad_types: list[Callable[[], AsyncResult[object]]] = [
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
            await call()
    assert (cache.calls, durable.calls) == ([], [])


async def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asleep(0.001)


class SlowCache(AsyncCacheStore):
    """A cache that can hold its next save twice, as a slow network would: on its way
    (``state == "waiting"`` until set to ``"land"``), then landed but unanswered
    (``"landed"`` until set to ``"answer"``)."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(None, clock=clock)
        self.hold_next = False
        self.state = ""

    async def save(self, *args: Any, **kwargs: Any) -> SessionMetadata:
        held, self.hold_next = self.hold_next, False
        if held:
            self.state = "waiting"
            await wait_until(lambda: self.state == "land", "the save to be let through")
        meta = await super().save(*args, **kwargs)
        if held:
            self.state = "landed"
            await wait_until(lambda: self.state == "answer", "the save to be answered")
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


async def check_reads(store: AsyncLayeredStore, expected: list[str] | None) -> None:
    for last in (None, 5):
        if expected is None:
            with pytest.raises(SessionNotFound):
                await store.load("s", last=last)
        else:
            assert [m.content for m in await store.load("s", last=last)] == expected


@pytest.mark.parametrize("write", list(RACING_WRITES))
async def test_a_slow_write_back_never_covers_a_newer_write(write: str) -> None:
    # Issue 7, defect 4: a read falls through and copies what it read (["m1"]) back into
    # the cache; a write through the same store overtakes it; the late copy landed
    # after the write returned, and a load then served ["m1"].
    clock = FakeClock()
    cache, durable = SlowCache(clock), AsyncInMemoryStore(default_ttl=100, clock=clock)
    store = AsyncLayeredStore(cache, durable, clock=clock)
    await store.save("s", Conversation().add_user("m1"))
    await cache.delete("s")  # the next load falls through to the durable layer
    cache.hold_next = True
    read: list[list[object]] = []

    async def slow_load() -> None:
        read.append([m.content for m in await store.load("s")])

    expected = RACING_WRITES[write]
    async with AsyncNursery() as nursery:
        nursery.start_soon(slow_load)
        await wait_until(lambda: cache.state == "waiting", "the write-back to start")
        if write == "append":
            await store.append("s", Message("user", "m2"))
        elif write == "save":
            await store.save("s", Conversation().add_user("m2"))
        elif write == "pop":
            await store.pop("s")
        elif write == "delete":
            await store.delete("s")
        elif write == "clear":
            await store.clear()
        else:
            await store.touch("s", ttl=1)
            clock.advance(2)
        cache.state = "land"
        try:
            await wait_until(lambda: cache.state == "landed", "the write-back to land")
            # The old copy is in the cache now; the write returned before: never serve it.
            await check_reads(store, expected)
        finally:
            cache.state = "answer"  # let the slow read finish, even when a check failed
    assert read == [["m1"]]  # the slow read itself overlapped the write: either is right
    await check_reads(store, expected)  # nor once everything settled
    if await cache.exists("s"):
        assert await cache.load("s") == await durable.load("s")


class JitteryCache(AsyncCacheStore):
    """A cache whose calls take a random little while before and after, as over a network."""

    def __init__(self, seed: int) -> None:
        super().__init__(None)
        self._random = random.Random(seed)

    async def _jitter(self) -> None:
        await asleep(self._random.choice((0, 0, 0.0002)))

    async def save(self, *args: Any, **kwargs: Any) -> SessionMetadata:
        await self._jitter()
        meta = await super().save(*args, **kwargs)
        await self._jitter()
        return meta

    async def append(self, *args: Any, **kwargs: Any) -> SessionMetadata:
        await self._jitter()
        meta = await super().append(*args, **kwargs)
        await self._jitter()
        return meta

    async def get_metadata(self, *args: Any, **kwargs: Any) -> SessionMetadata:
        await self._jitter()
        return await super().get_metadata(*args, **kwargs)

    async def load(self, *args: Any, **kwargs: Any) -> Conversation:
        await self._jitter()
        return await super().load(*args, **kwargs)

    async def delete(self, *args: Any, **kwargs: Any) -> bool:
        await self._jitter()
        return await super().delete(*args, **kwargs)


async def test_overlapping_reads_and_writes_always_read_what_was_written() -> None:
    # Writers that read right after each append, while evictions force write-backs:
    # none may ever read a copy older than its own append that returned.
    cache, durable = JitteryCache(7), AsyncInMemoryStore()
    store = AsyncLayeredStore(cache, durable)
    await store.save("s", Conversation())

    async def worker(name: str) -> None:
        for i in range(25):
            await store.append("s", Message("user", f"{name}{i}"))
            if i % 3 == 0:
                await cache.delete("s")  # an eviction: the next load writes back
            assert f"{name}{i}" in [m.content for m in await store.load("s")]

    async with AsyncNursery() as nursery:
        for name in "abcd":
            nursery.start_soon(worker, name)
    assert len(await store.load("s")) == 100
    if await cache.exists("s"):
        assert await cache.load("s") == await durable.load("s")


async def test_a_rewrite_never_drops_a_write_its_cache_did_not_see(tmp_path: Path) -> None:
    # Found by the soak run: load_with_metadata paired the cached copy's messages with the
    # authority's version, so a rewrite at that version dropped another object's append.
    path = tmp_path / "shared.db"
    a = AsyncLayeredStore(AsyncCacheStore(3600), AsyncSQLiteStore(path))
    b = AsyncLayeredStore(AsyncCacheStore(3600), AsyncSQLiteStore(path))
    try:
        await a.append("s", Message("user", "A"))
        await a.load("s")  # a's cache now holds [A]
        await b.append("s", Message("user", "B"))  # a's cache cannot know
        conversation, meta = await a.load_with_metadata("s")
        assert [m.content for m in conversation] == ["A", "B"] and meta.version == 2
        await a.save("s", conversation, expected_version=meta.version)
        assert [m.content for m in await b.load("s")] == ["A", "B"]
    finally:
        await a.aclose()
        await b.aclose()
