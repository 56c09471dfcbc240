# This file is generated from _async/contract/reads.py by scripts/unasync.py: do not edit.
"""load, ``last``, ``load_tail``, pop and metadata."""

from __future__ import annotations

import sys

import pytest

from ..._errors import SessionExpired, SessionNotFound
from ..._fakeclock import FakeClock
from ..._model import Conversation, Message, ToolCall
from ..._serialization import message_size
from ..base import SessionStore
from ._support import FRAMEWORK_PAYLOADS, ContractBase, _every_field_conversation, _texts, _user


class ReadsContract(ContractBase):
    """What reads return: whole conversations, tails, popped messages and metadata."""

    # -- load ----------------------------------------------------------------------------

    def test_name(self, store: SessionStore) -> None:
        assert isinstance(store.name, str) and store.name

    def test_load_missing(self, store: SessionStore) -> None:
        with pytest.raises(SessionNotFound) as info:
            store.load("missing")
        assert info.value.session_id == "missing"
        assert isinstance(info.value, LookupError)
        assert not isinstance(info.value, SessionExpired)
        with pytest.raises(SessionNotFound):
            store.load("missing", last=1)
        with pytest.raises(SessionNotFound):
            store.get_metadata("missing")
        assert store.list_sessions() == []

    def test_load_last(self, store: SessionStore) -> None:
        store.save("s1", Conversation([_user(str(i)) for i in range(5)]))
        assert _texts(store.load("s1", last=2)) == ["3", "4"]
        assert _texts(store.load("s1", last=1)) == ["4"]
        assert len(store.load("s1", last=0)) == 0
        assert _texts(store.load("s1", last=5)) == ["0", "1", "2", "3", "4"]
        assert _texts(store.load("s1", last=50)) == ["0", "1", "2", "3", "4"]
        store.append("s1", _user("5"))
        store.pop("s1")
        store.pop("s1")
        assert _texts(store.load("s1", last=2)) == ["2", "3"]

    def test_huge_counts_read_as_all(self, store: SessionStore) -> None:
        # Issue 7, defect 7: PostgreSQL and Redis failed with BackendError on these.
        store.save("s1", Conversation([_user(str(i)) for i in range(3)]))
        for huge in (2**31, 2**63, sys.maxsize, 10**30):
            assert _texts(store.load("s1", last=huge)) == ["0", "1", "2"]
            assert store.list_sessions(limit=huge) == ["s1"]
            assert [m.session_id for m in (store.find_sessions(limit=huge)).items] == ["s1"]

    def test_load_tail_never_starts_with_a_cut_tool_result(
        self, store: SessionStore
    ) -> None:
        conversation = (
            Conversation.builder()
            .user("weather?")
            .assistant(None, tool_calls=[ToolCall("c1", "weather", "{}")])
            .tool("21C", tool_call_id="c1")
            .assistant("21C.")
            .build()
        )
        conversation.add(Message.from_dict(FRAMEWORK_PAYLOADS[5]))  # function_call
        conversation.add(Message.from_dict(FRAMEWORK_PAYLOADS[6]))  # function_call_output
        store.save("s", conversation)
        assert [m.role for m in store.load("s", last=4)] == ["tool", "assistant", None, None]
        tail = store.load_tail("s", 4)
        assert [m.type for m in tail] == [None, "function_call", "function_call_output"]
        assert tail[0].text == "21C."
        assert (store.load_tail("s", 1)).to_dicts() == []  # only the output: dropped
        assert len(store.load_tail("s", 10)) == 6

    def test_load_returns_a_new_object(self, store: SessionStore) -> None:
        store.save("s1", Conversation().add_user("one"))
        first = store.load("s1")
        first.add_user("changed locally")
        second = store.load("s1")
        assert first is not second
        assert _texts(second) == ["one"]
        partial = store.load("s1", last=1)
        partial.add_user("also local")
        assert _texts(store.load("s1", last=1)) == ["one"]
        store.append("s1", _user("two"))
        assert _texts(first) == ["one", "changed locally"]  # a loaded copy does not follow
        store.save("s1", first)  # ... until it is saved
        assert _texts(store.load("s1")) == ["one", "changed locally"]

    # -- metadata ------------------------------------------------------------------------

    def test_metadata_follows_writes(
        self, store: SessionStore, clock: FakeClock
    ) -> None:
        created = clock()
        store.save("s1", _every_field_conversation(), labels={"k": "v"})
        clock.advance(1.5)
        store.append("s1", _user("ünïcödé 😀"), Message("assistant", "ok"))
        clock.advance(1.5)
        store.pop("s1")
        clock.advance(1.5)
        store.get_metadata("s1")
        store.load("s1")  # reads are no writes
        meta = store.get_metadata("s1")
        loaded = store.load("s1")
        assert meta.created_at == created
        assert meta.updated_at == created + 3.0
        assert meta.message_count == len(loaded) == len(_every_field_conversation()) + 1
        assert meta.size_bytes == sum(message_size(m) for m in loaded)
        assert meta.version == 3
        assert dict(meta.labels) == {"k": "v"}
        assert meta.expires_at is None

    def test_timestamps_are_floats_whatever_the_clock_returns(self) -> None:
        # Issue 7, defect 13: SQLite returned ints from a clock of whole seconds.
        store = self.fresh_store(clock=lambda: 1_700_000_000)
        try:
            metas = [
                store.save("s1", Conversation([_user("a")]), ttl=10),
                store.append("s1", _user("b")),
                store.touch("s1"),
                store.get_metadata("s1"),
            ]
            for meta in metas:
                stamps = (meta.created_at, meta.updated_at, meta.expires_at)
                assert all(type(t) is float for t in stamps), stamps
            assert all(type(m.created_at) is float for m in store.load("s1"))
        finally:
            store.close()

    # -- pop -----------------------------------------------------------------------------

    def test_pop(self, store: SessionStore, clock: FakeClock) -> None:
        store.save("s1", Conversation().add_user("a").add_user("b"))
        clock.advance(3)
        popped = store.pop("s1")
        assert popped == _user("b")
        meta = store.get_metadata("s1")
        assert meta.message_count == 1 and meta.version == 2 and meta.updated_at == clock()
        assert meta.created_at == clock() - 3
        assert meta.size_bytes == message_size(_user("a"))
        assert _texts(store.load("s1")) == ["a"]
        store.append("s1", _user("c"))
        assert _texts(store.load("s1")) == ["a", "c"]

    def test_pop_keeps_every_field(self, store: SessionStore) -> None:
        conversation = _every_field_conversation()
        store.save("s1", conversation)
        for expected in reversed(conversation.messages):
            assert store.pop("s1") == expected
        assert store.pop("s1") is None
        meta = store.get_metadata("s1")
        assert meta.message_count == 0 and meta.size_bytes == 0
        assert meta.version == 1 + len(conversation)
        assert store.exists("s1")  # emptied, not deleted

    def test_pop_empty_changes_nothing(self, clock: FakeClock) -> None:
        with self.fresh_store(clock=clock, default_ttl=10) as store:
            saved = store.save("s1", Conversation())
            clock.advance(5)
            assert store.pop("s1") is None
            assert store.get_metadata("s1") == saved  # same version, times, expiry
            clock.advance(5)
            assert not store.exists("s1")  # the TTL did not restart

    def test_pop_missing_and_expired(self, clock: FakeClock) -> None:
        with self.fresh_store(clock=clock, default_ttl=10) as store:
            with pytest.raises(SessionNotFound) as missing:
                store.pop("missing")
            assert missing.value.session_id == "missing"
            assert not isinstance(missing.value, SessionExpired)
            assert not store.exists("missing")
            store.save("s1", Conversation().add_user("a"))
            clock.advance(10)
            with pytest.raises(SessionExpired) as expired:
                store.pop("s1")
            assert expired.value.session_id == "s1"

    def test_pop_restarts_the_sessions_own_ttl(self, clock: FakeClock) -> None:
        with self.fresh_store(clock=clock, default_ttl=10) as store:
            store.save("s1", Conversation().add_user("a").add_user("b"))
            store.save("s2", Conversation().add_user("a").add_user("b"), ttl=100)
            store.save("s3", Conversation().add_user("a").add_user("b"), ttl=None)
            clock.advance(8)
            store.pop("s1")
            store.pop("s2")
            store.pop("s3")
            assert (store.get_metadata("s1")).expires_at == clock() + 10
            assert (store.get_metadata("s2")).expires_at == clock() + 100
            assert (store.get_metadata("s3")).expires_at is None
