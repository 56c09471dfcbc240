"""The JSON wire format, version 2, as a user relies on it.

A stored message is ``{"id":..,"at":..,"m":<payload>}``; a conversation is the
``{"format":"agent-session","version":2,"messages":[..]}`` envelope. Format 1 rows and
envelopes (agent-session 0.1.0: bare payloads) still load. Whatever the stored bytes,
reading them either gives messages or raises SerializationError naming the session,
never another exception, and never executes code. Labels and sizes live here too.
"""

from __future__ import annotations

import json
import pickle
import re
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
from agent_session._fastpaths import conversation_size
from agent_session._model import MAX_DEPTH, stamp
from agent_session._serialization import (
    decode_labels,
    decode_message,
    decode_messages,
    encode_labels,
    encode_message,
    message_size,
    messages_size,
)

NOW = 1700000000.25
TEXT = 'héllo ✈ 日本語 \U0001f600 \u2028\u2029 nul\x00 "q" \\ \n\t'
PARTS = [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": "data:,"}}]
CALL = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a": "ü"}'}}
THINKING = {"type": "thinking", "thinking": "hmm", "signature": "EqQBCkgIAR=="}
#: Built with the constructor (``Message(**payload)``): every field it has.
CHAT_PAYLOADS: list[dict[str, Any]] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": ""},
    {"role": "user", "content": PARTS, "name": "ünï", "metadata": {"k": [1, 2.5, None, {}]}},
    {"role": "assistant", "content": None, "tool_calls": [CALL], "refusal": None},
    {"role": "tool", "content": '{"r": 1}', "tool_call_id": "call_1", "name": "f"},
    {"role": "developer", "content": TEXT},
]
#: Kept whole by ``Message.from_dict``: Responses items, Anthropic blocks, LangChain dicts.
RAW_PAYLOADS: list[dict[str, Any]] = [
    {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}", "id": "fc_1"},
    {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAAAB" + "x" * 300},
    {"role": "assistant", "content": [THINKING, {"type": "text", "text": "ok"}]},
    {"type": "ai", "data": {"content": "hi", "tool_calls": [{"name": "f", "args": {"x": 1}}]}},
    {"role": "user", "content": TEXT, "metadata": {"big": 2**200, "neg": -(2**70), "f": 0.1}},
    {"role": "user", "content": "x", "metadata": {"\x00\u2028🔑": [None, True, -0.0, 5e-324]}},
]
CASES = [(Message(**p), p) for p in CHAT_PAYLOADS] + [
    (Message.from_dict(p), p) for p in RAW_PAYLOADS
]
MESSAGES = [message for message, _ in CASES]


def _envelope(rows: str, version: object = 2, name: str = "agent-session") -> str:
    return f'{{"format":{json.dumps(name)},"version":{json.dumps(version)},"messages":[{rows}]}}'


def _compact(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _deep(n: int) -> str:
    return "[" * n + "]" * n


def _row(m: str = '{"role":"user"}', ident: str = '"a"', at: str = "1") -> str:
    return f'{{"id":{ident},"at":{at},"m":{m}}}'


# --- round trip -------------------------------------------------------------------------


@pytest.mark.parametrize(("message", "payload"), CASES)
def test_round_trip_keeps_payload_id_and_time(message: Message, payload: dict[str, Any]) -> None:
    assert message.to_dict() == payload
    (stamped,) = stamp([message], NOW)
    assert re.fullmatch("[0-9a-f]{30}", stamped.id or "") and stamped.created_at == NOW
    for text in (encode_message(stamped), encode_message(stamped).encode("utf-8")):
        decoded = decode_message(text)
        assert decoded == message
        assert (decoded.id, decoded.created_at) == (stamped.id, NOW)
        assert decoded.to_dict() == payload
        assert encode_message(decoded) == encode_message(stamped)


def test_conversation_round_trip_keeps_ids() -> None:
    stamped = stamp(MESSAGES, NOW)
    text = dumps_conversation(Conversation(stamped))
    data = json.loads(text)
    assert list(data) == ["format", "version", "messages"]
    assert (data["format"], data["version"]) == ("agent-session", 2)
    assert data["messages"] == [
        {"id": m.id, "at": NOW, "m": p} for m, (_, p) in zip(stamped, CASES, strict=True)
    ]
    for loaded in (loads_conversation(text), loads_conversation(text.encode("utf-8"))):
        assert loaded == Conversation(MESSAGES)
        assert [(m.id, m.created_at) for m in loaded] == [(m.id, NOW) for m in stamped]
    assert dumps_conversation(iter(stamped)) == text  # any iterable of messages
    assert loads_conversation(dumps_conversation(Conversation())) == Conversation()


# --- the exact bytes --------------------------------------------------------------------


def test_stored_form_of_a_stamped_message() -> None:
    message = Message("user", "hé ✈", metadata={"k": [1]}).with_id("msg-1")
    (message,) = stamp([message], NOW)  # keeps the id, sets the time
    assert encode_message(message) == (
        '{"id":"msg-1","at":1700000000.25,"m":'
        '{"role":"user","content":"hé ✈","metadata":{"k":[1]}}}'
    )


def test_stored_form_of_an_unstamped_message_and_envelope() -> None:
    message = Message("assistant", None, tool_calls=[ToolCall("c1", "f")])
    row = (
        '{"id":null,"at":null,"m":{"role":"assistant","content":null,'
        '"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]}}'
    )
    assert encode_message(message) == row
    assert dumps_conversation([message, message]) == _envelope(f"{row},{row}")


# --- format 1 (agent-session 0.1.0) -----------------------------------------------------

V1_ROWS = [
    '{"role":"user","content":"hi","metadata":{"k":1}}',
    '{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function",'
    '"function":{"name":"f","arguments":"{}"}}]}',
    '{"role":"tool","content":"42","tool_call_id":"c1"}',
]


@pytest.mark.parametrize("row", V1_ROWS)
def test_a_format_1_row_loads_without_id(row: str) -> None:
    message = decode_message(row, "s")
    assert (message.id, message.created_at) == (None, None)
    assert message.to_dict() == json.loads(row)
    assert message_size(message) == len(row)
    assert encode_message(message) == f'{{"id":null,"at":null,"m":{row}}}'


def test_a_version_1_envelope_loads() -> None:
    text = f'{{"format":"agent-session","version":1,"messages":[{",".join(V1_ROWS)}]}}'
    loaded = loads_conversation(text, "s")
    assert loaded.to_dicts() == [json.loads(row) for row in V1_ROWS]
    assert all(m.id is None and m.created_at is None for m in loaded)
    assert loads_conversation(_envelope("", version=1)) == Conversation()


# --- sizes ------------------------------------------------------------------------------


@pytest.mark.parametrize(("message", "payload"), CASES)
def test_size_is_the_payload_bytes(message: Message, payload: dict[str, Any]) -> None:
    size = message_size(message)
    assert size == len(_compact(payload).encode("utf-8"))
    (stamped,) = stamp([message], NOW)
    assert message_size(stamped) == message_size(message.with_id("x")) == size
    overhead = len(f'{{"id":"{stamped.id}","at":{NOW!r},"m":}}')
    assert len(encode_message(stamped).encode("utf-8")) == overhead + size


def test_sizes_count_bytes_sum_and_follow_appends() -> None:
    assert message_size(Message("user", "é✈\U0001f600")) - message_size(Message("user", "abc")) == 6
    assert messages_size(MESSAGES) == sum(map(message_size, MESSAGES))
    assert messages_size(iter(MESSAGES)) == messages_size(stamp(MESSAGES, NOW))
    assert messages_size([]) == 0
    conversation = Conversation([Message("user", f"m{i}") for i in range(3)])
    first = conversation_size(conversation)
    assert first == messages_size(conversation)
    conversation.add_assistant("é")
    assert conversation_size(conversation) == first + message_size(Message("assistant", "é"))
    clone = conversation.copy()
    clone.add_user("more")
    assert conversation_size(clone) == messages_size(clone)
    assert conversation_size(conversation) == messages_size(conversation)
    assert messages_size(loads_conversation(dumps_conversation(clone))) == messages_size(clone)


# --- hostile stored data ----------------------------------------------------------------

NOT_JSON: list[str | bytes] = [
    "not json", "{", "", b"", b"\xff\xfe{", '{"role":"user"} trailing', "\ud800",
    b'{"id":"a","at":1,"m":{"role":"user","content":"\xff"}}',
    _deep(5000), '{"m":' * 5000 + "{}" + "}" * 5000,
]  # fmt: skip
BAD_FIELDS = [
    '"role":5', '"role":"wizard"', '"role":"user","content":5', '"role":"user","content":{}',
    '"role":"assistant","tool_calls":5', '"role":"assistant","tool_calls":[{"id":1}]',
    '"role":"assistant","tool_calls":["x"]', '"role":"user","metadata":[]',
    '"role":"assistant","tool_calls":[{"id":"c","function":{"name":5}}]',
    '"role":"user","name":5', '"tool_call_id":5',
]  # fmt: skip
BAD_ROWS = [
    "[]", "5", "null", '"s"', "true", "{}", '{"id":"a","at":1}',
    _row(ident="5"), _row(ident='""'), _row(ident=json.dumps("x" * 513)),
    _row(at='"x"'), _row(at="true"), _row(at="9" * 400), _row(at="1e400"),
    _row("[]"), _row('"str"'), _row("null"), _row("5"), _row(_deep(5000)),
    _row('{"role":"user","metadata":{"x":' + _deep(5000) + "}}"),
    _row('{"role":"user","content":"\\ud800"}'), _row('{"type":"x","x":[1,"\\ud800"]}'),
    *(_row("{" + field + "}") for field in BAD_FIELDS),
    *("{" + field + "}" for field in BAD_FIELDS if field.startswith('"role"')),  # format 1
]  # fmt: skip


@pytest.mark.parametrize("text", NOT_JSON, ids=repr)
def test_what_is_not_json_names_its_session(text: str | bytes) -> None:
    for read in (decode_message, loads_conversation):
        with pytest.raises(SerializationError) as info:
            read(text, "s")
        assert info.value.session_id == "s"


@pytest.mark.parametrize("row", BAD_ROWS, ids=repr)
def test_a_malformed_row_names_its_session_alone_or_in_an_envelope(row: str) -> None:
    texts = [row, _envelope(f"{encode_message(Message('user', 'fine'))},{row}")]
    if row.startswith('{"role"') or not row.startswith("{"):  # a bare payload: format 1 too
        texts.append(_envelope(row, version=1))
    for text in texts:
        read = loads_conversation if text.startswith('{"format"') else decode_message
        with pytest.raises(SerializationError) as info:
            read(text, "s")
        assert info.value.session_id == "s"


@pytest.mark.parametrize(
    "text",
    [
        *("[]", '"agent-session"', "{}", "null", "5"), _envelope("", name="other"),
        *(_envelope("", version=v) for v in (True, 1.5, 0, 3, 99, None, "2", [2])),
        '{"format":"agent-session","version":2}', '{"version":2,"messages":[]}',
        *('{"format":"agent-session","version":2,"messages":' + m + "}" for m in ("{}", "5")),
    ],
    ids=repr,
)  # fmt: skip
def test_a_malformed_envelope_names_its_session(text: str) -> None:
    with pytest.raises(SerializationError) as info:
        loads_conversation(text, session_id="s")
    assert info.value.session_id == "s"


@pytest.mark.parametrize("version", [0, 3, 99])
def test_an_unknown_version_says_upgrade(version: int) -> None:
    with pytest.raises(SerializationError, match=f"version {version} .*upgrade"):
        loads_conversation(_envelope("", version=version))


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ('{"id":"a","id":"b","at":1,"m":{"role":"user","content":"x"}}', ("b", "user", "x")),
        ('{"id":"a","at":1,"m":{"role":"user"},"m":{"role":"tool"}}', ("a", "tool", None)),
        (_row('{"role":"user","content":"x","content":"y"}'), ("a", "user", "y")),
        (_row('{"role":"wizard","role":"user","content":"x"}'), ("a", "user", "x")),
        ('{"id":"a","at":1,"at":2,"m":{"role":"user","content":"x"}}', ("a", "user", "x")),
        ('{"role":"user","content":"x","content":"y"}', (None, "user", "y")),
    ],
)
def test_duplicate_keys_last_wins_or_refused(row: str, expected: tuple[Any, ...]) -> None:
    try:
        message = decode_message(row, session_id="s")
    except SerializationError as exc:
        assert exc.session_id == "s"
        return
    assert (message.id, message.role, message.content) == expected
    assert (message.to_dict()["role"], message.to_dict().get("content")) == expected[1:]


