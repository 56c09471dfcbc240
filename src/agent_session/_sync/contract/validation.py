# This file is generated from _async/contract/validation.py by scripts/unasync.py: do not edit.
"""Bad session ids and arguments, and closed stores."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest

from ..._errors import InvalidSessionId, SessionError, StoreClosed
from ..._fakeclock import FakeClock
from ..._model import Conversation, Message
from ..base import SessionStore
from ._support import ContractBase, _texts, _user

#: Not session ids: empty, too long, control characters, a lone surrogate, not a str.
BAD_SESSION_IDS: list[Any] = [
    "",
    "x" * 513,
    "a\x00b",
    "line\nbreak",
    "tab\there",
    "\x7f",
    "\ud800",
    5,
    None,
    b"x",
    ("a",),
    ["a"],
]


#: TTLs of the right type but a wrong value (ValueError) and of a wrong type (TypeError).
BAD_TTL_VALUES: list[Any] = [
    -1,
    0,
    -0.5,
    float("nan"),
    float("inf"),
    float("-inf"),
    timedelta(0),
    timedelta(seconds=-5),
]


BAD_TTL_TYPES: list[Any] = ["10", True, False, [1], b"1"]


class ValidationContract(ContractBase):
    """What is refused up front: bad ids, TTLs and arguments, and every call on a closed store."""

    # -- bad input -----------------------------------------------------------------------

    def test_invalid_session_ids(self, store: SessionStore) -> None:
        conversation = Conversation().add_user("a")
        for bad in BAD_SESSION_IDS:
            with pytest.raises(InvalidSessionId) as info:
                store.save(bad, conversation)
            assert isinstance(info.value, ValueError)
            assert isinstance(info.value, SessionError)
            with pytest.raises(InvalidSessionId):
                store.save(bad, conversation, expected_version=0, labels={"k": "v"})
            with pytest.raises(InvalidSessionId):
                store.append(bad, _user("a"))
            with pytest.raises(InvalidSessionId):
                store.load(bad)
            with pytest.raises(InvalidSessionId):
                store.load(bad, last=1)
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
            with pytest.raises(InvalidSessionId):
                store.touch(bad, ttl=10)
        assert store.list_sessions() == []
        assert (store.find_sessions()).items == []
        longest = "x" * 512
        store.save(longest, conversation)  # the longest valid id
        store.save("spaces and ünïcode ok 😀", conversation)
        assert store.list_sessions() == ["spaces and ünïcode ok 😀", longest]
        assert _texts(store.load(longest)) == ["a"]

    def test_bad_ttls(self, store: SessionStore) -> None:
        saved = store.save("kept", Conversation().add_user("a"))
        for bad in BAD_TTL_VALUES:
            with pytest.raises(ValueError):
                store.save("s1", Conversation(), ttl=bad)
            with pytest.raises(ValueError):
                store.append("s1", _user("a"), ttl=bad)
            with pytest.raises(ValueError):
                store.save("kept", Conversation(), ttl=bad)
            with pytest.raises(ValueError):
                store.append("kept", _user("b"), ttl=bad)
            with pytest.raises(ValueError):
                store.touch("kept", ttl=bad)
        for wrong in BAD_TTL_TYPES:
            with pytest.raises(TypeError):
                store.save("s1", Conversation(), ttl=wrong)
            with pytest.raises(TypeError):
                store.append("s1", _user("a"), ttl=wrong)
            with pytest.raises(TypeError):
                store.save("kept", Conversation(), ttl=wrong)
            with pytest.raises(TypeError):
                store.touch("kept", ttl=wrong)
        assert not store.exists("s1")
        assert store.get_metadata("kept") == saved
        assert _texts(store.load("kept")) == ["a"]

    def test_bad_arguments_write_nothing(self, store: SessionStore) -> None:
        saved = store.save("kept", Conversation().add_user("a"), labels={"k": "v"})
        bad_versions: list[Any] = [-1, "1", 1.0, True, False, [1]]
        for session_id in ["s1", "kept"]:
            for bad_version in bad_versions:
                with pytest.raises((TypeError, ValueError)):
                    store.save(session_id, Conversation(), expected_version=bad_version)
                with pytest.raises((TypeError, ValueError)):
                    store.append(session_id, _user("b"), expected_version=bad_version)
            with pytest.raises(TypeError):
                store.save(session_id, [_user("b")])  # type: ignore[arg-type]
            with pytest.raises(TypeError):
                store.save(session_id, None)  # type: ignore[arg-type]
            with pytest.raises(TypeError):
                store.append(session_id, "hello")  # type: ignore[arg-type]
            with pytest.raises(TypeError):
                store.append(session_id, _user("b"), {"role": "user"})  # type: ignore[arg-type]
            with pytest.raises(TypeError):
                store.save(session_id, Conversation(), labels={"k": 1})  # type: ignore[dict-item]
            with pytest.raises(TypeError):
                store.save(session_id, Conversation(), labels={1: "v"})  # type: ignore[dict-item]
            with pytest.raises(TypeError):
                store.save(session_id, Conversation(), labels="k=v")  # type: ignore[arg-type]
            with pytest.raises(TypeError):
                store.save(session_id, Conversation(), labels=[("k", "v")])  # type: ignore[arg-type]
            with pytest.raises(ValueError, match="surrogate"):  # refused before any store
                Message("user", "lone surrogate \ud800")
        assert not store.exists("s1")
        assert store.get_metadata("kept") == saved
        assert _texts(store.load("kept")) == ["a"]

    def test_bad_reading_arguments(self, store: SessionStore) -> None:
        store.save("s1", Conversation().add_user("a"))
        bad_lasts: list[Any] = [-1, "1", 1.5, True, [1]]
        for bad_last in bad_lasts:
            with pytest.raises((TypeError, ValueError)):
                store.load("s1", last=bad_last)
        bad_prefixes: list[Any] = [5, b"a", ["a"]]
        for bad_prefix in bad_prefixes:
            with pytest.raises(TypeError):
                store.list_sessions(prefix=bad_prefix)
            with pytest.raises(TypeError):
                for _ in store.iter_sessions(prefix=bad_prefix):
                    pass
        bad_limits: list[Any] = [0, -1, "3", True, 1.5]
        for bad_limit in bad_limits:
            with pytest.raises((TypeError, ValueError)):
                store.list_sessions(limit=bad_limit)
            with pytest.raises((TypeError, ValueError)):
                store.find_sessions(limit=bad_limit)
        with pytest.raises((TypeError, ValueError)):
            store.find_sessions(limit=None)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            store.find_sessions(labels="k=v")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            store.find_sessions(labels={"k": 1})  # type: ignore[dict-item]
        bad_times: list[Any] = ["yesterday", True, [1.0]]
        for bad_time in bad_times:
            with pytest.raises(TypeError):
                store.find_sessions(updated_after=bad_time)
            with pytest.raises(TypeError):
                store.find_sessions(updated_before=bad_time)
        with pytest.raises(ValueError):
            store.find_sessions(updated_after=float("nan"))
        assert (store.get_metadata("s1")).version == 1

    def test_bad_arguments_beat_a_missing_session(self, store: SessionStore) -> None:
        # Issue 7, defect 12: load("missing", last=-1) raised SessionNotFound.
        with pytest.raises(ValueError):
            store.load("missing", last=-1)
        with pytest.raises(InvalidSessionId):
            store.load("", last=1)

    def test_numbers_no_backend_holds_are_refused_up_front(
        self, store: SessionStore
    ) -> None:
        # Issue 7, defects 7 and 8: BackendError, OverflowError, or accepted and then failing.
        store.save("s1", Conversation([_user("kept")]))
        with pytest.raises(ValueError, match="expected_version"):
            store.append("s1", _user("x"), expected_version=2**63)
        with pytest.raises(ValueError, match="ttl"):
            store.append("s1", _user("x"), ttl=10**400)
        with pytest.raises(ValueError, match="updated_after"):
            store.find_sessions(updated_after=10**400)
        crafted = ["[1e400," + '"x"]', "[[", "[1" + "0" * 400 + ',"x"]', "[" * 5000]
        for text in crafted:  # a web client's doctored cursor, base64 as ours are
            cursor = base64.urlsafe_b64encode(text.encode()).decode()
            with pytest.raises(ValueError, match="cursor"):
                store.find_sessions(cursor=cursor)
        assert _texts(store.load("s1")) == ["kept"]
        for option, value in (("max_messages", 2**31), ("max_session_bytes", 2**63)):
            with pytest.raises(ValueError, match=option):
                self.make_store(clock=FakeClock(), **{option: value})

    # -- closing -------------------------------------------------------------------------

    def test_closed_store_refuses_every_call(self, clock: FakeClock) -> None:
        store = self.fresh_store(clock=clock)
        store.save("s1", Conversation())
        store.close()
        store.close()  # harmless twice
        with pytest.raises(StoreClosed) as info:
            store.save("s1", Conversation())
        assert isinstance(info.value, SessionError)
        with pytest.raises(StoreClosed):
            store.append("s1", _user("a"))
        with pytest.raises(StoreClosed):
            store.load("s1")
        with pytest.raises(StoreClosed):
            store.load("s1", last=1)
        with pytest.raises(StoreClosed):
            store.load("never-stored")
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
        store.close()  # and a third time

    def test_context_manager_closes(self, clock: FakeClock) -> None:
        store = self.fresh_store(clock=clock)
        with store as entered:
            assert entered is store
            store.save("s1", Conversation())
        with pytest.raises(StoreClosed):
            store.load("s1")
        store.close()  # closing after the block is harmless

    def test_context_manager_closes_on_error(self, clock: FakeClock) -> None:
        store = self.fresh_store(clock=clock)
        with pytest.raises(KeyError):
            with store:
                raise KeyError("boom")  # the caller's error, unchanged
        with pytest.raises(StoreClosed):
            store.exists("s1")
