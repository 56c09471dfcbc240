"""Race-free history rewrites: ``load_with_metadata`` and conditional ``pop``/``save``."""

from __future__ import annotations

from typing import Any

import pytest

from ..._errors import SessionExpired, SessionNotFound, VersionConflict
from ..._fakeclock import FakeClock
from ..._model import Conversation
from ..base import AsyncSessionStore
from ._support import ContractBase, _texts, _user


class RewriteContract(ContractBase):
    """A framework compacting or editing a history never loses a concurrent append."""

    async def test_load_with_metadata_is_one_moment(self, store: AsyncSessionStore) -> None:
        await store.save(
            "s1", Conversation([_user("a"), _user("b"), _user("c")]), labels={"k": "v"}
        )
        conversation, meta = await store.load_with_metadata("s1")
        assert _texts(conversation) == ["a", "b", "c"]
        assert meta == await store.get_metadata("s1")
        assert meta.message_count == 3 and meta.version == 1 and dict(meta.labels) == {"k": "v"}
        tail, tail_meta = await store.load_with_metadata("s1", last=2)
        assert _texts(tail) == ["b", "c"]
        assert tail_meta.message_count == 3  # the session's, not the tail's
        assert [m.id for m in conversation] == [m.id for m in await store.load("s1")]

    async def test_load_with_metadata_of_a_missing_or_expired_session(
        self, clock: FakeClock
    ) -> None:
        async with await self.fresh_store(clock=clock, default_ttl=10) as store:
            with pytest.raises(SessionNotFound):
                await store.load_with_metadata("missing")
            await store.append("s1", _user("a"))
            clock.advance(11)
            with pytest.raises(SessionExpired):
                await store.load_with_metadata("s1")
            with pytest.raises(ValueError, match="last"):
                await store.load_with_metadata("s1", last=-1)

    async def test_load_with_metadata_slides_like_load(self, clock: FakeClock) -> None:
        async with await self.fresh_store(clock=clock, default_ttl=10, sliding=True) as store:
            await store.append("s1", _user("a"))
            clock.advance(4)
            _, meta = await store.load_with_metadata("s1")
            assert meta.expires_at == clock() + 10
            assert (await store.get_metadata("s1")).expires_at == clock() + 10

    async def test_a_compaction_never_overwrites_a_concurrent_append(
        self, store: AsyncSessionStore
    ) -> None:
        await store.append("s1", _user("1"), _user("2"), _user("3"))
        history, meta = await store.load_with_metadata("s1")
        await store.append("s1", _user("arrived meanwhile"))  # another worker's turn
        summary = Conversation([_user("summary of 1-3")])
        with pytest.raises(VersionConflict) as info:
            await store.save("s1", summary, expected_version=meta.version)
        assert info.value.expected == meta.version and info.value.actual == meta.version + 1
        assert _texts(await store.load("s1"))[-1] == "arrived meanwhile"
        # Reloaded and retried, the rewrite keeps what arrived.
        history, meta = await store.load_with_metadata("s1")
        kept = Conversation([_user("summary of 1-3"), *list(history)[3:]])
        await store.save("s1", kept, expected_version=meta.version)
        assert _texts(await store.load("s1")) == ["summary of 1-3", "arrived meanwhile"]

    async def test_pop_with_expected_version(self, store: AsyncSessionStore) -> None:
        await store.append("s1", _user("a"), _user("b"))
        _, meta = await store.load_with_metadata("s1")
        await store.append("s1", _user("c"))
        with pytest.raises(VersionConflict):
            await store.pop("s1", expected_version=meta.version)
        after = await store.get_metadata("s1")
        assert after.message_count == 3 and after.version == meta.version + 1  # nothing removed
        popped = await store.pop("s1", expected_version=after.version)
        assert popped is not None and popped.content == "c"
        assert (await store.get_metadata("s1")).version == after.version + 1
        await store.save("s2", Conversation())
        with pytest.raises(VersionConflict):
            await store.pop("s2", expected_version=7)
        assert await store.pop("s2", expected_version=1) is None
        with pytest.raises(SessionNotFound):
            await store.pop("missing", expected_version=1)
        bad_versions: list[Any] = [-1, 2**63, True, "1"]
        for bad in bad_versions:
            with pytest.raises(ValueError, match="expected_version"):
                await store.pop("s1", expected_version=bad)
