"""Fuzzing the wire-format decoders: whatever a stored row or an export holds.

``decode_message``, ``decode_messages`` and ``loads_conversation`` read data that may
have been changed outside agent-session. Whatever it is (arbitrary bytes, JSON-like
text, deep nesting, huge numbers, lone surrogates, NaN, format 1 and 2 rows,
envelopes of other versions), they return messages or raise ``SerializationError``
naming the session, never another exception, in bounded time and memory; what they
return is what ``Message.from_dict`` would accept, and reading many rows at once
answers exactly as reading them one by one (docs/errors-by-input.md).
"""

from __future__ import annotations

import json
import math
import time
import tracemalloc
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent_session import Conversation, Message, SerializationError, loads_conversation
from agent_session._serialization import (
    decode_message,
    decode_messages,
    dumps_conversation,
    encode_message,
)

from .strategies import (
    FUZZ,
    as_row,
    binary_or_text,
    json_text,
    message_ids,
    messages,
    nested_text,
    payloads,
    row_texts,
    same_json,
    session_ids,
)

Rows = list[str] | list[bytes]


def _decoded(rows: Sequence[str | bytes], session_id: str | None) -> list[Message] | None:
    """The messages, or None if the decoder refused the rows as documented."""
    try:
        return decode_messages(list(rows), session_id)  # type: ignore[arg-type]  # mixed
    except SerializationError as exc:
        assert exc.session_id == session_id
        return None


def _check_message(message: Message) -> None:
    """A decoded message is one ``from_dict`` accepts, and it encodes and decodes again."""
    payload = message.to_dict()
    assert isinstance(payload, dict) and payload
    assert Message.from_dict(payload) == message
    assert message.id is None or (0 < len(message.id) <= 512 and message.id.isprintable())
    assert message.created_at is None or (
        type(message.created_at) is float and math.isfinite(message.created_at)
    )
    again = decode_message(encode_message(message))
    assert (again.id, again.created_at) == (message.id, message.created_at)
    assert same_json(again.to_dict(), payload)
    message.role, message.content, message.tool_calls, message.metadata, message.text  # noqa: B018


@FUZZ
@given(row=row_texts(), session_id=st.none() | session_ids)
def test_a_row_decodes_or_raises_serialization_error(
    row: str | bytes, session_id: str | None
) -> None:
    try:
        message = decode_message(row, session_id)
    except SerializationError as exc:
        assert exc.session_id == session_id
        return
    _check_message(message)


@FUZZ
@given(rows=st.lists(row_texts(), max_size=4), session_id=st.none() | session_ids)
def test_many_rows_decode_exactly_as_one_by_one(
    rows: list[str | bytes], session_id: str | None
) -> None:
    """The batch decoder (a few parser passes over all rows) agrees with row-by-row."""
    one_by_one = [_decoded([row], session_id) for row in rows]
    together = _decoded(rows, session_id)  # str and bytes mixed, as the decoder allows
    if any(message is None for message in one_by_one):
        assert together is None, f"rows accepted together, refused one by one: {rows!r:.300}"
        return
    assert together is not None, f"rows refused together, accepted one by one: {rows!r:.300}"
    for alone, message in zip(one_by_one, together, strict=True):
        assert alone is not None and alone[0] == message
        assert (alone[0].id, alone[0].created_at) == (message.id, message.created_at)
        _check_message(message)


