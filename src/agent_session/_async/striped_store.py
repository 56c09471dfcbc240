"""The process-local stores' shared body: every call goes to the lock-striped core."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

from .._backends.striped import StripedCore
from .._metadata import Page, SessionMetadata
from .._model import Conversation, Message
from .._paging import FindQuery
from .._validation import DEFAULT, TTLArg, check_prefix
from .base import AsyncSessionStore

__all__ = ["AsyncStripedStore"]


class AsyncStripedStore(AsyncSessionStore):
    """A store whose sessions live in this process, in a :class:`StripedCore`.

    Nothing here awaits: the core never blocks, so the async and sync halves
    cost the same but for awaiting an immediate coroutine.
    """

    _core: StripedCore

    async def save(
        self,
        session_id: str,
        conversation: Conversation,
        *,
        ttl: TTLArg = DEFAULT,
        expected_version: int | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> SessionMetadata:
        return self._core.save(session_id, conversation, ttl, expected_version, labels)

    async def append(
        self,
        session_id: str,
        *messages: Message,
        ttl: TTLArg = DEFAULT,
        expected_version: int | None = None,
    ) -> SessionMetadata:
        return self._core.append(session_id, messages, ttl, expected_version)

    async def load(self, session_id: str, *, last: int | None = None) -> Conversation:
        return self._core.load(session_id, last)

    async def pop(self, session_id: str) -> Message | None:
        return self._core.pop(session_id)

    async def get_metadata(self, session_id: str) -> SessionMetadata:
        return self._core.get_metadata(session_id)

    async def exists(self, session_id: str) -> bool:
        return self._core.exists(session_id)

    async def delete(self, session_id: str) -> bool:
        return self._core.delete(session_id)

    async def list_sessions(
        self, *, prefix: str | None = None, limit: int | None = None
    ) -> list[str]:
        return self._core.list_sessions(prefix, limit)

    async def iter_sessions(self, *, prefix: str | None = None) -> AsyncIterator[str]:
        # The ids are in memory already; a sorted list of references is the snapshot.
        check_prefix(prefix)
        for session_id in self._core.list_sessions(prefix, None):
            yield session_id

    async def touch(self, session_id: str, *, ttl: TTLArg = DEFAULT) -> SessionMetadata:
        return self._core.touch(session_id, ttl)

    async def purge_expired(self) -> int:
        return self._core.purge_expired()

    async def clear(self) -> int:
        return self._core.clear()

    async def find_sessions(
        self,
        *,
        labels: Mapping[str, str] | None = None,
        updated_after: float | None = None,
        updated_before: float | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page:
        query = FindQuery(labels, updated_after, updated_before, limit, cursor)
        return self._core.find_sessions(query)

    async def aclose(self) -> None:
        self._core.close()
