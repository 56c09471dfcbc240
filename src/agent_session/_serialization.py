"""The one JSON wire format (version 2), used by every persistent backend and by export.

A stored message is one compact JSON object (UTF-8), in this key order::

    {"id":"<message id>","at":<created_at>,"m":<payload>}

``m`` is the payload exactly as :meth:`Message.to_dict` gives it. A whole conversation
(export, import) is an envelope that names the format and its version::

    {"format":"agent-session","version":2,"messages":[<stored message>, ...]}

Version 1 (agent-session 0.1.0) stored the payload alone: ``{"role":...}``, no id and
no time. Such rows still load, as messages whose ``id`` and ``created_at`` are None;
``docs/wire-format.md`` describes both byte for byte. Nothing here ever unpickles:
reading stored data cannot execute code.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Iterable, Mapping
from itertools import starmap
from types import MappingProxyType
from typing import Any, Literal

import msgspec

from ._errors import SerializationError
from ._metadata import EMPTY_LABELS
from ._model import MAX_DEPTH, PAYLOAD_ROLES, Conversation, Message, _check_json

#: The roles a payload may have, for the typed pass (a Literal checks them in C).
PAYLOAD_ROLE_NAMES = tuple(sorted(PAYLOAD_ROLES))

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "decode_labels",
    "decode_message",
    "decode_messages",
    "dumps_conversation",
    "encode_labels",
    "encode_message",
    "loads_conversation",
    "message_size",
    "messages_size",
    "read_only_labels",
]

FORMAT_NAME = "agent-session"
FORMAT_VERSION = 2
#: Versions :func:`loads_conversation` reads.
READABLE_VERSIONS = (1, 2)


class _Envelope(msgspec.Struct, gc=False):
    format: str
    version: int
    messages: list[msgspec.Raw]


class _Row(msgspec.Struct, gc=False):
    """A stored message as the encoder writes it: these keys, in this order."""

    id: str | None
    at: float | None
    m: msgspec.Raw


class _Export(msgspec.Struct, gc=False):
    format: str
    version: int
    messages: list[_Row] | list[Message]


class _Import(msgspec.Struct, gc=False):
    """An export of format 2, its rows straight into messages (older ones: _Envelope)."""

    format: str
    version: int
    messages: list[Message]


class _Function(msgspec.Struct, gc=False):
    name: str
    arguments: str = ""


class _Call(msgspec.Struct, gc=False):
    id: str
    function: _Function | None = None


class _AnyObject(msgspec.Struct, gc=False):
    """Any JSON object, its members skipped (checked as JSON, not built)."""


class _Known(msgspec.Struct, gc=False):
    """The payload fields with a type to check; the rest is skipped (still validated as
    JSON by the parser: bad escapes, lone surrogates and deep nesting fail here too)."""

    role: Literal[PAYLOAD_ROLE_NAMES] | None = None  # type: ignore[valid-type]
    content: str | list[msgspec.Raw] | None = None
    name: str | None = None
    tool_calls: list[_Call] | None = None
    tool_call_id: str | None = None
    metadata: _AnyObject | None = None


#: A format 2 row straight into a Message (its fields are the row's keys), in C.
_decode_row = msgspec.json.Decoder(Message).decode
_decode_one_raw = msgspec.json.Decoder(msgspec.Raw).decode
_decode_known_list = msgspec.json.Decoder(list[_Known]).decode
_decode_envelope = msgspec.json.Decoder(_Envelope).decode
_decode_import = msgspec.json.Decoder(_Import).decode
_row_fields = operator.attrgetter("_id", "_created_at", "_raw")
_raw_of = operator.attrgetter("_raw")
_id_of = operator.attrgetter("_id")
_view_of = operator.attrgetter("_view")
_decode_any = msgspec.json.decode
_encode_str = msgspec.json.encode
_encode = msgspec.json.Encoder().encode
#: What malformed input makes the decoders raise.
_DECODE_ERRORS = (msgspec.DecodeError, RecursionError, TypeError, ValueError, SerializationError)

#: The bytes of JSON as shapes: digits -> "0", "e", "E" and "+" -> "e", "[" and "{"
#: (an opened level) -> "b", the rest -> " ". One translate answers the scans below.
_SHAPES = bytes(
    0x30 if 0x30 <= b <= 0x39 else 0x65 if b in b"eE+" else 0x62 if b in b"[{" else 0x20
    for b in range(256)
)
#: Numbers the typed pass skips without converting; a full parse refuses those past a
#: double's range (and ints past 4300 digits). They need an exponent of 3 digits, not
#: negative ("e000" once "+" is "e"), or a run of digits: 210 or more, with at most 99
#: more from an exponent of 2, reach 1e308.
_BIG_EXPONENT = b"e000"
_LONG_RUN = b"0" * 200


def encode_message(message: Message) -> str:
    """The message's stored form (see the module docstring)."""
    if message._view is None:  # a Message encodes as its row while it caches nothing
        return _encode(message).decode()
    return _encode(_Row(message._id, message._created_at, message._raw)).decode()


