"""The store contract, as a pytest test class any store can inherit.

Subclass it in a test module and say how to build your store::

    class TestMyStore(AsyncStoreContract):
        async def make_store(self, **options):
            return MyStore(**options)

``options`` always holds ``clock`` (a :class:`FakeClock`); some tests add
``default_ttl``, ``sliding``, ``max_messages``, ``max_message_bytes`` or
``max_session_bytes``. Every store is cleared before a test uses it, so stores
that share a database between tests start empty. No test waits for time to pass: it moves
only when a test advances the clock.
"""

from __future__ import annotations

import base64
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import pytest

from .._concurrency import AsyncNursery, asleep
from .._errors import (
    CapacityExceeded,
    InvalidSessionId,
    SessionError,
    SessionExpired,
    SessionNotFound,
    StoreClosed,
    VersionConflict,
)
from .._fakeclock import FakeClock
from .._metadata import SessionMetadata
from .._model import Conversation, Message, ToolCall
from .._serialization import message_size
from .base import AsyncSessionStore

__all__ = ["FRAMEWORK_PAYLOADS", "AsyncStoreContract", "sample_conversation"]

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


def _every_field_conversation() -> Conversation:
    """:func:`sample_conversation` plus the awkward cases a wire format can get wrong."""
    conversation = sample_conversation()
    conversation.add(
        Message(
            "assistant",
            None,
            tool_calls=(
                ToolCall("call_2", "weather", '{"city": "Zürich"}'),
                ToolCall("call_3", "noop", "{}"),
            ),
        )
    )
    conversation.add_tool("", tool_call_id="call_2")  # "" is not None
    conversation.add_tool("null", tool_call_id="call_3", name="")
    conversation.add_user(
        'quotes " and \\ backslashes, \n new\tlines, NUL \x00, emoji 😀, 中文, \u2028',
        metadata={"clé": "välue", "n": 1.5, "t": True, "list": [1, [2, {"k": "v"}]]},
    )
    return conversation


#: One of each kind of payload agent frameworks hand a store, as they shape them:
#: every one must come back exactly (``to_dict() == payload``).
FRAMEWORK_PAYLOADS: list[dict[str, Any]] = [
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is in this image?"},
            {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}},
            {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
        ],
    },
    {"role": "assistant", "content": None, "refusal": "I can't help with that."},
    {"role": "assistant", "content": None, "audio": {"id": "audio_1"}},
    {"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": "{}"}},
    {
        "type": "message",
        "id": "msg_1",
        "status": "completed",
        "role": "assistant",
        "content": [
            {
                "type": "output_text",
                "text": "Paris.",
                "annotations": [
                    {
                        "type": "url_citation",
                        "url": "https://e.org",
                        "start_index": 0,
                        "end_index": 6,
                        "title": "E",
                    }
                ],
            }
        ],
    },
    {
        "type": "function_call",
        "call_id": "call_1",
        "name": "weather",
        "arguments": '{"city": "Paris"}',
        "id": "fc_1",
        "status": "completed",
    },
    {"type": "function_call_output", "call_id": "call_1", "output": '{"temp": 21}'},
    {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": "Hm."}],
        "encrypted_content": "gAAAAB...",
    },
    {
        "type": "web_search_call",
        "id": "ws_1",
        "status": "completed",
        "action": {"type": "search", "query": "paris weather"},
    },
    {"type": "item_reference", "id": "msg_0"},
    {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "Let me see.", "signature": "EqQBCkYIARgCKkB"},
            {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va"},
            {"type": "text", "text": "Hi", "citations": None},
            {
                "type": "tool_use",
                "id": "toolu_1",
                "name": "get",
                "input": {"q": "x"},
                "cache_control": {"type": "ephemeral"},
            },
        ],
    },
    {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": "toolu_1",
                "is_error": True,
                "content": [{"type": "text", "text": "boom"}],
            }
        ],
    },
    {
        "type": "ai",
        "data": {
            "content": "",
            "additional_kwargs": {},
            "response_metadata": {"model_name": "m"},
            "type": "ai",
            "name": None,
            "id": "run-1",
            "tool_calls": [{"name": "f", "args": {"a": 1}, "id": "c1", "type": "tool_call"}],
            "invalid_tool_calls": [],
            "usage_metadata": {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7},
        },
    },
    {
        "type": "tool",
        "data": {
            "content": "42",
            "tool_call_id": "c1",
            "artifact": [1, 2],
            "status": "success",
            "type": "tool",
            "id": None,
        },
    },
    {"role": "tool", "content": "x", "tool_call_id": "c", "n": 2**70, "f": -0.0, "z": "\u2028\x00"},
]


def _payload_conversation() -> Conversation:
    return Conversation([Message.from_dict(payload) for payload in FRAMEWORK_PAYLOADS])


def _user(text: str) -> Message:
    return Message("user", text)


def _texts(conversation: Conversation) -> list[str | None]:
    # Plain text contents: None stays None (an assistant message that only calls tools).
    return [None if message.content is None else message.text for message in conversation]


