"""LangChain's ``BaseChatMessageHistory`` over any agent-session store.

``AgentSessionChatMessageHistory(session_id, store)`` is a chat message history for
``RunnableWithMessageHistory`` and any code written against
``langchain_core.chat_history.BaseChatMessageHistory``: the sync methods
(``messages``, ``add_messages``, ``clear``) and the async ones (``aget_messages``,
``aadd_messages``, ``aclear``) over one session of a store, in memory, SQLite,
PostgreSQL, Redis or layered.

Each LangChain message is one stored message, kept whole. Its payload is LangChain's
own serialization, ``message_to_dict(m)["data"]`` (every field of the message:
``content``, ``additional_kwargs``, ``response_metadata``, ``id``, ``name``,
``tool_calls``, ``invalid_tool_calls``, ``usage_metadata``, ``tool_call_id``,
``artifact``, ``status``, ``tool_call_chunks``..., and its ``type``), with one key
added in front: the OpenAI ``role`` of the message (``human`` is ``"user"``, ``ai``
``"assistant"``, ``system`` ``"system"`` or ``"developer"``, ``tool`` ``"tool"``,
``function`` ``"function"``; a ``ChatMessage`` keeps its own ``role``). So a reader
of the session that knows nothing of LangChain sees the role, ``content``, ``text``,
``name``, ``tool_calls`` and ``tool_call_id`` where it expects them, and reading it
back is ``messages_from_dict`` on those fields: every message type comes back
``==`` to what was added, with no code of ours per field.

Where that flat form does not fit the store's message model (a ``ChatMessage`` whose
role is not a chat role, a tool call without an id, a field of its own named
``role``...), the message is stored in LangChain's envelope instead,
``{"role": ..., "type": ..., "data": message_to_dict(m)["data"]}``, equally
lossless. Reading accepts both, LangChain's bare ``message_to_dict`` dicts, and
chat messages other code wrote in the OpenAI shape (through LangChain's own
``convert_to_messages``).

Needs the extra: ``pip install 'agent-session[langchain]'``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

try:
    from langchain_core.chat_history import BaseChatMessageHistory
    from langchain_core.messages import (
        BaseMessage,
        convert_to_messages,
        message_to_dict,
        messages_from_dict,
    )
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        f"agent_session.integrations.langchain needs langchain-core>=0.3 ({exc}): "
        "pip install 'agent-session[langchain]'"
    ) from exc

from .._async.base import AsyncSessionStore
from .._concurrency import arun_blocking
from .._errors import SerializationError, SessionNotFound
from .._model import Conversation, Message
from .._sync.base import SessionStore
from .._validation import DEFAULT, TTLArg, check_session_id, resolve_ttl_arg
from ._stores import AdapterStores, Closing

__all__ = [
    "AgentSessionChatMessageHistory",
    "message_from_langchain",
    "message_to_langchain",
]

#: LangChain message type -> the role a reader of the chat-message shape expects.
_ROLES: Mapping[str, str] = {
    "human": "user",
    "HumanMessageChunk": "user",
    "ai": "assistant",
    "AIMessageChunk": "assistant",
    "system": "system",
    "SystemMessageChunk": "system",
    "tool": "tool",
    "ToolMessageChunk": "tool",
    "function": "function",
    "FunctionMessageChunk": "function",
}
#: Types whose own ``role`` field is the payload's ``role`` (nothing is added).
_OWN_ROLE = frozenset(("chat", "ChatMessageChunk"))
#: Every type ``messages_from_dict`` reads back (``remove`` is role-less).
_TYPES = frozenset(_ROLES) | _OWN_ROLE | {"remove"}


def message_from_langchain(message: BaseMessage) -> Message:
    """The stored form of a LangChain message: one :class:`~agent_session.Message`.

    :raises TypeError: if ``message`` is not a LangChain ``BaseMessage``, or is of a
        type ``messages_from_dict`` cannot read back
    :raises SerializationError: if a field holds a value JSON cannot hold (a
        ``datetime``, bytes, a pydantic object in ``additional_kwargs``...)
    """
    if not isinstance(message, BaseMessage):
        raise TypeError(f"expected a LangChain BaseMessage, not {message!r:.80}")
    serialized = message_to_dict(message)
    kind, data = serialized["type"], serialized["data"]
    if kind not in _TYPES:
        # Refused now rather than stored as a message no load could give back.
        raise TypeError(
            f"LangChain's messages_from_dict cannot read a message of type {kind!r} "
            f"({type(message).__name__}) back; use one of its own message classes"
        )
    role = _role_of(kind, data)
    if kind in _OWN_ROLE or "role" not in data:
        try:
            return Message.from_dict(data if role is None else {"role": role, **data})
        except SerializationError:
            pass  # a field clashes with the message model: the envelope holds anything
    envelope = {"type": kind, "data": data}
    if role is not None:
        envelope = {"role": role, **envelope}
    return Message.from_dict(envelope)


def _role_of(kind: str, data: Mapping[str, Any]) -> str | None:
    if kind in _OWN_ROLE:
        return None
    role = _ROLES.get(kind)
    if role == "system":
        # How LangChain marks an OpenAI developer message (convert_to_messages does it).
        kwargs = data.get("additional_kwargs")
        if isinstance(kwargs, Mapping) and kwargs.get("__openai_role__") == "developer":
            return "developer"
    return role


def message_to_langchain(message: Message) -> BaseMessage:
    """The LangChain message a stored message holds.

    Reads what :func:`message_from_langchain` wrote, LangChain's ``message_to_dict``
    dicts, and chat messages in the OpenAI shape (``{"role": "user", ...}``, through
    LangChain's ``convert_to_messages``).

    :raises SerializationError: if the message is not one LangChain can read (a
        Responses ``function_call`` item, say)
    """
    payload = message.to_dict()
    kind = payload.get("type")
    try:
        if kind in _TYPES and isinstance(payload.get("data"), Mapping) and "content" not in payload:
            return messages_from_dict([{"type": kind, "data": payload["data"]}])[0]
        if kind in _TYPES:
            if kind not in _OWN_ROLE:
                payload.pop("role", None)  # ours, added in front: not a field of the message
            return messages_from_dict([{"type": kind, "data": payload}])[0]
        if message.role is not None:
            return convert_to_messages([payload])[0]
    except (TypeError, ValueError, KeyError) as exc:  # pydantic's ValidationError too
        raise SerializationError(
            f"stored message {message.id!r} {payload!r:.120} is not a LangChain message: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    raise SerializationError(
        f"stored message {message.id!r} {payload!r:.120} has no role and no LangChain "
        "type: LangChain cannot read it as a chat message"
    )


class AgentSessionChatMessageHistory(BaseChatMessageHistory, Closing):
    """The messages of one conversation, kept in an agent-session store.

    Built from a store URL, it serves both flavours from it: the sync methods from
    :func:`~agent_session.open_store`, the async ones from
    :func:`~agent_session.open_async_store`, each opened on first use and closed by
    :meth:`close` / :meth:`aclose` (or ``with`` / ``async with``). A URL naming
    storage private to one store object (``memory://``, ``cache://``,
    ``sqlite://:memory:``) opens one sync store for both, the async methods calling it
    in a worker thread, so both see the same messages. Built from store objects
    (yours: never closed here), a sync store alone serves the async methods the same
    way; an async store alone serves only the async methods.

    ``add_messages`` is one atomic ``append``: concurrent writers never lose a message,
    and its cost does not grow with the session's length. A session that does not exist
    (or whose TTL ran out) is empty; ``clear`` deletes it. Setting ``messages``
    replaces the whole conversation.

    LangChain deprecated ``BaseChatMessageHistory`` in langchain-core 1.6.4 (removal
    planned for 2.0) in favour of LangGraph's persistence:
    https://docs.langchain.com/oss/python/langchain/short-term-memory

    :param session_id: the conversation's id in the store
    :param store: a store URL such as ``"sqlite:///chat.db"`` or ``"redis://host/0"``,
        a :class:`~agent_session.SessionStore`, or an
        :class:`~agent_session.AsyncSessionStore`
    :param async_store: with a sync ``store``: the async store of the same data, for
        the async methods
    :param ttl: the TTL each write gives the session: seconds or ``timedelta``;
        ``DEFAULT`` keeps the session's own (the store's ``default_ttl`` for a new one);
        None: never expires
    :raises InvalidSessionId: if ``session_id`` is not a valid id
    :raises TypeError: if ``store`` or ``async_store`` is not what it should be
    :raises ValueError: on a bad URL or TTL
    """

    session_id: str

    def __init__(
        self,
        session_id: str,
        store: str | SessionStore | AsyncSessionStore,
        *,
        async_store: AsyncSessionStore | None = None,
        ttl: TTLArg = DEFAULT,
    ) -> None:
        self.session_id = check_session_id(session_id)
        self._ttl = resolve_ttl_arg(ttl)
        if async_store is not None and not isinstance(async_store, AsyncSessionStore):
            raise TypeError(f"async_store must be an AsyncSessionStore, not {async_store!r:.80}")
        if isinstance(store, str):
            if async_store is not None:
                raise TypeError("give a URL or store objects, not both: the URL opens both")
            self._stores = AdapterStores(url=store)
        elif isinstance(store, SessionStore):
            self._stores = AdapterStores(store=store, async_store=async_store)
        elif isinstance(store, AsyncSessionStore):
            if async_store is not None:
                raise TypeError("store is an AsyncSessionStore already: give async_store alone")
            self._stores = AdapterStores(async_store=store)
        else:
            raise TypeError(
                f"store must be a store URL, a SessionStore or an AsyncSessionStore, "
                f"not {store!r:.80}"
            )

    # -- the stores --------------------------------------------------------------------

    def _sync_store(self) -> SessionStore:
        store = self._stores.sync()
        if store is None:
            raise TypeError(
                f"{type(self).__name__} was built from an AsyncSessionStore alone: use the "
                "async methods (aget_messages, aadd_messages, aclear), or build it from a "
                "URL or a SessionStore"
            )
        return store

    # -- reading -----------------------------------------------------------------------

    def _convert(self, conversation: Conversation) -> list[BaseMessage]:
        try:
            return [message_to_langchain(message) for message in conversation]
        except SerializationError as exc:
            raise SerializationError(
                f"session {self.session_id!r}: {exc}", session_id=self.session_id
            ) from exc

    def _load(self) -> list[BaseMessage]:
        try:
            conversation = self._sync_store().load(self.session_id)
        except SessionNotFound:  # also SessionExpired: an empty history
            return []
        return self._convert(conversation)

    @property
    def messages(self) -> list[BaseMessage]:
        """The conversation, oldest first ([] when the session does not exist).

        :raises SerializationError: if a stored message is not one LangChain can read
        """
        return self._load()

    @messages.setter
    def messages(self, messages: Sequence[BaseMessage]) -> None:
        """Replace the whole conversation (one ``save``)."""
        converted = _convert_all(messages)
        self._sync_store().save(self.session_id, Conversation(converted), ttl=self._ttl)

    async def aget_messages(self) -> list[BaseMessage]:
        """The conversation, oldest first ([] when the session does not exist).

        :raises SerializationError: if a stored message is not one LangChain can read
        """
        store = await self._stores.aio()  # None: the sync methods, in a thread
        if store is None:
            return await arun_blocking(self._load)
        try:
            conversation = await store.load(self.session_id)
        except SessionNotFound:
            return []
        return self._convert(conversation)

    # -- writing -----------------------------------------------------------------------

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Append ``messages`` in one atomic write, one stored message each.

        :raises TypeError: if one is not a LangChain message (nothing is written)
        :raises SerializationError: if one holds a value JSON cannot hold (nothing is
            written)
        :raises CapacityExceeded: if a limit of the store would be exceeded
        """
        converted = _convert_all(messages)  # all of them before the write
        if converted:
            self._sync_store().append(self.session_id, *converted, ttl=self._ttl)

    async def aadd_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Append ``messages`` in one atomic write, one stored message each.

        :raises TypeError: if one is not a LangChain message (nothing is written)
        :raises SerializationError: if one holds a value JSON cannot hold (nothing is
            written)
        :raises CapacityExceeded: if a limit of the store would be exceeded
        """
        store = await self._stores.aio()
        if store is None:
            await arun_blocking(self.add_messages, messages)
            return
        converted = _convert_all(messages)
        if converted:
            await store.append(self.session_id, *converted, ttl=self._ttl)

    def clear(self) -> None:
        """Remove every message: the session is deleted from the store."""
        self._sync_store().delete(self.session_id)

    async def aclear(self) -> None:
        """Remove every message: the session is deleted from the store."""
        store = await self._stores.aio()
        if store is None:
            await arun_blocking(self.clear)
        else:
            await store.delete(self.session_id)

    # -- closing -----------------------------------------------------------------------

    def close(self) -> None:
        """Close the sync store this history opened from a URL; harmless twice.

        An async store it opened is closed by :meth:`aclose`, on its event loop.
        """
        self._stores.close()

    async def aclose(self) -> None:
        """Close every store this history opened from a URL; harmless twice."""
        await self._stores.aclose()

    def __repr__(self) -> str:
        where = self._stores.source()
        return f"<{type(self).__name__} session_id={self.session_id!r} store={where!r}>"


def _convert_all(messages: Sequence[BaseMessage]) -> list[Message]:
    if isinstance(messages, (str, bytes, BaseMessage)):
        raise TypeError(f"expected a sequence of LangChain messages, not {messages!r:.80}")
    return [message_from_langchain(message) for message in messages]