@pytest.mark.parametrize(
    "row",
    [
        # An out-of-range float anywhere but "at" loads (alone, format 1, in an envelope),
        # and then to_dict(), .metadata, .content raise msgspec.ValidationError.
        _row('{"role":"user","metadata":{"v":1e400}}'),
        '{"role":"user","content":[{"type":"text","text":"a","n":-1e400}]}',
        _envelope(_row('{"role":"assistant","tool_calls":[{"id":"c","x":1e400}]}')),
        _row('{"type":"x","x":1' + "0" * 400 + ".0}"),
        # Nested past MAX_DEPTH, which from_dict refuses; ~950 deep, .metadata raises
        # RecursionError (msgspec still parses it)
        _row('{"role":"user","metadata":{"a":' + _deep(MAX_DEPTH + 50) + "}}"),
        _row("{}"),  # from_dict: "an empty JSON object is not a message"
        _row(ident='"a\\nb"'),  # ids must be printable: with_id("a\\nb") raises ValueError
        # The typed pass skips what it does not type; the byte scans beside it find these:
        _row('{"role":"user","x":1E+400}'),  # a signed, upper-case exponent
        _row('{"role":"user","x":1' + "0" * 250 + "e99}"),  # a long mantissa, a short exponent
        _row('{"role":"user","x":' + "9" * 5000 + "}"),  # an int past the parser's digits
        _row("{ \n }"),  # empty, with whitespace
        _row('{"role":"user","x":"' + "y" * 500 + '","d":' + _deep(MAX_DEPTH + 1) + "}"),
        _row('{"role":"user","content":[' + _deep(MAX_DEPTH + 1) + "]}"),
        _row('{"role":5}'),  # a known field of the wrong type
        _row('{"role":"robot"}'),  # an unknown role
        _row('{"role":"user","metadata":[1]}'),
        _row('{"role":"user","tool_calls":[{"function":{"name":"f"}}]}'),  # no call id
    ],
    ids=[
        "1e400",
        "1e400-v1",
        "1e400-envelope",
        "1e400-digits",
        "too-deep",
        "empty",
        "bad-id",
        "1E+400",
        "long-mantissa",
        "5000-digit-int",
        "empty-spaced",
        "deep-in-long-payload",
        "deep-in-content",
        "role-type",
        "role-unknown",
        "metadata-list",
        "call-without-id",
    ],
)
def test_decoding_refuses_what_the_model_refuses(row: str) -> None:
    read = loads_conversation if row.startswith('{"format"') else decode_message
    with pytest.raises(SerializationError) as info:
        read(row, "s")
    assert info.value.session_id == "s"


