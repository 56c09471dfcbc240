"""max_messages, max_message_bytes and max_session_bytes."""

from __future__ import annotations

import pytest

from ..._errors import CapacityExceeded
from ..._fakeclock import FakeClock
from ..._model import Conversation
from ..._serialization import message_size
from ._support import ContractBase, _texts, _user


class LimitsContract(ContractBase):
    """The size limits: refused writes raise CapacityExceeded and write nothing."""

    async def test_max_messages(self, clock: FakeClock) -> None:
        async with await self.fresh_store(clock=clock, max_messages=3) as store:
            saved = await store.save("s1", Conversation([_user("1"), _user("2")]))
            with pytest.raises(CapacityExceeded) as info:
                await store.append("s1", _user("3"), _user("4"))
            assert info.value.session_id == "s1"
            with pytest.raises(CapacityExceeded):
                await store.save("s1", Conversation([_user(str(i)) for i in range(4)]))
            assert await store.get_metadata("s1") == saved
            assert _texts(await store.load("s1")) == ["1", "2"]
            await store.append("s1", _user("3"))  # exactly at the limit is fine
            with pytest.raises(CapacityExceeded):
                await store.append("s1", _user("4"))
            await store.save("s2", Conversation([_user(str(i)) for i in range(3)]))
            with pytest.raises(CapacityExceeded):
                await store.append("new", *[_user(str(i)) for i in range(4)])
            assert not await store.exists("new")

    async def test_max_message_bytes(self, clock: FakeClock) -> None:
        limit = 100
        exact = _user("x" * (limit - message_size(_user(""))))
        assert message_size(exact) == limit
        async with await self.fresh_store(clock=clock, max_message_bytes=limit) as store:
            await store.append("s1", _user("short"))
            await store.append("s1", exact)  # exactly at the limit is fine
            with pytest.raises(CapacityExceeded) as info:
                await store.append("s1", _user("x" * 200))
            assert info.value.session_id == "s1"
            with pytest.raises(CapacityExceeded):
                await store.append("s1", _user("ok"), _user("x" * 200))
            with pytest.raises(CapacityExceeded):
                await store.save("s1", Conversation([_user("ok"), _user("é" * 60)]))  # bytes
            with pytest.raises(CapacityExceeded):
                await store.save("new", Conversation([_user("y" * 200)]))
            assert not await store.exists("new")
            assert _texts(await store.load("s1")) == ["short", exact.content]
            assert (await store.get_metadata("s1")).version == 2

    async def test_max_session_bytes(self, clock: FakeClock) -> None:
        async with await self.fresh_store(clock=clock, max_session_bytes=200) as store:
            first = await store.append("s1", _user("a" * 50))
            with pytest.raises(CapacityExceeded) as info:
                await store.append("s1", _user("b" * 100), _user("c" * 100))
            assert info.value.session_id == "s1"
            with pytest.raises(CapacityExceeded):
                await store.save("s1", Conversation([_user("d" * 150), _user("e" * 150)]))
            assert await store.get_metadata("s1") == first
            rest = 200 - first.size_bytes
            await store.append("s1", _user("f" * (rest - message_size(_user("")))))  # exactly
            assert (await store.get_metadata("s1")).size_bytes == 200
            with pytest.raises(CapacityExceeded):
                await store.append("s1", _user(""))
            await store.pop("s1")
            await store.append("s1", _user("g"))  # a pop frees its bytes
            with pytest.raises(CapacityExceeded):
                await store.save("new", Conversation([_user("h" * 300)]))
            assert not await store.exists("new")
