"""The store contract, as a pytest test class any store can inherit.

Subclass it in a test module and say how to build your store::

    class TestMyStore(AsyncStoreContract):
        async def make_store(self, **options):
            return MyStore(**options)

``options`` always holds ``clock``; some tests add ``default_ttl``, ``sliding``,
``max_messages``, ``max_message_bytes`` or ``max_session_bytes``. Stores that
share a backend between tests are cleared before each test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from .._concurrency import AsyncNursery
from .._errors import (
    CapacityExceeded,
    InvalidSessionId,
    SessionExpired,
    SessionNotFound,
    StoreClosed,
    VersionConflict,
)
from .._fakeclock import FakeClock
from .._model import Conversation, Message, ToolCall
from .._serialization import message_size
from .base import AsyncSessionStore

__all__ = ["AsyncStoreContract", "sample_conversation"]

BAD_SESSION_IDS: list[Any] = ["", "x" * 513, "a\x00b", "line\nbreak", "\x7f", 5, None, b"id"]


def sample_conversation() -> Conversation:
    """A conversation using every message field, non-ASCII text included."""
    return (
        Conversation.builder()
        .system("You are a travel agent.")
        .developer("Answer in one line.")
        .user("Réserve un vol pour Zürich ✈", name="amélie", metadata={"lang": "fr"})
        .assistant(
            None,
            tool_calls=[ToolCall("call_1", "search_flights", '{"to": "ZRH"}')],
            metadata={"latency_ms": 812, "tags": ["a", "b"], "nested": {"x": None}},
        )
        .tool('{"flights": 3}', tool_call_id="call_1")
        .assistant("Three flights found.")
        .build()
    )


def _user(text: str) -> Message:
    return Message("user", text)


class AsyncStoreContract:
    """What every store promises (SPEC sections 2 to 5), as tests."""

    async def make_store(self, **options: Any) -> AsyncSessionStore:
        """Build the store under test with these constructor options."""
        raise NotImplementedError("subclasses say how to build their store")

    async def fresh_store(self, **options: Any) -> AsyncSessionStore:
        store = await self.make_store(**options)
        await store.clear()
        return store

    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock()

    @pytest.fixture
    async def store(self, clock: FakeClock) -> AsyncIterator[AsyncSessionStore]:
        store = await self.fresh_store(clock=clock)
        try:
            yield store
        finally:
            await store.aclose()

    # -- basics and value semantics ---------------------------------------------------

    async def test_name(self, store: AsyncSessionStore) -> None:
        assert isinstance(store.name, str) and store.name

    async def test_round_trip_keeps_every_field(self, store: AsyncSessionStore) -> None:
        conversation = sample_conversation()
        await store.save("s1", conversation)
        loaded = await store.load("s1")
        assert loaded == conversation
        assert loaded.to_dicts() == conversation.to_dicts()
        assert loaded.messages[3].tool_calls[0].arguments == '{"to": "ZRH"}'
        assert loaded.messages[3].metadata["tags"] == ("a", "b")

    async def test_save_returns_metadata(self, store: AsyncSessionStore, clock: FakeClock) -> None:
        conversation = sample_conversation()
        meta = await store.save("s1", conversation)
        assert meta.session_id == "s1"
        assert meta.version == 1
        assert meta.message_count == len(conversation)
        assert meta.size_bytes == sum(message_size(m) for m in conversation)
        assert meta.created_at == meta.updated_at == clock()
        assert meta.expires_at is None
        assert dict(meta.labels) == {}
        assert await store.get_metadata("s1") == meta

    async def test_save_stores_a_snapshot(self, store: AsyncSessionStore) -> None:
        conversation = Conversation().add_user("one")
        await store.save("s1", conversation)
        conversation.add_user("two")
        assert len(await store.load("s1")) == 1

    async def test_load_returns_a_new_object(self, store: AsyncSessionStore) -> None:
        await store.save("s1", Conversation().add_user("one"))
        first = await store.load("s1")
        first.add_user("changed locally")
        second = await store.load("s1")
        assert first is not second
        assert len(second) == 1

    async def test_save_replaces(self, store: AsyncSessionStore) -> None:
        await store.save("s1", Conversation().add_user("one").add_user("two"))
        meta = await store.save("s1", Conversation().add_user("three"))
        assert [m.content for m in await store.load("s1")] == ["three"]
        assert meta.version == 2 and meta.message_count == 1

    async def test_empty_conversation(self, store: AsyncSessionStore) -> None:
        meta = await store.save("s1", Conversation())
        assert meta.message_count == 0 and meta.size_bytes == 0
        assert len(await store.load("s1")) == 0
        assert await store.exists("s1")

    async def test_load_last(self, store: AsyncSessionStore) -> None:
        await store.save("s1", Conversation([_user(str(i)) for i in range(5)]))
        assert [m.content for m in await store.load("s1", last=2)] == ["3", "4"]
        assert [m.content for m in await store.load("s1", last=1)] == ["4"]
        assert len(await store.load("s1", last=0)) == 0
        assert [m.content for m in await store.load("s1", last=50)] == ["0", "1", "2", "3", "4"]

    async def test_load_missing(self, store: AsyncSessionStore) -> None:
        with pytest.raises(SessionNotFound) as info:
            await store.load("missing")
        assert info.value.session_id == "missing"
        assert isinstance(info.value, LookupError)
        assert not isinstance(info.value, SessionExpired)
        with pytest.raises(SessionNotFound):
            await store.get_metadata("missing")

    # -- append ---------------------------------------------------------------------

    async def test_append_creates_the_session(
        self, store: AsyncSessionStore, clock: FakeClock
    ) -> None:
        meta = await store.append("s1", _user("hello"))
        assert meta.version == 1 and meta.message_count == 1
        assert meta.created_at == clock()
        assert [m.content for m in await store.load("s1")] == ["hello"]

    async def test_append_adds_in_order(self, store: AsyncSessionStore, clock: FakeClock) -> None:
        await store.save("s1", Conversation().add_system("sys"))
        clock.advance(5)
        meta = await store.append("s1", _user("a"), Message("assistant", "b"))
        assert [m.content for m in await store.load("s1")] == ["sys", "a", "b"]
        assert meta.version == 2 and meta.message_count == 3
        assert meta.updated_at == clock() and meta.created_at == clock() - 5
        loaded = await store.load("s1")
        assert meta.size_bytes == sum(message_size(m) for m in loaded)

    async def test_append_keeps_labels(self, store: AsyncSessionStore) -> None:
        await store.save("s1", Conversation(), labels={"user": "u1"})
        meta = await store.append("s1", _user("a"))
        assert dict(meta.labels) == {"user": "u1"}

    # -- versions -------------------------------------------------------------------

    async def test_versions_count_writes(self, store: AsyncSessionStore) -> None:
        assert (await store.save("s1", Conversation().add_user("a"))).version == 1
        assert (await store.append("s1", _user("b"))).version == 2
        await store.pop("s1")
        assert (await store.get_metadata("s1")).version == 3
        assert (await store.touch("s1", ttl=100)).version == 3
        assert (await store.save("s1", Conversation())).version == 4

    async def test_expected_version_on_save(self, store: AsyncSessionStore) -> None:
        await store.save("s1", Conversation().add_user("a"), expected_version=0)
        with pytest.raises(VersionConflict) as info:
            await store.save("s1", Conversation().add_user("b"), expected_version=0)
        assert (info.value.expected, info.value.actual) == (0, 1)
        assert info.value.session_id == "s1"
        with pytest.raises(VersionConflict):
            await store.save("s1", Conversation().add_user("b"), expected_version=2)
        assert [m.content for m in await store.load("s1")] == ["a"]
        meta = await store.save("s1", Conversation().add_user("c"), expected_version=1)
        assert meta.version == 2

    async def test_expected_version_on_append(self, store: AsyncSessionStore) -> None:
        with pytest.raises(VersionConflict) as info:
            await store.append("new", _user("a"), expected_version=3)
        assert (info.value.expected, info.value.actual) == (3, 0)
        assert not await store.exists("new")
        await store.append("new", _user("a"), expected_version=0)
        with pytest.raises(VersionConflict):
            await store.append("new", _user("b"), expected_version=0)
        meta = await store.append("new", _user("b"), expected_version=1)
        assert meta.version == 2
        assert [m.content for m in await store.load("new")] == ["a", "b"]

    async def test_expired_session_is_version_zero(self, clock: FakeClock) -> None:
        async with await self.fresh_store(clock=clock, default_ttl=10) as store:
            await store.save("s1", Conversation().add_user("old"))
            clock.advance(11)
            meta = await store.save("s1", Conversation().add_user("new"), expected_version=0)
            assert meta.version == 1

    # -- pop ------------------------------------------------------------------------

    async def test_pop(self, store: AsyncSessionStore, clock: FakeClock) -> None:
        await store.save("s1", Conversation().add_user("a").add_user("b"))
        clock.advance(3)
        popped = await store.pop("s1")
        assert popped is not None and popped.content == "b"
        meta = await store.get_metadata("s1")
        assert meta.message_count == 1 and meta.version == 2 and meta.updated_at == clock()
        assert meta.size_bytes == message_size(_user("a"))
        assert [m.content for m in await store.load("s1")] == ["a"]
        await store.append("s1", _user("c"))
        assert [m.content for m in await store.load("s1")] == ["a", "c"]

    async def test_pop_empty_changes_nothing(self, store: AsyncSessionStore) -> None:
        await store.save("s1", Conversation())
        assert await store.pop("s1") is None
        assert (await store.get_metadata("s1")).version == 1

    async def test_pop_missing_and_expired(self, clock: FakeClock) -> None:
        async with await self.fresh_store(clock=clock, default_ttl=10) as store:
            with pytest.raises(SessionNotFound):
                await store.pop("missing")
            await store.save("s1", Conversation().add_user("a"))
            clock.advance(10)
            with pytest.raises(SessionExpired):
                await store.pop("s1")

    async def test_pop_restarts_ttl(self, clock: FakeClock) -> None:
        async with await self.fresh_store(clock=clock, default_ttl=10) as store:
            await store.save("s1", Conversation().add_user("a").add_user("b"))
            clock.advance(8)
            await store.pop("s1")
            assert (await store.get_metadata("s1")).expires_at == clock() + 10

    # -- labels, exists, delete -------------------------------------------------------

    async def test_labels(self, store: AsyncSessionStore) -> None:
        meta = await store.save("s1", Conversation(), labels={"user": "u1", "app": "a"})
        assert dict(meta.labels) == {"user": "u1", "app": "a"}
        meta = await store.save("s1", Conversation().add_user("x"))
        assert dict(meta.labels) == {"user": "u1", "app": "a"}
        meta = await store.save("s1", Conversation(), labels={"user": "u2"})
        assert dict(meta.labels) == {"user": "u2"}
        meta = await store.save("s1", Conversation(), labels={})
        assert dict(meta.labels) == {}

    async def test_exists_and_delete(self, store: AsyncSessionStore) -> None:
        assert not await store.exists("s1")
        assert await store.delete("s1") is False
        await store.save("s1", Conversation())
        assert await store.exists("s1")
        assert await store.delete("s1") is True
        assert not await store.exists("s1")
        with pytest.raises(SessionNotFound):
            await store.load("s1")
        assert (await store.append("s1", _user("again"))).version == 1

    async def test_delete_expired_returns_false(self, clock: FakeClock) -> None:
        async with await self.fresh_store(clock=clock, default_ttl=10) as store:
            await store.save("s1", Conversation())
            clock.advance(10)
            assert await store.delete("s1") is False
            clock.set(clock() - 100)  # even seen from before the expiry, it is gone
            assert not await store.exists("s1")

    # -- listing ----------------------------------------------------------------------

    async def test_list_sessions(self, store: AsyncSessionStore) -> None:
        for session_id in ["b", "a:2", "c", "a:1"]:
            await store.save(session_id, Conversation())
        assert await store.list_sessions() == ["a:1", "a:2", "b", "c"]
        assert await store.list_sessions(prefix="a:") == ["a:1", "a:2"]
        assert await store.list_sessions(limit=3) == ["a:1", "a:2", "b"]
        assert await store.list_sessions(prefix="zz") == []

    async def test_iter_sessions(self, store: AsyncSessionStore) -> None:
        ids = [f"user-{i:04d}" for i in range(300)] + ["other"]
        for session_id in ids:
            await store.append(session_id, _user("x"))
        seen = [session_id async for session_id in store.iter_sessions()]
        assert seen == sorted(ids)
        prefixed = [session_id async for session_id in store.iter_sessions(prefix="user-00")]
        assert prefixed == [f"user-{i:04d}" for i in range(100)]

    async def test_listings_skip_expired(self, clock: FakeClock) -> None:
        async with await self.fresh_store(clock=clock) as store:
            await store.save("short", Conversation(), ttl=5)
            await store.save("long", Conversation(), ttl=50)
            await store.save("forever", Conversation())
            clock.advance(10)
            assert await store.list_sessions() == ["forever", "long"]
            assert [s async for s in store.iter_sessions()] == ["forever", "long"]
            page = await store.find_sessions()
            assert sorted(m.session_id for m in page.items) == ["forever", "long"]
            assert not await store.exists("short")

    # -- TTL --------------------------------------------------------------------------

    async def test_default_ttl_and_expiry(self, clock: FakeClock) -> None:
        async with await self.fresh_store(clock=clock, default_ttl=10) as store:
            meta = await store.save("s1", Conversation().add_user("a"))
            assert meta.expires_at == clock() + 10
            clock.advance(9)
            await store.append("s1", _user("b"))  # a write restarts the TTL
            clock.advance(9)
            assert len(await store.load("s1")) == 2
            clock.advance(1)
            assert not await store.exists("s1")
            with pytest.raises(SessionExpired) as info:
                await store.load("s1")
            assert info.value.session_id == "s1"
            with pytest.raises(SessionExpired):
                await store.get_metadata("s1")
            assert await store.purge_expired() == 1
            with pytest.raises(SessionNotFound) as not_found:
                await store.load("s1")
            assert not isinstance(not_found.value, SessionExpired)

    async def test_ttl_per_call(self, clock: FakeClock) -> None:
        async with await self.fresh_store(clock=clock, default_ttl=10) as store:
            assert (await store.save("f", Conversation(), ttl=2.5)).expires_at == clock() + 2.5
            delta = timedelta(minutes=1)
            assert (await store.save("d", Conversation(), ttl=delta)).expires_at == clock() + 60
            assert (await store.save("n", Conversation(), ttl=None)).expires_at is None
            assert (await store.append("a", _user("x"), ttl=7)).expires_at == clock() + 7
            clock.advance(1000)
            assert await store.list_sessions() == ["n"]

    async def test_default_keeps_the_sessions_own_ttl(self, clock: FakeClock) -> None:
        async with await self.fresh_store(clock=clock, default_ttl=10) as store:
            await store.save("s1", Conversation(), ttl=100)
            clock.advance(50)
            assert (await store.append("s1", _user("a"))).expires_at == clock() + 100
            assert (await store.touch("s1")).expires_at == clock() + 100
            await store.save("s2", Conversation(), ttl=None)
            assert (await store.append("s2", _user("a"))).expires_at is None
            assert (await store.save("s2", Conversation())).expires_at is None

    async def test_touch(self, clock: FakeClock) -> None:
        async with await self.fresh_store(clock=clock, default_ttl=10) as store:
            saved = await store.save("s1", Conversation().add_user("a"))
            clock.advance(8)
            touched = await store.touch("s1")
            assert touched.expires_at == clock() + 10
            assert touched.updated_at == saved.updated_at
            assert touched.version == saved.version
            clock.advance(8)
            assert await store.exists("s1")
            longer = await store.touch("s1", ttl=1000)
            assert longer.expires_at == clock() + 1000
            assert (await store.touch("s1", ttl=None)).expires_at is None
            with pytest.raises(SessionNotFound):
                await store.touch("missing")

    async def test_touch_expired(self, clock: FakeClock) -> None:
        async with await self.fresh_store(clock=clock, default_ttl=10) as store:
            await store.save("s1", Conversation())
            clock.advance(10)
            with pytest.raises(SessionExpired):
                await store.touch("s1")

    async def test_sliding(self, clock: FakeClock) -> None:
        async with await self.fresh_store(clock=clock, default_ttl=10, sliding=True) as store:
            await store.save("s1", Conversation().add_user("a"))
            for _ in range(5):
                clock.advance(8)
                await store.load("s1")
            assert await store.exists("s1")
            clock.advance(8)
            await store.get_metadata("s1")  # only load slides
            clock.advance(3)
            assert not await store.exists("s1")

    async def test_write_to_expired_starts_new(self, clock: FakeClock) -> None:
        async with await self.fresh_store(clock=clock, default_ttl=10) as store:
            await store.save("s1", Conversation().add_user("old"), labels={"k": "v"})
            clock.advance(20)
            meta = await store.append("s1", _user("new"))
            assert meta.version == 1 and meta.message_count == 1
            assert meta.created_at == clock()
            assert dict(meta.labels) == {}
            assert [m.content for m in await store.load("s1")] == ["new"]

    async def test_purge_and_clear_counts(self, clock: FakeClock) -> None:
        async with await self.fresh_store(clock=clock) as store:
            await store.save("a", Conversation(), ttl=5)
            await store.save("b", Conversation(), ttl=5)
            await store.save("c", Conversation())
            await store.save("d", Conversation())
            assert await store.purge_expired() == 0
            clock.advance(6)
            assert await store.purge_expired() == 2
            assert await store.purge_expired() == 0
            await store.save("e", Conversation(), ttl=1)
            clock.advance(2)
            assert await store.clear() == 2
            assert await store.list_sessions() == []
            assert await store.clear() == 0

    # -- find_sessions ------------------------------------------------------------------

    async def test_find_sessions(self, store: AsyncSessionStore, clock: FakeClock) -> None:
        for i in range(7):
            clock.advance(1)
            labels = {"user": "u1" if i % 2 == 0 else "u2", "app": "x"}
            await store.save(f"s{i}", Conversation(), labels=labels)
        page = await store.find_sessions()
        assert [m.session_id for m in page.items] == [f"s{i}" for i in range(6, -1, -1)]
        assert page.next_cursor is None
        u1 = await store.find_sessions(labels={"user": "u1", "app": "x"})
        assert [m.session_id for m in u1.items] == ["s6", "s4", "s2", "s0"]
        assert (await store.find_sessions(labels={"user": "u1", "app": "y"})).items == []
        start = clock() - 7  # s0 was written at start + 1
        window = await store.find_sessions(updated_after=start + 2, updated_before=start + 5)
        assert [m.session_id for m in window.items] == ["s3", "s2"]

    async def test_find_sessions_pages(self, store: AsyncSessionStore, clock: FakeClock) -> None:
        for i in range(10):
            if i % 3 == 0:
                clock.advance(1)  # several sessions share an updated_at
            await store.save(f"s{i}", Conversation(), labels={"k": "v"})
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            page = await store.find_sessions(labels={"k": "v"}, limit=3, cursor=cursor)
            seen += [m.session_id for m in page.items]
            pages += 1
            cursor = page.next_cursor
            if cursor is None:
                break
        assert sorted(seen) == [f"s{i}" for i in range(10)] and len(seen) == 10
        assert pages == 4
        with pytest.raises(ValueError):
            await store.find_sessions(cursor="not a cursor")

    # -- limits -------------------------------------------------------------------------

    async def test_max_messages(self, clock: FakeClock) -> None:
        async with await self.fresh_store(clock=clock, max_messages=3) as store:
            await store.save("s1", Conversation([_user("1"), _user("2")]))
            with pytest.raises(CapacityExceeded) as info:
                await store.append("s1", _user("3"), _user("4"))
            assert info.value.session_id == "s1"
            with pytest.raises(CapacityExceeded):
                await store.save("s1", Conversation([_user(str(i)) for i in range(4)]))
            meta = await store.get_metadata("s1")
            assert meta.message_count == 2 and meta.version == 1
            await store.append("s1", _user("3"))

    async def test_max_message_bytes(self, clock: FakeClock) -> None:
        async with await self.fresh_store(clock=clock, max_message_bytes=100) as store:
            await store.append("s1", _user("short"))
            with pytest.raises(CapacityExceeded):
                await store.append("s1", _user("x" * 200))
            with pytest.raises(CapacityExceeded):
                await store.save("s1", Conversation([_user("ok"), _user("é" * 60)]))
            assert [m.content for m in await store.load("s1")] == ["short"]

    async def test_max_session_bytes(self, clock: FakeClock) -> None:
        async with await self.fresh_store(clock=clock, max_session_bytes=200) as store:
            await store.append("s1", _user("a" * 50))
            with pytest.raises(CapacityExceeded):
                await store.append("s1", _user("b" * 100), _user("c" * 100))
            assert (await store.get_metadata("s1")).message_count == 1

    # -- bad input ------------------------------------------------------------------------

    async def test_invalid_session_ids(self, store: AsyncSessionStore) -> None:
        conversation = Conversation().add_user("a")
        for bad in BAD_SESSION_IDS:
            with pytest.raises(InvalidSessionId) as info:
                await store.save(bad, conversation)
            assert isinstance(info.value, ValueError)
            with pytest.raises(InvalidSessionId):
                await store.append(bad, _user("a"))
            with pytest.raises(InvalidSessionId):
                await store.load(bad)
            with pytest.raises(InvalidSessionId):
                await store.pop(bad)
            with pytest.raises(InvalidSessionId):
                await store.get_metadata(bad)
            with pytest.raises(InvalidSessionId):
                await store.exists(bad)
            with pytest.raises(InvalidSessionId):
                await store.delete(bad)
            with pytest.raises(InvalidSessionId):
                await store.touch(bad)
        assert await store.list_sessions() == []
        await store.save("x" * 512, conversation)  # the longest valid id
        await store.save("spaces and ünïcode ok", conversation)

    async def test_bad_ttls(self, store: AsyncSessionStore) -> None:
        bad_values: list[Any] = [-1, 0, float("nan"), float("inf"), timedelta(seconds=-5)]
        for bad in bad_values:
            with pytest.raises(ValueError):
                await store.save("s1", Conversation(), ttl=bad)
            with pytest.raises(ValueError):
                await store.append("s1", _user("a"), ttl=bad)
        wrong_types: list[Any] = ["10", True, [1]]
        for wrong in wrong_types:
            with pytest.raises(TypeError):
                await store.save("s1", Conversation(), ttl=wrong)
        assert not await store.exists("s1")

    async def test_bad_arguments_write_nothing(self, store: AsyncSessionStore) -> None:
        with pytest.raises(ValueError):
            await store.save("s1", Conversation(), expected_version=-1)
        with pytest.raises((TypeError, ValueError)):
            await store.save("s1", Conversation(), expected_version="1")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            await store.save("s1", [_user("a")])  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            await store.append("s1", "hello")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            await store.save("s1", Conversation(), labels={"k": 1})  # type: ignore[dict-item]
        assert not await store.exists("s1")
        await store.save("s1", Conversation().add_user("a"))
        with pytest.raises(ValueError):
            await store.load("s1", last=-1)
        with pytest.raises(TypeError):
            await store.list_sessions(prefix=5)  # type: ignore[arg-type]
        with pytest.raises((TypeError, ValueError)):
            await store.list_sessions(limit=0)
        with pytest.raises((TypeError, ValueError)):
            await store.find_sessions(limit=0)

    # -- closing ------------------------------------------------------------------------

    async def test_closed_store_refuses_every_call(self, clock: FakeClock) -> None:
        store = await self.fresh_store(clock=clock)
        await store.save("s1", Conversation())
        await store.aclose()
        await store.aclose()  # harmless twice
        with pytest.raises(StoreClosed):
            await store.save("s1", Conversation())
        with pytest.raises(StoreClosed):
            await store.append("s1", _user("a"))
        with pytest.raises(StoreClosed):
            await store.load("s1")
        with pytest.raises(StoreClosed):
            await store.pop("s1")
        with pytest.raises(StoreClosed):
            await store.get_metadata("s1")
        with pytest.raises(StoreClosed):
            await store.exists("s1")
        with pytest.raises(StoreClosed):
            await store.delete("s1")
        with pytest.raises(StoreClosed):
            await store.list_sessions()
        with pytest.raises(StoreClosed):
            await store.touch("s1")
        with pytest.raises(StoreClosed):
            await store.purge_expired()
        with pytest.raises(StoreClosed):
            await store.clear()
        with pytest.raises(StoreClosed):
            await store.find_sessions()
        with pytest.raises(StoreClosed):
            async for _ in store.iter_sessions():
                pass

    async def test_context_manager_closes(self, clock: FakeClock) -> None:
        async with await self.fresh_store(clock=clock) as store:
            await store.save("s1", Conversation())
        with pytest.raises(StoreClosed):
            await store.load("s1")

    # -- concurrency ----------------------------------------------------------------------

    async def test_concurrent_appends_lose_nothing(self, store: AsyncSessionStore) -> None:
        workers, per_worker = 8, 25

        async def worker(number: int) -> None:
            for i in range(per_worker):
                await store.append("shared", _user(f"{number}:{i}"))
                await store.append(f"own-{number}", _user(str(i)))

        async with AsyncNursery() as nursery:
            for number in range(workers):
                nursery.start_soon(worker, number)
        messages = await store.load("shared")
        assert len(messages) == workers * per_worker
        meta = await store.get_metadata("shared")
        assert meta.message_count == workers * per_worker
        assert meta.version == workers * per_worker
        for number in range(workers):
            mine = [m.content for m in messages if (m.content or "").startswith(f"{number}:")]
            assert mine == [f"{number}:{i}" for i in range(per_worker)]
            own = await store.load(f"own-{number}")
            assert [m.content for m in own] == [str(i) for i in range(per_worker)]

    async def test_concurrent_versioned_saves_one_wins(self, store: AsyncSessionStore) -> None:
        await store.save("s1", Conversation().add_user("base"))
        outcomes: list[str] = []

        async def contender(number: int) -> None:
            try:
                await store.save(
                    "s1", Conversation().add_user(f"winner {number}"), expected_version=1
                )
                outcomes.append("won")
            except VersionConflict as conflict:
                assert conflict.actual >= 2
                outcomes.append("lost")

        async with AsyncNursery() as nursery:
            for number in range(8):
                nursery.start_soon(contender, number)
        assert sorted(outcomes) == ["lost"] * 7 + ["won"]
        assert (await store.get_metadata("s1")).version == 2

    async def test_concurrent_optimistic_appends_with_retry(self, store: AsyncSessionStore) -> None:
        await store.save("counter", Conversation())

        async def worker(number: int) -> None:
            for i in range(10):
                while True:
                    version = (await store.get_metadata("counter")).version
                    try:
                        await store.append(
                            "counter", _user(f"{number}:{i}"), expected_version=version
                        )
                        break
                    except VersionConflict:
                        continue

        async with AsyncNursery() as nursery:
            for number in range(4):
                nursery.start_soon(worker, number)
        meta = await store.get_metadata("counter")
        assert meta.message_count == 40 and meta.version == 41
