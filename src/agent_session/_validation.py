"""Checks of caller input, done before any backend is touched, and the ``DEFAULT`` TTL marker."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from enum import Enum
from types import MappingProxyType
from typing import Final, Literal, NamedTuple

from ._errors import CapacityExceeded, InvalidSessionId
from ._fakeclock import FakeClock
from ._fastpaths import conversation_snapshot
from ._metadata import EMPTY_LABELS
from ._model import Conversation, Message
from ._serialization import message_size

__all__ = [
    "DEFAULT",
    "MAX_SESSION_ID_LENGTH",
    "Clock",
    "Default",
    "Limits",
    "NO_LIMITS",
    "TTLArg",
    "check_clock",
    "check_expected_version",
    "check_last",
    "check_limit",
    "check_messages",
    "check_positive_int",
    "check_prefix",
    "check_session_id",
    "check_labels",
    "check_append",
    "check_save",
    "check_ttl",
    "resolve_ttl_arg",
    "WriteArgs",
]

MAX_SESSION_ID_LENGTH: Final = 512
# Lone surrogates are str but not text: UTF-8 cannot encode them, so a durable backend
# would fail with a raw UnicodeEncodeError where the memory stores would accept them.
_SURROGATE = re.compile("[\ud800-\udfff]")
_UNSTORABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")

Clock = Callable[[], float]


class Default(Enum):
    """The type of :data:`DEFAULT`."""

    DEFAULT = "DEFAULT"

    def __repr__(self) -> str:
        return "DEFAULT"


#: ``ttl=DEFAULT``: the session's own TTL if it exists, else the store's ``default_ttl``.
DEFAULT: Final = Default.DEFAULT

TTLArg = float | int | timedelta | None | Literal[Default.DEFAULT]


def check_session_id(session_id: object) -> str:
    """Return ``session_id`` if valid.

    :raises InvalidSessionId: if it is not a non-empty str of at most 512 characters
        without control characters (or lone surrogates, which no backend can store)
    """
    if (
        type(session_id) is str
        and session_id.isprintable()
        and 0 < len(session_id) <= MAX_SESSION_ID_LENGTH
    ):
        return session_id  # the common case, in C: no control character, no surrogate
    if not isinstance(session_id, str):
        raise InvalidSessionId(session_id, f"it is a {type(session_id).__name__}, not a str")
    if not session_id:
        raise InvalidSessionId(session_id, "it is empty")
    if len(session_id) > MAX_SESSION_ID_LENGTH:
        raise InvalidSessionId(session_id, f"it has {len(session_id)} characters")
    bad = _UNSTORABLE.search(session_id)
    if bad is not None:
        if _SURROGATE.match(bad.group()):
            raise InvalidSessionId(session_id, "it contains a lone surrogate, not valid text")
        raise InvalidSessionId(session_id, "it contains a control character")
    return session_id


#: The most ``last`` and ``limit`` ever need: counts above it are read as it (every
#: backend holds it, PostgreSQL's 32-bit ints included, even with one row over a page).
MAX_COUNT = 2**30
#: The largest version, limit or byte count a store can hold (a signed 64-bit int).
MAX_INT64 = 2**63 - 1
#: The largest ``max_messages``: PostgreSQL counts messages in a 32-bit int.
MAX_MESSAGES = 2**31 - 1


def check_ttl(ttl: object, what: str = "ttl") -> float | None:
    """Seconds of a TTL given as seconds or ``timedelta``; None means no expiry.

    :raises ValueError: on a negative, zero, NaN or infinite TTL
    :raises TypeError: on anything that is not a number, ``timedelta`` or None
    """
    if ttl is None:
        return None
    if isinstance(ttl, timedelta):
        seconds = ttl.total_seconds()
    elif isinstance(ttl, (int, float)) and not isinstance(ttl, bool):
        try:
            seconds = float(ttl)
        except OverflowError:  # an int past every float: ten to the 400th, say
            raise ValueError(
                f"{what} must be a finite number of seconds, not an int of {len(str(ttl))} digits"
            ) from None
    else:
        raise TypeError(
            f"{what} must be seconds (a number), a timedelta or None, not {ttl!r} "
            f"of type {type(ttl).__name__}"
        )
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"{what} must be a positive, finite number of seconds, not {ttl!r}")
    return seconds


def check_positive_int(value: object, what: str, *, allow_none: bool = True) -> int | None:
    """A positive int (or None, when allowed), else ``TypeError``/``ValueError`` naming it."""
    if value is None and allow_none:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{what} must be a positive int or None, not {value!r}")
    if value <= 0:
        raise ValueError(f"{what} must be a positive int or None, not {value!r}")
    return value


def check_expected_version(value: object) -> int | None:
    """None, or a version number >= 0 (0: the session must not exist yet)."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"expected_version must be an int >= 0 or None, not {value!r}")
    if value > MAX_INT64:
        raise ValueError(f"expected_version must be at most 2**63 - 1, not {value}")
    return value


