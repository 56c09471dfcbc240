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
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

import msgspec

from ._errors import SerializationError
from ._metadata import EMPTY_LABELS
from ._model import MAX_DEPTH, PAYLOAD_ROLES, Conversation, Message, _check_json

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


class _Stored(msgspec.Struct, gc=False):
    """A stored message, its payload left as raw JSON (decoded once, below, to check it)."""

    m: msgspec.Raw
    id: str | None = None
    at: float | None = None


class _Envelope(msgspec.Struct, gc=False):
    format: str
    version: int
    messages: list[msgspec.Raw]


class _Function(msgspec.Struct, gc=False):
    name: str
    arguments: str = ""


class _Call(msgspec.Struct, gc=False):
    id: str
    function: _Function | None = None


class _Known(msgspec.Struct, gc=False):
    """The payload fields with a type to check; the rest is skipped (still validated as
    JSON by the parser: bad escapes, lone surrogates and deep nesting fail here too)."""

    role: str | None = None
    content: str | list[msgspec.Raw] | None = None
    name: str | None = None
    tool_calls: list[_Call] | None = None
    tool_call_id: str | None = None
    metadata: dict[str, msgspec.Raw] | None = None


_decode_stored = msgspec.json.Decoder(_Stored).decode
_decode_raw_list = msgspec.json.Decoder(list[msgspec.Raw]).decode
_decode_stored_list = msgspec.json.Decoder(list[_Stored]).decode
_decode_known_list = msgspec.json.Decoder(list[_Known]).decode
_decode_envelope = msgspec.json.Decoder(_Envelope).decode
_decode_any = msgspec.json.decode
_encode_str = msgspec.json.encode
#: What malformed input makes the decoders raise.
_DECODE_ERRORS = (msgspec.DecodeError, RecursionError, TypeError, ValueError, SerializationError)


def encode_message(message: Message) -> str:
    """The message's stored form (see the module docstring)."""
    id_json = "null" if message._id is None else _encode_str(message._id).decode()
    at = "null" if message._created_at is None else repr(message._created_at)
    return f'{{"id":{id_json},"at":{at},"m":{message._raw.decode()}}}'


def message_size(message: Message) -> int:
    """Bytes of the message's payload JSON: what ``size_bytes`` and the limits count."""
    return len(message._raw)


def messages_size(messages: Iterable[Message]) -> int:
    """``size_bytes`` of a session: the sum of its messages' payload sizes."""
    return sum(len(message._raw) for message in messages)


def _join(rows: list[bytes]) -> bytes:
    """The rows as one JSON array, to parse them all at once.

    :raises SerializationError: unless each row is one JSON value: a row can end inside
        an object that the next one closes (``{"a":[{}`` then ``{}]}``), and the array
        still parses. Elements follow one another as rows do, so they are the rows
        exactly when each is as long as its row (less JSON whitespace around it).
    """
    joined = b"[" + b",".join(rows) + b"]"
    if len(rows) > 1:
        lengths = [len(element) for element in _decode_raw_list(joined)]
        if lengths != [len(row) for row in rows] and lengths != [
            len(row.strip(b" \t\n\r")) for row in rows
        ]:
            raise SerializationError("a stored message is not one JSON object")
    return joined


def _check_payloads(raws: list[bytes]) -> None:
    """Raise unless every payload is a non-empty JSON object that :meth:`Message.from_dict`
    would take: a full parse (numbers out of range, bad escapes, lone surrogates fail
    there), the known fields' types (a typed pass in C), and the nesting depth."""
    joined = b"[" + b",".join(raws) + b"]"
    payloads = _decode_any(joined)
    for known in _decode_known_list(joined):
        if known.role is not None and known.role not in PAYLOAD_ROLES:
            raise SerializationError(f"unknown message role {known.role!r}")
    for raw, data in zip(raws, payloads, strict=True):
        if not data:
            raise SerializationError("an empty JSON object is not a message")
        if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH:  # only then can it nest too deep
            _check_json(data, "message")


def _check_stored_id(id: str | None) -> None:  # noqa: A002
    if id is not None and (not 0 < len(id) <= 512 or not id.isprintable()):
        raise SerializationError(f"a message id must be 1 to 512 printable characters: {id!r:.80}")


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


def decode_messages(texts: list[str] | list[bytes], session_id: str | None = None) -> list[Message]:
    """:func:`decode_message` of many stored rows (a durable ``load``), in three passes of
    the parser over all of them, however many they are.

    :raises SerializationError: on anything malformed, never another exception
    """
    if not texts:
        return []
    try:
        blobs = [t.encode("utf-8") if isinstance(t, str) else t for t in texts]
        if not all(isinstance(b, bytes) for b in blobs):
            raise SerializationError(f"a stored message must be text, not {texts!r:.80}")
        fast = all(b.startswith(b'{"id":') and b.endswith(b"}") for b in blobs)
        if fast:
            stored = _decode_stored_list(_join(blobs))
            if len(stored) != len(blobs):  # a row that was two (say "{},{}")
                raise SerializationError("a stored message holds more than one JSON value")
        else:  # format 1 rows (the payload alone) among them, or something malformed
            stored = [
                _Stored(msgspec.Raw(b)) if b.startswith(b'{"role":') else _decode_stored(b)
                for b in blobs
            ]
        raws = [bytes(row.m) for row in stored]
        if not fast:
            _join(raws)  # a format 1 row is its payload, not yet parsed on its own
        _check_payloads(raws)
        for row in stored:
            _check_stored_id(row.id)
        from_raw = Message._from_raw
        return [from_raw(raw, row.id, row.at) for raw, row in zip(raws, stored, strict=True)]
    except _DECODE_ERRORS as exc:
        raise _malformed(exc, session_id) from exc


def dumps_conversation(conversation: Conversation | Iterable[Message]) -> str:
    """A whole conversation in the versioned envelope (for export and import)."""
    parts = ",".join(encode_message(message) for message in conversation)
    return f'{{"format":"{FORMAT_NAME}","version":{FORMAT_VERSION},"messages":[{parts}]}}'


def loads_conversation(text: str | bytes, session_id: str | None = None) -> Conversation:
    """Parse a conversation written by :func:`dumps_conversation` (format 2 or 1).

    :raises SerializationError: on malformed data or a format version this library does not know
    """
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
        bodies = [bytes(raw) for raw in envelope.messages]
        try:
            if not all(body.startswith(b"{") for body in bodies):
                raise SerializationError("a version 1 message must be a JSON object")
            _check_payloads(bodies)
        except _DECODE_ERRORS as exc:
            raise _malformed(exc, session_id) from exc
        return Conversation._adopt([Message._from_raw(body, None, None) for body in bodies])
    rows = [bytes(raw) for raw in envelope.messages]
    return Conversation._adopt(decode_messages(rows, session_id))


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
