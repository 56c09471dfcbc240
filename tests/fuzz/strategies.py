"""Hypothesis settings and strategies shared by the fuzzers.

Settings: every fuzz test takes :data:`FUZZ`, the ``fuzz-ci`` profile (a bounded number
of examples, a per-example deadline, no example database written into the tree) or,
when ``AGENT_SESSION_FUZZ_EXAMPLES=N`` is set, the ``fuzz-soak`` profile (N examples
per test). The profiles are applied per test, never loaded globally, so other
hypothesis tests in the suite keep their own settings.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from agent_session import Message
from agent_session._model import PAYLOAD_ROLES
from agent_session._serialization import encode_message

__all__ = [
    "FUZZ",
    "as_row",
    "binary_or_text",
    "created_ats",
    "json_objects",
    "json_text",
    "json_values",
    "message_ids",
    "messages",
    "nested_text",
    "payloads",
    "row_texts",
    "same_json",
    "session_ids",
    "text_with_surrogates",
    "valid_payloads",
]

_CI_EXAMPLES = 200
_SOAK_EXAMPLES = os.environ.get("AGENT_SESSION_FUZZ_EXAMPLES")

settings.register_profile(
    "fuzz-ci",
    max_examples=_CI_EXAMPLES,
    # Generous against a loaded 2-core CI machine; a hang still fails, with its input.
    deadline=timedelta(seconds=2),
    database=None,  # CI leaves no .hypothesis/ behind; print_blob reproduces a failure
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "fuzz-soak",
    settings.get_profile("fuzz-ci"),
    max_examples=int(_SOAK_EXAMPLES or _CI_EXAMPLES),
)
#: The settings every fuzz test runs with (decorate the test with it).
FUZZ = settings.get_profile("fuzz-soak" if _SOAK_EXAMPLES else "fuzz-ci")

# -- JSON as Python values -------------------------------------------------------------

#: Integers past 64 bits and past every float are valid JSON, kept whole.
_HUGE_INTS = st.sampled_from([2**63, -(2**63) - 1, 2**64, 10**400, -(10**400)])
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | _HUGE_INTS
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
#: Any JSON value (finite floats, text without lone surrogates).
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(max_size=8), json_values, max_size=5)
#: What ``json`` can produce but JSON cannot hold: NaN, infinities, lone surrogates.
_NOT_JSON_SCALARS = st.sampled_from(
    [float("nan"), float("inf"), float("-inf"), "\ud800", "a\udfffb", {"\udc00": 1}]
)
text_with_surrogates = st.lists(
    st.text(max_size=6) | st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"]), max_size=5
).map("".join)

# -- message payloads ------------------------------------------------------------------


def _merged(parts: tuple[dict[str, Any], dict[str, Any], bool]) -> dict[str, Any]:
    known, extra, known_first = parts  # key order is part of the payload: vary it
    return {**known, **extra} if known_first else {**extra, **known}


def _shaped(
    role: st.SearchStrategy[Any],
    content: st.SearchStrategy[Any],
    text: st.SearchStrategy[Any],
    calls: st.SearchStrategy[Any],
    metadata: st.SearchStrategy[Any],
    extra: st.SearchStrategy[dict[str, Any]],
) -> st.SearchStrategy[dict[str, Any]]:
    known = st.fixed_dictionaries(
        {},
        optional={
            "role": role,
            "content": content,
            "name": text,
            "tool_calls": calls,
            "tool_call_id": text,
            "metadata": metadata,
        },
    )
    return st.tuples(known, extra, st.booleans()).map(_merged)


_valid_calls = st.lists(
    st.fixed_dictionaries(
        {"id": st.text(max_size=8)},
        optional={
            "type": st.just("function"),
            "function": st.none()
            | st.fixed_dictionaries(
                {"name": st.text(max_size=8)}, optional={"arguments": st.text(max_size=12)}
            ),
            "args": json_objects,
        },
    ),
    max_size=3,
)
_extra = st.dictionaries(
    st.text(max_size=8).filter(
        lambda k: k not in {"role", "content", "name", "tool_calls", "tool_call_id", "metadata"}
    ),
    json_values,
    max_size=3,
)
#: Payloads ``Message.from_dict`` must accept: any JSON object whose known fields have
#: their documented types (non-empty: see the filter).
valid_payloads = _shaped(
    role=st.none() | st.sampled_from(sorted(PAYLOAD_ROLES)),
    content=st.none() | st.text(max_size=20) | st.lists(json_values, max_size=3),
    text=st.none() | st.text(max_size=8),
    calls=st.none() | _valid_calls,
    metadata=st.none() | json_objects,
    extra=_extra,
).filter(bool)
_any_value = json_values | _NOT_JSON_SCALARS
#: Payload-shaped JSON objects whose known fields are often of the wrong type, and
#: whose values may be what JSON cannot hold.
payloads = valid_payloads | _shaped(
    role=st.sampled_from(sorted(PAYLOAD_ROLES)) | st.text(max_size=8) | _any_value,
    content=st.none() | st.text(max_size=8) | st.lists(_any_value, max_size=3) | _any_value,
    text=st.none() | st.text(max_size=8) | _any_value,
    calls=_any_value
    | st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                "id": st.text(max_size=4) | _any_value,
                "function": _any_value
                | st.fixed_dictionaries({}, optional={"name": _any_value, "arguments": _any_value}),
            },
        )
        | _any_value,
        max_size=3,
    ),
    metadata=_any_value,
    extra=st.dictionaries(st.text(max_size=8) | text_with_surrogates, _any_value, max_size=3),
)

#: Message ids the stores accept: 1 to 512 printable characters.
message_ids = st.text(
    st.characters(categories=("L", "M", "N", "P", "S")) | st.just(" "), min_size=1, max_size=24
).filter(str.isprintable)
#: Session ids: the same rule.
session_ids = message_ids
created_ats = st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**53), 2**53)


@st.composite
def messages(draw: st.DrawFn, stamped: bool | None = None) -> Message:
    """A message from a valid payload; stamped with an id and a time, or not, or either."""
    payload = draw(valid_payloads)
    stamp = draw(st.booleans()) if stamped is None else stamped
    if not stamp:
        return Message.from_dict(payload)
    return Message.from_dict(payload, id=draw(message_ids), created_at=draw(created_ats))


def same_json(a: object, b: object) -> bool:
    """Equal as JSON, key order, ``True`` vs ``1`` and ``-0.0`` vs ``0.0`` included."""
    return json.dumps(a) == json.dumps(b)


# -- JSON as text ----------------------------------------------------------------------

#: Number tokens a parser must refuse or keep exactly: out of a double's range, past
#: 64 bits, NaN and infinities (not JSON at all), underflow.
_NUMBER_TOKENS = st.sampled_from(
    [
        "1e999",
        "-1e999",
        "1" + "0" * 400,
        "-" + "9" * 400,
        "NaN",
        "Infinity",
        "-Infinity",
        "1e-400",
        "-0",
        "0.1",
        "5e-324",
        "1.7976931348623157e308",
        "18446744073709551616",
    ]
)
#: String tokens: lone surrogate escapes, escaped and raw controls, bad escapes.
_STRING_TOKENS = st.sampled_from(
    [
        '"\\ud800"',
        '"\\udc00x"',
        '"\\ud83d\\ude00"',
        '"a\\u0000b"',
        '"\\u2028"',
        '"\\x41"',
        '"tab\there"',
        '"\\"',
        '"caf\u00e9"',
        '"\\uD800\\uDBFF"',
    ]
)


def _object_text(items: list[tuple[str, str]]) -> str:
    return "{" + ",".join(f"{k}:{v}" for k, v in items) + "}"


_token = (
    st.sampled_from(["null", "true", "false"])
    | _NUMBER_TOKENS
    | _STRING_TOKENS
    | st.integers().map(str)
    | st.text(max_size=6).map(json.dumps)
)
#: JSON-like text: valid JSON mixed with what is almost JSON (duplicate keys,
#: out-of-range numbers, NaN, lone surrogate escapes, stray commas).
json_text = st.recursive(
    _token,
    lambda inner: (
        st.lists(inner, max_size=4).map(lambda xs: "[" + ",".join(xs) + "]")
        | st.lists(
            st.tuples(st.text(max_size=4).map(json.dumps) | _STRING_TOKENS, inner), max_size=4
        ).map(_object_text)
        | st.tuples(inner, st.sampled_from([",", " ", "]", "}", ":", ",]", "\n"])).map("".join)
    ),
    max_leaves=10,
)


def nested_text(depth: int, kind: str = "[") -> str:
    """``depth`` levels of nesting: ``[[[...]]]``, ``{"a":{"a":...}}`` or both in turn."""
    if kind == "[":
        return "[" * depth + "]" * depth
    if kind == "{":
        return '{"a":' * depth + "1" + "}" * depth
    return '{"a":[' * (depth // 2) + "1" + "]}" * (depth // 2)


# -- stored rows -----------------------------------------------------------------------


def as_row(id_json: str, at_json: str, m_json: str) -> str:
    """A stored message's text from the JSON of its three fields (see the wire format)."""
    return f'{{"id":{id_json},"at":{at_json},"m":{m_json}}}'


