"""Moving whole sessions: the export line format, consistent reads, one-save writes.

An export is JSON Lines, one session per line (``docs/cli.md`` has the format)::

    {"session_id":"s1","metadata":{"labels":{"k":"v"},"ttl":59.5},"messages":[<row>,...]}

Each ``<row>`` is a stored message in the wire format (``docs/wire-format.md``), exactly
as :func:`encode_message` writes it, so a line is byte-for-byte the same however often
the session goes out and back in. Every session is read consistently (its messages and
metadata of one version) and written with one ``save``: a session is either written
whole or not at all, so an interrupted import or copy leaves nothing half-written.
"""

from __future__ import annotations

import json
import math
import signal
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Literal

import msgspec

from .._errors import SerializationError, SessionNotFound, VersionConflict
from .._model import Conversation
from .._serialization import FORMAT_NAME, FORMAT_VERSION, encode_message, loads_conversation
from .._sync.base import SessionStore

__all__ = [
    "BadLine",
    "Conflict",
    "OnConflict",
    "Snapshot",
    "Stop",
    "Tally",
    "export_line",
    "graceful_stop",
    "parse_line",
    "read_session",
    "write_session",
]

OnConflict = Literal["skip", "overwrite", "fail"]

#: Reads of one session retried while writers keep changing it between them.
_READ_ATTEMPTS = 5


@dataclass(frozen=True)
class Snapshot:
    """One session as it goes out or comes in: messages, labels, seconds of TTL left."""

    session_id: str
    conversation: Conversation
    labels: Mapping[str, str]
    ttl: float | None


@dataclass
class Tally:
    """What a long operation did, for its closing line."""

    written: int = 0
    skipped: int = 0
    missing: list[str] = field(default_factory=list)


class Conflict(Exception):
    """``--on-conflict fail`` met a session that already exists."""

    def __init__(self, session_id: str) -> None:
        super().__init__(
            f"session {session_id!r} already exists in the destination: pass "
            "--on-conflict skip to keep it or --on-conflict overwrite to replace it"
        )
        self.session_id = session_id


class BadLine(Exception):
    """A line of an import file that is not an exported session."""

    def __init__(self, line_number: int, reason: str) -> None:
        super().__init__(f"line {line_number}: {reason}")
        self.line_number = line_number


# -- reading and writing one session --------------------------------------------------------


def read_session(store: SessionStore, session_id: str) -> Snapshot | None:
    """The session's messages with the labels and TTL of the same version.

    Metadata is read before and after the messages; a write in between (the versions
    differ) makes it read again, so what goes out is one state of the session.

    :return: None if the session is gone or expired
    """
    for _ in range(_READ_ATTEMPTS):
        try:
            before = store.get_metadata(session_id)
            conversation = store.load(session_id)
            after = store.get_metadata(session_id)
        except SessionNotFound:  # deleted or expired meanwhile (SessionExpired too)
            return None
        if before.version == after.version:
            break
    # Still changing after several tries: `after` matches the messages as closely as a
    # store without a snapshot read allows (the count at least).
    ttl: float | None = None
    if after.expires_at is not None:
        ttl = after.expires_at - time.time()  # the CLI's stores run on time.time
        if ttl <= 0:
            return None
    return Snapshot(session_id, conversation, after.labels, ttl)


def write_session(store: SessionStore, snapshot: Snapshot, on_conflict: OnConflict) -> bool:
    """Write the session with one ``save``: whole or not at all.

    ``skip`` and ``fail`` save with ``expected_version=0`` (only if it does not exist);
    ``overwrite`` replaces messages, labels and TTL. A session without TTL gets none,
    whatever the store's ``default_ttl``.

    :raises Conflict: with ``fail``, if the session exists
    :return: True if written, False if skipped
    """
    try:
        store.save(
            snapshot.session_id,
            snapshot.conversation,
            ttl=snapshot.ttl,
            expected_version=None if on_conflict == "overwrite" else 0,
            labels=dict(snapshot.labels),
        )
    except VersionConflict:
        if on_conflict == "skip":
            return False
        raise Conflict(snapshot.session_id) from None
    return True


# -- the line format ---------------------------------------------------------------------------


def _compact(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def export_line(snapshot: Snapshot) -> bytes:
    """The session's export line, ``\\n`` included (UTF-8; the same bytes every time)."""
    metadata: dict[str, object] = {"labels": dict(snapshot.labels)}
    if snapshot.ttl is not None:
        metadata["ttl"] = round(snapshot.ttl, 3)
    rows = ",".join(encode_message(message) for message in snapshot.conversation)
    text = (
        f'{{"session_id":{_compact(snapshot.session_id)},"metadata":{_compact(metadata)},'
        f'"messages":[{rows}]}}\n'
    )
    return text.encode("utf-8")


class _Metadata(msgspec.Struct, forbid_unknown_fields=False):
    labels: dict[str, str] = msgspec.field(default_factory=dict)
    ttl: float | None = None


class _Line(msgspec.Struct, forbid_unknown_fields=False):
    session_id: str
    messages: list[msgspec.Raw]
    metadata: _Metadata = msgspec.field(default_factory=_Metadata)


_decode_line = msgspec.json.Decoder(_Line).decode


def parse_line(line: bytes, line_number: int) -> Snapshot:
    """Read one export line; the messages are checked as ``loads_conversation`` checks them.

    :raises BadLine: naming the line and what is wrong with it
    """
    try:
        parsed = _decode_line(line)
    except (msgspec.DecodeError, RecursionError) as exc:
        raise BadLine(line_number, f"not an exported session ({exc})") from None
    ttl = parsed.metadata.ttl
    if ttl is not None and not (math.isfinite(ttl) and ttl > 0):
        raise BadLine(line_number, f"ttl must be a positive number of seconds, not {ttl!r}")
    rows = b",".join(bytes(raw) for raw in parsed.messages)
    envelope = b'{"format":"%s","version":%d,"messages":[%s]}' % (
        FORMAT_NAME.encode(),
        FORMAT_VERSION,
        rows,
    )
    try:
        conversation = loads_conversation(envelope, parsed.session_id)
    except SerializationError as exc:
        raise BadLine(line_number, str(exc)) from None
    return Snapshot(parsed.session_id, conversation, parsed.metadata.labels, ttl)


# -- stopping between sessions ----------------------------------------------------------------


class Stop:
    """Set by the first Ctrl-C (or SIGTERM): the loop ends before its next session."""

    requested: bool = False
    signal_name: str = ""


@contextmanager
def graceful_stop() -> Iterator[Stop]:
    """While inside, SIGINT and SIGTERM ask the loop to stop instead of raising.

    The session in flight finishes (its one ``save`` is then written whole), and the
    count of what was done is exact. A second signal raises ``KeyboardInterrupt`` at
    once; even then the store rolls back the write it was in, so nothing is left
    half-written.
    """
    stop = Stop()

    def handler(signum: int, _frame: FrameType | None) -> None:
        if stop.requested:
            raise KeyboardInterrupt
        stop.requested = True
        stop.signal_name = signal.Signals(signum).name

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
