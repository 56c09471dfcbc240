# This file is generated from _async/testing.py by scripts/unasync.py: do not edit.
"""The store contract, as a pytest test class any store can inherit.

Subclass it in a test module and say how to build your store::

    class TestMyStore(StoreContract):
        async def make_store(self, **options):
            return MyStore(**options)

``options`` always holds ``clock``; some tests add ``default_ttl``, ``sliding``,
``max_messages``, ``max_message_bytes`` or ``max_session_bytes``. Stores that
share a backend between tests are cleared before each test.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from .._concurrency import Nursery
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
from .base import SessionStore

__all__ = ["StoreContract", "sample_conversation"]

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


class StoreContract:
    """What every store promises (SPEC sections 2 to 5), as tests."""

    def make_store(self, **options: Any) -> SessionStore:
        """Build the store under test with these constructor options."""
        raise NotImplementedError("subclasses say how to build their store")

    def fresh_store(self, **options: Any) -> SessionStore:
        store = self.make_store(**options)
        store.clear()
        return store

    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock()

    @pytest.fixture
    def store(self, clock: FakeClock) -> Iterator[SessionStore]:
        store = self.fresh_store(clock=clock)
        try:
            yield store
        finally:
            store.close()

    # -- basics and value semantics ---------------------------------------------------

    def test_name(self, store: SessionStore) -> None:
        assert isinstance(store.name, str) and store.name

    def test_round_trip_keeps_every_field(self, store: SessionStore) -> None:
        conversation = sample_conversation()
        store.save("s1", conversation)
        loaded = store.load("s1")
        assert loaded == conversation
        assert loaded.to_dicts() == conversation.to_dicts()
        assert loaded.messages[3].tool_calls[0].arguments == '{"to": "ZRH"}'
        assert loaded.messages[3].metadata["tags"] == ("a", "b")

    def test_save_returns_metadata(self, store: SessionStore, clock: FakeClock) -> None:
        conversation = sample_conversation()
        meta = store.save("s1", conversation)
        assert meta.session_id == "s1"
        assert meta.version == 1
        assert meta.message_count == len(conversation)
        assert meta.size_bytes == sum(message_size(m) for m in conversation)
        assert meta.created_at == meta.updated_at == clock()
        assert meta.expires_at is None
        assert dict(meta.labels) == {}
        assert store.get_metadata("s1") == meta

    def test_save_stores_a_snapshot(self, store: SessionStore) -> None:
        conversation = Conversation().add_user("one")
        store.save("s1", conversation)
        conversation.add_user("two")
        assert len(store.load("s1")) == 1

    def test_load_returns_a_new_object(self, store: SessionStore) -> None:
        store.save("s1", Conversation().add_user("one"))
        first = store.load("s1")
        first.add_user("changed locally")
        second = store.load("s1")
        assert first is not second
        assert len(second) == 1

    def test_save_replaces(self, store: SessionStore) -> None:
        store.save("s1", Conversation().add_user("one").add_user("two"))
        meta = store.save("s1", Conversation().add_user("three"))
        assert [m.content for m in store.load("s1")] == ["three"]
        assert meta.version == 2 and meta.message_count == 1

    def test_empty_conversation(self, store: SessionStore) -> None:
        meta = store.save("s1", Conversation())
        assert meta.message_count == 0 and meta.size_bytes == 0
        assert len(store.load("s1")) == 0
        assert store.exists("s1")

    def test_load_last(self, store: SessionStore) -> None:
        store.save("s1", Conversation([_user(str(i)) for i in range(5)]))
        assert [m.content for m in store.load("s1", last=2)] == ["3", "4"]
        assert [m.content for m in store.load("s1", last=1)] == ["4"]
        assert len(store.load("s1", last=0)) == 0
        assert [m.content for m in store.load("s1", last=50)] == ["0", "1", "2", "3", "4"]

    def test_load_missing(self, store: SessionStore) -> None:
        with pytest.raises(SessionNotFound) as info:
            store.load("missing")
        assert info.value.session_id == "missing"
        assert isinstance(info.value, LookupError)
        assert not isinstance(info.value, SessionExpired)
        with pytest.raises(SessionNotFound):
            store.get_metadata("missing")

    # -- append ---------------------------------------------------------------------

    def test_append_creates_the_session(
        self, store: SessionStore, clock: FakeClock
    ) -> None:
        meta = store.append("s1", _user("hello"))
        assert meta.version == 1 and meta.message_count == 1
        assert meta.created_at == clock()
        assert [m.content for m in store.load("s1")] == ["hello"]

    def test_append_adds_in_order(self, store: SessionStore, clock: FakeClock) -> None:
        store.save("s1", Conversation().add_system("sys"))
        clock.advance(5)
        meta = store.append("s1", _user("a"), Message("assistant", "b"))
        assert [m.content for m in store.load("s1")] == ["sys", "a", "b"]
        assert meta.version == 2 and meta.message_count == 3
        assert meta.updated_at == clock() and meta.created_at == clock() - 5
        loaded = store.load("s1")
        assert meta.size_bytes == sum(message_size(m) for m in loaded)

    def test_append_keeps_labels(self, store: SessionStore) -> None:
        store.save("s1", Conversation(), labels={"user": "u1"})
        meta = store.append("s1", _user("a"))
        assert dict(meta.labels) == {"user": "u1"}

    # -- versions -------------------------------------------------------------------

    def test_versions_count_writes(self, store: SessionStore) -> None:
        assert (store.save("s1", Conversation().add_user("a"))).version == 1
        assert (store.append("s1", _user("b"))).version == 2
        store.pop("s1")
        assert (store.get_metadata("s1")).version == 3
        assert (store.touch("s1", ttl=100)).version == 3
        assert (store.save("s1", Conversation())).version == 4

    def test_expected_version_on_save(self, store: SessionStore) -> None:
        store.save("s1", Conversation().add_user("a"), expected_version=0)
        with pytest.raises(VersionConflict) as info:
            store.save("s1", Conversation().add_user("b"), expected_version=0)
        assert (info.value.expected, info.value.actual) == (0, 1)
        assert info.value.session_id == "s1"
        with pytest.raises(VersionConflict):
            store.save("s1", Conversation().add_user("b"), expected_version=2)
        assert [m.content for m in store.load("s1")] == ["a"]
        meta = store.save("s1", Conversation().add_user("c"), expected_version=1)
        assert meta.version == 2

    def test_expected_version_on_append(self, store: SessionStore) -> None:
        with pytest.raises(VersionConflict) as info:
            store.append("new", _user("a"), expected_version=3)
        assert (info.value.expected, info.value.actual) == (3, 0)
        assert not store.exists("new")
        store.append("new", _user("a"), expected_version=0)
        with pytest.raises(VersionConflict):
            store.append("new", _user("b"), expected_version=0)
        meta = store.append("new", _user("b"), expected_version=1)
        assert meta.version == 2
        assert [m.content for m in store.load("new")] == ["a", "b"]

    def test_expired_session_is_version_zero(self, clock: FakeClock) -> None:
        with self.fresh_store(clock=clock, default_ttl=10) as store:
            store.save("s1", Conversation().add_user("old"))
            clock.advance(11)
            meta = store.save("s1", Conversation().add_user("new"), expected_version=0)
            assert meta.version == 1

    # -- pop ------------------------------------------------------------------------

    def test_pop(self, store: SessionStore, clock: FakeClock) -> None:
        store.save("s1", Conversation().add_user("a").add_user("b"))
        clock.advance(3)
        popped = store.pop("s1")
        assert popped is not None and popped.content == "b"
        meta = store.get_metadata("s1")
        assert meta.message_count == 1 and meta.version == 2 and meta.updated_at == clock()
        assert meta.size_bytes == message_size(_user("a"))
        assert [m.content for m in store.load("s1")] == ["a"]
        store.append("s1", _user("c"))
        assert [m.content for m in store.load("s1")] == ["a", "c"]

    def test_pop_empty_changes_nothing(self, store: SessionStore) -> None:
        store.save("s1", Conversation())
        assert store.pop("s1") is None
        assert (store.get_metadata("s1")).version == 1

    def test_pop_missing_and_expired(self, clock: FakeClock) -> None:
        with self.fresh_store(clock=clock, default_ttl=10) as store:
            with pytest.raises(SessionNotFound):
                store.pop("missing")
            store.save("s1", Conversation().add_user("a"))
            clock.advance(10)
            with pytest.raises(SessionExpired):
                store.pop("s1")

    def test_pop_restarts_ttl(self, clock: FakeClock) -> None:
        with self.fresh_store(clock=clock, default_ttl=10) as store:
            store.save("s1", Conversation().add_user("a").add_user("b"))
            clock.advance(8)
            store.pop("s1")
            assert (store.get_metadata("s1")).expires_at == clock() + 10

    # -- labels, exists, delete -------------------------------------------------------

    def test_labels(self, store: SessionStore) -> None:
        meta = store.save("s1", Conversation(), labels={"user": "u1", "app": "a"})
        assert dict(meta.labels) == {"user": "u1", "app": "a"}
        meta = store.save("s1", Conversation().add_user("x"))
        assert dict(meta.labels) == {"user": "u1", "app": "a"}
        meta = store.save("s1", Conversation(), labels={"user": "u2"})
        assert dict(meta.labels) == {"user": "u2"}
        meta = store.save("s1", Conversation(), labels={})
        assert dict(meta.labels) == {}

    def test_exists_and_delete(self, store: SessionStore) -> None:
        assert not store.exists("s1")
        assert store.delete("s1") is False
        store.save("s1", Conversation())
        assert store.exists("s1")
        assert store.delete("s1") is True
        assert not store.exists("s1")
        with pytest.raises(SessionNotFound):
            store.load("s1")
        assert (store.append("s1", _user("again"))).version == 1

    def test_delete_expired_returns_false(self, clock: FakeClock) -> None:
        with self.fresh_store(clock=clock, default_ttl=10) as store:
            store.save("s1", Conversation())
            clock.advance(10)
            assert store.delete("s1") is False
            clock.set(clock() - 100)  # even seen from before the expiry, it is gone
            assert not store.exists("s1")

    # -- listing ----------------------------------------------------------------------

    def test_list_sessions(self, store: SessionStore) -> None:
        for session_id in ["b", "a:2", "c", "a:1"]:
            store.save(session_id, Conversation())
        assert store.list_sessions() == ["a:1", "a:2", "b", "c"]
        assert store.list_sessions(prefix="a:") == ["a:1", "a:2"]
        assert store.list_sessions(limit=3) == ["a:1", "a:2", "b"]
        assert store.list_sessions(prefix="zz") == []

    def test_iter_sessions(self, store: SessionStore) -> None:
        ids = [f"user-{i:04d}" for i in range(300)] + ["other"]
        for session_id in ids:
            store.append(session_id, _user("x"))
        seen = [session_id for session_id in store.iter_sessions()]
        assert seen == sorted(ids)
        prefixed = [session_id for session_id in store.iter_sessions(prefix="user-00")]
        assert prefixed == [f"user-{i:04d}" for i in range(100)]

    def test_listings_skip_expired(self, clock: FakeClock) -> None:
        with self.fresh_store(clock=clock) as store:
            store.save("short", Conversation(), ttl=5)
            store.save("long", Conversation(), ttl=50)
            store.save("forever", Conversation())
            clock.advance(10)
            assert store.list_sessions() == ["forever", "long"]
            assert [s for s in store.iter_sessions()] == ["forever", "long"]
            page = store.find_sessions()
            assert sorted(m.session_id for m in page.items) == ["forever", "long"]
            assert not store.exists("short")

    # -- TTL --------------------------------------------------------------------------

    def test_default_ttl_and_expiry(self, clock: FakeClock) -> None:
        with self.fresh_store(clock=clock, default_ttl=10) as store:
            meta = store.save("s1", Conversation().add_user("a"))
            assert meta.expires_at == clock() + 10
            clock.advance(9)
            store.append("s1", _user("b"))  # a write restarts the TTL
            clock.advance(9)
            assert len(store.load("s1")) == 2
            clock.advance(1)
            assert not store.exists("s1")
            with pytest.raises(SessionExpired) as info:
                store.load("s1")
            assert info.value.session_id == "s1"
            with pytest.raises(SessionExpired):
                store.get_metadata("s1")
            assert store.purge_expired() == 1
            with pytest.raises(SessionNotFound) as not_found:
                store.load("s1")
            assert not isinstance(not_found.value, SessionExpired)

    def test_ttl_per_call(self, clock: FakeClock) -> None:
        with self.fresh_store(clock=clock, default_ttl=10) as store:
            assert (store.save("f", Conversation(), ttl=2.5)).expires_at == clock() + 2.5
            delta = timedelta(minutes=1)
            assert (store.save("d", Conversation(), ttl=delta)).expires_at == clock() + 60
            assert (store.save("n", Conversation(), ttl=None)).expires_at is None
            assert (store.append("a", _user("x"), ttl=7)).expires_at == clock() + 7
            clock.advance(1000)
            assert store.list_sessions() == ["n"]

    def test_default_keeps_the_sessions_own_ttl(self, clock: FakeClock) -> None:
        with self.fresh_store(clock=clock, default_ttl=10) as store:
            store.save("s1", Conversation(), ttl=100)
            clock.advance(50)
            assert (store.append("s1", _user("a"))).expires_at == clock() + 100
            assert (store.touch("s1")).expires_at == clock() + 100
            store.save("s2", Conversation(), ttl=None)
            assert (store.append("s2", _user("a"))).expires_at is None
            assert (store.save("s2", Conversation())).expires_at is None

    def test_touch(self, clock: FakeClock) -> None:
        with self.fresh_store(clock=clock, default_ttl=10) as store:
            saved = store.save("s1", Conversation().add_user("a"))
            clock.advance(8)
            touched = store.touch("s1")
            assert touched.expires_at == clock() + 10
            assert touched.updated_at == saved.updated_at
            assert touched.version == saved.version
            clock.advance(8)
            assert store.exists("s1")
            longer = store.touch("s1", ttl=1000)
            assert longer.expires_at == clock() + 1000
            assert (store.touch("s1", ttl=None)).expires_at is None
            with pytest.raises(SessionNotFound):
                store.touch("missing")

    def test_touch_expired(self, clock: FakeClock) -> None:
        with self.fresh_store(clock=clock, default_ttl=10) as store:
            store.save("s1", Conversation())
            clock.advance(10)
            with pytest.raises(SessionExpired):
                store.touch("s1")

    def test_sliding(self, clock: FakeClock) -> None:
        with self.fresh_store(clock=clock, default_ttl=10, sliding=True) as store:
            store.save("s1", Conversation().add_user("a"))
            for _ in range(5):
                clock.advance(8)
                store.load("s1")
            assert store.exists("s1")
            clock.advance(8)
            store.get_metadata("s1")  # only load slides
            clock.advance(3)
            assert not store.exists("s1")

    def test_write_to_expired_starts_new(self, clock: FakeClock) -> None:
        with self.fresh_store(clock=clock, default_ttl=10) as store:
            store.save("s1", Conversation().add_user("old"), labels={"k": "v"})
            clock.advance(20)
            meta = store.append("s1", _user("new"))
            assert meta.version == 1 and meta.message_count == 1
            assert meta.created_at == clock()
            assert dict(meta.labels) == {}
            assert [m.content for m in store.load("s1")] == ["new"]

    def test_purge_and_clear_counts(self, clock: FakeClock) -> None:
        with self.fresh_store(clock=clock) as store:
            store.save("a", Conversation(), ttl=5)
            store.save("b", Conversation(), ttl=5)
            store.save("c", Conversation())
            store.save("d", Conversation())
            assert store.purge_expired() == 0
            clock.advance(6)
            assert store.purge_expired() == 2
            assert store.purge_expired() == 0
            store.save("e", Conversation(), ttl=1)
            clock.advance(2)
            assert store.clear() == 2
            assert store.list_sessions() == []
            assert store.clear() == 0

    # -- find_sessions ------------------------------------------------------------------

    def test_find_sessions(self, store: SessionStore, clock: FakeClock) -> None:
        for i in range(7):
            clock.advance(1)
            labels = {"user": "u1" if i % 2 == 0 else "u2", "app": "x"}
            store.save(f"s{i}", Conversation(), labels=labels)
        page = store.find_sessions()
        assert [m.session_id for m in page.items] == [f"s{i}" for i in range(6, -1, -1)]
        assert page.next_cursor is None
        u1 = store.find_sessions(labels={"user": "u1", "app": "x"})
        assert [m.session_id for m in u1.items] == ["s6", "s4", "s2", "s0"]
        assert (store.find_sessions(labels={"user": "u1", "app": "y"})).items == []
        start = clock() - 7  # s0 was written at start + 1
        window = store.find_sessions(updated_after=start + 2, updated_before=start + 5)
        assert [m.session_id for m in window.items] == ["s3", "s2"]

    def test_find_sessions_pages(self, store: SessionStore, clock: FakeClock) -> None:
        for i in range(10):
            if i % 3 == 0:
                clock.advance(1)  # several sessions share an updated_at
            store.save(f"s{i}", Conversation(), labels={"k": "v"})
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            page = store.find_sessions(labels={"k": "v"}, limit=3, cursor=cursor)
            seen += [m.session_id for m in page.items]
            pages += 1
            cursor = page.next_cursor
            if cursor is None:
                break
        assert sorted(seen) == [f"s{i}" for i in range(10)] and len(seen) == 10
        assert pages == 4
        with pytest.raises(ValueError):
            store.find_sessions(cursor="not a cursor")

    # -- limits -------------------------------------------------------------------------

    def test_max_messages(self, clock: FakeClock) -> None:
        with self.fresh_store(clock=clock, max_messages=3) as store:
            store.save("s1", Conversation([_user("1"), _user("2")]))
            with pytest.raises(CapacityExceeded) as info:
                store.append("s1", _user("3"), _user("4"))
            assert info.value.session_id == "s1"
            with pytest.raises(CapacityExceeded):
                store.save("s1", Conversation([_user(str(i)) for i in range(4)]))
            meta = store.get_metadata("s1")
            assert meta.message_count == 2 and meta.version == 1
            store.append("s1", _user("3"))

    def test_max_message_bytes(self, clock: FakeClock) -> None:
        with self.fresh_store(clock=clock, max_message_bytes=100) as store:
            store.append("s1", _user("short"))
            with pytest.raises(CapacityExceeded):
                store.append("s1", _user("x" * 200))
            with pytest.raises(CapacityExceeded):
                store.save("s1", Conversation([_user("ok"), _user("é" * 60)]))
            assert [m.content for m in store.load("s1")] == ["short"]

    def test_max_session_bytes(self, clock: FakeClock) -> None:
        with self.fresh_store(clock=clock, max_session_bytes=200) as store:
            store.append("s1", _user("a" * 50))
            with pytest.raises(CapacityExceeded):
                store.append("s1", _user("b" * 100), _user("c" * 100))
            assert (store.get_metadata("s1")).message_count == 1

    # -- bad input ------------------------------------------------------------------------

    def test_invalid_session_ids(self, store: SessionStore) -> None:
        conversation = Conversation().add_user("a")
        for bad in BAD_SESSION_IDS:
            with pytest.raises(InvalidSessionId) as info:
                store.save(bad, conversation)
            assert isinstance(info.value, ValueError)
            with pytest.raises(InvalidSessionId):
                store.append(bad, _user("a"))
            with pytest.raises(InvalidSessionId):
                store.load(bad)
            with pytest.raises(InvalidSessionId):
                store.pop(bad)
            with pytest.raises(InvalidSessionId):
                store.get_metadata(bad)
            with pytest.raises(InvalidSessionId):
                store.exists(bad)
            with pytest.raises(InvalidSessionId):
                store.delete(bad)
            with pytest.raises(InvalidSessionId):
                store.touch(bad)
        assert store.list_sessions() == []
        store.save("x" * 512, conversation)  # the longest valid id
        store.save("spaces and ünïcode ok", conversation)

    def test_bad_ttls(self, store: SessionStore) -> None:
        bad_values: list[Any] = [-1, 0, float("nan"), float("inf"), timedelta(seconds=-5)]
        for bad in bad_values:
            with pytest.raises(ValueError):
                store.save("s1", Conversation(), ttl=bad)
            with pytest.raises(ValueError):
                store.append("s1", _user("a"), ttl=bad)
        wrong_types: list[Any] = ["10", True, [1]]
        for wrong in wrong_types:
            with pytest.raises(TypeError):
                store.save("s1", Conversation(), ttl=wrong)
        assert not store.exists("s1")

    def test_bad_arguments_write_nothing(self, store: SessionStore) -> None:
        with pytest.raises(ValueError):
            store.save("s1", Conversation(), expected_version=-1)
        with pytest.raises((TypeError, ValueError)):
            store.save("s1", Conversation(), expected_version="1")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            store.save("s1", [_user("a")])  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            store.append("s1", "hello")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            store.save("s1", Conversation(), labels={"k": 1})  # type: ignore[dict-item]
        assert not store.exists("s1")
        store.save("s1", Conversation().add_user("a"))
        with pytest.raises(ValueError):
            store.load("s1", last=-1)
        with pytest.raises(TypeError):
            store.list_sessions(prefix=5)  # type: ignore[arg-type]
        with pytest.raises((TypeError, ValueError)):
            store.list_sessions(limit=0)
        with pytest.raises((TypeError, ValueError)):
            store.find_sessions(limit=0)

    # -- closing ------------------------------------------------------------------------

    def test_closed_store_refuses_every_call(self, clock: FakeClock) -> None:
        store = self.fresh_store(clock=clock)
        store.save("s1", Conversation())
        store.close()
        store.close()  # harmless twice
        with pytest.raises(StoreClosed):
            store.save("s1", Conversation())
        with pytest.raises(StoreClosed):
            store.append("s1", _user("a"))
        with pytest.raises(StoreClosed):
            store.load("s1")
        with pytest.raises(StoreClosed):
            store.pop("s1")
        with pytest.raises(StoreClosed):
            store.get_metadata("s1")
        with pytest.raises(StoreClosed):
            store.exists("s1")
        with pytest.raises(StoreClosed):
            store.delete("s1")
        with pytest.raises(StoreClosed):
            store.list_sessions()
        with pytest.raises(StoreClosed):
            store.touch("s1")
        with pytest.raises(StoreClosed):
            store.purge_expired()
        with pytest.raises(StoreClosed):
            store.clear()
        with pytest.raises(StoreClosed):
            store.find_sessions()
        with pytest.raises(StoreClosed):
            for _ in store.iter_sessions():
                pass

    def test_context_manager_closes(self, clock: FakeClock) -> None:
        with self.fresh_store(clock=clock) as store:
            store.save("s1", Conversation())
        with pytest.raises(StoreClosed):
            store.load("s1")

    # -- concurrency ----------------------------------------------------------------------

    def test_concurrent_appends_lose_nothing(self, store: SessionStore) -> None:
        workers, per_worker = 8, 25

        def worker(number: int) -> None:
            for i in range(per_worker):
                store.append("shared", _user(f"{number}:{i}"))
                store.append(f"own-{number}", _user(str(i)))

        with Nursery() as nursery:
            for number in range(workers):
                nursery.start_soon(worker, number)
        messages = store.load("shared")
        assert len(messages) == workers * per_worker
        meta = store.get_metadata("shared")
        assert meta.message_count == workers * per_worker
        assert meta.version == workers * per_worker
        for number in range(workers):
            mine = [m.content for m in messages if (m.content or "").startswith(f"{number}:")]
            assert mine == [f"{number}:{i}" for i in range(per_worker)]
            own = store.load(f"own-{number}")
            assert [m.content for m in own] == [str(i) for i in range(per_worker)]

    def test_concurrent_versioned_saves_one_wins(self, store: SessionStore) -> None:
        store.save("s1", Conversation().add_user("base"))
        outcomes: list[str] = []

        def contender(number: int) -> None:
            try:
                store.save(
                    "s1", Conversation().add_user(f"winner {number}"), expected_version=1
                )
                outcomes.append("won")
            except VersionConflict as conflict:
                assert conflict.actual >= 2
                outcomes.append("lost")

        with Nursery() as nursery:
            for number in range(8):
                nursery.start_soon(contender, number)
        assert sorted(outcomes) == ["lost"] * 7 + ["won"]
        assert (store.get_metadata("s1")).version == 2

    def test_concurrent_optimistic_appends_with_retry(self, store: SessionStore) -> None:
        store.save("counter", Conversation())

        def worker(number: int) -> None:
            for i in range(10):
                while True:
                    version = (store.get_metadata("counter")).version
                    try:
                        store.append(
                            "counter", _user(f"{number}:{i}"), expected_version=version
                        )
                        break
                    except VersionConflict:
                        continue

        with Nursery() as nursery:
            for number in range(4):
                nursery.start_soon(worker, number)
        meta = store.get_metadata("counter")
        assert meta.message_count == 40 and meta.version == 41
