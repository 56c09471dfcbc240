"""Fuzzing the message model: ``Message.from_dict``, ``Conversation.from_dicts``,
``ToolCall.from_dict`` and the ``Message`` constructor.

``from_dict`` keeps any JSON object whose known fields have their documented types
(docs/message-model.md) and raises ``SerializationError`` for anything else: never
another exception, however deep, large or strange the input. What it keeps,
``to_dict`` gives back exactly. The constructor raises ``TypeError`` or ``ValueError``
(docs/errors-by-input.md).
"""

from __future__ import annotations

import datetime
import decimal
import math
import pickle
import time
import tracemalloc
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent_session import Conversation, Message, SerializationError, ToolCall

from .strategies import (
    FUZZ,
    created_ats,
    json_objects,
    json_values,
    message_ids,
    payloads,
    same_json,
    text_with_surrogates,
    valid_payloads,
)

#: The roles ``from_dict`` takes (docs/message-model.md): the five, and OpenAI's legacy one.
ROLES = {"system", "developer", "user", "assistant", "tool", "function"}
MAX_DEPTH = 200


def _is_json(value: object, depth: int = 0) -> bool:
    """What JSON holds: finite floats, valid text, str keys, at most 200 levels deep."""
    if value is None or isinstance(value, (bool, str)):
        return not isinstance(value, str) or _valid_text(value)
    if isinstance(value, int):
        try:
            str(value)  # past sys.get_int_max_str_digits() no JSON text can be written
        except ValueError:
            return False
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if depth >= MAX_DEPTH:
        return False
    if isinstance(value, Mapping):
        return all(
            isinstance(k, str) and _valid_text(k) and _is_json(v, depth + 1)
            for k, v in value.items()
        )
    if isinstance(value, (list, tuple)):
        return all(_is_json(v, depth + 1) for v in value)
    return False


def _valid_text(text: str) -> bool:
    return not any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def _is_call(call: object) -> bool:
    if not isinstance(call, Mapping) or not isinstance(call.get("id"), str):
        return False
    function = call.get("function")
    return function is None or (
        isinstance(function, Mapping)
        and isinstance(function.get("name"), str)
        and isinstance(function.get("arguments", ""), str)
    )


def documented(data: object) -> bool:
    """Whether docs/message-model.md says ``from_dict`` keeps ``data``."""
    if not isinstance(data, Mapping) or not data:
        return False
    role, content, calls = data.get("role"), data.get("content"), data.get("tool_calls")
    return (
        (role is None or (isinstance(role, str) and role in ROLES))
        and (content is None or isinstance(content, (str, list)))
        and all(
            data.get(key) is None or isinstance(data[key], str) for key in ("name", "tool_call_id")
        )
        and (calls is None or (isinstance(calls, list) and all(map(_is_call, calls))))
        and (data.get("metadata") is None or isinstance(data["metadata"], Mapping))
        and _is_json(data)
    )


def _use(message: Message) -> None:
    """Every accessor of an accepted message works."""
    message.role, message.content, message.name, message.tool_call_id  # noqa: B018
    message.tool_calls, message.metadata, message.extra, message.type  # noqa: B018
    message.text, message.is_tool_result, hash(message), repr(message)  # noqa: B018
    restored = pickle.loads(pickle.dumps(message))
    assert restored == message and (restored.id, restored.created_at) == (
        message.id,
        message.created_at,
    )


class Opaque:
    """Not a JSON value."""


#: Python values no JSON parser produces.
_not_json = st.sampled_from(
    [
        b"bytes",
        bytearray(b"x"),
        {1, 2},
        frozenset(),
        1j,
        decimal.Decimal("1.5"),
        datetime.datetime(2024, 1, 1),
        Opaque(),
        Opaque,
        {1: "int key"},
        {("t",): "tuple key"},
        {None: 1},
        float("nan"),
        float("-inf"),
        10**5000,  # no JSON text of it can be written (sys.get_int_max_str_digits)
        print,
    ]
)
_anything = json_values | _not_json | text_with_surrogates
_odd_payloads = st.dictionaries(
    st.text(max_size=6) | text_with_surrogates,
    _anything | st.lists(_anything, max_size=3) | st.dictionaries(st.text(max_size=4), _anything),
    max_size=4,
) | st.builds(MappingProxyType, json_objects)


