"""The JSON wire format: messages, envelopes, labels, sizes; never code execution."""

from __future__ import annotations

import json
import pickle

import pytest

from agent_session import (
    Conversation,
    Message,
    SerializationError,
    ToolCall,
    dumps_conversation,
    loads_conversation,
)
from agent_session._serialization import (
    FORMAT_VERSION,
    _encode,
    conversation_size,
    decode_labels,
    decode_message,
    encode_labels,
    encode_message,
    message_size,
    messages_size,
)


def test_message_round_trip_and_size() -> None:
    message = Message(
        "assistant",
        "héllo ✈",
        tool_calls=(ToolCall("c", "f", "{}"),),
        metadata={"k": [1, 2.5, None, True]},
    )
    text = encode_message(message)
    assert decode_message(text) == message
    assert message_size(message) == len(text.encode("utf-8"))
    assert text == json.dumps(message.to_dict(), ensure_ascii=False, separators=(",", ":"))


def test_sizes_cached_and_uncached() -> None:
    messages = [Message("user", f"m{i}") for i in range(5)]
    expected = sum(len(encode_message(Message("user", f"m{i}")).encode()) for i in range(5))
    assert messages_size(messages) == expected
    assert messages_size(messages) == expected  # now from the cache
    conversation = Conversation(messages)
    assert conversation_size(conversation) == expected
    conversation.add_user("one more")
    assert conversation_size(conversation) == expected + message_size(Message("user", "one more"))


def test_envelope_round_trip() -> None:
    conversation = Conversation().add_system("s").add_user("ü")
    text = dumps_conversation(conversation)
    data = json.loads(text)
    assert data["format"] == "agent-session" and data["version"] == FORMAT_VERSION
    assert loads_conversation(text) == conversation


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('{"format": "agent-session", "version": 99, "messages": []}', "99"),
        ("not json", "JSON"),
        ('{"format": "other"}', "envelope"),
        ('{"format": "agent-session", "version": 1, "messages": {}}', "messages"),
        ('{"format": "agent-session", "version": 1, "messages": [{"role": "x"}]}', "role"),
    ],
)
def test_bad_envelopes(text: str, match: str) -> None:
    with pytest.raises(SerializationError, match=match):
        loads_conversation(text)


def test_pickle_is_never_executed() -> None:
    message = Message("user", "x", metadata={"k": ["v"]})
    assert pickle.loads(pickle.dumps(message)) == message  # messages can cross processes
    payload = pickle.dumps({"role": "user", "content": "x"})
    with pytest.raises(SerializationError):
        decode_message(payload)
    with pytest.raises(SerializationError):
        decode_message('["a list"]')


def test_labels() -> None:
    assert decode_labels(encode_labels({"b": "2", "a": "ä"})) == {"a": "ä", "b": "2"}
    assert decode_labels("") == {}
    with pytest.raises(SerializationError):
        decode_labels('{"a": 1}')
    with pytest.raises(SerializationError):
        decode_labels("{")


@pytest.mark.parametrize(
    "value",
    [{"a": 'é"\\\n\x01'}, [1, 2.5, 1e16, -0.0, None, True], {"nested": {"x": [{}]}}, "ü✈"],
)
def test_fast_encoder_matches_json_dumps(value: object) -> None:
    assert _encode(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))