@pytest.mark.parametrize(
    "row",
    [
        _row('{"role":"user","x":"\xff"}').encode("latin-1"),  # not UTF-8, in a skipped field
        _row('{"role":"user","content":[{"t":"\xc3"}]}').encode("latin-1"),
    ],
    ids=["skipped-field", "content-part"],
)
def test_bytes_that_are_not_utf8_are_refused(row: bytes) -> None:
    with pytest.raises(SerializationError) as info:
        decode_messages([_row('{"role":"user"}').encode(), row], "s")
    assert info.value.session_id == "s"


@pytest.mark.parametrize(
    "payload",
    [
        '{"role":"user","x":1e-400}',  # underflows to 0.0, as Python's json reads it
        '{"role":"user","x":-1000,"y":"e000 e+100 1e100 ' + "0" * 300 + '"}',  # look-alikes
        '{"role":"user","x":1' + "0" * 300 + "}",  # a big int is still an int
        '{"role":"user","x":' + _deep(MAX_DEPTH - 2) + "}",  # as deep as allowed
        '{"a":1}',
    ],
    ids=["underflow", "look-alikes", "big-int", "deep-enough", "short"],
)
def test_what_the_scans_flag_but_the_model_keeps_loads(payload: str) -> None:
    (message,) = decode_messages([_row(payload)], "s")
    assert message.to_dict() == json.loads(payload)
    assert Message.from_dict(json.loads(payload)) == message