@FUZZ
@given(data=payloads | _odd_payloads)
def test_from_dict_keeps_exactly_the_documented_payloads(data: Mapping[str, Any]) -> None:
    try:
        message = Message.from_dict(data)
    except SerializationError:
        assert not documented(data), f"refused a documented payload: {data!r:.300}"
        return
    assert documented(data), f"kept a payload the docs refuse: {data!r:.300}"
    assert same_json(message.to_dict(), dict(data))
    _use(message)


@FUZZ
@given(data=_anything | st.lists(json_values, max_size=3) | st.just({}))
def test_from_dict_refuses_what_is_not_a_json_object(data: object) -> None:
    if isinstance(data, Mapping) and data:
        return  # a non-empty mapping: the test above
    with pytest.raises(SerializationError):
        Message.from_dict(data)  # type: ignore[arg-type]


@FUZZ
@given(data=valid_payloads)
def test_what_from_dict_keeps_to_dict_gives_back(data: dict[str, Any]) -> None:
    message = Message.from_dict(data)
    assert same_json(message.to_dict(), data)  # key order and number types included
    assert Message.from_dict(message.to_dict()) == message
    message.to_dict().clear()  # a new dict each call
    assert same_json(message.to_dict(), data)


_stamps = st.none() | message_ids | st.text(max_size=4) | text_with_surrogates | _anything
_times = (
    st.none()
    | created_ats
    | st.floats()
    | st.sampled_from([10**400, -(10**400), True, "1.0"])
    | _anything
)


@FUZZ
@given(data=valid_payloads, id_=_stamps, created_at=_times)
def test_from_dict_keeps_a_valid_id_and_time_and_refuses_others(
    data: dict[str, Any], id_: Any, created_at: Any
) -> None:
    valid_id = id_ is None or (isinstance(id_, str) and 0 < len(id_) <= 512 and id_.isprintable())
    valid_time = created_at is None or (
        isinstance(created_at, (int, float))
        and not isinstance(created_at, bool)
        and _is_finite(created_at)
    )
    try:
        message = Message.from_dict(data, id=id_, created_at=created_at)
    except SerializationError:
        assert not (valid_id and valid_time)
        return
    assert valid_id and valid_time
    assert message.id == id_
    assert message.created_at == (None if created_at is None else float(created_at))


def _is_finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int past every float
        return False


@FUZZ
@given(
    dicts=st.lists(payloads, max_size=4)
    | st.lists(_anything, max_size=3)
    | st.text(max_size=3)
    | json_objects
)
def test_from_dicts_builds_a_conversation_or_raises_serialization_error(dicts: Any) -> None:
    try:
        conversation = Conversation.from_dicts(dicts)
    except SerializationError:
        assert not all(documented(d) for d in dicts)
        return
    assert all(documented(d) for d in dicts)
    assert all(same_json(a, dict(b)) for a, b in zip(conversation.to_dicts(), dicts, strict=True))


@FUZZ
@given(dicts=_not_json | st.integers() | st.none())
def test_from_dicts_of_what_is_not_iterable_raises_type_error(dicts: Any) -> None:
    try:
        items = list(dicts)
    except TypeError:
        with pytest.raises(TypeError):
            Conversation.from_dicts(dicts)
        return
    if items:  # bytes, a set of numbers...: items that are not JSON objects
        with pytest.raises(SerializationError):
            Conversation.from_dicts(dicts)
    else:
        assert len(Conversation.from_dicts(dicts)) == 0


