"""The OpenAI Agents SDK's ``Session`` over any agent-session store.

``AgentSession(session_id, store)`` implements the SDK's ``agents.memory.Session``
protocol (``get_items``, ``add_items``, ``pop_item``, ``clear_session``,
``session_id``, ``session_settings``), so ``Runner.run(agent, input, session=...)``
keeps its history in any :class:`~agent_session.AsyncSessionStore`: in memory,
SQLite, PostgreSQL, Redis, layered. Each SDK item is one stored message, kept whole:
``Message.from_dict(item)`` in, ``message.to_dict()`` out, so reasoning items with
``encrypted_content``, function calls and their outputs, hosted-tool calls and
role-less items all come back exactly as the SDK gave them. The store gives each
message its own ``id`` and ``created_at`` beside the item, never inside it.

Needs the extra: ``pip install 'agent-session[openai-agents]'``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

try:
    import agents.memory.session as _sdk_session
    from agents.memory.session_settings import (
        SessionSettings,
        coerce_session_settings,
        resolve_session_limit,
    )
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "agent_session.integrations.openai_agents needs the OpenAI Agents SDK: "
        "pip install 'agent-session[openai-agents]'"
    ) from exc

from .._async.base import AsyncSessionStore
from .._errors import SessionNotFound, VersionConflict
from .._metadata import SessionMetadata
from .._model import Conversation, Message
from .._validation import DEFAULT, TTLArg, check_session_id, resolve_ttl_arg
from ._stores import AdapterStores, AsyncClosing

if TYPE_CHECKING:
    from agents.items import TResponseInputItem
    from agents.memory.session import _CompactionSnapshot

__all__ = ["AgentSession"]

# The SDK's private shape of a compaction snapshot (0.24); None where an SDK lacks it.
_SNAPSHOT: Any = getattr(_sdk_session, "_CompactionSnapshot", None)
_HISTORY_METHODS = ("get_items", "add_items", "pop_item", "clear_session")


class AgentSession(AsyncClosing):
    """One conversation of the OpenAI Agents SDK, kept in an agent-session store.

    Pass it to ``Runner.run(..., session=...)`` as you would ``SQLiteSession``. Many
    ``AgentSession`` objects (one per conversation, per request) can share one store;
    the store is safe to share between tasks and threads.

    A session the SDK asks about that does not exist (or whose TTL ran out) is empty:
    ``get_items`` returns ``[]`` and ``pop_item`` None. ``add_items`` is one atomic
    ``append``, so concurrent runs on one session never lose an item.

    :param session_id: the conversation's id in the store
    :param store: an :class:`~agent_session.AsyncSessionStore` (yours: never closed
        here), or a store URL such as ``"sqlite:///chat.db"`` or ``"redis://host/0"``
        (opened with :func:`~agent_session.open_async_store`, and closed by
        :meth:`aclose` or ``async with``)
    :param session_settings: the SDK's ``SessionSettings`` (or a dict of its fields);
        its ``limit`` is the default of ``get_items``
    :param ttl: the TTL ``add_items`` gives the session: seconds or ``timedelta``;
        ``DEFAULT`` keeps the session's own (the store's ``default_ttl`` for a new
        one); None: never expires
    :raises InvalidSessionId: if ``session_id`` is not a valid id
    :raises TypeError: if ``store`` is neither a store nor a URL, or a setting is unknown
        to the SDK
    :raises ValueError: on a bad URL, TTL or setting value
    """

    session_id: str
    session_settings: SessionSettings | None

    def __init__(
        self,
        session_id: str,
        store: AsyncSessionStore | str,
        *,
        session_settings: SessionSettings | Mapping[str, Any] | None = None,
        ttl: TTLArg = DEFAULT,
    ) -> None:
        self.session_id = check_session_id(session_id)
        self._ttl = resolve_ttl_arg(ttl)
        # The SDK's own coercion: a dict with an unknown field is refused as it refuses it.
        self.session_settings = (
            SessionSettings()
            if session_settings is None
            else coerce_session_settings(
                dict(session_settings)
                if isinstance(session_settings, Mapping)
                else session_settings
            )
        )
        if isinstance(store, AsyncSessionStore):
            self._stores = AdapterStores(async_store=store)
        elif isinstance(store, str):
            self._stores = AdapterStores(url=store)
        else:
            raise TypeError(f"store must be an AsyncSessionStore or a store URL, not {store!r:.80}")
        # Opened now, for any URL: the SDK's session has no sync methods to share one with.
        self._store = self._stores.open_async()

    @property
    def store(self) -> AsyncSessionStore:
        """The store this session's items live in."""
        return self._store

    async def get_items(self, limit: int | None = None) -> list[TResponseInputItem]:
        """The session's items, oldest first, as the SDK gave them.

        :param limit: only the newest ``limit`` items (still oldest first); None: the
            ``session_settings`` limit, else all. As with the SDK's ``SQLiteSession``,
            0 gives none and a negative limit all.
        :return: the items; ``[]`` for a session that does not exist
        """
        resolved = resolve_session_limit(limit, self.session_settings)
        if resolved == 0:
            return []
        last = None if resolved is None or resolved < 0 else resolved
        try:
            conversation = await self._store.load(self.session_id, last=last)
        except SessionNotFound:  # also SessionExpired: the SDK sees an empty session
            return []
        return [cast("TResponseInputItem", message.to_dict()) for message in conversation]

    async def add_items(self, items: list[TResponseInputItem]) -> None:
        """Append ``items`` in one atomic write, one stored message each.

        :raises SerializationError: if an item is not a JSON object (nothing is written)
        :raises CapacityExceeded: if a limit of the store would be exceeded
        :raises StoreClosed: if the store is closed, even for no items
        """
        # Built before the write: an item that JSON cannot hold fails with nothing written.
        messages = [Message.from_dict(cast("Mapping[str, Any]", item)) for item in items]
        if not messages:
            self._store._enter()  # nothing to write, but a closed store still says so
            return
        await self._store.append(self.session_id, *messages, ttl=self._ttl)

    async def pop_item(self) -> TResponseInputItem | None:
        """Remove and return the newest item; None if the session is empty or missing."""
        try:
            message = await self._store.pop(self.session_id)
        except SessionNotFound:
            return None
        return None if message is None else cast("TResponseInputItem", message.to_dict())

    async def clear_session(self) -> None:
        """Remove every item: the session is deleted from the store."""
        await self._store.delete(self.session_id)

    async def _get_compaction_snapshot(
        self,
        limit: int,
        *,
        prune_prefix: Callable[[TResponseInputItem], bool] | None = None,
    ) -> _CompactionSnapshot | None:
        """The SDK's hook for atomic compaction (private to the SDK; its 0.24 shape).

        ``OpenAIResponsesCompactionSession`` reads the newest ``limit`` items and may
        later replace a suffix of them with a summary. Without this hook it clears the
        session and adds everything back, which loses an item another run appends in
        between. Here the window comes from :meth:`~AsyncSessionStore.load_with_metadata`
        and the replacement is one ``save`` with that ``expected_version``, so any write
        in between makes it return False (the SDK then keeps the history). It reads and
        rewrites the whole session, once per compaction.

        :return: None where the SDK has no such hook, or a subclass overrides how items
            are read or written (the snapshot would bypass that)
        """
        cls = type(self)
        if _SNAPSHOT is None or any(
            getattr(cls, name) is not getattr(AgentSession, name) for name in _HISTORY_METHODS
        ):
            return None
        try:
            window, seen = await self._store.load_with_metadata(self.session_id, last=limit)
        except SessionNotFound:
            window, seen = Conversation(), None
        items = [cast("TResponseInputItem", message.to_dict()) for message in window]
        complete = seen is None or seen.message_count <= len(window)

        async def replace_suffix(start: int, output: list[TResponseInputItem]) -> bool:
            if seen is None or not 0 <= start < len(window):
                return False
            return await self._replace_suffix(seen, len(window) - start, output, prune_prefix)

        snapshot: _CompactionSnapshot = _SNAPSHOT(items, complete, replace_suffix)
        return snapshot

    async def _replace_suffix(
        self,
        seen: SessionMetadata,
        count: int,
        output: list[TResponseInputItem],
        prune_prefix: Callable[[TResponseInputItem], bool] | None,
    ) -> bool:
        """Replace the newest ``count`` items with ``output`` if nothing was written since
        ``seen``; drop the oldest items ``prune_prefix`` accepts, up to the first it refuses."""
        new = [Message.from_dict(cast("Mapping[str, Any]", item)) for item in output]
        try:
            history, now = await self._store.load_with_metadata(self.session_id)
        except SessionNotFound:
            return False
        # created_at too: a delete and as many new writes would repeat the version.
        if (now.version, now.created_at) != (seen.version, seen.created_at):
            return False
        kept = list(history)[: len(history) - count]
        if prune_prefix is not None:
            drop = 0
            while drop < len(kept) and prune_prefix(
                cast("TResponseInputItem", kept[drop].to_dict())
            ):
                drop += 1
            kept = kept[drop:]
        try:
            await self._store.save(
                self.session_id,
                Conversation(kept + new),
                ttl=self._ttl,
                expected_version=seen.version,
            )
        except VersionConflict:
            return False
        return True

    async def aclose(self) -> None:
        """Close the store if this session opened it from a URL; harmless twice."""
        await self._stores.aclose()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} session_id={self.session_id!r} store={self._store!r}>"
