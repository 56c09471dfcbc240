"""The interface every store implements: :class:`AsyncSessionStore`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import TypeVar

from .._metadata import Page, SessionMetadata
from .._model import Conversation, Message
from .._validation import DEFAULT, TTLArg

__all__ = ["AsyncSessionStore"]

_Store = TypeVar("_Store", bound="AsyncSessionStore")


class AsyncSessionStore(ABC):
    """A store of conversations under session ids.

    Every store is safe to share between threads and tasks. Closing it (``aclose``,
    or leaving ``async with``) is harmless twice; any other call then raises
    :class:`StoreClosed`.
    """

    #: A short name of the kind of store, e.g. ``"memory"``, ``"sqlite"``.
    name: str = "store"

    @abstractmethod
    async def save(
        self,
        session_id: str,
        conversation: Conversation,
        *,
        ttl: TTLArg = DEFAULT,
        expected_version: int | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> SessionMetadata:
        """Store a snapshot of ``conversation``, replacing what the session held.

        :param ttl: seconds or ``timedelta``; ``DEFAULT`` keeps the session's own TTL
            (the store's ``default_ttl`` for a new session); None: never expires
        :param expected_version: write only if the session is at this version
            (0: it must not exist yet)
        :param labels: replace the session's labels; None keeps them
        :raises InvalidSessionId: if ``session_id`` is not valid
        :raises VersionConflict: if ``expected_version`` does not match
        :raises CapacityExceeded: if a limit would be exceeded
        :raises BackendError: if the backend failed
        :return: the session's metadata after the write
        """

    @abstractmethod
    async def append(
        self,
        session_id: str,
        *messages: Message,
        ttl: TTLArg = DEFAULT,
        expected_version: int | None = None,
    ) -> SessionMetadata:
        """Atomically add messages at the end, creating the session if needed.

        Concurrent appends never lose a message, and the cost does not grow with the
        session's length.

        :raises VersionConflict: if ``expected_version`` does not match
        :raises CapacityExceeded: if a limit would be exceeded
        :return: the session's metadata after the write
        """

    @abstractmethod
    async def load(self, session_id: str, *, last: int | None = None) -> Conversation:
        """A new :class:`Conversation` holding the session's messages.

        :param last: only the newest ``last`` messages, oldest first
        :raises SessionNotFound: if there is no such session
        :raises SessionExpired: if its TTL ran out (a :class:`SessionNotFound`)
        """

    async def load_tail(self, session_id: str, last: int) -> Conversation:
        """The newest ``last`` messages, less any tool results at the start whose call
        the cut left out (so the tail can go to a model as it is): at most ``last``.

        :raises SessionNotFound: if there is no such session
        :raises SessionExpired: if its TTL ran out (a :class:`SessionNotFound`)
        """
        conversation = await self.load(session_id, last=last)
        return conversation.without_cut_tool_results()

    @abstractmethod
    async def pop(self, session_id: str) -> Message | None:
        """Atomically remove and return the newest message; None if the session is empty.

        :raises SessionNotFound: if there is no such session
        """

    @abstractmethod
    async def get_metadata(self, session_id: str) -> SessionMetadata:
        """The session's metadata.

        :raises SessionNotFound: if there is no such session
        :raises SessionExpired: if its TTL ran out
        """

    @abstractmethod
    async def exists(self, session_id: str) -> bool:
        """True if the session exists and has not expired."""

    @abstractmethod
    async def delete(self, session_id: str) -> bool:
        """Remove the session; True if a live session was removed."""

    @abstractmethod
    async def list_sessions(
        self, *, prefix: str | None = None, limit: int | None = None
    ) -> list[str]:
        """Ids of the live sessions, sorted; optionally only those starting with ``prefix``."""

    @abstractmethod
    def iter_sessions(self, *, prefix: str | None = None) -> AsyncIterator[str]:
        """Iterate over the ids of live sessions in sorted order, in constant memory."""

    @abstractmethod
    async def touch(self, session_id: str, *, ttl: TTLArg = DEFAULT) -> SessionMetadata:
        """Restart the session's TTL (``DEFAULT``: its own duration); the version stays.

        :raises SessionNotFound: if there is no such session
        :raises SessionExpired: if its TTL already ran out
        """

    @abstractmethod
    async def purge_expired(self) -> int:
        """Remove expired sessions; how many were removed."""

    @abstractmethod
    async def clear(self) -> int:
        """Remove every session; how many live sessions were removed."""

    @abstractmethod
    async def find_sessions(
        self,
        *,
        labels: Mapping[str, str] | None = None,
        updated_after: float | None = None,
        updated_before: float | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page:
        """One page of live sessions' metadata, newest ``updated_at`` first.

        :param labels: only sessions having all these label pairs
        :param updated_after: only sessions with ``updated_at`` strictly after this
        :param updated_before: only sessions with ``updated_at`` strictly before this
        :param cursor: the ``next_cursor`` of the previous page
        :raises ValueError: on a cursor this library did not make
        """

    @abstractmethod
    async def aclose(self) -> None:
        """Release the store's resources; closing twice is harmless."""

    async def __aenter__(self: _Store) -> _Store:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"
