"""The one JSON wire format, used by every persistent backend and by export/import.

A message is the compact JSON of :meth:`Message.to_dict` (UTF-8, no ASCII escaping).
A whole conversation is an envelope that names the format and its version::

    {"format": "agent-session", "version": 1, "messages": [<message>, ...]}

Durable stores keep one message per row or list element, in the message form.
Nothing here ever unpickles: reading stored data cannot execute code.
"""

from __future__ import annotations

import json
import json.encoder as json_encoder
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

from ._errors import SerializationError
from ._metadata import EMPTY_LABELS
from ._model import Conversation, Message

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "conversation_size",
    "decode_labels",
    "decode_message",
    "dumps_conversation",
    "encode_labels",
    "encode_message",
    "loads_conversation",
    "message_size",
    "messages_size",
    "read_only_labels",
]

FORMAT_NAME = "agent-session"
FORMAT_VERSION = 1

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _make_encode() -> Callable[[Any], str]:
    # JSONEncoder.encode builds a new C encoder on every call (~1 us of a ~2.4 us encode);
    # build the C encoder once. Same output as ``_encoder.encode``.
    make = getattr(json_encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has it
        return _encoder.encode
    encode = make(None, None, json_encoder.encode_basestring, None, ":", ",", False, False, False)

    def fast_encode(value: Any) -> str:
        return "".join(encode(value, 0))

    return fast_encode


_encode = _make_encode()


def encode_message(message: Message) -> str:
    """The message's wire form; also caches its byte size on the message.

    :raises SerializationError: if the message cannot be encoded (a lone surrogate in a str)
    """
    try:
        text = _encode(message.to_dict())
        if message._size < 0:
            # Inside the try: a lone surrogate in a str passes Message's checks, but UTF-8
            # cannot encode it (UnicodeEncodeError, a ValueError).
            object.__setattr__(message, "_size", len(text.encode("utf-8")))
    except (TypeError, ValueError) as exc:
        raise SerializationError(
            f"cannot encode {message!r:.200}: {exc}; every str in a message must be valid "
            "Unicode text (no lone surrogates)"
        ) from exc
    return text


def message_size(message: Message) -> int:
    """Bytes of the message's UTF-8 wire form (computed once per message)."""
    size = message._size
    if size < 0:
        encode_message(message)
        size = message._size
    return size


def messages_size(messages: Iterable[Message]) -> int:
    """``size_bytes`` of a session: the sum of its messages' wire sizes."""
    total = 0
    for message in messages:
        size = message._size
        total += size if size >= 0 else message_size(message)
    return total


def conversation_size(conversation: Conversation) -> int:
    """The conversation's ``size_bytes``; only messages added since the last call are summed."""
    counted, total = conversation._sized
    messages = conversation._messages
    if counted < len(messages):
        total += messages_size(messages[counted:])
        conversation._sized = (len(messages), total)
    return total


def decode_message(text: str | bytes, session_id: str | None = None) -> Message:
    """Parse one message in wire form.

    :param session_id: the session it was read from, named by the error
    :raises SerializationError: on malformed JSON, an unknown role or a malformed message
    """
    where = "stored message" if session_id is None else f"a message of session {session_id!r}"
    try:
        data = json.loads(text)
        message = Message.from_dict(data)
    except SerializationError as exc:
        raise SerializationError(f"{where} is malformed: {exc}", session_id=session_id) from exc
    except (TypeError, ValueError, RecursionError) as exc:
        raise SerializationError(
            f"{where} is not valid JSON: {exc}", session_id=session_id
        ) from exc
    object.__setattr__(
        message, "_size", len(text) if isinstance(text, bytes) else len(text.encode("utf-8"))
    )
    return message


def dumps_conversation(conversation: Conversation | Iterable[Message]) -> str:
    """A whole conversation in the versioned envelope (for export and import)."""
    parts = ",".join(encode_message(message) for message in conversation)
    return f'{{"format":"{FORMAT_NAME}","version":{FORMAT_VERSION},"messages":[{parts}]}}'


def loads_conversation(text: str | bytes) -> Conversation:
    """Parse a conversation written by :func:`dumps_conversation`.

    :raises SerializationError: on malformed data or a format version this library does not know
    """
    try:
        data = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise SerializationError(f"stored conversation is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
        raise SerializationError("data is not an agent-session conversation envelope")
    version = data.get("version")
    if type(version) is not int or version != FORMAT_VERSION:  # true == 1 is no version
        raise SerializationError(
            f"conversation format version {version!r} is not supported "
            f"(this library reads version {FORMAT_VERSION}): upgrade agent-session"
        )
    messages = data.get("messages")
    if not isinstance(messages, list):
        raise SerializationError("conversation envelope has no 'messages' list")
    return Conversation._adopt([Message.from_dict(item) for item in messages])


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