@st.composite
def resplit_rows(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    """Valid rows whose payloads hold row-like objects, joined with "," and cut again
    before some ``{"id":`` or ``{"role":`` that follows a comma, as many pieces as rows.

    Each piece starts and ends like a row, and the pieces joined are the rows joined:
    only a decoder that checks where each row ends can tell them apart.
    """
    head = draw(st.sampled_from(['{"id":', '{"role":']))
    count = draw(st.integers(2, 4))
    rows = []
    for _ in range(count):
        inner = draw(st.lists(st.integers(0, 2), min_size=1, max_size=3))
        nested = [
            {"role": "user", "n": n} if head == '{"role":' else {"id": "x", "at": 1, "m": {"n": n}}
            for n in inner
        ]
        payload: dict[str, Any] = {"role": "user", "metadata": {"rows": nested}}
        if head == '{"id":':
            row = encode_message(Message.from_dict(payload, id=draw(message_ids), created_at=1.5))
        else:
            row = json.dumps(payload, separators=(",", ":"))
        rows.append(row)
    joined = ",".join(rows)
    cuts = [i for i in range(1, len(joined)) if joined.startswith("," + head, i)]
    chosen = sorted(
        draw(st.lists(st.sampled_from(cuts), min_size=count - 1, max_size=count - 1, unique=True))
    )
    pieces, start = [], 0
    for cut in chosen:
        pieces.append(joined[start:cut])
        start = cut + 1
    pieces.append(joined[start:])
    return rows, pieces


@FUZZ
@given(case=resplit_rows())
def test_rows_cut_in_the_wrong_places_are_refused(case: tuple[list[str], list[str]]) -> None:
    rows, pieces = case
    decoded = _decoded(pieces, "s")
    if pieces == rows:
        assert decoded is not None
        assert [m.to_dict() for m in decoded] == [
            json.loads(row).get("m", json.loads(row)) for row in rows
        ]
    else:  # some piece ends inside an object and the next one closes it
        assert decoded is None, f"accepted rows that are not one JSON object each: {pieces}"


def test_a_row_that_ends_inside_an_object_is_refused_even_if_the_next_one_closes_it() -> None:
    # Regression: each row is one JSON object. These two were accepted together (their
    # concatenation is two objects), the first as a message whose payload is not JSON
    # at all (to_dict() then raised msgspec.DecodeError), or as the wrong payloads.
    format_1 = ['{"role":"user"},{"role":"user","content":["a"', '{"role":"user"}]}']
    format_2 = [
        '{"id":"a","at":1,"m":{"a":1}},{"id":"b","at":1,"m":{"c":[{}',
        '{"id":"c","at":1,"m":{}}]}}',
    ]
    for rows in (format_1, format_2):
        with pytest.raises(SerializationError, match="trailing characters") as caught:
            decode_messages(rows, "s")
        assert caught.value.session_id == "s"


@FUZZ
@given(
    originals=st.lists(messages(stamped=True), max_size=5),
    as_bytes=st.booleans(),
)
def test_stored_rows_keep_payload_id_and_created_at(
    originals: list[Message], as_bytes: bool
) -> None:
    rows: Rows = [encode_message(m) for m in originals]
    if as_bytes:
        rows = [row.encode() for row in rows]  # type: ignore[union-attr]
    decoded = decode_messages(rows, "s")
    for original, message in zip(originals, decoded, strict=True):
        assert same_json(message.to_dict(), original.to_dict())
        assert message.id == original.id
        assert message.created_at == original.created_at and type(message.created_at) is float


@FUZZ
@given(payload=payloads, id_=message_ids)
def test_a_row_is_refused_exactly_when_from_dict_refuses_its_payload(
    payload: dict[str, Any], id_: str
) -> None:
    """The typed pass in C and ``from_dict``'s checks accept the same payloads."""
    try:
        expected: Message | None = Message.from_dict(payload)
    except SerializationError:
        expected = None
    try:
        m_json = json.dumps(payload, allow_nan=True, separators=(",", ":"))
    except ValueError:  # pragma: no cover - an int past json's digit limit
        return
    row = as_row(json.dumps(id_), "1.0", m_json)
    decoded = _decoded([row], "s")
    if expected is None:
        assert decoded is None, f"a row holds a payload from_dict refuses: {row!r:.300}"
    else:
        assert decoded is not None, f"a row refused, from_dict accepts its payload: {row!r:.300}"
        assert same_json(decoded[0].to_dict(), payload) and decoded[0].id == id_


@FUZZ
@given(m_json=json_text)
def test_json_like_payload_text_decodes_only_as_from_dict_would_read_it(m_json: str) -> None:
    """Duplicate keys, out-of-range numbers, NaN, lone surrogate escapes in the text."""
    decoded = _decoded([as_row('"a"', "2.5", m_json)], "s")
    if decoded is None:
        return
    # Accepted: it is JSON that Python reads the same way, and from_dict takes it.
    assert same_json(decoded[0].to_dict(), json.loads(m_json))
    _check_message(decoded[0])


# -- conversations (export, import) ------------------------------------------------------


_versions = st.sampled_from(
    ["1", "2", "0", "3", "-1", "2.0", "1.0", "true", '"2"', "null", "1" + "0" * 30, "1e999"]
)
_formats = st.sampled_from(['"agent-session"', '"agent_session"', '""', "null", "1"])


@st.composite
def envelopes(draw: st.DrawFn) -> str | bytes:
    """Envelopes of every version and format name, holding rows of every kind."""
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(binary_or_text | json_text)
    rows = draw(st.lists(row_texts(), max_size=3))
    texts = [row.decode("utf-8", "replace") if isinstance(row, bytes) else row for row in rows]
    if kind == 1:  # v1 payloads (or whatever) in an envelope
        texts = [json.dumps(p, allow_nan=True) for p in draw(st.lists(payloads, max_size=3))]
    items = ",".join(texts)
    envelope = f'{{"format":{draw(_formats)},"version":{draw(_versions)},"messages":[{items}]}}'
    if kind == 3:
        envelope = envelope.replace('"messages"', draw(st.sampled_from(['"messages"', '"m"'])))
    return envelope


@FUZZ
@given(text=envelopes(), session_id=st.none() | session_ids)
def test_an_envelope_loads_or_raises_serialization_error(
    text: str | bytes, session_id: str | None
) -> None:
    try:
        conversation = loads_conversation(text, session_id)
    except SerializationError as exc:
        assert exc.session_id == session_id
        return
    for message in conversation:
        _check_message(message)
    # Accepted: it was format 1 or 2, and writing it again gives an equal conversation.
    again = loads_conversation(dumps_conversation(conversation))
    assert again.to_dicts() == conversation.to_dicts()
    assert [(m.id, m.created_at) for m in again] == [(m.id, m.created_at) for m in conversation]


@FUZZ
@given(originals=st.lists(messages(), max_size=5), as_bytes=st.booleans())
def test_an_export_loads_as_the_same_messages(originals: list[Message], as_bytes: bool) -> None:
    text = dumps_conversation(Conversation(originals))
    loaded = loads_conversation(text.encode() if as_bytes else text)
    assert [(m.id, m.created_at) for m in loaded] == [(m.id, m.created_at) for m in originals]
    assert all(same_json(a.to_dict(), b.to_dict()) for a, b in zip(loaded, originals, strict=True))


# -- deep nesting: refused in bounded time and memory --------------------------------------

DEEP = 10_000
#: What decoding 10,000 levels (about 60 KB of text) may allocate at its peak.
PEAK_LIMIT = 4 * 1024 * 1024


def _deep_inputs() -> list[tuple[str, Callable[[], object]]]:
    cases: list[tuple[str, Callable[[], object]]] = []
    for kind in ("[", "{", "{["):
        nest = nested_text(DEEP, kind)
        row = as_row('"a"', "1.0", '{"x":' + nest + "}")
        v1_row = '{"role":"user","x":' + nest + "}"
        envelope = '{"format":"agent-session","version":2,"messages":[' + row + "]}"
        v1_envelope = '{"format":"agent-session","version":1,"messages":[' + v1_row + "]}"
        cases += [
            (f"row {kind}", partial(decode_message, row, "s")),
            (f"row {kind} bytes", partial(decode_message, row.encode(), "s")),
            (f"format 1 row {kind}", partial(decode_message, v1_row, "s")),
            (f"rows {kind}", partial(decode_messages, ['{"role":"user"}', row], "s")),
            (f"bare {kind}", partial(decode_message, nest, "s")),
            (f"envelope {kind}", partial(loads_conversation, envelope, "s")),
            (f"format 1 envelope {kind}", partial(loads_conversation, v1_envelope, "s")),
        ]
    return cases


@pytest.mark.parametrize("decode", [pytest.param(f, id=case) for case, f in _deep_inputs()])
def test_nesting_far_past_the_limit_is_refused_in_bounded_memory(
    decode: Callable[[], object], request: pytest.FixtureRequest
) -> None:
    case = request.node.callspec.id
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(SerializationError) as caught:
            decode()
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.session_id == "s"
    assert len(str(caught.value)) < 1000  # the error names the problem, not the data
    assert peak < PEAK_LIMIT, f"{case}: decoding {DEEP} levels peaked at {peak} bytes"
    assert elapsed < 1.0, f"{case}: took {elapsed:.3f} s"


@FUZZ
@given(depth=st.integers(190, 1200), kind=st.sampled_from(["[", "{", "{["]))
def test_nesting_is_kept_up_to_the_limit_and_refused_beyond(depth: int, kind: str) -> None:
    nest = nested_text(depth, kind)
    levels = depth if kind != "{[" else 2 * (depth // 2)  # containers on the deepest path
    decoded = _decoded([as_row('"a"', "1.0", '{"x":' + nest + "}")], "s")
    # The payload object is one level more; MAX_DEPTH is 200 containers.
    if levels + 1 <= 200:
        assert decoded is not None and same_json(decoded[0].to_dict(), {"x": json.loads(nest)})
    else:
        assert decoded is None
