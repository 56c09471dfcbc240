# This file is generated from _async/contract/expiry.py by scripts/unasync.py: do not edit.
"""TTLs, sliding expiry, touch and purge."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ..._errors import SessionExpired, SessionNotFound
from ..._fakeclock import FakeClock
from ..._model import Conversation
from ..._serialization import message_size
from ..base import SessionStore
from ._support import ContractBase, _texts, _user


class ExpiryContract(ContractBase):
    """How sessions expire: default and per-call TTLs, sliding, touch, purge_expired."""

    def test_default_ttl_and_expiry(self, clock: FakeClock) -> None:
        with self.fresh_store(clock=clock, default_ttl=10) as store:
            meta = store.save("s1", Conversation().add_user("a"))
            assert meta.expires_at == clock() + 10
            clock.advance(9)
            store.append("s1", _user("b"))  # a write restarts the TTL
            clock.advance(9)
            assert len(store.load("s1")) == 2
            store.save("s1", Conversation().add_user("c"))  # so does a save
            clock.advance(9)
            assert store.exists("s1")
            clock.advance(1)  # expires_at itself is past the end
            assert not store.exists("s1")
            with pytest.raises(SessionExpired) as info:
                store.load("s1")
            assert info.value.session_id == "s1"
            assert isinstance(info.value, SessionNotFound)
            with pytest.raises(SessionExpired):
                store.load("s1", last=1)
            with pytest.raises(SessionExpired):
                store.get_metadata("s1")
            assert store.purge_expired() == 1
            with pytest.raises(SessionNotFound) as not_found:
                store.load("s1")
            assert not isinstance(not_found.value, SessionExpired)
            with pytest.raises(SessionNotFound) as not_found:
                store.get_metadata("s1")
            assert not isinstance(not_found.value, SessionExpired)

    def test_no_default_ttl_means_forever(
        self, store: SessionStore, clock: FakeClock
    ) -> None:
        meta = store.save("s1", Conversation())
        assert meta.expires_at is None
        assert (store.append("s2", _user("a"))).expires_at is None
        clock.advance(100 * 365 * 86400)
        assert store.list_sessions() == ["s1", "s2"]
        assert store.purge_expired() == 0

    def test_ttl_per_call(self, clock: FakeClock) -> None:
        with self.fresh_store(clock=clock, default_ttl=10) as store:
            assert (store.save("f", Conversation(), ttl=2.5)).expires_at == clock() + 2.5
            delta = timedelta(minutes=1)
            assert (store.save("d", Conversation(), ttl=delta)).expires_at == clock() + 60
            assert (store.save("n", Conversation(), ttl=None)).expires_at is None
            assert (store.append("a", _user("x"), ttl=7)).expires_at == clock() + 7
            assert (store.append("i", _user("x"), ttl=1)).expires_at == clock() + 1
            delta = timedelta(seconds=90)
            assert (store.append("t", _user("x"), ttl=delta)).expires_at == clock() + 90
            assert (store.append("u", _user("x"), ttl=None)).expires_at is None
            clock.advance(5)
            assert store.list_sessions() == ["a", "d", "n", "t", "u"]
            clock.advance(1000)
            assert store.list_sessions() == ["n", "u"]

    def test_default_keeps_the_sessions_own_ttl(self, clock: FakeClock) -> None:
        with self.fresh_store(clock=clock, default_ttl=10) as store:
            store.save("s1", Conversation(), ttl=100)
            clock.advance(50)
            assert (store.append("s1", _user("a"))).expires_at == clock() + 100
            assert (store.touch("s1")).expires_at == clock() + 100
            assert (store.save("s1", Conversation())).expires_at == clock() + 100
            store.append("s1", _user("a"), ttl=30)  # a given TTL becomes its own
            clock.advance(20)
            assert (store.append("s1", _user("b"))).expires_at == clock() + 30
            store.touch("s1", ttl=timedelta(seconds=40))
            assert (store.append("s1", _user("c"))).expires_at == clock() + 40
            store.save("s2", Conversation(), ttl=None)
            assert (store.append("s2", _user("a"))).expires_at is None
            assert (store.save("s2", Conversation())).expires_at is None
            assert (store.touch("s2")).expires_at is None
            store.save("s3", Conversation())
            store.touch("s3", ttl=None)
            assert (store.append("s3", _user("a"))).expires_at is None

    def test_new_session_takes_the_default_ttl(self, clock: FakeClock) -> None:
        with self.fresh_store(clock=clock, default_ttl=10) as store:
            store.save("deleted", Conversation(), ttl=100)
            store.delete("deleted")
            assert (store.append("deleted", _user("a"))).expires_at == clock() + 10
            store.save("expired", Conversation(), ttl=100)
            clock.advance(100)
            assert (store.append("expired", _user("a"))).expires_at == clock() + 10
            store.save("unlimited", Conversation(), ttl=None)
            assert store.delete("unlimited")
            assert (store.save("unlimited", Conversation())).expires_at == clock() + 10

    def test_touch(self, clock: FakeClock) -> None:
        with self.fresh_store(clock=clock, default_ttl=10) as store:
            saved = store.save("s1", Conversation().add_user("a"), labels={"k": "v"})
            clock.advance(8)
            touched = store.touch("s1")
            assert touched.expires_at == clock() + 10
            assert touched._replace(expires_at=None) == saved._replace(expires_at=None)
            assert store.get_metadata("s1") == touched
            clock.advance(8)
            assert store.exists("s1")
            longer = store.touch("s1", ttl=1000)
            assert longer.expires_at == clock() + 1000
            assert longer.updated_at == saved.updated_at and longer.version == saved.version
            assert (store.touch("s1", ttl=timedelta(seconds=5))).expires_at == clock() + 5
            assert (store.touch("s1", ttl=None)).expires_at is None
            clock.advance(10_000)
            assert _texts(store.load("s1")) == ["a"]
            with pytest.raises(SessionNotFound) as info:
                store.touch("missing")
            assert info.value.session_id == "missing"
            assert not store.exists("missing")

    def test_touch_expired(self, clock: FakeClock) -> None:
        with self.fresh_store(clock=clock, default_ttl=10) as store:
            store.save("s1", Conversation())
            clock.advance(10)
            with pytest.raises(SessionExpired) as info:
                store.touch("s1")
            assert info.value.session_id == "s1"
            with pytest.raises(SessionExpired):
                store.touch("s1", ttl=1000)  # a touch cannot revive it
            assert not store.exists("s1")

    def test_sliding(self, clock: FakeClock) -> None:
        with self.fresh_store(clock=clock, default_ttl=10, sliding=True) as store:
            store.save("s1", Conversation().add_user("a"))
            for _ in range(5):
                clock.advance(8)
                store.load("s1")
            assert store.exists("s1")
            assert (store.get_metadata("s1")).expires_at == clock() + 10
            clock.advance(8)
            store.get_metadata("s1")  # only load slides
            store.exists("s1")
            store.list_sessions()
            store.find_sessions()
            clock.advance(3)
            assert not store.exists("s1")
            with pytest.raises(SessionExpired):
                store.load("s1")  # loading an expired session does not revive it

    def test_sliding_keeps_version_and_own_ttl(self, clock: FakeClock) -> None:
        with self.fresh_store(clock=clock, default_ttl=10, sliding=True) as store:
            saved = store.save("s1", Conversation().add_user("a"), ttl=100)
            store.save("s2", Conversation().add_user("a"), ttl=None)
            clock.advance(90)
            store.load("s1", last=1)
            meta = store.get_metadata("s1")
            assert meta.expires_at == clock() + 100
            assert meta.version == saved.version and meta.updated_at == saved.updated_at
            store.load("s2")
            assert (store.get_metadata("s2")).expires_at is None

    def test_write_to_expired_starts_new(self, clock: FakeClock) -> None:
        with self.fresh_store(clock=clock, default_ttl=10) as store:
            store.save("s1", Conversation().add_user("old"), labels={"k": "v"})
            store.append("s1", _user("old 2"))
            store.save("s2", Conversation().add_user("old"), labels={"k": "v"})
            clock.advance(20)
            meta = store.append("s1", _user("new"))
            assert meta.version == 1 and meta.message_count == 1
            assert meta.created_at == meta.updated_at == clock()
            assert meta.size_bytes == message_size(_user("new"))
            assert dict(meta.labels) == {}
            assert _texts(store.load("s1")) == ["new"]
            meta = store.save("s2", Conversation().add_user("new"))
            assert meta.version == 1 and meta.created_at == clock()
            assert dict(meta.labels) == {}
            assert _texts(store.load("s2")) == ["new"]
            assert store.get_metadata("s2") == meta

    def test_purge_and_clear_counts(self, clock: FakeClock) -> None:
        with self.fresh_store(clock=clock) as store:
            assert store.purge_expired() == 0
            store.save("a", Conversation(), ttl=5)
            store.save("b", Conversation(), ttl=5)
            store.save("c", Conversation())
            store.save("d", Conversation())
            assert store.purge_expired() == 0
            clock.advance(6)
            assert store.purge_expired() == 2
            assert store.purge_expired() == 0
            assert store.list_sessions() == ["c", "d"]
            store.save("e", Conversation(), ttl=1)
            clock.advance(2)
            assert store.clear() == 2
            assert store.list_sessions() == []
            with pytest.raises(SessionNotFound) as info:
                store.load("e")  # expired sessions go too
            assert not isinstance(info.value, SessionExpired)
            assert store.clear() == 0
            assert (store.append("c", _user("after clear"))).version == 1