def message_size(message: Message) -> int:
    """Bytes of the message's payload JSON: what ``size_bytes`` and the limits count."""
    return len(message._raw)


def messages_size(messages: Iterable[Message]) -> int:
    """``size_bytes`` of a session: the sum of its messages' payload sizes."""
    return sum(len(message._raw) for message in messages)


def _check_payloads(raws: list[msgspec.Raw]) -> None:
    """Raise unless every payload is a non-empty JSON object that :meth:`Message.from_dict`
    would take, in one typed pass over all of them (in C) plus byte scans.

    Each raw is exactly one JSON value (the parser cut it out), so joined with commas
    they are an array whose elements are the payloads. The typed pass checks the
    syntax of everything and the types of the known fields; what it skips, it does not
    convert, so three things are looked at beside: numbers past a double's range
    (rows with number shapes that could be such get a full parse), invalid UTF-8 (only
    bytes can hold it), and nesting past :data:`MAX_DEPTH` (only long payloads can).
    """
    if not raws:
        return
    joined = b"[" + b",".join(raws) + b"]"
    _decode_known_list(joined)
    shapes = joined.translate(_SHAPES)
    if _BIG_EXPONENT in shapes or _LONG_RUN in shapes:
        _decode_any(joined)  # raises if one really is out of range
    if not joined.isascii():
        joined.decode("utf-8")
    if min(map(len, raws)) < 8:  # only a short object can be empty: {} or {  }
        for raw in raws:
            if len(raw) < 8 and not _decode_any(raw):
                raise SerializationError("an empty JSON object is not a message")
    if shapes.count(b"b") > MAX_DEPTH:  # else none can nest too deep
        for raw in raws:
            if len(raw) > 2 * MAX_DEPTH:  # nesting deeper takes two bytes per level
                body = bytes(raw)
                if body.count(b"[") + body.count(b"{") > MAX_DEPTH:
                    _check_json(_decode_any(body), "message")


def _check_ids(messages: list[Message]) -> None:
    # Lengths were checked by the decoder; printable all at once (none is empty).
    ids = "".join(filter(None, map(_id_of, messages)))
    if not ids.isprintable():
        bad = next(m._id for m in messages if m._id is not None and not m._id.isprintable())
        raise SerializationError(f"a message id must be 1 to 512 printable characters: {bad!r:.80}")


def _malformed(exc: BaseException, session_id: str | None) -> SerializationError:
    where = "a stored message" if session_id is None else f"a message of session {session_id!r}"
    error = SerializationError(
        f"{where} is malformed ({type(exc).__name__}: {exc}); it was changed outside "
        "agent-session or written by a newer one",
        session_id=session_id,
    )
    error.__cause__ = exc
    return error


def decode_message(text: str | bytes, session_id: str | None = None) -> Message:
    """Parse one stored message (format 2, or a format 1 row of agent-session 0.1.0).

    :param session_id: the session it was read from, named by the error
    :raises SerializationError: on anything malformed, never another exception
    """
    return decode_messages([text], session_id)[0]  # type: ignore[arg-type]  # str | bytes


def _decode_row_or_v1(text: str | bytes) -> Message:
    """One row of either format: a format 1 row (agent-session 0.1.0) is the payload alone."""
    if isinstance(text, str):
        text = text.encode("utf-8")
    elif not isinstance(text, (bytes, bytearray, memoryview, msgspec.Raw)):
        raise SerializationError(f"a stored message must be text, not {text!r:.80}")
    if bytes(memoryview(text)[:8]) == b'{"role":':
        return Message._from_raw(_decode_one_raw(text), None, None)
    return _decode_row(text)