# --- to_dict gives copies ---------------------------------------------------------------


def _vandalise(value: object) -> None:
    """Change every list and dict in ``value``, however deep."""
    if isinstance(value, list):
        for item in value:
            _vandalise(item)
        value.append("junk")
    elif isinstance(value, dict):
        for item in value.values():
            _vandalise(item)
        value["junk"] = [1]


@pytest.mark.parametrize(("message", "payload"), CASES)
def test_mutating_dicts_in_or_out_changes_nothing(
    message: Message, payload: dict[str, Any]
) -> None:
    given = json.loads(json.dumps(payload))
    for each in (message, decode_message(encode_message(message)), Message.from_dict(given)):
        content, metadata = each.content, dict(each.metadata)
        _vandalise(each.to_dict())
        _vandalise(given)
        assert each.to_dict() == payload
        assert (each.content, dict(each.metadata)) == (content, metadata)


# --- nothing read executes code ---------------------------------------------------------


RAN: list[bool] = []


def _explode() -> None:
    RAN.append(True)


class _Boom:
    """Unpickling this would run code; the wire format must never get that far."""

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        return (_explode, ())


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_a_pickle_payload_is_just_invalid_json(protocol: int) -> None:
    for value in (_Boom(), {"role": "user", "content": "x"}):
        payload = pickle.dumps(value, protocol=protocol)
        for read in (decode_message, loads_conversation):
            with pytest.raises(SerializationError) as info:
                read(payload, "s")
            assert info.value.session_id == "s"
        with pytest.raises(SerializationError):
            decode_labels(payload)
    assert not RAN