class AsyncStoreContract:
    """What every store promises (SPEC sections 2 to 5, docs/behaviour.md), as tests."""

    async def make_store(self, **options: Any) -> AsyncSessionStore:
        """Build the store under test with these constructor options.

        :param options: ``clock`` always; some tests add ``default_ttl``, ``sliding``,
            ``max_messages``, ``max_message_bytes`` or ``max_session_bytes``
        :return: a new, open store
        """
        raise NotImplementedError("subclasses say how to build their store")

    async def fresh_store(self, **options: Any) -> AsyncSessionStore:
        """:meth:`make_store`, emptied, for tests that need other options than the fixture's.

        :return: an empty store; the caller closes it
        """
        store = await self.make_store(**options)
        await store.clear()
        return store

    @pytest.fixture
    def clock(self) -> FakeClock:
        """A fresh :class:`FakeClock` per test."""
        return FakeClock()

    @pytest.fixture
    async def store(self, clock: FakeClock) -> AsyncIterator[AsyncSessionStore]:
        """An empty store on ``clock``, closed after the test."""
        store = await self.fresh_store(clock=clock)
        try:
            yield store
        finally:
            await store.aclose()

    @pytest.fixture
    def switch_often(self) -> Iterator[None]:
        """Make threads switch every microsecond meanwhile, so that races show up.

        With CPython's default of 5 ms, a thread rarely loses the GIL inside a short
        critical section, and a store missing a lock would pass the concurrency tests.
        """
        interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)
        try:
            yield
        finally:
            sys.setswitchinterval(interval)

    # -- basics ---------------------------------------------------------------------------

    async def test_name(self, store: AsyncSessionStore) -> None:
        assert isinstance(store.name, str) and store.name

    async def test_round_trip_keeps_every_field(self, store: AsyncSessionStore) -> None:
        conversation = _every_field_conversation()
        await store.save("s1", conversation)
        loaded = await store.load("s1")
        assert loaded == conversation
        assert loaded.to_dicts() == conversation.to_dicts()
        assert loaded.messages[3].tool_calls[0].arguments == '{"to": "ZRH"}'
        assert loaded.messages[3].metadata["tags"] == ("a", "b")
        assert loaded.messages[3].content is None
        assert loaded.messages[7].content == "" and loaded.messages[8].name == ""
        assert [c.id for c in loaded.messages[6].tool_calls] == ["call_2", "call_3"]

    async def test_round_trip_through_append(self, store: AsyncSessionStore) -> None:
        conversation = _every_field_conversation()
        await store.append("s1", *conversation.messages[:4])
        for message in conversation.messages[4:]:
            await store.append("s1", message)
        assert await store.load("s1") == conversation
        assert await store.load("s1", last=3) == Conversation(conversation.messages[-3:])

    async def test_framework_payloads_come_back_unchanged(self, store: AsyncSessionStore) -> None:
        await store.save("saved", _payload_conversation())
        for payload in FRAMEWORK_PAYLOADS:
            await store.append("appended", Message.from_dict(payload))
        n = len(FRAMEWORK_PAYLOADS)
        for session_id in ("saved", "appended"):
            assert (await store.load(session_id)).to_dicts() == FRAMEWORK_PAYLOADS
            assert (await store.load(session_id, last=3)).to_dicts() == FRAMEWORK_PAYLOADS[-3:]
        for k in range(n - 1, -1, -1):
            popped = await store.pop("saved")
            assert popped is not None and popped.to_dict() == FRAMEWORK_PAYLOADS[k]
        assert await store.pop("saved") is None

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

    async def test_what_a_caller_does_to_a_payload_changes_nothing_stored(
        self, store: AsyncSessionStore
    ) -> None:
        payload: dict[str, Any] = {"role": "user", "content": [{"type": "text", "text": "x"}]}
        message = Message.from_dict(payload)
        payload["content"][0]["text"] = "changed"  # the caller's dict, after building
        await store.save("s", Conversation([message]))
        loaded = await store.load("s")
        data = loaded[0].to_dict()
        data["content"][0]["text"] = "changed again"  # what load handed out
        data["content"].append({"type": "text", "text": "more"})
        assert (await store.load("s"))[0].to_dict() == {
            "role": "user",
            "content": [{"type": "text", "text": "x"}],
        }
        assert loaded[0].to_dict() == (await store.load("s"))[0].to_dict()

    async def test_load_tail_never_starts_with_a_cut_tool_result(
        self, store: AsyncSessionStore
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
        await store.save("s", conversation)
        assert [m.role for m in await store.load("s", last=4)] == ["tool", "assistant", None, None]
        tail = await store.load_tail("s", 4)
        assert [m.type for m in tail] == [None, "function_call", "function_call_output"]
        assert tail[0].text == "21C."
        assert (await store.load_tail("s", 1)).to_dicts() == []  # only the output: dropped
        assert len(await store.load_tail("s", 10)) == 6

    async def test_empty_conversation(self, store: AsyncSessionStore) -> None:
        meta = await store.save("s1", Conversation())
        assert meta.message_count == 0 and meta.size_bytes == 0
        assert len(await store.load("s1")) == 0
        assert len(await store.load("s1", last=3)) == 0
        assert await store.exists("s1")

    async def test_load_missing(self, store: AsyncSessionStore) -> None:
        with pytest.raises(SessionNotFound) as info:
            await store.load("missing")
        assert info.value.session_id == "missing"
        assert isinstance(info.value, LookupError)
        assert not isinstance(info.value, SessionExpired)
        with pytest.raises(SessionNotFound):
            await store.load("missing", last=1)
        with pytest.raises(SessionNotFound):
            await store.get_metadata("missing")
        assert await store.list_sessions() == []

    async def test_save_replaces(self, store: AsyncSessionStore) -> None:
        await store.save("s1", Conversation().add_user("one").add_user("two"))
        meta = await store.save("s1", Conversation().add_user("three"))
        assert _texts(await store.load("s1")) == ["three"]
        assert meta.version == 2 and meta.message_count == 1
        assert meta.size_bytes == message_size(_user("three"))

    async def test_load_last(self, store: AsyncSessionStore) -> None:
        await store.save("s1", Conversation([_user(str(i)) for i in range(5)]))
        assert _texts(await store.load("s1", last=2)) == ["3", "4"]
        assert _texts(await store.load("s1", last=1)) == ["4"]
        assert len(await store.load("s1", last=0)) == 0
        assert _texts(await store.load("s1", last=5)) == ["0", "1", "2", "3", "4"]
        assert _texts(await store.load("s1", last=50)) == ["0", "1", "2", "3", "4"]
        await store.append("s1", _user("5"))
        await store.pop("s1")
        await store.pop("s1")
        assert _texts(await store.load("s1", last=2)) == ["2", "3"]

    async def test_huge_counts_read_as_all(self, store: AsyncSessionStore) -> None:
        # Issue 7, defect 7: PostgreSQL and Redis failed with BackendError on these.
        await store.save("s1", Conversation([_user(str(i)) for i in range(3)]))
        for huge in (2**31, 2**63, sys.maxsize, 10**30):
            assert _texts(await store.load("s1", last=huge)) == ["0", "1", "2"]
            assert await store.list_sessions(limit=huge) == ["s1"]
            assert [m.session_id for m in (await store.find_sessions(limit=huge)).items] == ["s1"]

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

    async def test_timestamps_are_floats_whatever_the_clock_returns(self) -> None:
        # Issue 7, defect 13: SQLite returned ints from a clock of whole seconds.
        store = await self.fresh_store(clock=lambda: 1_700_000_000)
        try:
            metas = [
                await store.save("s1", Conversation([_user("a")]), ttl=10),
                await store.append("s1", _user("b")),
                await store.touch("s1"),
                await store.get_metadata("s1"),
            ]
            for meta in metas:
                stamps = (meta.created_at, meta.updated_at, meta.expires_at)
                assert all(type(t) is float for t in stamps), stamps
            assert all(type(m.created_at) is float for m in await store.load("s1"))
        finally:
            await store.aclose()

    async def test_a_prefix_no_id_can_start_with_finds_nothing(
        self, store: AsyncSessionStore
    ) -> None:
        # Issue 7, defect 11: PostgreSQL raised BackendError on a NUL.
        await store.save("s1", Conversation([_user("a")]))
        for prefix in ("\x00", "s\x00", "\n"):
            assert await store.list_sessions(prefix=prefix) == []
            assert [sid async for sid in store.iter_sessions(prefix=prefix)] == []

    async def test_bad_arguments_beat_a_missing_session(self, store: AsyncSessionStore) -> None:
        # Issue 7, defect 12: load("missing", last=-1) raised SessionNotFound.
        with pytest.raises(ValueError):
            await store.load("missing", last=-1)
        with pytest.raises(InvalidSessionId):
            await store.load("", last=1)

    # -- value semantics --------------------------------------------------------------------

    async def test_save_stores_a_snapshot(self, store: AsyncSessionStore) -> None:
        conversation = Conversation().add_user("one")
        await store.save("s1", conversation)
        await store.save("s2", conversation)
        conversation.add_user("two")
        assert _texts(await store.load("s1")) == ["one"]
        assert _texts(await store.load("s2")) == ["one"]
        assert (await store.get_metadata("s1")).message_count == 1

    async def test_load_returns_a_new_object(self, store: AsyncSessionStore) -> None:
        await store.save("s1", Conversation().add_user("one"))
        first = await store.load("s1")
        first.add_user("changed locally")
        second = await store.load("s1")
        assert first is not second
        assert _texts(second) == ["one"]
        partial = await store.load("s1", last=1)
        partial.add_user("also local")
        assert _texts(await store.load("s1", last=1)) == ["one"]
        await store.append("s1", _user("two"))
        assert _texts(first) == ["one", "changed locally"]  # a loaded copy does not follow
        await store.save("s1", first)  # ... until it is saved
        assert _texts(await store.load("s1")) == ["one", "changed locally"]

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

    # -- metadata -----------------------------------------------------------------------

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

    async def test_metadata_follows_writes(
        self, store: AsyncSessionStore, clock: FakeClock
    ) -> None:
        created = clock()
        await store.save("s1", _every_field_conversation(), labels={"k": "v"})
        clock.advance(1.5)
        await store.append("s1", _user("ünïcödé 😀"), Message("assistant", "ok"))
        clock.advance(1.5)
        await store.pop("s1")
        clock.advance(1.5)
        await store.get_metadata("s1")
        await store.load("s1")  # reads are no writes
        meta = await store.get_metadata("s1")
        loaded = await store.load("s1")
        assert meta.created_at == created
        assert meta.updated_at == created + 3.0
        assert meta.message_count == len(loaded) == len(_every_field_conversation()) + 1
        assert meta.size_bytes == sum(message_size(m) for m in loaded)
        assert meta.version == 3
        assert dict(meta.labels) == {"k": "v"}
        assert meta.expires_at is None

    # -- append ---------------------------------------------------------------------------

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

    # -- versions -------------------------------------------------------------------------

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

    # -- pop ------------------------------------------------------------------------------

    async def test_pop(self, store: AsyncSessionStore, clock: FakeClock) -> None:
        await store.save("s1", Conversation().add_user("a").add_user("b"))
        clock.advance(3)
        popped = await store.pop("s1")
        assert popped == _user("b")
        meta = await store.get_metadata("s1")
        assert meta.message_count == 1 and meta.version == 2 and meta.updated_at == clock()
        assert meta.created_at == clock() - 3
        assert meta.size_bytes == message_size(_user("a"))
        assert _texts(await store.load("s1")) == ["a"]
        await store.append("s1", _user("c"))
        assert _texts(await store.load("s1")) == ["a", "c"]

    async def test_pop_keeps_every_field(self, store: AsyncSessionStore) -> None:
        conversation = _every_field_conversation()
        await store.save("s1", conversation)
        for expected in reversed(conversation.messages):
            assert await store.pop("s1") == expected
        assert await store.pop("s1") is None
        meta = await store.get_metadata("s1")
        assert meta.message_count == 0 and meta.size_bytes == 0
        assert meta.version == 1 + len(conversation)
        assert await store.exists("s1")  # emptied, not deleted

    async def test_pop_empty_changes_nothing(self, clock: FakeClock) -> None:
        async with await self.fresh_store(clock=clock, default_ttl=10) as store:
            saved = await store.save("s1", Conversation())
            clock.advance(5)
            assert await store.pop("s1") is None
            assert await store.get_metadata("s1") == saved  # same version, times, expiry
            clock.advance(5)
            assert not await store.exists("s1")  # the TTL did not restart

    async def test_pop_missing_and_expired(self, clock: FakeClock) -> None:
        async with await self.fresh_store(clock=clock, default_ttl=10) as store:
            with pytest.raises(SessionNotFound) as missing:
                await store.pop("missing")
            assert missing.value.session_id == "missing"
            assert not isinstance(missing.value, SessionExpired)
            assert not await store.exists("missing")
            await store.save("s1", Conversation().add_user("a"))
            clock.advance(10)
            with pytest.raises(SessionExpired) as expired:
                await store.pop("s1")
            assert expired.value.session_id == "s1"

    async def test_pop_restarts_the_sessions_own_ttl(self, clock: FakeClock) -> None:
        async with await self.fresh_store(clock=clock, default_ttl=10) as store:
            await store.save("s1", Conversation().add_user("a").add_user("b"))
            await store.save("s2", Conversation().add_user("a").add_user("b"), ttl=100)
            await store.save("s3", Conversation().add_user("a").add_user("b"), ttl=None)
            clock.advance(8)
            await store.pop("s1")
            await store.pop("s2")
            await store.pop("s3")
            assert (await store.get_metadata("s1")).expires_at == clock() + 10
            assert (await store.get_metadata("s2")).expires_at == clock() + 100
            assert (await store.get_metadata("s3")).expires_at is None

    # -- labels, exists, delete -------------------------------------------------------------

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

    # -- listing ----------------------------------------------------------------------------

    async def test_list_sessions(self, store: AsyncSessionStore) -> None:
        for session_id in ["b", "a:2", "c", "a:1"]:
            await store.save(session_id, Conversation())
        assert await store.list_sessions() == ["a:1", "a:2", "b", "c"]
        assert await store.list_sessions(prefix="a:") == ["a:1", "a:2"]
        assert await store.list_sessions(prefix="a:", limit=1) == ["a:1"]
        assert await store.list_sessions(limit=3) == ["a:1", "a:2", "b"]
        assert await store.list_sessions(limit=1) == ["a:1"]
        assert await store.list_sessions(limit=100) == ["a:1", "a:2", "b", "c"]
        assert await store.list_sessions(prefix="zz") == []
        assert await store.list_sessions(prefix="") == ["a:1", "a:2", "b", "c"]
        assert await store.list_sessions(prefix="c") == ["c"]

    async def test_listing_order_is_code_point_order(self, store: AsyncSessionStore) -> None:
        # Not a locale's collation: "B" < "a" < "b" < "é" < "\uff01" < "😀", "a%" and "a_"
        # as plain characters (no LIKE wildcards).
        ids = ["😀", "b", "é", "a", "B", "\uff01", "a_1", "a%1", "ab", "a b"]
        for session_id in ids:
            await store.save(session_id, Conversation())
        assert await store.list_sessions() == sorted(ids)
        assert [s async for s in store.iter_sessions()] == sorted(ids)
        assert await store.list_sessions(prefix="a_") == ["a_1"]
        assert await store.list_sessions(prefix="a%") == ["a%1"]
        assert [s async for s in store.iter_sessions(prefix="a_")] == ["a_1"]
        assert await store.list_sessions(prefix="é") == ["é"]

    async def test_iter_sessions(self, clock: FakeClock) -> None:
        # More than two pages of any durable store's paging, with expired sessions at the
        # edges of pages, so a store that pages wrong drops or repeats ids.
        async with await self.fresh_store(clock=clock) as store:
            ids = [f"user-{i:04d}" for i in range(1010)]
            expiring = {ids[0], ids[499], ids[500], ids[501], ids[999], ids[1000], ids[-1]}
            for session_id in ids:
                await store.append(
                    session_id, _user("x"), ttl=5 if session_id in expiring else None
                )
            await store.append("other", _user("x"))
            clock.advance(10)
            seen = [session_id async for session_id in store.iter_sessions()]
            live = sorted(set(ids) - expiring | {"other"})
            assert seen == live
            prefixed = [session_id async for session_id in store.iter_sessions(prefix="user-09")]
            assert prefixed == [f"user-{i:04d}" for i in range(900, 1000) if i != 999]
            assert [s async for s in store.iter_sessions(prefix="zz")] == []
            assert await store.list_sessions() == live

    async def test_iter_sessions_while_writing(self, store: AsyncSessionStore) -> None:
        for i in range(30):
            await store.save(f"s{i:02d}", Conversation())
        seen: list[str] = []
        async for session_id in store.iter_sessions():
            seen.append(session_id)
            if session_id == "s05":
                await store.delete("s20")  # not yet reached: may or may not be seen
                await store.save("s05-new", Conversation())
                await store.append("s01", _user("x"))
        assert seen == sorted(set(seen))  # sorted, no id twice
        assert set(seen) >= {f"s{i:02d}" for i in range(30)} - {"s20"}

    async def test_listings_skip_expired(self, clock: FakeClock) -> None:
        async with await self.fresh_store(clock=clock) as store:
            await store.save("short", Conversation(), ttl=5)
            await store.save("long", Conversation(), ttl=50)
            await store.save("forever", Conversation())
            clock.advance(10)
            assert await store.list_sessions() == ["forever", "long"]
            assert await store.list_sessions(prefix="s") == []
            assert await store.list_sessions(limit=1) == ["forever"]
            assert [s async for s in store.iter_sessions()] == ["forever", "long"]
            page = await store.find_sessions()
            assert sorted(m.session_id for m in page.items) == ["forever", "long"]
            assert not await store.exists("short")

    # -- TTL --------------------------------------------------------------------------------

    async def test_default_ttl_and_expiry(self, clock: FakeClock) -> None:
        async with await self.fresh_store(clock=clock, default_ttl=10) as store:
            meta = await store.save("s1", Conversation().add_user("a"))
            assert meta.expires_at == clock() + 10
            clock.advance(9)
            await store.append("s1", _user("b"))  # a write restarts the TTL
            clock.advance(9)
            assert len(await store.load("s1")) == 2
            await store.save("s1", Conversation().add_user("c"))  # so does a save
            clock.advance(9)
            assert await store.exists("s1")
            clock.advance(1)  # expires_at itself is past the end
            assert not await store.exists("s1")
            with pytest.raises(SessionExpired) as info:
                await store.load("s1")
            assert info.value.session_id == "s1"
            assert isinstance(info.value, SessionNotFound)
            with pytest.raises(SessionExpired):
                await store.load("s1", last=1)
            with pytest.raises(SessionExpired):
                await store.get_metadata("s1")
            assert await store.purge_expired() == 1
            with pytest.raises(SessionNotFound) as not_found:
                await store.load("s1")
            assert not isinstance(not_found.value, SessionExpired)
            with pytest.raises(SessionNotFound) as not_found:
                await store.get_metadata("s1")
            assert not isinstance(not_found.value, SessionExpired)

    async def test_no_default_ttl_means_forever(
        self, store: AsyncSessionStore, clock: FakeClock
    ) -> None:
        meta = await store.save("s1", Conversation())
        assert meta.expires_at is None
        assert (await store.append("s2", _user("a"))).expires_at is None
        clock.advance(100 * 365 * 86400)
        assert await store.list_sessions() == ["s1", "s2"]
        assert await store.purge_expired() == 0

    async def test_ttl_per_call(self, clock: FakeClock) -> None:
        async with await self.fresh_store(clock=clock, default_ttl=10) as store:
            assert (await store.save("f", Conversation(), ttl=2.5)).expires_at == clock() + 2.5
            delta = timedelta(minutes=1)
            assert (await store.save("d", Conversation(), ttl=delta)).expires_at == clock() + 60
            assert (await store.save("n", Conversation(), ttl=None)).expires_at is None
            assert (await store.append("a", _user("x"), ttl=7)).expires_at == clock() + 7
            assert (await store.append("i", _user("x"), ttl=1)).expires_at == clock() + 1
            delta = timedelta(seconds=90)
            assert (await store.append("t", _user("x"), ttl=delta)).expires_at == clock() + 90
            assert (await store.append("u", _user("x"), ttl=None)).expires_at is None
            clock.advance(5)
            assert await store.list_sessions() == ["a", "d", "n", "t", "u"]
            clock.advance(1000)
            assert await store.list_sessions() == ["n", "u"]

    async def test_default_keeps_the_sessions_own_ttl(self, clock: FakeClock) -> None:
        async with await self.fresh_store(clock=clock, default_ttl=10) as store:
            await store.save("s1", Conversation(), ttl=100)
            clock.advance(50)
            assert (await store.append("s1", _user("a"))).expires_at == clock() + 100
            assert (await store.touch("s1")).expires_at == clock() + 100
            assert (await store.save("s1", Conversation())).expires_at == clock() + 100
            await store.append("s1", _user("a"), ttl=30)  # a given TTL becomes its own
            clock.advance(20)
            assert (await store.append("s1", _user("b"))).expires_at == clock() + 30
            await store.touch("s1", ttl=timedelta(seconds=40))
            assert (await store.append("s1", _user("c"))).expires_at == clock() + 40
            await store.save("s2", Conversation(), ttl=None)
            assert (await store.append("s2", _user("a"))).expires_at is None
            assert (await store.save("s2", Conversation())).expires_at is None
            assert (await store.touch("s2")).expires_at is None
            await store.save("s3", Conversation())
            await store.touch("s3", ttl=None)
            assert (await store.append("s3", _user("a"))).expires_at is None

    async def test_new_session_takes_the_default_ttl(self, clock: FakeClock) -> None:
        async with await self.fresh_store(clock=clock, default_ttl=10) as store:
            await store.save("deleted", Conversation(), ttl=100)
            await store.delete("deleted")
            assert (await store.append("deleted", _user("a"))).expires_at == clock() + 10
            await store.save("expired", Conversation(), ttl=100)
            clock.advance(100)
            assert (await store.append("expired", _user("a"))).expires_at == clock() + 10
            await store.save("unlimited", Conversation(), ttl=None)
            assert await store.delete("unlimited")
            assert (await store.save("unlimited", Conversation())).expires_at == clock() + 10

    async def test_touch(self, clock: FakeClock) -> None:
        async with await self.fresh_store(clock=clock, default_ttl=10) as store:
            saved = await store.save("s1", Conversation().add_user("a"), labels={"k": "v"})
            clock.advance(8)
            touched = await store.touch("s1")
            assert touched.expires_at == clock() + 10
            assert touched._replace(expires_at=None) == saved._replace(expires_at=None)
            assert await store.get_metadata("s1") == touched
            clock.advance(8)
            assert await store.exists("s1")
            longer = await store.touch("s1", ttl=1000)
            assert longer.expires_at == clock() + 1000
            assert longer.updated_at == saved.updated_at and longer.version == saved.version
            assert (await store.touch("s1", ttl=timedelta(seconds=5))).expires_at == clock() + 5
            assert (await store.touch("s1", ttl=None)).expires_at is None
            clock.advance(10_000)
            assert _texts(await store.load("s1")) == ["a"]
            with pytest.raises(SessionNotFound) as info:
                await store.touch("missing")
            assert info.value.session_id == "missing"
            assert not await store.exists("missing")

    async def test_touch_expired(self, clock: FakeClock) -> None:
        async with await self.fresh_store(clock=clock, default_ttl=10) as store:
            await store.save("s1", Conversation())
            clock.advance(10)
            with pytest.raises(SessionExpired) as info:
                await store.touch("s1")
            assert info.value.session_id == "s1"
            with pytest.raises(SessionExpired):
                await store.touch("s1", ttl=1000)  # a touch cannot revive it
            assert not await store.exists("s1")

    async def test_sliding(self, clock: FakeClock) -> None:
        async with await self.fresh_store(clock=clock, default_ttl=10, sliding=True) as store:
            await store.save("s1", Conversation().add_user("a"))
            for _ in range(5):
                clock.advance(8)
                await store.load("s1")
            assert await store.exists("s1")
            assert (await store.get_metadata("s1")).expires_at == clock() + 10
            clock.advance(8)
            await store.get_metadata("s1")  # only load slides
            await store.exists("s1")
            await store.list_sessions()
            await store.find_sessions()
            clock.advance(3)
            assert not await store.exists("s1")
            with pytest.raises(SessionExpired):
                await store.load("s1")  # loading an expired session does not revive it

    async def test_sliding_keeps_version_and_own_ttl(self, clock: FakeClock) -> None:
        async with await self.fresh_store(clock=clock, default_ttl=10, sliding=True) as store:
            saved = await store.save("s1", Conversation().add_user("a"), ttl=100)
            await store.save("s2", Conversation().add_user("a"), ttl=None)
            clock.advance(90)
            await store.load("s1", last=1)
            meta = await store.get_metadata("s1")
            assert meta.expires_at == clock() + 100
            assert meta.version == saved.version and meta.updated_at == saved.updated_at
            await store.load("s2")
            assert (await store.get_metadata("s2")).expires_at is None

    async def test_write_to_expired_starts_new(self, clock: FakeClock) -> None:
        async with await self.fresh_store(clock=clock, default_ttl=10) as store:
            await store.save("s1", Conversation().add_user("old"), labels={"k": "v"})
            await store.append("s1", _user("old 2"))
            await store.save("s2", Conversation().add_user("old"), labels={"k": "v"})
            clock.advance(20)
            meta = await store.append("s1", _user("new"))
            assert meta.version == 1 and meta.message_count == 1
            assert meta.created_at == meta.updated_at == clock()
            assert meta.size_bytes == message_size(_user("new"))
            assert dict(meta.labels) == {}
            assert _texts(await store.load("s1")) == ["new"]
            meta = await store.save("s2", Conversation().add_user("new"))
            assert meta.version == 1 and meta.created_at == clock()
            assert dict(meta.labels) == {}
            assert _texts(await store.load("s2")) == ["new"]
            assert await store.get_metadata("s2") == meta

    async def test_purge_and_clear_counts(self, clock: FakeClock) -> None:
        async with await self.fresh_store(clock=clock) as store:
            assert await store.purge_expired() == 0
            await store.save("a", Conversation(), ttl=5)
            await store.save("b", Conversation(), ttl=5)
            await store.save("c", Conversation())
            await store.save("d", Conversation())
            assert await store.purge_expired() == 0
            clock.advance(6)
            assert await store.purge_expired() == 2
            assert await store.purge_expired() == 0
            assert await store.list_sessions() == ["c", "d"]
            await store.save("e", Conversation(), ttl=1)
            clock.advance(2)
            assert await store.clear() == 2
            assert await store.list_sessions() == []
            with pytest.raises(SessionNotFound) as info:
                await store.load("e")  # expired sessions go too
            assert not isinstance(info.value, SessionExpired)
            assert await store.clear() == 0
            assert (await store.append("c", _user("after clear"))).version == 1

    # -- find_sessions ----------------------------------------------------------------------

    async def test_find_sessions(self, store: AsyncSessionStore, clock: FakeClock) -> None:
        start = clock()
        for i in range(7):
            clock.advance(1)
            labels = {"user": "u1" if i % 2 == 0 else "u2", "app": "x"}
            await store.save(f"s{i}", Conversation(), labels=labels)
        clock.advance(1)
        await store.save("unlabelled", Conversation())
        page = await store.find_sessions()
        assert [m.session_id for m in page.items][1:] == [f"s{i}" for i in range(6, -1, -1)]
        assert page.next_cursor is None
        for item in page.items:
            assert item == await store.get_metadata(item.session_id)
        u1 = await store.find_sessions(labels={"user": "u1", "app": "x"})
        assert [m.session_id for m in u1.items] == ["s6", "s4", "s2", "s0"]
        assert [m.session_id for m in (await store.find_sessions(labels={"user": "u2"})).items] == [
            "s5",
            "s3",
            "s1",
        ]
        assert (await store.find_sessions(labels={"user": "u1", "app": "y"})).items == []
        assert (await store.find_sessions(labels={"nobody": "x"})).items == []
        assert len((await store.find_sessions(labels={})).items) == 8
        window = await store.find_sessions(updated_after=start + 2, updated_before=start + 5)
        assert [m.session_id for m in window.items] == ["s3", "s2"]  # both bounds exclusive
        after = await store.find_sessions(updated_after=start + 6)
        assert [m.session_id for m in after.items] == ["unlabelled", "s6"]
        before = await store.find_sessions(updated_before=start + 2, labels={"app": "x"})
        assert [m.session_id for m in before.items] == ["s0"]

    async def test_find_sessions_follows_writes(
        self, store: AsyncSessionStore, clock: FakeClock
    ) -> None:
        await store.save("a", Conversation(), labels={"k": "v"})
        clock.advance(1)
        await store.save("b", Conversation(), labels={"k": "v"})
        clock.advance(1)
        await store.append("a", _user("x"))  # moves to the front, keeps its labels
        page = await store.find_sessions(labels={"k": "v"})
        assert [m.session_id for m in page.items] == ["a", "b"]
        assert page.items[0].message_count == 1 and page.items[0].version == 2
        clock.advance(1)
        await store.save("b", Conversation(), labels={"k": "other"})
        assert [m.session_id for m in (await store.find_sessions(labels={"k": "v"})).items] == ["a"]
        await store.touch("a", ttl=100)  # not a write: the order stays
        assert [m.session_id for m in (await store.find_sessions()).items] == ["b", "a"]
        await store.delete("a")
        assert (await store.find_sessions(labels={"k": "v"})).items == []

    async def test_find_sessions_ties_by_id(
        self, store: AsyncSessionStore, clock: FakeClock
    ) -> None:
        for session_id in ["c", "a", "e", "b", "d"]:
            await store.save(session_id, Conversation())
        clock.advance(1)
        await store.save("newest", Conversation())
        page = await store.find_sessions()
        assert [m.session_id for m in page.items] == ["newest", "a", "b", "c", "d", "e"]
        seen: list[str] = []
        cursor = None
        while True:
            page = await store.find_sessions(limit=2, cursor=cursor)
            assert len(page.items) <= 2
            seen += [m.session_id for m in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == ["newest", "a", "b", "c", "d", "e"]

    async def test_find_sessions_pages(self, store: AsyncSessionStore, clock: FakeClock) -> None:
        for i in range(10):
            if i % 3 == 0:
                clock.advance(1)  # several sessions share an updated_at
            await store.save(f"s{i}", Conversation(), labels={"k": "v"})
        await store.save("other", Conversation(), labels={"k": "w"})
        everything = [m.session_id for m in (await store.find_sessions(labels={"k": "v"})).items]
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            page = await store.find_sessions(labels={"k": "v"}, limit=3, cursor=cursor)
            assert len(page.items) <= 3
            seen += [m.session_id for m in page.items]
            pages += 1
            cursor = page.next_cursor
            if cursor is None:
                break
            assert isinstance(cursor, str)
        assert seen == everything  # the same order, each exactly once
        assert sorted(seen) == [f"s{i}" for i in range(10)]
        assert pages == 4
        first = await store.find_sessions(limit=1)
        assert first.next_cursor is not None and len(first.items) == 1
        with pytest.raises(ValueError):
            await store.find_sessions(cursor="not a cursor")
        with pytest.raises(ValueError):
            await store.find_sessions(cursor="")
        with pytest.raises((TypeError, ValueError)):
            await store.find_sessions(cursor=5)  # type: ignore[arg-type]

    async def test_find_sessions_pages_while_writing(
        self, store: AsyncSessionStore, clock: FakeClock
    ) -> None:
        for i in range(9):
            clock.advance(1)
            await store.save(f"s{i}", Conversation())
        page = await store.find_sessions(limit=3)
        seen = [m.session_id for m in page.items]
        assert seen == ["s8", "s7", "s6"]
        clock.advance(1)
        await store.append("s7", _user("x"))  # seen already: moves before the cursor
        await store.append("s0", _user("x"))  # not seen yet: also moves before it
        await store.save("brand-new", Conversation())
        await store.delete("s3")
        cursor = page.next_cursor
        while cursor is not None:
            page = await store.find_sessions(limit=3, cursor=cursor)
            seen += [m.session_id for m in page.items]
            cursor = page.next_cursor
        assert len(seen) == len(set(seen))  # never twice
        assert seen == ["s8", "s7", "s6", "s5", "s4", "s2", "s1"]

    async def test_find_sessions_skips_expired(self, clock: FakeClock) -> None:
        async with await self.fresh_store(clock=clock) as store:
            for i in range(6):
                clock.advance(1)
                await store.save(
                    f"s{i}", Conversation(), labels={"k": "v"}, ttl=3 if i % 2 else None
                )
            clock.advance(3.5)  # the odd ones, written at 2, 4 and 6 for 3 s, have expired
            page = await store.find_sessions(labels={"k": "v"}, limit=2)
            seen = [m.session_id for m in page.items]
            while page.next_cursor is not None:
                page = await store.find_sessions(
                    labels={"k": "v"}, limit=2, cursor=page.next_cursor
                )
                seen += [m.session_id for m in page.items]
            assert seen == ["s4", "s2", "s0"]

    # -- limits -----------------------------------------------------------------------------

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

    # -- bad input --------------------------------------------------------------------------

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

    # -- closing ----------------------------------------------------------------------------

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

    # -- concurrency ------------------------------------------------------------------------

    @pytest.mark.usefixtures("switch_often")
    async def test_concurrent_appends_lose_nothing(self, store: AsyncSessionStore) -> None:
        workers, per_worker = 8, 25

        async def worker(number: int) -> None:
            for i in range(per_worker):
                await store.append("shared", _user(f"{number}:{i}"))
                await asleep(0)  # let the others in between
                await store.append(f"own-{number}", _user(str(i)))

        async with AsyncNursery() as nursery:
            for number in range(workers):
                nursery.start_soon(worker, number)
        messages = await store.load("shared")
        assert len(messages) == workers * per_worker
        meta = await store.get_metadata("shared")
        assert meta.message_count == workers * per_worker
        assert meta.version == workers * per_worker
        assert meta.size_bytes == sum(message_size(m) for m in messages)
        for number in range(workers):
            mine = [m.text for m in messages if m.text.startswith(f"{number}:")]
            assert mine == [f"{number}:{i}" for i in range(per_worker)]
            own = await store.load(f"own-{number}")
            assert _texts(own) == [str(i) for i in range(per_worker)]
            assert (await store.get_metadata(f"own-{number}")).version == per_worker

    @pytest.mark.usefixtures("switch_often")
    async def test_concurrent_versioned_saves_one_wins(self, store: AsyncSessionStore) -> None:
        await store.save("s1", Conversation().add_user("base"))
        outcomes: list[str] = []

        async def contender(number: int) -> None:
            try:
                await store.save(
                    "s1", Conversation().add_user(f"winner {number}"), expected_version=1
                )
                outcomes.append(f"winner {number}")
            except VersionConflict as conflict:
                assert conflict.expected == 1 and conflict.actual >= 2
                outcomes.append("lost")

        async with AsyncNursery() as nursery:
            for number in range(8):
                nursery.start_soon(contender, number)
        winners = [outcome for outcome in outcomes if outcome != "lost"]
        assert len(outcomes) == 8 and len(winners) == 1
        assert (await store.get_metadata("s1")).version == 2
        assert _texts(await store.load("s1")) == winners

    @pytest.mark.usefixtures("switch_often")
    async def test_concurrent_creations_one_wins(self, store: AsyncSessionStore) -> None:
        outcomes: list[str] = []

        async def contender(number: int) -> None:
            try:
                if number % 2:
                    await store.append("new", _user(f"winner {number}"), expected_version=0)
                else:
                    await store.save(
                        "new", Conversation().add_user(f"winner {number}"), expected_version=0
                    )
                outcomes.append(f"winner {number}")
            except VersionConflict as conflict:
                assert (conflict.expected, conflict.actual) == (0, 1)
                outcomes.append("lost")

        async with AsyncNursery() as nursery:
            for number in range(8):
                nursery.start_soon(contender, number)
        winners = [outcome for outcome in outcomes if outcome != "lost"]
        assert len(outcomes) == 8 and len(winners) == 1
        assert (await store.get_metadata("new")).version == 1
        assert _texts(await store.load("new")) == winners

    @pytest.mark.usefixtures("switch_often")
    async def test_concurrent_pops_take_each_message_once(self, store: AsyncSessionStore) -> None:
        total = 40
        await store.save("s1", Conversation([_user(str(i)) for i in range(total)]))
        popped: list[str | None] = []

        async def popper() -> None:
            while True:
                message = await store.pop("s1")
                if message is None:
                    return
                popped.append(message.text)
                await asleep(0)

        async with AsyncNursery() as nursery:
            for _ in range(8):
                nursery.start_soon(popper)
        assert sorted(popped, key=lambda text: int(text or "")) == [str(i) for i in range(total)]
        meta = await store.get_metadata("s1")
        assert meta.message_count == 0 and meta.size_bytes == 0
        assert meta.version == 1 + total

    @pytest.mark.usefixtures("switch_often")
    async def test_concurrent_optimistic_appends_with_retry(self, store: AsyncSessionStore) -> None:
        await store.save("counter", Conversation())

        async def worker(number: int) -> None:
            for i in range(10):
                while True:
                    version = (await store.get_metadata("counter")).version
                    await asleep(0)  # widen the window between read and write
                    try:
                        await store.append(
                            "counter", _user(f"{number}:{i}"), expected_version=version
                        )
                        break
                    except VersionConflict:
                        continue

        async with AsyncNursery() as nursery:
            for number in range(4):
                nursery.start_soon(worker, number)
        meta = await store.get_metadata("counter")
        assert meta.message_count == 40 and meta.version == 41
        assert len(set(_texts(await store.load("counter")))) == 40