def check_last(value: object) -> int | None:
    """None (all messages) or how many of the newest messages to load."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"last must be an int >= 0 or None, not {value!r}")
    return min(value, MAX_COUNT)


def check_limit(value: object, what: str = "limit") -> int | None:
    """None (no limit) or a positive page size / count (at most :data:`MAX_COUNT`)."""
    checked = check_positive_int(value, what)
    return None if checked is None else min(checked, MAX_COUNT)


def check_prefix(value: object) -> str | None:
    """None or a str prefix of session ids.

    :raises TypeError: if ``value`` is neither
    :raises ValueError: if it holds a lone surrogate (no session id can)
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"prefix must be a str or None, not {value!r}")
    if _SURROGATE.search(value):
        raise ValueError(f"prefix must be valid text, not {value!r} with a lone surrogate")
    return value


def check_labels(labels: object) -> Mapping[str, str]:
    """A read-only copy of ``labels``, a mapping of str to str.

    :raises TypeError: if ``labels`` is not a mapping of str to str
    :raises ValueError: if a key or value holds a lone surrogate (not valid text)
    """
    if not isinstance(labels, Mapping):
        raise TypeError(f"labels must be a mapping of str to str, not {labels!r}")
    if not labels:
        return EMPTY_LABELS
    for key, value in labels.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"labels must map str to str; {key!r}: {value!r} does not")
        if _SURROGATE.search(key) or _SURROGATE.search(value):
            raise ValueError(f"labels must be valid text; {key!r}: {value!r} has a lone surrogate")
    return MappingProxyType(dict(labels))


def check_clock(clock: object) -> Clock:
    """A zero-argument callable returning epoch seconds."""
    if not callable(clock):
        raise TypeError(f"clock must be a callable returning epoch seconds, not {clock!r}")
    if clock is time.time or isinstance(clock, FakeClock):
        return clock  # floats already
    source = clock

    def as_float() -> float:
        # A clock of whole seconds must not make timestamps ints (issue 7, defect 13).
        return float(source())

    return as_float


def check_messages(messages: Iterable[object]) -> list[Message]:
    """The messages passed to ``append``, all of them :class:`Message`."""
    result = list(messages)
    for message in result:
        if type(message) is not Message and not isinstance(message, Message):
            raise TypeError(f"append() takes Message objects, not {message!r:.80}")
    return result  # type: ignore[return-value]  # checked above


