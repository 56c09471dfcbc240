# This file is generated from _async/testing.py by scripts/unasync.py: do not edit.
"""The store contract, as a pytest test class any store can inherit.

Subclass it in a test module and say how to build your store::

    class TestMyStore(StoreContract):
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
from collections.abc import Iterator, Iterator
from datetime import timedelta
from typing import Any

import pytest

from .._concurrency import Nursery, sleep
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
from .base import SessionStore

__all__ = ["FRAMEWORK_PAYLOADS", "StoreContract", "sample_conversation"]

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


class StoreContract:
    """What every store promises (SPEC sections 2 to 5, docs/behaviour.md), as tests."""

    def make_store(self, **options: Any) -> SessionStore:
        """Build the store under test with these constructor options.

        :param options: ``clock`` always; some tests add ``default_ttl``, ``sliding``,
            ``max_messages``, ``max_message_bytes`` or ``max_session_bytes``
        :return: a new, open store
        """
        raise NotImplementedError("subclasses say how to build their store")

    def fresh_store(self, **options: Any) -> SessionStore:
        """:meth:`make_store`, emptied, for tests that need other options than the fixture's.

        :return: an empty store; the caller closes it
        """
        store = self.make_store(**options)
        store.clear()
        return store

    @pytest.fixture
    def clock(self) -> FakeClock:
        """A fresh :class:`FakeClock` per test."""
        return FakeClock()

    @pytest.fixture
    def store(self, clock: FakeClock) -> Iterator[SessionStore]:
        """An empty store on ``clock``, closed after the test."""
        store = self.fresh_store(clock=clock)
        try:
            yield store
        finally:
            store.close()

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

    def test_name(self, store: SessionStore) -> None:
        assert isinstance(store.name, str) and store.name

    def test_round_trip_keeps_every_field(self, store: SessionStore) -> None:
        conversation = _every_field_conversation()
        store.save("s1", conversation)
        loaded = store.load("s1")
        assert loaded == conversation
        assert loaded.to_dicts() == conversation.to_dicts()
        assert loaded.messages[3].tool_calls[0].arguments == '{"to": "ZRH"}'
        assert loaded.messages[3].metadata["tags"] == ("a", "b")
        assert loaded.messages[3].content is None
        assert loaded.messages[7].content == "" and loaded.messages[8].name == ""
        assert [c.id for c in loaded.messages[6].tool_calls] == ["call_2", "call_3"]

    def test_round_trip_through_append(self, store: SessionStore) -> None:
        conversation = _every_field_conversation()
        store.append("s1", *conversation.messages[:4])
        for message in conversation.messages[4:]:
            store.append("s1", message)
        assert store.load("s1") == conversation
        assert store.load("s1", last=3) == Conversation(conversation.messages[-3:])

    def test_framework_payloads_come_back_unchanged(self, store: SessionStore) -> None:
        store.save("saved", _payload_conversation())
        for payload in FRAMEWORK_PAYLOADS:
            store.append("appended", Message.from_dict(payload))
        n = len(FRAMEWORK_PAYLOADS)
        for session_id in ("saved", "appended"):
            assert (store.load(session_id)).to_dicts() == FRAMEWORK_PAYLOADS
            assert (store.load(session_id, last=3)).to_dicts() == FRAMEWORK_PAYLOADS[-3:]
        for k in range(n - 1, -1, -1):
            popped = store.pop("saved")
            assert popped is not None and popped.to_dict() == FRAMEWORK_PAYLOADS[k]
        assert store.pop("saved") is None

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

    def test_what_a_caller_does_to_a_payload_changes_nothing_stored(
        self, store: SessionStore
    ) -> None:
        payload: dict[str, Any] = {"role": "user", "content": [{"type": "text", "text": "x"}]}
        message = Message.from_dict(payload)
        payload["content"][0]["text"] = "changed"  # the caller's dict, after building
        store.save("s", Conversation([message]))
        loaded = store.load("s")
        data = loaded[0].to_dict()
        data["content"][0]["text"] = "changed again"  # what load handed out
        data["content"].append({"type": "text", "text": "more"})
        assert (store.load("s"))[0].to_dict() == {
            "role": "user",
            "content": [{"type": "text", "text": "x"}],
        }
        assert loaded[0].to_dict() == (store.load("s"))[0].to_dict()

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

    def test_empty_conversation(self, store: SessionStore) -> None:
        meta = store.save("s1", Conversation())
        assert meta.message_count == 0 and meta.size_bytes == 0
        assert len(store.load("s1")) == 0
        assert len(store.load("s1", last=3)) == 0
        assert store.exists("s1")

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

    def test_save_replaces(self, store: SessionStore) -> None:
        store.save("s1", Conversation().add_user("one").add_user("two"))
        meta = store.save("s1", Conversation().add_user("three"))
        assert _texts(store.load("s1")) == ["three"]
        assert meta.version == 2 and meta.message_count == 1
        assert meta.size_bytes == message_size(_user("three"))

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

    def test_a_prefix_no_id_can_start_with_finds_nothing(
        self, store: SessionStore
    ) -> None:
        # Issue 7, defect 11: PostgreSQL raised BackendError on a NUL.
        store.save("s1", Conversation([_user("a")]))
        for prefix in ("\x00", "s\x00", "\n"):
            assert store.list_sessions(prefix=prefix) == []
            assert [sid for sid in store.iter_sessions(prefix=prefix)] == []

    def test_bad_arguments_beat_a_missing_session(self, store: SessionStore) -> None:
        # Issue 7, defect 12: load("missing", last=-1) raised SessionNotFound.
        with pytest.raises(ValueError):
            store.load("missing", last=-1)
        with pytest.raises(InvalidSessionId):
            store.load("", last=1)

    # -- value semantics --------------------------------------------------------------------

    def test_save_stores_a_snapshot(self, store: SessionStore) -> None:
        conversation = Conversation().add_user("one")
        store.save("s1", conversation)
        store.save("s2", conversation)
        conversation.add_user("two")
        assert _texts(store.load("s1")) == ["one"]
        assert _texts(store.load("s2")) == ["one"]
        assert (store.get_metadata("s1")).message_count == 1

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

    # -- metadata -----------------------------------------------------------------------

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

    # -- append ---------------------------------------------------------------------------

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

    # -- versions -------------------------------------------------------------------------

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

    # -- pop ------------------------------------------------------------------------------

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

    # -- labels, exists, delete -------------------------------------------------------------

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

    # -- listing ----------------------------------------------------------------------------

    def test_list_sessions(self, store: SessionStore) -> None:
        for session_id in ["b", "a:2", "c", "a:1"]:
            store.save(session_id, Conversation())
        assert store.list_sessions() == ["a:1", "a:2", "b", "c"]
        assert store.list_sessions(prefix="a:") == ["a:1", "a:2"]
        assert store.list_sessions(prefix="a:", limit=1) == ["a:1"]
        assert store.list_sessions(limit=3) == ["a:1", "a:2", "b"]
        assert store.list_sessions(limit=1) == ["a:1"]
        assert store.list_sessions(limit=100) == ["a:1", "a:2", "b", "c"]
        assert store.list_sessions(prefix="zz") == []
        assert store.list_sessions(prefix="") == ["a:1", "a:2", "b", "c"]
        assert store.list_sessions(prefix="c") == ["c"]

    def test_listing_order_is_code_point_order(self, store: SessionStore) -> None:
        # Not a locale's collation: "B" < "a" < "b" < "é" < "\uff01" < "😀", "a%" and "a_"
        # as plain characters (no LIKE wildcards).
        ids = ["😀", "b", "é", "a", "B", "\uff01", "a_1", "a%1", "ab", "a b"]
        for session_id in ids:
            store.save(session_id, Conversation())
        assert store.list_sessions() == sorted(ids)
        assert [s for s in store.iter_sessions()] == sorted(ids)
        assert store.list_sessions(prefix="a_") == ["a_1"]
        assert store.list_sessions(prefix="a%") == ["a%1"]
        assert [s for s in store.iter_sessions(prefix="a_")] == ["a_1"]
        assert store.list_sessions(prefix="é") == ["é"]

    def test_iter_sessions(self, clock: FakeClock) -> None:
        # More than two pages of any durable store's paging, with expired sessions at the
        # edges of pages, so a store that pages wrong drops or repeats ids.
        with self.fresh_store(clock=clock) as store:
            ids = [f"user-{i:04d}" for i in range(1010)]
            expiring = {ids[0], ids[499], ids[500], ids[501], ids[999], ids[1000], ids[-1]}
            for session_id in ids:
                store.append(
                    session_id, _user("x"), ttl=5 if session_id in expiring else None
                )
            store.append("other", _user("x"))
            clock.advance(10)
            seen = [session_id for session_id in store.iter_sessions()]
            live = sorted(set(ids) - expiring | {"other"})
            assert seen == live
            prefixed = [session_id for session_id in store.iter_sessions(prefix="user-09")]
            assert prefixed == [f"user-{i:04d}" for i in range(900, 1000) if i != 999]
            assert [s for s in store.iter_sessions(prefix="zz")] == []
            assert store.list_sessions() == live

    def test_iter_sessions_while_writing(self, store: SessionStore) -> None:
        for i in range(30):
            store.save(f"s{i:02d}", Conversation())
        seen: list[str] = []
        for session_id in store.iter_sessions():
            seen.append(session_id)
            if session_id == "s05":
                store.delete("s20")  # not yet reached: may or may not be seen
                store.save("s05-new", Conversation())
                store.append("s01", _user("x"))
        assert seen == sorted(set(seen))  # sorted, no id twice
        assert set(seen) >= {f"s{i:02d}" for i in range(30)} - {"s20"}

    def test_listings_skip_expired(self, clock: FakeClock) -> None:
        with self.fresh_store(clock=clock) as store:
            store.save("short", Conversation(), ttl=5)
            store.save("long", Conversation(), ttl=50)
            store.save("forever", Conversation())
            clock.advance(10)
            assert store.list_sessions() == ["forever", "long"]
            assert store.list_sessions(prefix="s") == []
            assert store.list_sessions(limit=1) == ["forever"]
            assert [s for s in store.iter_sessions()] == ["forever", "long"]
            page = store.find_sessions()
            assert sorted(m.session_id for m in page.items) == ["forever", "long"]
            assert not store.exists("short")

    # -- TTL --------------------------------------------------------------------------------

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

    # -- find_sessions ----------------------------------------------------------------------

    def test_find_sessions(self, store: SessionStore, clock: FakeClock) -> None:
        start = clock()
        for i in range(7):
            clock.advance(1)
            labels = {"user": "u1" if i % 2 == 0 else "u2", "app": "x"}
            store.save(f"s{i}", Conversation(), labels=labels)
        clock.advance(1)
        store.save("unlabelled", Conversation())
        page = store.find_sessions()
        assert [m.session_id for m in page.items][1:] == [f"s{i}" for i in range(6, -1, -1)]
        assert page.next_cursor is None
        for item in page.items:
            assert item == store.get_metadata(item.session_id)
        u1 = store.find_sessions(labels={"user": "u1", "app": "x"})
        assert [m.session_id for m in u1.items] == ["s6", "s4", "s2", "s0"]
        assert [m.session_id for m in (store.find_sessions(labels={"user": "u2"})).items] == [
            "s5",
            "s3",
            "s1",
        ]
        assert (store.find_sessions(labels={"user": "u1", "app": "y"})).items == []
        assert (store.find_sessions(labels={"nobody": "x"})).items == []
        assert len((store.find_sessions(labels={})).items) == 8
        window = store.find_sessions(updated_after=start + 2, updated_before=start + 5)
        assert [m.session_id for m in window.items] == ["s3", "s2"]  # both bounds exclusive
        after = store.find_sessions(updated_after=start + 6)
        assert [m.session_id for m in after.items] == ["unlabelled", "s6"]
        before = store.find_sessions(updated_before=start + 2, labels={"app": "x"})
        assert [m.session_id for m in before.items] == ["s0"]

    def test_find_sessions_follows_writes(
        self, store: SessionStore, clock: FakeClock
    ) -> None:
        store.save("a", Conversation(), labels={"k": "v"})
        clock.advance(1)
        store.save("b", Conversation(), labels={"k": "v"})
        clock.advance(1)
        store.append("a", _user("x"))  # moves to the front, keeps its labels
        page = store.find_sessions(labels={"k": "v"})
        assert [m.session_id for m in page.items] == ["a", "b"]
        assert page.items[0].message_count == 1 and page.items[0].version == 2
        clock.advance(1)
        store.save("b", Conversation(), labels={"k": "other"})
        assert [m.session_id for m in (store.find_sessions(labels={"k": "v"})).items] == ["a"]
        store.touch("a", ttl=100)  # not a write: the order stays
        assert [m.session_id for m in (store.find_sessions()).items] == ["b", "a"]
        store.delete("a")
        assert (store.find_sessions(labels={"k": "v"})).items == []

    def test_find_sessions_ties_by_id(
        self, store: SessionStore, clock: FakeClock
    ) -> None:
        for session_id in ["c", "a", "e", "b", "d"]:
            store.save(session_id, Conversation())
        clock.advance(1)
        store.save("newest", Conversation())
        page = store.find_sessions()
        assert [m.session_id for m in page.items] == ["newest", "a", "b", "c", "d", "e"]
        seen: list[str] = []
        cursor = None
        while True:
            page = store.find_sessions(limit=2, cursor=cursor)
            assert len(page.items) <= 2
            seen += [m.session_id for m in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == ["newest", "a", "b", "c", "d", "e"]

    def test_find_sessions_pages(self, store: SessionStore, clock: FakeClock) -> None:
        for i in range(10):
            if i % 3 == 0:
                clock.advance(1)  # several sessions share an updated_at
            store.save(f"s{i}", Conversation(), labels={"k": "v"})
        store.save("other", Conversation(), labels={"k": "w"})
        everything = [m.session_id for m in (store.find_sessions(labels={"k": "v"})).items]
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            page = store.find_sessions(labels={"k": "v"}, limit=3, cursor=cursor)
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
        first = store.find_sessions(limit=1)
        assert first.next_cursor is not None and len(first.items) == 1
        with pytest.raises(ValueError):
            store.find_sessions(cursor="not a cursor")
        with pytest.raises(ValueError):
            store.find_sessions(cursor="")
        with pytest.raises((TypeError, ValueError)):
            store.find_sessions(cursor=5)  # type: ignore[arg-type]

    def test_find_sessions_pages_while_writing(
        self, store: SessionStore, clock: FakeClock
    ) -> None:
        for i in range(9):
            clock.advance(1)
            store.save(f"s{i}", Conversation())
        page = store.find_sessions(limit=3)
        seen = [m.session_id for m in page.items]
        assert seen == ["s8", "s7", "s6"]
        clock.advance(1)
        store.append("s7", _user("x"))  # seen already: moves before the cursor
        store.append("s0", _user("x"))  # not seen yet: also moves before it
        store.save("brand-new", Conversation())
        store.delete("s3")
        cursor = page.next_cursor
        while cursor is not None:
            page = store.find_sessions(limit=3, cursor=cursor)
            seen += [m.session_id for m in page.items]
            cursor = page.next_cursor
        assert len(seen) == len(set(seen))  # never twice
        assert seen == ["s8", "s7", "s6", "s5", "s4", "s2", "s1"]

    def test_find_sessions_skips_expired(self, clock: FakeClock) -> None:
        with self.fresh_store(clock=clock) as store:
            for i in range(6):
                clock.advance(1)
                store.save(
                    f"s{i}", Conversation(), labels={"k": "v"}, ttl=3 if i % 2 else None
                )
            clock.advance(3.5)  # the odd ones, written at 2, 4 and 6 for 3 s, have expired
            page = store.find_sessions(labels={"k": "v"}, limit=2)
            seen = [m.session_id for m in page.items]
            while page.next_cursor is not None:
                page = store.find_sessions(
                    labels={"k": "v"}, limit=2, cursor=page.next_cursor
                )
                seen += [m.session_id for m in page.items]
            assert seen == ["s4", "s2", "s0"]

    # -- limits -----------------------------------------------------------------------------

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

    # -- bad input --------------------------------------------------------------------------

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

    # -- closing ----------------------------------------------------------------------------

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

    # -- concurrency ------------------------------------------------------------------------

    @pytest.mark.usefixtures("switch_often")
    def test_concurrent_appends_lose_nothing(self, store: SessionStore) -> None:
        workers, per_worker = 8, 25

        def worker(number: int) -> None:
            for i in range(per_worker):
                store.append("shared", _user(f"{number}:{i}"))
                sleep(0)  # let the others in between
                store.append(f"own-{number}", _user(str(i)))

        with Nursery() as nursery:
            for number in range(workers):
                nursery.start_soon(worker, number)
        messages = store.load("shared")
        assert len(messages) == workers * per_worker
        meta = store.get_metadata("shared")
        assert meta.message_count == workers * per_worker
        assert meta.version == workers * per_worker
        assert meta.size_bytes == sum(message_size(m) for m in messages)
        for number in range(workers):
            mine = [m.text for m in messages if m.text.startswith(f"{number}:")]
            assert mine == [f"{number}:{i}" for i in range(per_worker)]
            own = store.load(f"own-{number}")
            assert _texts(own) == [str(i) for i in range(per_worker)]
            assert (store.get_metadata(f"own-{number}")).version == per_worker

    @pytest.mark.usefixtures("switch_often")
    def test_concurrent_versioned_saves_one_wins(self, store: SessionStore) -> None:
        store.save("s1", Conversation().add_user("base"))
        outcomes: list[str] = []

        def contender(number: int) -> None:
            try:
                store.save(
                    "s1", Conversation().add_user(f"winner {number}"), expected_version=1
                )
                outcomes.append(f"winner {number}")
            except VersionConflict as conflict:
                assert conflict.expected == 1 and conflict.actual >= 2
                outcomes.append("lost")

        with Nursery() as nursery:
            for number in range(8):
                nursery.start_soon(contender, number)
        winners = [outcome for outcome in outcomes if outcome != "lost"]
        assert len(outcomes) == 8 and len(winners) == 1
        assert (store.get_metadata("s1")).version == 2
        assert _texts(store.load("s1")) == winners

    @pytest.mark.usefixtures("switch_often")
    def test_concurrent_creations_one_wins(self, store: SessionStore) -> None:
        outcomes: list[str] = []

        def contender(number: int) -> None:
            try:
                if number % 2:
                    store.append("new", _user(f"winner {number}"), expected_version=0)
                else:
                    store.save(
                        "new", Conversation().add_user(f"winner {number}"), expected_version=0
                    )
                outcomes.append(f"winner {number}")
            except VersionConflict as conflict:
                assert (conflict.expected, conflict.actual) == (0, 1)
                outcomes.append("lost")

        with Nursery() as nursery:
            for number in range(8):
                nursery.start_soon(contender, number)
        winners = [outcome for outcome in outcomes if outcome != "lost"]
        assert len(outcomes) == 8 and len(winners) == 1
        assert (store.get_metadata("new")).version == 1
        assert _texts(store.load("new")) == winners

    @pytest.mark.usefixtures("switch_often")
    def test_concurrent_pops_take_each_message_once(self, store: SessionStore) -> None:
        total = 40
        store.save("s1", Conversation([_user(str(i)) for i in range(total)]))
        popped: list[str | None] = []

        def popper() -> None:
            while True:
                message = store.pop("s1")
                if message is None:
                    return
                popped.append(message.text)
                sleep(0)

        with Nursery() as nursery:
            for _ in range(8):
                nursery.start_soon(popper)
        assert sorted(popped, key=lambda text: int(text or "")) == [str(i) for i in range(total)]
        meta = store.get_metadata("s1")
        assert meta.message_count == 0 and meta.size_bytes == 0
        assert meta.version == 1 + total

    @pytest.mark.usefixtures("switch_often")
    def test_concurrent_optimistic_appends_with_retry(self, store: SessionStore) -> None:
        store.save("counter", Conversation())

        def worker(number: int) -> None:
            for i in range(10):
                while True:
                    version = (store.get_metadata("counter")).version
                    sleep(0)  # widen the window between read and write
                    try:
                        store.append(
                            "counter", _user(f"{number}:{i}"), expected_version=version
                        )
                        break
                    except VersionConflict:
                        continue

        with Nursery() as nursery:
            for number in range(4):
                nursery.start_soon(worker, number)
        meta = store.get_metadata("counter")
        assert meta.message_count == 40 and meta.version == 41
        assert len(set(_texts(store.load("counter")))) == 40