def decode_messages(texts: list[str] | list[bytes], session_id: str | None = None) -> list[Message]:
    """:func:`decode_message` of many stored rows (a durable ``load``): each row straight
    into a :class:`Message` by the parser, then one typed pass over all the payloads.

    :raises SerializationError: on anything malformed, never another exception
    """
    if not texts:
        return []
    try:
        try:
            messages = list(map(_decode_row, texts))
        except (msgspec.DecodeError, TypeError):  # format 1 rows among them, or malformed
            messages = list(map(_decode_row_or_v1, texts))
        return _checked(messages)
    except _DECODE_ERRORS as exc:
        raise _malformed(exc, session_id) from exc


def _checked(messages: list[Message]) -> list[Message]:
    """The messages the parser built from rows, once their payloads and ids pass."""
    _check_payloads(list(map(_raw_of, messages)))
    _check_ids(messages)
    return messages


def dumps_conversation(conversation: Conversation | Iterable[Message]) -> str:
    """A whole conversation in the versioned envelope (for export and import)."""
    messages = list(conversation)
    rows: list[_Row] | list[Message] = messages
    if any(map(_view_of, messages)):  # some cache their typed fields: rows without them
        rows = list(starmap(_Row, map(_row_fields, messages)))
    return _encode(_Export(FORMAT_NAME, FORMAT_VERSION, rows)).decode()


def loads_conversation(text: str | bytes, session_id: str | None = None) -> Conversation:
    """Parse a conversation written by :func:`dumps_conversation` (format 2 or 1).

    :raises SerializationError: on malformed data or a format version this library does not know
    """
    try:  # the common case, a well-formed export of format 2, in one pass
        export = _decode_import(text)
        if export.format == FORMAT_NAME and export.version == 2 and type(export.version) is int:
            return Conversation._adopt(_checked(export.messages))
    except _DECODE_ERRORS:
        pass  # anything else: the checks below say what is wrong
    try:
        envelope = _decode_envelope(text)
    except _DECODE_ERRORS as exc:
        raise SerializationError(
            f"data is not an agent-session conversation envelope: {exc}", session_id=session_id
        ) from exc
    if envelope.format != FORMAT_NAME:
        raise SerializationError(
            f"data is not an agent-session conversation envelope (format {envelope.format!r})",
            session_id=session_id,
        )
    if envelope.version not in READABLE_VERSIONS or type(envelope.version) is not int:
        raise SerializationError(
            f"conversation format version {envelope.version!r} is not supported "
            f"(this library reads versions 1 and 2): upgrade agent-session",
            session_id=session_id,
        )
    if envelope.version == 1:  # the payloads alone, no ids or times
        bodies = envelope.messages
        try:
            if not all(bytes(memoryview(body)[:1]) == b"{" for body in bodies):
                raise SerializationError("a version 1 message must be a JSON object")
            _check_payloads(bodies)
        except _DECODE_ERRORS as exc:
            raise _malformed(exc, session_id) from exc
        return Conversation._adopt([Message._from_raw(body, None, None) for body in bodies])
    return Conversation._adopt(decode_messages(envelope.messages, session_id))  # type: ignore[arg-type]


def encode_labels(labels: Mapping[str, str]) -> str:
    """Labels as a compact JSON object with sorted keys (stable for comparison)."""
    return json.dumps(dict(labels), ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def decode_labels(text: str | bytes | None) -> dict[str, str]:
    """Parse labels written by :func:`encode_labels`.

    :raises SerializationError: if the stored labels are not a str -> str object
    """
    if not text:
        return {}
    try:
        data: Any = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise SerializationError(f"stored labels are not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise SerializationError(f"stored labels are not a str -> str object: {data!r:.200}")
    return data


def read_only_labels(text: str | bytes | None) -> Mapping[str, str]:
    """Stored labels as the read-only mapping ``SessionMetadata.labels`` promises."""
    labels = decode_labels(text)
    return MappingProxyType(labels) if labels else EMPTY_LABELS
