"""The JSON wire format: messages, envelopes, labels, sizes; never code execution."""

from __future__ import annotations

import json
import pickle
from typing import Any

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
    FORMAT_NAME,
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

MESSAGES = [
    Message("system", "Be brief."),
    Message("developer", "dev"),
    Message("user", "héllo ✈ 日本語 \U0001f600", name="ünï"),
    Message("user", ""),
    Message("assistant", None, tool_calls=(ToolCall("c1", "f", '{"a": "ü"}'),)),
    Message("tool", '{"r": 1}', tool_call_id="c1"),
    Message("assistant", 'quotes " and \\ and \n newlines', metadata={"k": [1, 2.5, None]}),
]


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# --- one message -----------------------------------------------------------------------


@pytest.mark.parametrize("message", MESSAGES)
def test_message_round_trip(message: Message) -> None:
    text = encode_message(message)
    assert isinstance(text, str)
    assert text == _compact(message.to_dict())  # compact, UTF-8, no ASCII escaping
    assert decode_message(text) == message
    assert decode_message(text.encode("utf-8")) == message


@pytest.mark.parametrize("message", MESSAGES)
def test_size_is_the_utf8_length_of_the_wire_form(message: Message) -> None:
    fresh = Message.from_dict(message.to_dict())  # no size cached yet
    expected = len(_compact(message.to_dict()).encode("utf-8"))
    assert message_size(fresh) == expected
    assert message_size(fresh) == expected  # cached
    assert message_size(decode_message(encode_message(message))) == expected


def test_non_ascii_counts_bytes_not_characters() -> None:
    message = Message("user", "é✈\U0001f600")  # 2 + 3 + 4 bytes
    ascii_twin = Message("user", "abc")
    assert message_size(message) - message_size(ascii_twin) == (2 + 3 + 4) - 3


def test_messages_size_mixes_cached_and_uncached() -> None:
    def make() -> list[Message]:
        return [Message("user", f"m{i} ✈") for i in range(6)]

    expected = sum(len(encode_message(m).encode("utf-8")) for m in make())
    messages = make()
    for message in messages[::2]:
        message_size(message)  # cache every other one
    assert messages_size(messages) == expected
    assert messages_size(messages) == expected  # now all cached
    assert messages_size(make()) == expected  # none cached
    assert messages_size([]) == 0
    assert messages_size(iter(make())) == expected


def test_conversation_size_follows_appends() -> None:
    conversation = Conversation([Message("user", f"m{i}") for i in range(3)])
    first = conversation_size(conversation)
    assert first == messages_size(conversation)
    conversation.add_assistant("é")
    assert conversation_size(conversation) == first + message_size(Message("assistant", "é"))
    clone = conversation.copy()
    clone.add_user("more")
    assert conversation_size(clone) == messages_size(clone)
    assert conversation_size(conversation) == messages_size(conversation)


def test_unencodable_text_is_a_serialization_error() -> None:
    # A lone surrogate is a str, but no UTF-8 backend can store it.
    message = Message("user", "bad \ud800 text")
    with pytest.raises(SerializationError, match="surrogate"):
        encode_message(message)
    with pytest.raises(SerializationError):
        message_size(message)
    with pytest.raises(SerializationError):
        dumps_conversation([message])


@pytest.mark.parametrize(
    "text",
    [
        '["a list"]',
        "5",
        '"a string"',
        "null",
        "{}",
        '{"content": "no role"}',
        '{"role": "wizard", "content": "x"}',
        '{"role": "user", "content": 5}',
        '{"role": "user", "metadata": {"x": NaN}}',
        '{"role": "assistant", "tool_calls": [{"id": "c"}]}',
    ],
)
def test_decoding_json_that_is_not_a_message(text: str) -> None:
    with pytest.raises(SerializationError):
        decode_message(text)


@pytest.mark.parametrize("text", ["", "{", "not json", '{"role": "user",}', b"\xff\xfe{"])
def test_decoding_malformed_json(text: str | bytes) -> None:
    with pytest.raises(SerializationError, match="JSON"):
        decode_message(text)


def test_unknown_role_in_stored_data_names_it() -> None:
    with pytest.raises(SerializationError, match="wizard"):
        decode_message('{"role": "wizard", "content": "x"}')


# --- nothing read executes code --------------------------------------------------------


class _Boom:
    """Unpickling this would run code; the wire format must never get that far."""

    ran = False

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        return (_Boom._explode, ())

    @staticmethod
    def _explode() -> None:
        _Boom.ran = True


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_a_pickle_payload_is_just_invalid_json(protocol: int) -> None:
    payload = pickle.dumps(_Boom(), protocol=protocol)
    with pytest.raises(SerializationError):
        decode_message(payload)
    with pytest.raises(SerializationError):
        loads_conversation(payload)
    with pytest.raises(SerializationError):
        decode_labels(payload)
    assert not _Boom.ran
    plain = pickle.dumps({"role": "user", "content": "x"}, protocol=protocol)
    with pytest.raises(SerializationError):
        decode_message(plain)


def test_messages_pickle_by_value_across_processes() -> None:
    message = Message("user", "x", metadata={"k": ["v"]})
    assert pickle.loads(pickle.dumps(message)) == message


