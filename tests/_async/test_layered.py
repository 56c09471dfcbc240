"""What only the layered store does: fall-through, write-back, degradation, stats."""

from __future__ import annotations

from typing import Any

import pytest

from agent_session import (
    AsyncCacheStore,
    AsyncInMemoryStore,
    AsyncLayeredStore,
    BackendError,
    Conversation,
    InvalidSessionId,
    Message,
    SessionMetadata,
    SessionNotFound,
)
from agent_session.testing import FakeClock


class FlakyLayer(AsyncInMemoryStore):
    """An in-memory layer whose every call fails while ``down`` is set."""

    down = False

    def _gate(self) -> None:
        if self.down:
            raise BackendError("layer down (test)")

    async def save(self, *args: Any, **kwargs: Any) -> SessionMetadata:
        self._gate()
        return await super().save(*args, **kwargs)

    async def append(self, *args: Any, **kwargs: Any) -> SessionMetadata:
        self._gate()
        return await super().append(*args, **kwargs)

    async def load(self, *args: Any, **kwargs: Any) -> Conversation:
        self._gate()
        return await super().load(*args, **kwargs)

    async def get_metadata(self, *args: Any, **kwargs: Any) -> SessionMetadata:
        self._gate()
        return await super().get_metadata(*args, **kwargs)

    async def exists(self, *args: Any, **kwargs: Any) -> bool:
        self._gate()
        return await super().exists(*args, **kwargs)

    async def delete(self, *args: Any, **kwargs: Any) -> bool:
        self._gate()
        return await super().delete(*args, **kwargs)

    async def list_sessions(self, *args: Any, **kwargs: Any) -> list[str]:
        self._gate()
        return await super().list_sessions(*args, **kwargs)


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
    async with AsyncLayeredStore(cache, durable):
        pass
    from agent_session import StoreClosed

    with pytest.raises(StoreClosed):
        await durable.load("s")
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
