"""A plain-Python model of the store contract, for the model-based tests.

It follows ``../shared/SPEC.md`` (sections 3, 4a and 5) and ``docs/behaviour.md``: a
dict of session id to :class:`ModelSession`, and one method per store call. Each
method returns what a store must return, or raises the exception a store must raise
(built like the stores build it, so its attributes can be compared) having changed
nothing. Time is the :class:`FakeClock` the store under test shares.

Messages are compared by payload and ``created_at``; the id a store generates is
not predictable, so :class:`ModelMessage` learns it the first time a store shows it
and from then on requires the same id on every read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import Any

from agent_session import (
    DEFAULT,
    CapacityExceeded,
    Message,
    SessionExpired,
    SessionMetadata,
    SessionNotFound,
    VersionConflict,
)
from agent_session._serialization import message_size
from agent_session.testing import FakeClock

__all__ = ["START", "ContractModel", "ModelConfig", "ModelMessage", "ModelSession"]

#: Where every example's clock starts (FakeClock's default).
START = 1_700_000_000.0


@dataclass(frozen=True)
class ModelConfig:
    """The store options a machine variant uses, and how loosely the store may answer.

    :param forgetful: an expired session may vanish before ``purge_expired`` (a
        ``CacheStore``: its LRU drops expired entries on writes): reads of it may raise
        ``SessionNotFound`` instead of ``SessionExpired``, and ``purge_expired`` may
        count fewer
    """

    name: str
    default_ttl: float | None = None
    sliding: bool = False
    max_messages: int | None = None
    max_message_bytes: int | None = None
    max_session_bytes: int | None = None
    forgetful: bool = False

    def store_options(self) -> dict[str, Any]:
        """The constructor keywords every store takes (``clock`` aside)."""
        options: dict[str, Any] = {"default_ttl": self.default_ttl, "sliding": self.sliding}
        for name in ("max_messages", "max_message_bytes", "max_session_bytes"):
            if getattr(self, name) is not None:
                options[name] = getattr(self, name)
        return options

    @property
    def limited(self) -> bool:
        return (
            self.max_messages is not None
            or self.max_message_bytes is not None
            or self.max_session_bytes is not None
        )


@dataclass
class ModelMessage:
    """One stored message: the payload sent, its creation time, its id once known."""

    payload: Message
    created_at: float
    #: the caller's id, or the one a store first showed (then it must never change)
    id: str | None

    @classmethod
    def written(cls, message: Message, now: float) -> ModelMessage:
        """What a write at ``now`` stores for ``message``: it keeps an id and a time it has."""
        created_at = now if message.created_at is None else message.created_at
        return cls(message, created_at, message.id)

    @property
    def size(self) -> int:
        return message_size(self.payload)


@dataclass
class ModelSession:
    """One session as the contract sees it."""

    messages: list[ModelMessage]
    version: int
    labels: dict[str, str]
    #: the session's own TTL duration, which ``ttl=DEFAULT`` keeps
    ttl: float | None
    expires_at: float | None
    created_at: float
    updated_at: float
    size_bytes: int = field(init=False)

    def __post_init__(self) -> None:
        self.size_bytes = sum(m.size for m in self.messages)

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def restart_ttl(self, now: float) -> None:
        self.expires_at = None if self.ttl is None else now + self.ttl

    def metadata(self, session_id: str) -> SessionMetadata:
        return SessionMetadata(
            session_id,
            self.created_at,
            self.updated_at,
            self.expires_at,
            len(self.messages),
            self.size_bytes,
            self.version,
            MappingProxyType(dict(self.labels)),
        )


def ttl_seconds(ttl: object) -> float | None:
    """A TTL argument (not ``DEFAULT``) as seconds or None."""
    if ttl is None:
        return None
    if isinstance(ttl, timedelta):
        return ttl.total_seconds()
    assert isinstance(ttl, (int, float))
    return float(ttl)


#: A page of find_sessions: its items and the key the next page starts after.
PageKey = tuple[float, str]


class ContractModel:
    """What a store holds and answers, call by call."""

    def __init__(self, config: ModelConfig, clock: FakeClock) -> None:
        self.config = config
        self.clock = clock
        self.sessions: dict[str, ModelSession] = {}

    # -- helpers -------------------------------------------------------------------

    def live(self, session_id: str) -> ModelSession | None:
        """The session if it exists and has not expired."""
        session = self.sessions.get(session_id)
        if session is None or session.expired(self.clock()):
            return None
        return session

    def version_of(self, session_id: str) -> int:
        """The version ``expected_version`` is compared with: 0 if missing or expired."""
        session = self.live(session_id)
        return 0 if session is None else session.version

    def _require(self, session_id: str) -> ModelSession:
        session = self.sessions.get(session_id)
        if session is None:
            raise SessionNotFound(session_id)
        if session.expires_at is not None and session.expired(self.clock()):
            raise SessionExpired(session_id, session.expires_at)
        return session

    def forget(self, session_id: str) -> None:
        """The store dropped this expired session early (a forgetful store's eviction)."""
        session = self.sessions.get(session_id)
        assert session is not None and session.expired(self.clock()), session_id
        del self.sessions[session_id]

    def _check_each(self, session_id: str, messages: Sequence[ModelMessage]) -> None:
        # The front door checks every message's size before it looks at the session.
        limit = self.config.max_message_bytes
        if limit is not None and any(m.size > limit for m in messages):
            raise CapacityExceeded("max_message_bytes", session_id=session_id)

    def _check_totals(self, session_id: str, count: int, size: int) -> None:
        config = self.config
        if config.max_messages is not None and count > config.max_messages:
            raise CapacityExceeded("max_messages", session_id=session_id)
        if config.max_session_bytes is not None and size > config.max_session_bytes:
            raise CapacityExceeded("max_session_bytes", session_id=session_id)

    def _check_version(self, session_id: str, expected_version: int | None) -> None:
        actual = self.version_of(session_id)
        if expected_version is not None and expected_version != actual:
            raise VersionConflict(session_id, expected_version, actual)

    def _write(
        self,
        session_id: str,
        messages: list[ModelMessage],
        ttl: object,
        labels: Mapping[str, str] | None,
    ) -> SessionMetadata:
        """Replace (or create) the session with ``messages``: checks are done."""
        now = self.clock()
        old = self.live(session_id)
        if old is None:  # missing or expired: a new session (version 1, no labels)
            version, created_at, own_ttl, old_labels = 0, now, self.config.default_ttl, {}
        else:
            version, created_at, own_ttl, old_labels = (
                old.version,
                old.created_at,
                old.ttl,
                old.labels,
            )
        if ttl is not DEFAULT:
            own_ttl = ttl_seconds(ttl)
        session = ModelSession(
            messages,
            version + 1,
            dict(old_labels if labels is None else labels),
            own_ttl,
            None,
            created_at,
            now,
        )
        session.restart_ttl(now)
        self.sessions[session_id] = session
        return session.metadata(session_id)

    # -- the calls -----------------------------------------------------------------

    def save(
        self,
        session_id: str,
        messages: Sequence[Message],
        *,
        ttl: object = DEFAULT,
        expected_version: int | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> SessionMetadata:
        now = self.clock()
        stored = [ModelMessage.written(m, now) for m in messages]
        self._check_each(session_id, stored)
        self._check_version(session_id, expected_version)
        self._check_totals(session_id, len(stored), sum(m.size for m in stored))
        return self._write(session_id, stored, ttl, labels)

    def save_records(
        self,
        session_id: str,
        records: Sequence[ModelMessage],
        *,
        expected_version: int | None = None,
    ) -> SessionMetadata:
        """``save`` of messages the store returned (ids and times kept) and new ones."""
        self._check_each(session_id, records)
        self._check_version(session_id, expected_version)
        self._check_totals(session_id, len(records), sum(m.size for m in records))
        return self._write(session_id, list(records), DEFAULT, None)

    def append(
        self,
        session_id: str,
        messages: Sequence[Message],
        *,
        ttl: object = DEFAULT,
        expected_version: int | None = None,
    ) -> SessionMetadata:
        now = self.clock()
        new = [ModelMessage.written(m, now) for m in messages]
        self._check_each(session_id, new)
        self._check_version(session_id, expected_version)
        old = self.live(session_id)
        held = [] if old is None else old.messages
        self._check_totals(
            session_id, len(held) + len(new), sum(m.size for m in held) + sum(m.size for m in new)
        )
        labels = None if old is None else old.labels
        return self._write(session_id, held + new, ttl, labels)

    def load(self, session_id: str, last: int | None = None) -> list[ModelMessage]:
        session = self._require(session_id)
        if self.config.sliding:
            session.restart_ttl(self.clock())
        if last is None:
            return list(session.messages)
        return session.messages[max(len(session.messages) - last, 0) :] if last else []

    def load_with_metadata(
        self, session_id: str, last: int | None = None
    ) -> tuple[list[ModelMessage], SessionMetadata]:
        messages = self.load(session_id, last)
        return messages, self.sessions[session_id].metadata(session_id)

    def pop(self, session_id: str, expected_version: int | None = None) -> ModelMessage | None:
        session = self._require(session_id)  # missing or expired first, then the version
        if expected_version is not None and expected_version != session.version:
            raise VersionConflict(session_id, expected_version, session.version)
        if not session.messages:
            return None  # changes nothing, not even the expiry
        now = self.clock()
        message = session.messages.pop()
        session.size_bytes -= message.size
        session.version += 1
        session.updated_at = now
        session.restart_ttl(now)
        return message

    def get_metadata(self, session_id: str) -> SessionMetadata:
        return self._require(session_id).metadata(session_id)

    def exists(self, session_id: str) -> bool:
        return self.live(session_id) is not None

    def delete(self, session_id: str) -> bool:
        was_live = self.exists(session_id)
        self.sessions.pop(session_id, None)
        return was_live

    def list_sessions(self, prefix: str | None = None, limit: int | None = None) -> list[str]:
        ids = sorted(
            session_id
            for session_id in self.sessions
            if self.exists(session_id) and (prefix is None or session_id.startswith(prefix))
        )
        return ids if limit is None else ids[:limit]

    def touch(self, session_id: str, ttl: object = DEFAULT) -> SessionMetadata:
        session = self._require(session_id)
        if ttl is not DEFAULT:
            session.ttl = ttl_seconds(ttl)
        session.restart_ttl(self.clock())
        return session.metadata(session_id)

    def purge_expired(self) -> int:
        now = self.clock()
        expired = [sid for sid, session in self.sessions.items() if session.expired(now)]
        for session_id in expired:
            del self.sessions[session_id]
        return len(expired)

    def clear(self) -> int:
        live = sum(1 for session_id in self.sessions if self.exists(session_id))
        self.sessions.clear()
        return live

    def find_sessions(
        self,
        *,
        labels: Mapping[str, str] | None = None,
        updated_after: float | None = None,
        updated_before: float | None = None,
        limit: int = 100,
        after: PageKey | None = None,
    ) -> tuple[list[SessionMetadata], PageKey | None]:
        """One page, newest ``updated_at`` first, ties by id; and the key of the next
        page (None on the last), which a store's cursor encodes."""
        found = []
        for session_id, session in self.sessions.items():
            if session.expired(self.clock()):
                continue
            at = session.updated_at
            if updated_after is not None and not at > updated_after:
                continue
            if updated_before is not None and not at < updated_before:
                continue
            if after is not None and not (
                at < after[0] or (at == after[0] and session_id > after[1])
            ):
                continue
            if labels and any(session.labels.get(k) != v for k, v in labels.items()):
                continue
            found.append(session.metadata(session_id))
        found.sort(key=lambda meta: (-meta.updated_at, meta.session_id))
        page = found[:limit]
        more = len(found) > limit
        return page, ((page[-1].updated_at, page[-1].session_id) if more else None)