class Limits:
    """The per-session limits every store accepts; None means no limit."""

    __slots__ = ("active", "max_message_bytes", "max_messages", "max_session_bytes")

    def __init__(
        self,
        max_messages: int | None = None,
        max_message_bytes: int | None = None,
        max_session_bytes: int | None = None,
    ) -> None:
        self.max_messages = check_positive_int(max_messages, "max_messages")
        self.max_message_bytes = check_positive_int(max_message_bytes, "max_message_bytes")
        self.max_session_bytes = check_positive_int(max_session_bytes, "max_session_bytes")
        for name, value, most in (
            ("max_messages", self.max_messages, MAX_MESSAGES),
            ("max_message_bytes", self.max_message_bytes, MAX_INT64),
            ("max_session_bytes", self.max_session_bytes, MAX_INT64),
        ):
            if value is not None and value > most:
                raise ValueError(f"{name} must be at most {most} (or None), not {value}")
        self.active = (
            max_messages is not None
            or max_message_bytes is not None
            or max_session_bytes is not None
        )

    def check(
        self,
        session_id: str,
        new_messages: Iterable[Message],
        total_count: int,
        total_bytes: int,
    ) -> None:
        """Raise :class:`CapacityExceeded` if a write would break a limit.

        :param new_messages: the messages being written
        :param total_count: the session's message count after the write
        :param total_bytes: the session's ``size_bytes`` after the write
        """
        self.check_each(session_id, new_messages)
        self.check_totals(session_id, total_count, total_bytes)

    def check_each(self, session_id: str, new_messages: Iterable[Message]) -> None:
        """Raise :class:`CapacityExceeded` if one message is over ``max_message_bytes``."""
        if self.max_message_bytes is not None:
            for message in new_messages:
                size = message_size(message)
                if size > self.max_message_bytes:
                    raise CapacityExceeded(
                        f"a {message.role} message of {size} bytes is over "
                        f"max_message_bytes={self.max_message_bytes} in session "
                        f"{session_id!r}: shorten it or raise the limit",
                        session_id=session_id,
                    )

    def check_totals(self, session_id: str, total_count: int, total_bytes: int) -> None:
        """Raise :class:`CapacityExceeded` if the session would be over a total limit."""
        if self.max_messages is not None and total_count > self.max_messages:
            raise CapacityExceeded(
                f"session {session_id!r} would hold {total_count} messages, over "
                f"max_messages={self.max_messages}: start a new session or raise the limit",
                session_id=session_id,
            )
        if self.max_session_bytes is not None and total_bytes > self.max_session_bytes:
            raise CapacityExceeded(
                f"session {session_id!r} would hold {total_bytes} bytes, over "
                f"max_session_bytes={self.max_session_bytes}: start a new session or "
                "raise the limit",
                session_id=session_id,
            )


#: No limits: the default of a store that sets none.
NO_LIMITS: Final = Limits()


def resolve_ttl_arg(ttl: TTLArg) -> float | None | Default:
    """``DEFAULT`` as is, else validated seconds or None."""
    return ttl if ttl is DEFAULT else check_ttl(ttl)


class WriteArgs(NamedTuple):
    """The checked arguments of a ``save`` or ``append``, ready for a backend."""

    messages: list[Message]
    #: the messages' payload bytes (what ``size_bytes`` and the limits count)
    size: int
    ttl: float | None | Default
    expected_version: int | None
    labels: Mapping[str, str] | None
    #: the first ``stamped`` messages carry an id and a creation time already:
    #: ``stamp(args.messages, now, args.stamped)`` skips them
    stamped: int = 0


# WriteArgs' own __new__ is a Python function; tuple's takes a third of the time.
_new_tuple = tuple.__new__


def check_save(
    session_id: object,
    conversation: object,
    ttl: TTLArg,
    expected_version: object,
    labels: object,
    limits: Limits,
) -> WriteArgs:
    """Check everything ``save`` was given, before any backend is touched."""
    check_session_id(session_id)
    if type(conversation) is not Conversation and not isinstance(conversation, Conversation):
        raise TypeError(f"save() takes a Conversation, not {conversation!r:.80}")
    messages, size, stamped = conversation_snapshot(conversation)
    if limits.max_message_bytes is not None:
        limits.check_each(session_id, messages)  # type: ignore[arg-type]  # checked above
    return _new_tuple(
        WriteArgs,
        (
            messages,
            size,
            ttl if ttl is DEFAULT else check_ttl(ttl),
            None if expected_version is None else check_expected_version(expected_version),
            None if labels is None else check_labels(labels),
            stamped,
        ),
    )


def check_append(
    session_id: object,
    messages: Iterable[object],
    ttl: TTLArg,
    expected_version: object,
    limits: Limits,
) -> WriteArgs:
    """Check everything ``append`` was given, before any backend is touched."""
    check_session_id(session_id)
    new = list(messages)
    size = 0
    for message in new:  # the type check and the payload bytes in one pass
        if type(message) is not Message and not isinstance(message, Message):
            raise TypeError(f"append() takes Message objects, not {message!r:.80}")
        size += len(message._raw)
    if limits.max_message_bytes is not None:
        limits.check_each(session_id, new)  # type: ignore[arg-type]  # checked above
    return _new_tuple(
        WriteArgs,
        (
            new,
            size,
            ttl if ttl is DEFAULT else check_ttl(ttl),
            None if expected_version is None else check_expected_version(expected_version),
            None,
            0,
        ),
    )