@FUZZ
@given(
    data=_anything
    | payloads
    | st.dictionaries(
        st.sampled_from(["id", "name", "function", "arguments"]), _anything | json_objects
    )
)
def test_tool_call_from_dict_parses_or_raises_serialization_error(data: Any) -> None:
    try:
        call = ToolCall.from_dict(data)
    except SerializationError:
        return
    assert isinstance(call.id, str) and isinstance(call.name, str)
    assert isinstance(call.arguments, str)
    assert ToolCall.from_dict(call.to_dict()) == call


_fields = st.dictionaries(
    st.text(max_size=6).filter(
        lambda k: (
            k
            not in {
                "role",
                "content",
                "name",
                "tool_calls",
                "tool_call_id",
                "metadata",
                "id",
                "created_at",
            }
        )
    ),
    _anything,
    max_size=3,
)


@FUZZ
@given(
    role=st.none() | st.sampled_from(sorted(ROLES)) | _anything,
    content=st.none() | st.text(max_size=6) | st.lists(_anything, max_size=3) | _anything,
    name=st.none() | _anything,
    tool_calls=st.just(()) | st.lists(_anything | payloads, max_size=2) | _anything,
    metadata=st.none() | json_objects | _anything,
    id_=_stamps,
    created_at=_times,
    fields=_fields,
)
def test_the_constructor_raises_only_type_and_value_errors(
    role: Any,
    content: Any,
    name: Any,
    tool_calls: Any,
    metadata: Any,
    id_: Any,
    created_at: Any,
    fields: dict[str, Any],
) -> None:
    try:
        message = Message(
            role,
            content,
            name=name,
            tool_calls=tool_calls,
            metadata=metadata,
            id=id_,
            created_at=created_at,
            **fields,
        )
    except (TypeError, ValueError):
        return
    except SerializationError:
        # A tool call given as a mapping goes through ToolCall.from_dict, which says so.
        assert not isinstance(tool_calls, (str, bytes)) and any(
            isinstance(call, Mapping) for call in tool_calls
        )
        return
    assert Message.from_dict(message.to_dict()) == message
    _use(message)


# -- deep, cyclic and huge inputs ------------------------------------------------------------


def _nested(depth: int, kind: str) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value] if kind == "list" else {"a": value}
    return value


@pytest.mark.parametrize("kind", ["list", "dict"])
def test_ten_thousand_levels_are_refused_in_bounded_time_and_memory(kind: str) -> None:
    deep = _nested(10_000, kind)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(SerializationError, match="deeper than 200"):
            Message.from_dict({"role": "user", "content": "x", "metadata": {"deep": deep}})
        with pytest.raises(SerializationError, match="deeper than 200"):
            Conversation.from_dicts([{"role": "user"}, {"x": deep}])
        with pytest.raises(ValueError, match="deeper than 200"):
            Message("user", "x", metadata={"deep": deep})
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024, f"peaked at {peak} bytes"
    assert elapsed < 1.0, f"took {elapsed:.3f} s"


def test_a_cycle_is_refused() -> None:
    cyclic: dict[str, Any] = {"role": "user"}
    cyclic["self"] = cyclic
    with pytest.raises(SerializationError, match="deeper than 200"):
        Message.from_dict(cyclic)


def test_an_int_too_long_to_write_is_a_serialization_error() -> None:
    # Regression: the error's repr of the payload raised ValueError (Python refuses to
    # write ints of more than sys.get_int_max_str_digits() digits), which escaped.
    huge = 10**5000  # past the default limit of 4300 digits
    with pytest.raises(SerializationError):
        Message.from_dict({"role": "user", "metadata": {"n": huge}})
    with pytest.raises(SerializationError):
        ToolCall.from_dict({"id": "c", "name": "f", "arguments": huge})
    with pytest.raises(TypeError, match="message id must be a str"):
        Message("user", "x", id=huge)  # type: ignore[arg-type]


def test_a_creation_time_past_every_float_is_a_type_error() -> None:
    # Regression: Message(created_at=10**400) raised OverflowError from math.isfinite.
    with pytest.raises(TypeError, match="created_at"):
        Message("user", "x", created_at=10**400)
    with pytest.raises(SerializationError, match="created_at"):
        Message.from_dict({"role": "user"}, created_at=-(10**400))
