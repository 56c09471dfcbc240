"""Bad session ids and arguments, and closed stores."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest

from ..._errors import InvalidSessionId, SessionError, StoreClosed
from ..._fakeclock import FakeClock
from ..._model import Conversation, Message
from ..base import AsyncSessionStore
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

    async def test_invalid_session_ids(self, store: AsyncSessionStore) -> None:
        conversation = Conversation().add_user("a")
        for bad in BAD_SESSION_IDS:
            with pytest.raises(InvalidSessionId) as info:
                await store.save(bad, conversation)
            assert isinstance(info.value, ValueError)
            assert isinstance(info.value, SessionError)
            with pytest.raises(InvalidSessionId):
                await store.save(bad, conversation, expected_version=0, labels={"k": "v"})
            with pytest.raises(InvalidSessionId):
                await store.append(bad, _user("a"))
            with pytest.raises(InvalidSessionId):
                await store.load(bad)
            with pytest.raises(InvalidSessionId):
                await store.load(bad, last=1)
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
            with pytest.raises(InvalidSessionId):
                await store.touch(bad, ttl=10)
        assert await store.list_sessions() == []
        assert (await store.find_sessions()).items == []
        longest = "x" * 512
        await store.save(longest, conversation)  # the longest valid id
        await store.save("spaces and ünïcode ok 😀", conversation)
        assert await store.list_sessions() == ["spaces and ünïcode ok 😀", longest]
        assert _texts(await store.load(longest)) == ["a"]

    async def test_bad_ttls(self, store: AsyncSessionStore) -> None:
        saved = await store.save("kept", Conversation().add_user("a"))
        for bad in BAD_TTL_VALUES:
            with pytest.raises(ValueError):
                await store.save("s1", Conversation(), ttl=bad)
            with pytest.raises(ValueError):
                await store.append("s1", _user("a"), ttl=bad)
            with pytest.raises(ValueError):
                await store.save("kept", Conversation(), ttl=bad)
            with pytest.raises(ValueError):
                await store.append("kept", _user("b"), ttl=bad)
            with pytest.raises(ValueError):
                await store.touch("kept", ttl=bad)
        for wrong in BAD_TTL_TYPES:
            with pytest.raises(TypeError):
                await store.save("s1", Conversation(), ttl=wrong)
            with pytest.raises(TypeError):
                await store.append("s1", _user("a"), ttl=wrong)
            with pytest.raises(TypeError):
                await store.save("kept", Conversation(), ttl=wrong)
            with pytest.raises(TypeError):
                await store.touch("kept", ttl=wrong)
        assert not await store.exists("s1")
        assert await store.get_metadata("kept") == saved
        assert _texts(await store.load("kept")) == ["a"]

    async def test_bad_arguments_write_nothing(self, store: AsyncSessionStore) -> None:
        saved = await store.save("kept", Conversation().add_user("a"), labels={"k": "v"})
        bad_versions: list[Any] = [-1, "1", 1.0, True, False, [1]]
        for session_id in ["s1", "kept"]:
            for bad_version in bad_versions:
                with pytest.raises((TypeError, ValueError)):
                    await store.save(session_id, Conversation(), expected_version=bad_version)
                with pytest.raises((TypeError, ValueError)):
                    await store.append(session_id, _user("b"), expected_version=bad_version)
            with pytest.raises(TypeError):
                await store.save(session_id, [_user("b")])  # type: ignore[arg-type]
            with pytest.raises(TypeError):
                await store.save(session_id, None)  # type: ignore[arg-type]
            with pytest.raises(TypeError):
                await store.append(session_id, "hello")  # type: ignore[arg-type]
            with pytest.raises(TypeError):
                await store.append(session_id, _user("b"), {"role": "user"})  # type: ignore[arg-type]
            with pytest.raises(TypeError):
                await store.save(session_id, Conversation(), labels={"k": 1})  # type: ignore[dict-item]
            with pytest.raises(TypeError):
                await store.save(session_id, Conversation(), labels={1: "v"})  # type: ignore[dict-item]
            with pytest.raises(TypeError):
                await store.save(session_id, Conversation(), labels="k=v")  # type: ignore[arg-type]
            with pytest.raises(TypeError):
                await store.save(session_id, Conversation(), labels=[("k", "v")])  # type: ignore[arg-type]
            with pytest.raises(ValueError, match="surrogate"):  # refused before any store
                Message("user", "lone surrogate \ud800")
        assert not await store.exists("s1")
        assert await store.get_metadata("kept") == saved
        assert _texts(await store.load("kept")) == ["a"]

    async def test_bad_reading_arguments(self, store: AsyncSessionStore) -> None:
        await store.save("s1", Conversation().add_user("a"))
        bad_lasts: list[Any] = [-1, "1", 1.5, True, [1]]
        for bad_last in bad_lasts:
            with pytest.raises((TypeError, ValueError)):
                await store.load("s1", last=bad_last)
        bad_prefixes: list[Any] = [5, b"a", ["a"]]
        for bad_prefix in bad_prefixes:
            with pytest.raises(TypeError):
                await store.list_sessions(prefix=bad_prefix)
            with pytest.raises(TypeError):
                async for _ in store.iter_sessions(prefix=bad_prefix):
                    pass
        bad_limits: list[Any] = [0, -1, "3", True, 1.5]
        for bad_limit in bad_limits:
            with pytest.raises((TypeError, ValueError)):
                await store.list_sessions(limit=bad_limit)
            with pytest.raises((TypeError, ValueError)):
                await store.find_sessions(limit=bad_limit)
        with pytest.raises((TypeError, ValueError)):
            await store.find_sessions(limit=None)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            await store.find_sessions(labels="k=v")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            await store.find_sessions(labels={"k": 1})  # type: ignore[dict-item]
        bad_times: list[Any] = ["yesterday", True, [1.0]]
        for bad_time in bad_times:
            with pytest.raises(TypeError):
                await store.find_sessions(updated_after=bad_time)
            with pytest.raises(TypeError):
                await store.find_sessions(updated_before=bad_time)
        with pytest.raises(ValueError):
            await store.find_sessions(updated_after=float("nan"))
        assert (await store.get_metadata("s1")).version == 1

    async def test_bad_arguments_beat_a_missing_session(self, store: AsyncSessionStore) -> None:
        # Issue 7, defect 12: load("missing", last=-1) raised SessionNotFound.
        with pytest.raises(ValueError):
            await store.load("missing", last=-1)
        with pytest.raises(InvalidSessionId):
            await store.load("", last=1)

    async def test_numbers_no_backend_holds_are_refused_up_front(
        self, store: AsyncSessionStore
    ) -> None:
        # Issue 7, defects 7 and 8: BackendError, OverflowError, or accepted and then failing.
        await store.save("s1", Conversation([_user("kept")]))
        with pytest.raises(ValueError, match="expected_version"):
            await store.append("s1", _user("x"), expected_version=2**63)
        with pytest.raises(ValueError, match="ttl"):
            await store.append("s1", _user("x"), ttl=10**400)
        with pytest.raises(ValueError, match="updated_after"):
            await store.find_sessions(updated_after=10**400)
        crafted = ["[1e400," + '"x"]', "[[", "[1" + "0" * 400 + ',"x"]', "[" * 5000]
        for text in crafted:  # a web client's doctored cursor, base64 as ours are
            cursor = base64.urlsafe_b64encode(text.encode()).decode()
            with pytest.raises(ValueError, match="cursor"):
                await store.find_sessions(cursor=cursor)
        assert _texts(await store.load("s1")) == ["kept"]
        for option, value in (("max_messages", 2**31), ("max_session_bytes", 2**63)):
            with pytest.raises(ValueError, match=option):
                await self.make_store(clock=FakeClock(), **{option: value})

    # -- closing -------------------------------------------------------------------------

    async def test_closed_store_refuses_every_call(self, clock: FakeClock) -> None:
        store = await self.fresh_store(clock=clock)
        await store.save("s1", Conversation())
        await store.aclose()
        await store.aclose()  # harmless twice
        with pytest.raises(StoreClosed) as info:
            await store.save("s1", Conversation())
        assert isinstance(info.value, SessionError)
        with pytest.raises(StoreClosed):
            await store.append("s1", _user("a"))
        with pytest.raises(StoreClosed):
            await store.load("s1")
        with pytest.raises(StoreClosed):
            await store.load("s1", last=1)
        with pytest.raises(StoreClosed):
            await store.load("never-stored")
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
        await store.aclose()  # and a third time

    async def test_context_manager_closes(self, clock: FakeClock) -> None:
        store = await self.fresh_store(clock=clock)
        async with store as entered:
            assert entered is store
            await store.save("s1", Conversation())
        with pytest.raises(StoreClosed):
            await store.load("s1")
        await store.aclose()  # closing after the block is harmless

    async def test_context_manager_closes_on_error(self, clock: FakeClock) -> None:
        store = await self.fresh_store(clock=clock)
        with pytest.raises(KeyError):
            async with store:
                raise KeyError("boom")  # the caller's error, unchanged
        with pytest.raises(StoreClosed):
            await store.exists("s1")