# --- the conversation envelope ---------------------------------------------------------


def test_envelope_round_trip() -> None:
    conversation = Conversation(MESSAGES)
    text = dumps_conversation(conversation)
    data = json.loads(text)
    assert data["format"] == FORMAT_NAME == "agent-session"
    assert data["version"] == FORMAT_VERSION == 1
    assert data["messages"] == [m.to_dict() for m in MESSAGES]
    assert text == _compact(data)
    loaded = loads_conversation(text)
    assert loaded == conversation and loaded is not conversation
    assert loads_conversation(text.encode("utf-8")) == conversation
    assert dumps_conversation(iter(MESSAGES)) == text  # any iterable of messages
    assert loads_conversation(dumps_conversation(Conversation())) == Conversation()


def test_envelope_sizes_are_fresh() -> None:
    text = dumps_conversation(Conversation(MESSAGES))
    loaded = loads_conversation(text)
    assert messages_size(loaded) == sum(len(encode_message(m).encode()) for m in MESSAGES)


@pytest.mark.parametrize("version", [0, 2, 99, "1", None, 1.5, True])
def test_unknown_version_names_it(version: object) -> None:
    text = json.dumps({"format": "agent-session", "version": version, "messages": []})
    with pytest.raises(SerializationError, match="version") as info:
        loads_conversation(text)
    assert repr(version) in str(info.value)
    assert "upgrade" in str(info.value)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("not json", "JSON"),
        ("", "JSON"),
        ('{"format": "agent-session", "version": 1, "messages": [', "JSON"),
        ("[]", "envelope"),
        ('"agent-session"', "envelope"),
        ("{}", "envelope"),
        ('{"format": "other", "version": 1, "messages": []}', "envelope"),
        ('{"version": 1, "messages": []}', "envelope"),
        ('{"format": "agent-session", "version": 1}', "messages"),
        ('{"format": "agent-session", "version": 1, "messages": {}}', "messages"),
        ('{"format": "agent-session", "version": 1, "messages": null}', "messages"),
        ('{"format": "agent-session", "version": 1, "messages": "abc"}', "messages"),
        ('{"format": "agent-session", "version": 1, "messages": [{"role": "x"}]}', "role"),
        ('{"format": "agent-session", "version": 1, "messages": [5]}', "message"),
    ],
)
def test_bad_envelopes(text: str, match: str) -> None:
    with pytest.raises(SerializationError, match=match):
        loads_conversation(text)


# --- labels ----------------------------------------------------------------------------


def test_labels_round_trip() -> None:
    labels = {"b": "2", "a": "ä ✈", "": "", "quote": '"'}
    text = encode_labels(labels)
    assert text == _compact(dict(sorted(labels.items())))  # sorted keys: stable to compare
    assert decode_labels(text) == labels
    assert decode_labels(text.encode("utf-8")) == labels
    assert encode_labels({"b": "1", "a": "2"}) == encode_labels({"a": "2", "b": "1"})
    assert decode_labels(encode_labels({})) == {}


@pytest.mark.parametrize("empty", ["", b"", None])
def test_no_stored_labels(empty: str | bytes | None) -> None:
    assert decode_labels(empty) == {}


@pytest.mark.parametrize(
    "bad", ['{"a": 1}', '{"a": null}', '{"a": ["x"]}', "[]", '["a", "b"]', "null", '"s"', "5"]
)
def test_bad_stored_labels(bad: str) -> None:
    with pytest.raises(SerializationError, match="str -> str"):
        decode_labels(bad)


@pytest.mark.parametrize("bad", ["{", "not json", '{"a": "b",}'])
def test_malformed_stored_labels(bad: str) -> None:
    with pytest.raises(SerializationError, match="JSON"):
        decode_labels(bad)


# --- the fast encoder ------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        False,
        0,
        -1,
        2**64,
        -(2**100),
        0.0,
        -0.0,
        0.1,
        1.5,
        1e16,
        1e-7,
        -2.5e300,
        5e-324,
        1.7976931348623157e308,
        "",
        "plain",
        "ü✈日本\U0001f600",
        'quote " backslash \\ slash /',
        "\n\r\t\b\f",
        "\x00\x01\x1f\x7f\x85",
        "\u2028\u2029",
        [],
        {},
        [[]],
        {"": {}},
        [1, "a", None, True, 2.5],
        (1, 2, (3,)),
        {"a": 'é"\\\n\x01'},
        {"nested": {"x": [{}, {"y": [None]}]}, "é": "ü"},
        {"b": 1, "a": 2},  # insertion order kept, not sorted
        Message("assistant", None, tool_calls=(ToolCall("c", "f"),)).to_dict(),
        Message("user", "x", name="n", metadata={"k": [1.0, {"z": -0.0}]}).to_dict(),
    ],
    ids=repr,
)
def test_fast_encoder_matches_json_dumps(value: object) -> None:
    assert _encode(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), [float("-inf")]], ids=repr)
def test_fast_encoder_refuses_non_json_floats(value: object) -> None:
    with pytest.raises(ValueError):
        _encode(value)
