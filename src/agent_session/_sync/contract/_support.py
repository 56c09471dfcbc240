# This file is generated from _async/contract/_support.py by scripts/unasync.py: do not edit.
"""What every topic of the contract shares: the store under test, its clock, sample data."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ..._fakeclock import FakeClock
from ..._model import Conversation, Message, ToolCall
from ..base import SessionStore


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


def _user(text: str) -> Message:
    return Message("user", text)


def _texts(conversation: Conversation) -> list[str | None]:
    # Plain text contents: None stays None (an assistant message that only calls tools).
    return [None if message.content is None else message.text for message in conversation]


class ContractBase:
    """The store under test and its clock: what each topic's mixin builds on."""

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
