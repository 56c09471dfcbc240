# This file is generated from _async/contract/limits.py by scripts/unasync.py: do not edit.
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

    def test_max_messages(self, clock: FakeClock) -> None:
        with self.fresh_store(clock=clock, max_messages=3) as store:
            saved = store.save("s1", Conversation([_user("1"), _user("2")]))
            with pytest.raises(CapacityExceeded) as info:
                store.append("s1", _user("3"), _user("4"))
            assert info.value.session_id == "s1"
            with pytest.raises(CapacityExceeded):
                store.save("s1", Conversation([_user(str(i)) for i in range(4)]))
            assert store.get_metadata("s1") == saved
            assert _texts(store.load("s1")) == ["1", "2"]
            store.append("s1", _user("3"))  # exactly at the limit is fine
            with pytest.raises(CapacityExceeded):
                store.append("s1", _user("4"))
            store.save("s2", Conversation([_user(str(i)) for i in range(3)]))
            with pytest.raises(CapacityExceeded):
                store.append("new", *[_user(str(i)) for i in range(4)])
            assert not store.exists("new")

    def test_max_message_bytes(self, clock: FakeClock) -> None:
        limit = 100
        exact = _user("x" * (limit - message_size(_user(""))))
        assert message_size(exact) == limit
        with self.fresh_store(clock=clock, max_message_bytes=limit) as store:
            store.append("s1", _user("short"))
            store.append("s1", exact)  # exactly at the limit is fine
            with pytest.raises(CapacityExceeded) as info:
                store.append("s1", _user("x" * 200))
            assert info.value.session_id == "s1"
            with pytest.raises(CapacityExceeded):
                store.append("s1", _user("ok"), _user("x" * 200))
            with pytest.raises(CapacityExceeded):
                store.save("s1", Conversation([_user("ok"), _user("é" * 60)]))  # bytes
            with pytest.raises(CapacityExceeded):
                store.save("new", Conversation([_user("y" * 200)]))
            assert not store.exists("new")
            assert _texts(store.load("s1")) == ["short", exact.content]
            assert (store.get_metadata("s1")).version == 2

    def test_max_session_bytes(self, clock: FakeClock) -> None:
        with self.fresh_store(clock=clock, max_session_bytes=200) as store:
            first = store.append("s1", _user("a" * 50))
            with pytest.raises(CapacityExceeded) as info:
                store.append("s1", _user("b" * 100), _user("c" * 100))
            assert info.value.session_id == "s1"
            with pytest.raises(CapacityExceeded):
                store.save("s1", Conversation([_user("d" * 150), _user("e" * 150)]))
            assert store.get_metadata("s1") == first
            rest = 200 - first.size_bytes
            store.append("s1", _user("f" * (rest - message_size(_user("")))))  # exactly
            assert (store.get_metadata("s1")).size_bytes == 200
            with pytest.raises(CapacityExceeded):
                store.append("s1", _user(""))
            store.pop("s1")
            store.append("s1", _user("g"))  # a pop frees its bytes
            with pytest.raises(CapacityExceeded):
                store.save("new", Conversation([_user("h" * 300)]))
            assert not store.exists("new")