def _mutated(text: str, data: st.DataObject) -> str:
    """``text`` cut, extended or with a token spliced in at some place."""
    at = data.draw(st.integers(0, len(text)))
    how = data.draw(st.sampled_from(["cut", "insert", "replace"]))
    token = data.draw(_token | st.sampled_from(["{", "}", "[", "]", ",", '"', "\\", ":"]))
    if how == "cut":
        return text[:at]
    if how == "insert":
        return text[:at] + token + text[at:]
    return text[:at] + token + text[at + 1 :]


@st.composite
def row_texts(draw: st.DrawFn) -> str | bytes:
    """What a stored row could hold: valid rows of both versions, rows with fields of
    the wrong type, rows cut or spliced, JSON-like text, arbitrary text and bytes."""
    kind = draw(st.integers(0, 7))
    if kind == 0:
        text: str | bytes = draw(binary_or_text)
    elif kind == 1:  # a valid row, as written
        text = encode_message(draw(messages()))
    elif kind == 2:  # a format 1 row (0.1.0 wrote the payload, "role" first)
        payload = draw(payloads)
        role = payload.pop("role", draw(st.sampled_from(sorted(PAYLOAD_ROLES))))
        text = json.dumps({"role": role, **payload}, separators=draw(_separators))
    elif kind == 3:  # the three fields, each any JSON (or almost)
        text = as_row(draw(json_text), draw(json_text), draw(json_text))
    elif kind == 4:  # a valid id and time around a JSON-like payload
        text = as_row(json.dumps(draw(message_ids)), repr(draw(created_ats)), draw(json_text))
    elif kind == 5:  # a valid row, damaged
        text = _mutated(encode_message(draw(messages())), draw(st.data()))
    elif kind == 6:  # deep nesting inside the payload (or instead of it)
        depth = draw(st.integers(150, 3000))
        nest = nested_text(depth, draw(st.sampled_from(["[", "{", "{["])))
        text = draw(st.sampled_from([as_row('"a"', "1.5", '{"x":' + nest + "}"), nest]))
    else:  # a payload json.dumps wrote, NaN and lone surrogates included
        value = draw(payloads)
        try:
            text = as_row('"a"', "1.0", json.dumps(value, allow_nan=True))
        except ValueError:  # an int past json's digit limit
            text = "{}"
    if isinstance(text, str) and draw(st.booleans()):
        return text.encode("utf-8", "surrogatepass")
    return text


_separators = st.sampled_from([(",", ":"), (", ", ": ")])
#: Arbitrary input: text (lone surrogates included) or bytes (invalid UTF-8 included).
binary_or_text: st.SearchStrategy[str | bytes] = (
    st.text(max_size=40) | text_with_surrogates | st.binary(max_size=40)
)