def test_messages_pickle_by_value_with_id_and_time() -> None:
    (message,) = stamp([Message("user", "x", metadata={"k": ["v"]})], NOW)
    copy = pickle.loads(pickle.dumps(message))
    assert copy == message and (copy.id, copy.created_at) == (message.id, NOW)


# --- labels -----------------------------------------------------------------------------


def test_labels_round_trip() -> None:
    labels = {"b": "2", "a": "ä ✈", "": "", "quote": '"'}
    text = encode_labels(labels)
    assert text == _compact(dict(sorted(labels.items())))  # sorted keys: stable to compare
    assert decode_labels(text) == labels
    assert decode_labels(text.encode("utf-8")) == labels
    assert encode_labels({"b": "1", "a": "2"}) == encode_labels({"a": "2", "b": "1"})
    assert decode_labels(encode_labels({})) == {}
    assert decode_labels("") == decode_labels(b"") == decode_labels(None) == {}  # none stored


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        *((b, "str -> str") for b in ('{"a": 1}', '{"a": null}', '{"a": ["x"]}', "[]", "null")),
        *((b, "str -> str") for b in ('["a", "b"]', '"s"', "5")),
        *((b, "JSON") for b in ("{", "not json", '{"a": "b",}')),
    ],
)
def test_bad_stored_labels(bad: str, match: str) -> None:
    with pytest.raises(SerializationError, match=match):
        decode_labels(bad)
