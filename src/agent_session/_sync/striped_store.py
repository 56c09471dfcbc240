# This file is generated from _async/striped_store.py by scripts/unasync.py: do not edit.
"""The process-local stores' shared body: every hook goes to the lock-striped core."""

from __future__ import annotations

from collections.abc import Iterator

from .._backends.striped import StripedCore
from .._metadata import Page, SessionMetadata
from .._model import Conversation, Message
from .._paging import FindQuery
from .._validation import Default, WriteArgs
from .base import SessionStore

__all__ = ["StripedStore"]


class StripedStore(SessionStore):
    """A store whose sessions live in this process, in a :class:`StripedCore`.

    Nothing here awaits: the core never blocks, so the async and sync halves
    cost the same but for awaiting an immediate coroutine.
    """

    _core: StripedCore

    def _save(self, session_id: str, args: WriteArgs) -> SessionMetadata:
        return self._core.write(session_id, args, False)

    def _append(self, session_id: str, args: WriteArgs) -> SessionMetadata:
        return self._core.write(session_id, args, True)

    def _load(self, session_id: str, last: int | None) -> Conversation:
        return self._core.load(session_id, last)

    def _load_with_metadata(
        self, session_id: str, last: int | None
    ) -> tuple[Conversation, SessionMetadata]:
        return self._core.load_with_metadata(session_id, last)

    def _pop(self, session_id: str, expected_version: int | None) -> Message | None:
        return self._core.pop(session_id, expected_version)

    def _get_metadata(self, session_id: str) -> SessionMetadata:
        return self._core.get_metadata(session_id)

    def _exists(self, session_id: str) -> bool:
        return self._core.exists(session_id)

    def _delete(self, session_id: str) -> bool:
        return self._core.delete(session_id)

    def _list_sessions(self, prefix: str | None, limit: int | None) -> list[str]:
        return self._core.list_sessions(prefix, limit)

    def _iter_sessions(self, prefix: str | None) -> Iterator[str]:
        # The ids are in memory already; a sorted list of references is the snapshot.
        for session_id in self._core.list_sessions(prefix, None):
            yield session_id

    def _touch(self, session_id: str, ttl: float | None | Default) -> SessionMetadata:
        return self._core.touch(session_id, ttl)

    def _purge_expired(self) -> int:
        return self._core.purge_expired()

    def _clear(self) -> int:
        return self._core.clear()

    def _find_sessions(self, query: FindQuery) -> Page:
        return self._core.find_sessions(query)

    def _aclose(self) -> None:
        self._core.close()
