"""Save, append, versions, labels, exists and delete."""

from __future__ import annotations

import pytest

from ..._errors import SessionExpired, SessionNotFound, VersionConflict
from ..._fakeclock import FakeClock
from ..._metadata import SessionMetadata
from ..._model import Conversation, Message
from ..._serialization import message_size
from ..base import AsyncSessionStore
from ._support import ContractBase, _texts, _user, sample_conversation


class WritesContract(ContractBase):
    """What writes do: replace, append, count versions, keep labels, stamp ids and times."""

    # -- save ----------------------------------------------------------------------------

    async def test_save_replaces(self, store: AsyncSessionStore) -> None:
        await store.save("s1", Conversation().add_user("one").add_user("two"))
        meta = await store.save("s1", Conversation().add_user("three"))
        assert _texts(await store.load("s1")) == ["three"]
        assert meta.version == 2 and meta.message_count == 1
        assert meta.size_bytes == message_size(_user("three"))

    async def test_empty_conversation(self, store: AsyncSessionStore) -> None:
        meta = await store.save("s1", Conversation())
        assert meta.message_count == 0 and meta.size_bytes == 0
        assert len(await store.load("s1")) == 0
        assert len(await store.load("s1", last=3)) == 0
        assert await store.exists("s1")

    async def test_save_returns_metadata(self, store: AsyncSessionStore, clock: FakeClock) -> None:
        conversation = sample_conversation()
        meta = await store.save("s1", conversation)
        assert isinstance(meta, SessionMetadata)
        assert meta.session_id == "s1"
        assert meta.version == 1
        assert meta.message_count == len(conversation)
        assert meta.size_bytes == sum(message_size(m) for m in conversation)
        assert meta.created_at == meta.updated_at == clock()
        assert isinstance(meta.created_at, float) and isinstance(meta.updated_at, float)
        assert meta.expires_at is None
        assert dict(meta.labels) == {}
        assert await store.get_metadata("s1") == meta

    async def test_save_stores_a_snapshot(self, store: AsyncSessionStore) -> None:
        conversation = Conversation().add_user("one")
        await store.save("s1", conversation)
        await store.save("s2", conversation)
        conversation.add_user("two")
        assert _texts(await store.load("s1")) == ["one"]
        assert _texts(await store.load("s2")) == ["one"]
        assert (await store.get_metadata("s1")).message_count == 1

    async def test_labels_are_a_snapshot(self, store: AsyncSessionStore) -> None:
        labels = {"user": "u1"}
        meta = await store.save("s1", Conversation(), labels=labels)
        labels["user"] = "changed"
        labels["extra"] = "x"
        assert dict((await store.get_metadata("s1")).labels) == {"user": "u1"}
        assert dict(meta.labels) == {"user": "u1"}
        with pytest.raises(TypeError):
            meta.labels["user"] = "u2"  # type: ignore[index]  # read-only, as promised
        assert isinstance(meta, SessionMetadata)
        with pytest.raises(AttributeError):
            meta.version = 7  # type: ignore[misc]  # frozen
        assert (await store.get_metadata("s1")).version == 1

    async def test_every_stored_message_gets_an_id_and_a_time(
        self, store: AsyncSessionStore, clock: FakeClock
    ) -> None:
        given = Message("user", "mine", id="my-id")
        before = Conversation([_user("a"), given])
        await store.save("s", before)
        assert [m.id for m in before] == [None, "my-id"]  # the caller's objects stay as they were
        clock.advance(5)
        await store.append("s", _user("b"))
        loaded = await store.load("s")
        ids = [m.id for m in loaded]
        assert ids[1] == "my-id" and all(isinstance(i, str) and i for i in ids)
        assert len(set(ids)) == 3
        assert [m.created_at for m in loaded] == [clock() - 5, clock() - 5, clock()]
        assert str(ids[2]) > str(ids[0])  # generated ids sort by the time they were made
        # Saved again (say, after an edit), messages keep their ids and times.
        clock.advance(5)
        await store.save("s", Conversation([*loaded, _user("c")]))
        again = await store.load("s")
        assert [m.id for m in again][:3] == ids
        assert [m.created_at for m in again][:3] == [m.created_at for m in loaded]
        assert again[3].created_at == clock()
        popped = await store.pop("s")
        assert popped is not None and popped.id == again[3].id

    async def test_the_same_message_appended_twice_gets_two_ids(
        self, store: AsyncSessionStore
    ) -> None:
        message = _user("again")
        await store.append("s", message, message)
        await store.append("s", message)
        assert len({m.id for m in await store.load("s")}) == 3

    # -- append --------------------------------------------------------------------------

    async def test_append_creates_the_session(
        self, store: AsyncSessionStore, clock: FakeClock
    ) -> None:
        meta = await store.append("s1", _user("hello"))
        assert meta.version == 1 and meta.message_count == 1
        assert meta.created_at == meta.updated_at == clock()
        assert meta.size_bytes == message_size(_user("hello"))
        assert dict(meta.labels) == {}
        assert _texts(await store.load("s1")) == ["hello"]
        assert await store.get_metadata("s1") == meta

    async def test_append_adds_in_order(self, store: AsyncSessionStore, clock: FakeClock) -> None:
        await store.save("s1", Conversation().add_system("sys"))
        clock.advance(5)
        meta = await store.append("s1", _user("a"), Message("assistant", "b"), _user("c"))
        assert _texts(await store.load("s1")) == ["sys", "a", "b", "c"]
        assert meta.version == 2 and meta.message_count == 4  # one write, one version
        assert meta.updated_at == clock() and meta.created_at == clock() - 5
        loaded = await store.load("s1")
        assert meta.size_bytes == sum(message_size(m) for m in loaded)
        meta = await store.append("s1", _user("d"))
        assert meta.version == 3 and _texts(await store.load("s1", last=2)) == ["c", "d"]

    async def test_append_keeps_labels(self, store: AsyncSessionStore) -> None:
        await store.save("s1", Conversation(), labels={"user": "u1"})
        meta = await store.append("s1", _user("a"))
        assert dict(meta.labels) == {"user": "u1"}
        assert dict((await store.get_metadata("s1")).labels) == {"user": "u1"}

    # -- versions ------------------------------------------------------------------------

    async def test_versions_count_writes(self, store: AsyncSessionStore) -> None:
        assert (await store.save("s1", Conversation().add_user("a"))).version == 1
        assert (await store.append("s1", _user("b"))).version == 2
        await store.pop("s1")
        assert (await store.get_metadata("s1")).version == 3
        assert (await store.touch("s1", ttl=100)).version == 3
        assert (await store.touch("s1")).version == 3
        assert (await store.get_metadata("s1")).version == 3
        assert (await store.save("s1", Conversation())).version == 4
        assert await store.pop("s1") is None  # an empty pop writes nothing
        assert (await store.get_metadata("s1")).version == 4

    async def test_expected_version_on_save(
        self, store: AsyncSessionStore, clock: FakeClock
    ) -> None:
        first = await store.save("s1", Conversation().add_user("a"), expected_version=0)
        clock.advance(1)
        with pytest.raises(VersionConflict) as info:
            await store.save("s1", Conversation().add_user("b"), expected_version=0)
        assert (info.value.expected, info.value.actual) == (0, 1)
        assert info.value.session_id == "s1"
        with pytest.raises(VersionConflict) as info:
            await store.save("s1", Conversation().add_user("b"), expected_version=2, labels={})
        assert (info.value.expected, info.value.actual) == (2, 1)
        assert _texts(await store.load("s1")) == ["a"]
        assert await store.get_metadata("s1") == first  # nothing written, not even a time
        meta = await store.save("s1", Conversation().add_user("c"), expected_version=1)
        assert meta.version == 2 and meta.updated_at == clock()

    async def test_expected_version_on_append(self, store: AsyncSessionStore) -> None:
        with pytest.raises(VersionConflict) as info:
            await store.append("new", _user("a"), expected_version=3)
        assert (info.value.expected, info.value.actual) == (3, 0)
        assert info.value.session_id == "new"
        assert not await store.exists("new")
        await store.append("new", _user("a"), expected_version=0)
        with pytest.raises(VersionConflict):
            await store.append("new", _user("b"), expected_version=0)
        with pytest.raises(VersionConflict) as info:
            await store.append("new", _user("b"), expected_version=2)
        assert (info.value.expected, info.value.actual) == (2, 1)
        meta = await store.append("new", _user("b"), expected_version=1)
        assert meta.version == 2
        assert _texts(await store.load("new")) == ["a", "b"]

    async def test_expired_session_is_version_zero(self, clock: FakeClock) -> None:
        async with await self.fresh_store(clock=clock, default_ttl=10) as store:
            await store.save("s1", Conversation().add_user("old"))
            await store.save("s2", Conversation().add_user("old"))
            clock.advance(11)
            with pytest.raises(VersionConflict) as info:
                await store.save("s1", Conversation().add_user("new"), expected_version=1)
            assert (info.value.expected, info.value.actual) == (1, 0)
            with pytest.raises(VersionConflict) as info:
                await store.append("s2", _user("new"), expected_version=1)
            assert (info.value.expected, info.value.actual) == (1, 0)
            assert not await store.exists("s1") and not await store.exists("s2")
            meta = await store.save("s1", Conversation().add_user("new"), expected_version=0)
            assert meta.version == 1 and _texts(await store.load("s1")) == ["new"]
            meta = await store.append("s2", _user("new"), expected_version=0)
            assert meta.version == 1 and _texts(await store.load("s2")) == ["new"]

    # -- labels, exists, delete ----------------------------------------------------------

    async def test_labels(self, store: AsyncSessionStore) -> None:
        meta = await store.save("s1", Conversation(), labels={"user": "u1", "app": "a"})
        assert dict(meta.labels) == {"user": "u1", "app": "a"}
        meta = await store.save("s1", Conversation().add_user("x"))
        assert dict(meta.labels) == {"user": "u1", "app": "a"}
        meta = await store.save("s1", Conversation(), labels={"user": "u2"})
        assert dict(meta.labels) == {"user": "u2"}
        assert dict((await store.get_metadata("s1")).labels) == {"user": "u2"}
        meta = await store.save("s1", Conversation(), labels={})
        assert dict(meta.labels) == {}
        odd = {"ключ": "значение 😀", "": "", "a=b": "c:d", "sp ace": '"q"'}
        assert dict((await store.save("s2", Conversation(), labels=odd)).labels) == odd
        assert dict((await store.get_metadata("s2")).labels) == odd

    async def test_exists_and_delete(self, store: AsyncSessionStore) -> None:
        assert not await store.exists("s1")
        assert await store.delete("s1") is False
        await store.save("s1", Conversation(), labels={"k": "v"})
        await store.save("s2", Conversation())
        assert await store.exists("s1")
        assert await store.delete("s1") is True
        assert await store.delete("s1") is False
        assert not await store.exists("s1")
        with pytest.raises(SessionNotFound):
            await store.load("s1")
        assert await store.list_sessions() == ["s2"]
        meta = await store.append("s1", _user("again"))
        assert meta.version == 1 and dict(meta.labels) == {}
        assert _texts(await store.load("s1")) == ["again"]

    async def test_delete_expired_returns_false(self, clock: FakeClock) -> None:
        async with await self.fresh_store(clock=clock, default_ttl=10) as store:
            await store.save("s1", Conversation())
            clock.advance(10)
            with pytest.raises(SessionExpired):
                await store.load("s1")
            assert await store.delete("s1") is False
            with pytest.raises(SessionNotFound) as info:
                await store.load("s1")
            assert not isinstance(info.value, SessionExpired)
            clock.set(clock() - 100)  # even seen from before the expiry, it is gone
            assert not await store.exists("s1")
