"""The process-local stores' shared body: every hook goes to the lock-striped core."""

from __future__ import annotations

from collections.abc import AsyncIterator

from .._backends.striped import StripedCore
from .._metadata import Page, SessionMetadata
from .._model import Conversation, Message
from .._paging import FindQuery
from .._validation import Default, WriteArgs
from .base import AsyncSessionStore

__all__ = ["AsyncStripedStore"]


class AsyncStripedStore(AsyncSessionStore):
    """A store whose sessions live in this process, in a :class:`StripedCore`.

    Nothing here awaits: the core never blocks, so the async and sync halves
    cost the same but for awaiting an immediate coroutine.
    """

    _core: StripedCore

    async def _save(self, session_id: str, args: WriteArgs) -> SessionMetadata:
        return self._core.write(session_id, args, False)

    async def _append(self, session_id: str, args: WriteArgs) -> SessionMetadata:
        return self._core.write(session_id, args, True)

    async def _load(self, session_id: str, last: int | None) -> Conversation:
        return self._core.load(session_id, last)

    async def _load_with_metadata(
        self, session_id: str, last: int | None
    ) -> tuple[Conversation, SessionMetadata]:
        return self._core.load_with_metadata(session_id, last)

    async def _pop(self, session_id: str, expected_version: int | None) -> Message | None:
        return self._core.pop(session_id, expected_version)

    async def _get_metadata(self, session_id: str) -> SessionMetadata:
        return self._core.get_metadata(session_id)

    async def _exists(self, session_id: str) -> bool:
        return self._core.exists(session_id)

    async def _delete(self, session_id: str) -> bool:
        return self._core.delete(session_id)

    async def _list_sessions(self, prefix: str | None, limit: int | None) -> list[str]:
        return self._core.list_sessions(prefix, limit)

    async def _iter_sessions(self, prefix: str | None) -> AsyncIterator[str]:
        # The ids are in memory already; a sorted list of references is the snapshot.
        for session_id in self._core.list_sessions(prefix, None):
            yield session_id

    async def _touch(self, session_id: str, ttl: float | None | Default) -> SessionMetadata:
        return self._core.touch(session_id, ttl)

    async def _purge_expired(self) -> int:
        return self._core.purge_expired()

    async def _clear(self) -> int:
        return self._core.clear()

    async def _find_sessions(self, query: FindQuery) -> Page:
        return self._core.find_sessions(query)

    async def _aclose(self) -> None:
        self._core.close()
