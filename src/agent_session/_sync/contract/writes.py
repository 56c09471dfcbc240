# This file is generated from _async/contract/writes.py by scripts/unasync.py: do not edit.
"""Save, append, versions, labels, exists and delete."""

from __future__ import annotations

import pytest

from ..._errors import SessionExpired, SessionNotFound, VersionConflict
from ..._fakeclock import FakeClock
from ..._metadata import SessionMetadata
from ..._model import Conversation, Message
from ..._serialization import message_size
from ..base import SessionStore
from ._support import ContractBase, _texts, _user, sample_conversation


class WritesContract(ContractBase):
    """What writes do: replace, append, count versions, keep labels, stamp ids and times."""

    # -- save ----------------------------------------------------------------------------

    def test_save_replaces(self, store: SessionStore) -> None:
        store.save("s1", Conversation().add_user("one").add_user("two"))
        meta = store.save("s1", Conversation().add_user("three"))
        assert _texts(store.load("s1")) == ["three"]
        assert meta.version == 2 and meta.message_count == 1
        assert meta.size_bytes == message_size(_user("three"))

    def test_empty_conversation(self, store: SessionStore) -> None:
        meta = store.save("s1", Conversation())
        assert meta.message_count == 0 and meta.size_bytes == 0
        assert len(store.load("s1")) == 0
        assert len(store.load("s1", last=3)) == 0
        assert store.exists("s1")

    def test_save_returns_metadata(self, store: SessionStore, clock: FakeClock) -> None:
        conversation = sample_conversation()
        meta = store.save("s1", conversation)
        assert isinstance(meta, SessionMetadata)
        assert meta.session_id == "s1"
        assert meta.version == 1
        assert meta.message_count == len(conversation)
        assert meta.size_bytes == sum(message_size(m) for m in conversation)
        assert meta.created_at == meta.updated_at == clock()
        assert isinstance(meta.created_at, float) and isinstance(meta.updated_at, float)
        assert meta.expires_at is None
        assert dict(meta.labels) == {}
        assert store.get_metadata("s1") == meta

    def test_save_stores_a_snapshot(self, store: SessionStore) -> None:
        conversation = Conversation().add_user("one")
        store.save("s1", conversation)
        store.save("s2", conversation)
        conversation.add_user("two")
        assert _texts(store.load("s1")) == ["one"]
        assert _texts(store.load("s2")) == ["one"]
        assert (store.get_metadata("s1")).message_count == 1

    def test_labels_are_a_snapshot(self, store: SessionStore) -> None:
        labels = {"user": "u1"}
        meta = store.save("s1", Conversation(), labels=labels)
        labels["user"] = "changed"
        labels["extra"] = "x"
        assert dict((store.get_metadata("s1")).labels) == {"user": "u1"}
        assert dict(meta.labels) == {"user": "u1"}
        with pytest.raises(TypeError):
            meta.labels["user"] = "u2"  # type: ignore[index]  # read-only, as promised
        assert isinstance(meta, SessionMetadata)
        with pytest.raises(AttributeError):
            meta.version = 7  # type: ignore[misc]  # frozen
        assert (store.get_metadata("s1")).version == 1

    def test_every_stored_message_gets_an_id_and_a_time(
        self, store: SessionStore, clock: FakeClock
    ) -> None:
        given = Message("user", "mine", id="my-id")
        before = Conversation([_user("a"), given])
        store.save("s", before)
        assert [m.id for m in before] == [None, "my-id"]  # the caller's objects stay as they were
        clock.advance(5)
        store.append("s", _user("b"))
        loaded = store.load("s")
        ids = [m.id for m in loaded]
        assert ids[1] == "my-id" and all(isinstance(i, str) and i for i in ids)
        assert len(set(ids)) == 3
        assert [m.created_at for m in loaded] == [clock() - 5, clock() - 5, clock()]
        assert str(ids[2]) > str(ids[0])  # generated ids sort by the time they were made
        # Saved again (say, after an edit), messages keep their ids and times.
        clock.advance(5)
        store.save("s", Conversation([*loaded, _user("c")]))
        again = store.load("s")
        assert [m.id for m in again][:3] == ids
        assert [m.created_at for m in again][:3] == [m.created_at for m in loaded]
        assert again[3].created_at == clock()
        popped = store.pop("s")
        assert popped is not None and popped.id == again[3].id

    def test_the_same_message_appended_twice_gets_two_ids(
        self, store: SessionStore
    ) -> None:
        message = _user("again")
        store.append("s", message, message)
        store.append("s", message)
        assert len({m.id for m in store.load("s")}) == 3

    # -- append --------------------------------------------------------------------------

    def test_append_creates_the_session(
        self, store: SessionStore, clock: FakeClock
    ) -> None:
        meta = store.append("s1", _user("hello"))
        assert meta.version == 1 and meta.message_count == 1
        assert meta.created_at == meta.updated_at == clock()
        assert meta.size_bytes == message_size(_user("hello"))
        assert dict(meta.labels) == {}
        assert _texts(store.load("s1")) == ["hello"]
        assert store.get_metadata("s1") == meta

    def test_append_adds_in_order(self, store: SessionStore, clock: FakeClock) -> None:
        store.save("s1", Conversation().add_system("sys"))
        clock.advance(5)
        meta = store.append("s1", _user("a"), Message("assistant", "b"), _user("c"))
        assert _texts(store.load("s1")) == ["sys", "a", "b", "c"]
        assert meta.version == 2 and meta.message_count == 4  # one write, one version
        assert meta.updated_at == clock() and meta.created_at == clock() - 5
        loaded = store.load("s1")
        assert meta.size_bytes == sum(message_size(m) for m in loaded)
        meta = store.append("s1", _user("d"))
        assert meta.version == 3 and _texts(store.load("s1", last=2)) == ["c", "d"]

    def test_append_keeps_labels(self, store: SessionStore) -> None:
        store.save("s1", Conversation(), labels={"user": "u1"})
        meta = store.append("s1", _user("a"))
        assert dict(meta.labels) == {"user": "u1"}
        assert dict((store.get_metadata("s1")).labels) == {"user": "u1"}

    # -- versions ------------------------------------------------------------------------

    def test_versions_count_writes(self, store: SessionStore) -> None:
        assert (store.save("s1", Conversation().add_user("a"))).version == 1
        assert (store.append("s1", _user("b"))).version == 2
        store.pop("s1")
        assert (store.get_metadata("s1")).version == 3
        assert (store.touch("s1", ttl=100)).version == 3
        assert (store.touch("s1")).version == 3
        assert (store.get_metadata("s1")).version == 3
        assert (store.save("s1", Conversation())).version == 4
        assert store.pop("s1") is None  # an empty pop writes nothing
        assert (store.get_metadata("s1")).version == 4

    def test_expected_version_on_save(
        self, store: SessionStore, clock: FakeClock
    ) -> None:
        first = store.save("s1", Conversation().add_user("a"), expected_version=0)
        clock.advance(1)
        with pytest.raises(VersionConflict) as info:
            store.save("s1", Conversation().add_user("b"), expected_version=0)
        assert (info.value.expected, info.value.actual) == (0, 1)
        assert info.value.session_id == "s1"
        with pytest.raises(VersionConflict) as info:
            store.save("s1", Conversation().add_user("b"), expected_version=2, labels={})
        assert (info.value.expected, info.value.actual) == (2, 1)
        assert _texts(store.load("s1")) == ["a"]
        assert store.get_metadata("s1") == first  # nothing written, not even a time
        meta = store.save("s1", Conversation().add_user("c"), expected_version=1)
        assert meta.version == 2 and meta.updated_at == clock()

    def test_expected_version_on_append(self, store: SessionStore) -> None:
        with pytest.raises(VersionConflict) as info:
            store.append("new", _user("a"), expected_version=3)
        assert (info.value.expected, info.value.actual) == (3, 0)
        assert info.value.session_id == "new"
        assert not store.exists("new")
        store.append("new", _user("a"), expected_version=0)
        with pytest.raises(VersionConflict):
            store.append("new", _user("b"), expected_version=0)
        with pytest.raises(VersionConflict) as info:
            store.append("new", _user("b"), expected_version=2)
        assert (info.value.expected, info.value.actual) == (2, 1)
        meta = store.append("new", _user("b"), expected_version=1)
        assert meta.version == 2
        assert _texts(store.load("new")) == ["a", "b"]

    def test_expired_session_is_version_zero(self, clock: FakeClock) -> None:
        with self.fresh_store(clock=clock, default_ttl=10) as store:
            store.save("s1", Conversation().add_user("old"))
            store.save("s2", Conversation().add_user("old"))
            clock.advance(11)
            with pytest.raises(VersionConflict) as info:
                store.save("s1", Conversation().add_user("new"), expected_version=1)
            assert (info.value.expected, info.value.actual) == (1, 0)
            with pytest.raises(VersionConflict) as info:
                store.append("s2", _user("new"), expected_version=1)
            assert (info.value.expected, info.value.actual) == (1, 0)
            assert not store.exists("s1") and not store.exists("s2")
            meta = store.save("s1", Conversation().add_user("new"), expected_version=0)
            assert meta.version == 1 and _texts(store.load("s1")) == ["new"]
            meta = store.append("s2", _user("new"), expected_version=0)
            assert meta.version == 1 and _texts(store.load("s2")) == ["new"]

    # -- labels, exists, delete ----------------------------------------------------------

    def test_labels(self, store: SessionStore) -> None:
        meta = store.save("s1", Conversation(), labels={"user": "u1", "app": "a"})
        assert dict(meta.labels) == {"user": "u1", "app": "a"}
        meta = store.save("s1", Conversation().add_user("x"))
        assert dict(meta.labels) == {"user": "u1", "app": "a"}
        meta = store.save("s1", Conversation(), labels={"user": "u2"})
        assert dict(meta.labels) == {"user": "u2"}
        assert dict((store.get_metadata("s1")).labels) == {"user": "u2"}
        meta = store.save("s1", Conversation(), labels={})
        assert dict(meta.labels) == {}
        odd = {"ключ": "значение 😀", "": "", "a=b": "c:d", "sp ace": '"q"'}
        assert dict((store.save("s2", Conversation(), labels=odd)).labels) == odd
        assert dict((store.get_metadata("s2")).labels) == odd

    def test_exists_and_delete(self, store: SessionStore) -> None:
        assert not store.exists("s1")
        assert store.delete("s1") is False
        store.save("s1", Conversation(), labels={"k": "v"})
        store.save("s2", Conversation())
        assert store.exists("s1")
        assert store.delete("s1") is True
        assert store.delete("s1") is False
        assert not store.exists("s1")
        with pytest.raises(SessionNotFound):
            store.load("s1")
        assert store.list_sessions() == ["s2"]
        meta = store.append("s1", _user("again"))
        assert meta.version == 1 and dict(meta.labels) == {}
        assert _texts(store.load("s1")) == ["again"]

    def test_delete_expired_returns_false(self, clock: FakeClock) -> None:
        with self.fresh_store(clock=clock, default_ttl=10) as store:
            store.save("s1", Conversation())
            clock.advance(10)
            with pytest.raises(SessionExpired):
                store.load("s1")
            assert store.delete("s1") is False
            with pytest.raises(SessionNotFound) as info:
                store.load("s1")
            assert not isinstance(info.value, SessionExpired)
            clock.set(clock() - 100)  # even seen from before the expiry, it is gone
            assert not store.exists("s1")
