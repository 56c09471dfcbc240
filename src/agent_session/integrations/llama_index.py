"""LlamaIndex: chat stores over any agent-session store, for ``ChatMemoryBuffer`` and ``Memory``.

Needs the ``llama-index`` extra (``pip install 'agent-session[llama-index]'``)::

    from llama_index.core.memory import ChatMemoryBuffer, Memory
    from agent_session.integrations.llama_index import (
        AgentSessionChatStore, AgentSessionMemoryStore)

    chat_store = AgentSessionChatStore.from_url("sqlite:///chat.db")
    buffer = ChatMemoryBuffer.from_defaults(chat_store=chat_store, chat_store_key="user-42")

    memory_store = AgentSessionMemoryStore.from_url("sqlite:///chat.db")
    memory = Memory.from_defaults(session_id="user-42", chat_store=memory_store)

:class:`AgentSessionChatStore` is a ``BaseChatStore`` (what ``ChatMemoryBuffer``
and the chat engines take), sync and async. :class:`AgentSessionMemoryStore` is an
``AsyncDBChatStore``, what ``Memory`` takes (``Memory.from_defaults(chat_store=...)``,
llama-index-core 0.14.24 and later; ``Memory`` does not accept a ``BaseChatStore``).
Each key is a session (its id is ``key_prefix + key``) and each ``ChatMessage`` one
stored :class:`~agent_session.Message`, so other agent-session tools
(``agent-session show``, ``load_tail``, TTLs, labels) see the conversation, and
both classes read what the other wrote.

How a ``ChatMessage`` is stored: an OpenAI-shaped payload, ``{"role", "content"}``,
where ``content`` is the text when the message is exactly one ``TextBlock``, else a
list with one part per block (the block's own JSON, its ``block_type`` written as
``type``, so text blocks are OpenAI text parts); non-empty ``additional_kwargs`` are
kept under ``"additional_kwargs"``, and the roles OpenAI has no name for (``chatbot``,
``model``) are stored as ``assistant`` with the original under ``"llama_index"``.
Reading gives back a message equal (``==``) to the one written for every block type,
as long as ``additional_kwargs`` hold JSON values (pydantic models and bytes in them
come back as their JSON form, as with ``SimpleChatStore.persist``). A session
written by other code reads as best it can: its text as a ``TextBlock``, its other
fields (``tool_calls``, ``tool_call_id``, ``name``...) in ``additional_kwargs``; so
does a stored message LlamaIndex no longer accepts (an ``ImageBlock`` whose ``path``
is gone), its parts kept in ``additional_kwargs["content"]``.

Concurrency: adding messages at the end is one atomic ``append`` and
``delete_last_message`` one atomic ``pop``, so concurrent writers never lose a
message. Every other edit (``delete_message``, ``add_message(..., idx=...)``, the
``Memory`` store's archiving) reads the messages with their version
(``load_with_metadata``) and saves the edited list with that ``expected_version``:
a write by anyone else in between makes the save fail with nothing written, and
the edit is redone on a fresh read (``conflict_retries`` times, with a short random
back-off; then :class:`~agent_session.VersionConflict`). So an index always refers
to the list as it was when the edit was written, and a concurrent append is never
overwritten. ``delete_messages`` reads, then deletes the session: a message
appended between the two is deleted without being returned.

Differences from ``SimpleChatStore`` (everything else answers the same):
``get_keys`` is sorted (not in insertion order) and lists only live sessions whose
id starts with ``key_prefix``; ``delete_last_message`` on an empty key returns None
(``SimpleChatStore`` raises ``IndexError``); a key that is not a valid session id
(empty, over 512 characters, control characters) raises ``InvalidSessionId``.
``AgentSessionMemoryStore`` differs from ``SQLAlchemyChatStore`` as its docstring says.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from llama_index.core.base.llms.types import ChatMessage, MessageRole, TextBlock
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.storage.chat_store.base import BaseChatStore
from llama_index.core.storage.chat_store.base_db import AsyncDBChatStore, MessageStatus
from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticSerializationError

from .._async.base import AsyncSessionStore
from .._concurrency import arun_blocking, asleep, sleep
from .._errors import SessionNotFound, VersionConflict
from .._metadata import SessionMetadata
from .._model import PAYLOAD_ROLES, Conversation, Message
from .._sync.base import SessionStore
from .._sync.cache import CacheStore
from .._sync.memory import InMemoryStore
from ._stores import AdapterStores, AsyncClosing, Closing

__all__ = [
    "ARCHIVED_LABEL",
    "AgentSessionChatStore",
    "AgentSessionMemoryStore",
    "from_chat_message",
    "to_chat_message",
]

#: The session label that holds how many of its oldest messages ``Memory`` archived.
ARCHIVED_LABEL = "llama_index.archived"

_T = TypeVar("_T")
_ChatStoreT = TypeVar("_ChatStoreT", bound="_ChatStoreBase")
#: ``ChatMessage`` fields that have a place of their own in the payload.
_MAPPED = frozenset(("role", "additional_kwargs", "blocks"))
#: Payload keys this module writes; a payload with others was written by other code.
_OURS = frozenset(("role", "content", "additional_kwargs", "llama_index"))
_ROLES = frozenset(role.value for role in MessageRole)
#: An edit of a session: given its messages (None: no session) and labels, the new
#: messages (None: write nothing), the new labels (None: keep them) and the answer.
_Edit = Callable[
    [list[Message] | None, Mapping[str, str]],
    tuple[list[Message] | None, Mapping[str, str] | None, _T],
]


# -- ChatMessage <-> Message -----------------------------------------------------------


def from_chat_message(message: ChatMessage) -> Message:
    """The store :class:`~agent_session.Message` holding ``message`` (see the module doc).

    :raises TypeError: if ``message`` is not a ``ChatMessage``, or its
        ``additional_kwargs`` hold a value JSON cannot
    """
    if not isinstance(message, ChatMessage):
        raise TypeError(f"a chat store holds llama_index ChatMessage objects, not {message!r}")
    try:
        data = message.model_dump(mode="json")
    except PydanticSerializationError as exc:
        raise TypeError(f"ChatMessage {message!r} cannot be stored as JSON: {exc}") from exc
    role = data["role"]
    blocks = data["blocks"]
    content: str | list[dict[str, Any]]
    if len(blocks) == 1 and blocks[0] == {"block_type": "text", "text": blocks[0].get("text")}:
        content = blocks[0]["text"]
    else:
        content = [_part(block) for block in blocks]
    payload: dict[str, Any] = {"role": role if role in PAYLOAD_ROLES else "assistant"}
    payload["content"] = content
    if data["additional_kwargs"]:
        payload["additional_kwargs"] = data["additional_kwargs"]
    # What the OpenAI shape has no place for: another role, fields of a newer ChatMessage.
    rest = {key: value for key, value in data.items() if key not in _MAPPED}
    if role not in PAYLOAD_ROLES:
        rest["role"] = role
    if rest:
        payload["llama_index"] = rest
    return Message.from_dict(payload)


def to_chat_message(message: Message) -> ChatMessage:
    """The ``ChatMessage`` a stored message holds: equal to the one that was written."""
    payload = message.to_dict()
    if _OURS.issuperset(payload):
        role = payload.get("role")
        content = payload.get("content")
        blocks: Any = None
        if isinstance(content, str):
            blocks = [{"block_type": "text", "text": content}]
        elif isinstance(content, list) and all(isinstance(part, dict) for part in content):
            blocks = [_block(part) for part in content]
        extra = payload.get("llama_index", {})
        if blocks is not None and isinstance(extra, dict):
            data = {
                "role": role,
                "additional_kwargs": payload.get("additional_kwargs", {}),
                "blocks": blocks,
                **extra,
            }
            try:
                return ChatMessage.model_validate(data)
            except (ValidationError, ValueError, TypeError, AttributeError):
                pass  # not a ChatMessage after all: read it as any other payload
    return _foreign(message, payload)


def _part(block: dict[str, Any]) -> dict[str, Any]:
    """A block as a content part: ``block_type`` as ``type`` (kept if ``type`` is taken)."""
    if "type" in block or "block_type" not in block:
        return block
    kind = block["block_type"]
    return {"type": kind, **{k: v for k, v in block.items() if k != "block_type"}}


def _block(part: dict[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`_part`."""
    if "block_type" in part or "type" not in part:
        return part
    return {"block_type": part["type"], **{k: v for k, v in part.items() if k != "type"}}


def _foreign(message: Message, payload: dict[str, Any]) -> ChatMessage:
    """A payload other code wrote (an OpenAI item, a LangChain dict...) as a ChatMessage."""
    role = payload.get("role")
    if role not in _ROLES:
        role = MessageRole.TOOL if message.is_tool_result else MessageRole.ASSISTANT
    kwargs = payload.get("additional_kwargs")
    extra = dict(kwargs) if isinstance(kwargs, dict) else {}
    extra.update((k, v) for k, v in payload.items() if k not in ("role", "additional_kwargs"))
    if isinstance(extra.get("content"), str) or extra.get("content") is None:
        extra.pop("content", None)  # the text block says it; a list of parts stays here
    text = message.text
    return ChatMessage(
        role=role,
        blocks=[TextBlock(text=text)] if text or isinstance(message.content, str) else [],
        additional_kwargs=extra,
    )


def _chat_messages(messages: Iterable[Message]) -> list[ChatMessage]:
    return [to_chat_message(message) for message in messages]


# -- the stores behind an adapter ------------------------------------------------------


class _AsyncStore(Protocol):
    """What the async methods call: an :class:`AsyncSessionStore`, or :class:`_Offloaded`."""

    async def load(self, session_id: str, *, last: int | None = None) -> Conversation: ...

    async def load_with_metadata(
        self, session_id: str, *, last: int | None = None
    ) -> tuple[Conversation, SessionMetadata]: ...

    async def get_metadata(self, session_id: str) -> SessionMetadata: ...

    async def save(
        self,
        session_id: str,
        conversation: Conversation,
        *,
        expected_version: int | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> SessionMetadata: ...

    async def append(self, session_id: str, *messages: Message) -> SessionMetadata: ...

    async def pop(self, session_id: str) -> Message | None: ...

    async def delete(self, session_id: str) -> bool: ...

    async def list_sessions(self, *, prefix: str | None = None) -> list[str]: ...


class _Offloaded:
    """A sync store behind the async methods: each call in a worker thread, or directly
    for the in-memory stores (they never block, as their async twins do the same)."""

    def __init__(self, store: SessionStore) -> None:
        self._store = store
        self._direct = isinstance(store, (InMemoryStore, CacheStore))

    async def _call(self, function: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        if self._direct:
            return function(*args, **kwargs)
        return await arun_blocking(functools.partial(function, *args, **kwargs))

    async def load(self, session_id: str, *, last: int | None = None) -> Conversation:
        return await self._call(self._store.load, session_id, last=last)

    async def load_with_metadata(
        self, session_id: str, *, last: int | None = None
    ) -> tuple[Conversation, SessionMetadata]:
        return await self._call(self._store.load_with_metadata, session_id, last=last)

    async def get_metadata(self, session_id: str) -> SessionMetadata:
        return await self._call(self._store.get_metadata, session_id)

    async def save(
        self,
        session_id: str,
        conversation: Conversation,
        *,
        expected_version: int | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> SessionMetadata:
        return await self._call(
            self._store.save,
            session_id,
            conversation,
            expected_version=expected_version,
            labels=labels,
        )

    async def append(self, session_id: str, *messages: Message) -> SessionMetadata:
        return await self._call(self._store.append, session_id, *messages)

    async def pop(self, session_id: str) -> Message | None:
        return await self._call(self._store.pop, session_id)

    async def delete(self, session_id: str) -> bool:
        return await self._call(self._store.delete, session_id)

    async def list_sessions(self, *, prefix: str | None = None) -> list[str]:
        return await self._call(self._store.list_sessions, prefix=prefix)


class _ChatStoreBase(AsyncClosing, BaseModel):
    """What both chat stores share: their fields, their stores and closing them.

    The stores are given or opened from ``url`` (see :class:`AdapterStores`). A copy
    (``copy.deepcopy``) is another handle on the same stores; only the original
    closes them.
    """

    url: str | None = Field(default=None, repr=False, description="The store URL, if any.")
    key_prefix: str = Field(default="", description="Prepended to each key: the session id.")
    conflict_retries: int = Field(default=16, ge=0, description="Redos of a conflicted edit.")

    _stores: AdapterStores = PrivateAttr()
    #: False on copies: only the original closes the stores.
    _closes: bool = PrivateAttr(default=True)
    #: True where the class has sync methods: a URL's sync store is opened at once.
    _sync_methods: ClassVar[bool] = False

    def __init__(
        self,
        store: SessionStore | None = None,
        *,
        async_store: AsyncSessionStore | None = None,
        url: str | None = None,
        key_prefix: str = "",
        conflict_retries: int = 16,
        **data: Any,
    ) -> None:
        super().__init__(url=url, key_prefix=key_prefix, conflict_retries=conflict_retries, **data)
        owner = type(self).__name__
        if store is not None and not isinstance(store, SessionStore):
            raise TypeError(f"store must be a sync agent-session SessionStore, not {store!r}")
        if async_store is not None and not isinstance(async_store, AsyncSessionStore):
            raise TypeError(
                f"async_store must be an agent-session AsyncSessionStore, not {async_store!r}"
            )
        if url is None and store is None and async_store is None:
            raise ValueError(f"{owner} needs a store: give url=, store= or async_store=")
        if url is not None and (store is not None or async_store is not None):
            raise ValueError(f"give {owner} a url or store objects, not both")
        self._stores = AdapterStores(url=url, store=store, async_store=async_store)
        if self._sync_methods or self._stores.private:
            self._stores.sync()  # from a URL, opened now: a missing driver fails here

    @classmethod
    def from_url(
        cls: type[_ChatStoreT], url: str, *, key_prefix: str = "", conflict_retries: int = 16
    ) -> _ChatStoreT:
        """A chat store over the store ``url`` names; it owns (and closes) that store.

        For SQLite files, PostgreSQL and Redis the async methods use the async store
        of the same URL (opened on first use); for ``memory://``, ``cache://`` and
        ``sqlite://:memory:`` both flavours share the one sync store.

        :raises ValueError: on a bad URL
        :raises ImportError: if the store's driver extra is not installed
        """
        return cls(url=url, key_prefix=key_prefix, conflict_retries=conflict_retries)

    def __deepcopy__(self: _ChatStoreT, memo: dict[int, Any] | None = None) -> _ChatStoreT:
        # Another handle on the same stores (a store cannot be deep-copied).
        clone = self.model_copy()
        clone._closes = False
        return clone

    async def aclose(self) -> None:
        """Close every store this object opened (from a URL); harmless twice."""
        if self._closes:
            await self._stores.aclose()

    async def _aio(self) -> _AsyncStore:
        """What the async methods call: the async store, or the sync one in a thread."""
        store = await self._stores.aio()
        if store is not None:
            return store
        sync = self._stores.sync()
        assert sync is not None  # private: one sync store serves both flavours
        return _Offloaded(sync)


def _backoff(attempt: int) -> float:
    """Seconds to wait before retry ``attempt`` of a conflicted edit (jittered, capped)."""
    return random.uniform(0, min(0.05, 0.001 * 2**attempt))


_NO_LABELS: Mapping[str, str] = {}


def _rewrite(store: SessionStore, session_id: str, edit: _Edit[_T], retries: int) -> _T:
    """Apply ``edit`` to the session as of one moment, or to none of it (see the module doc)."""
    for attempt in range(retries + 1):
        try:
            conversation, meta = store.load_with_metadata(session_id)
        except SessionNotFound:
            items, labels, version = None, _NO_LABELS, 0
        else:
            items, labels, version = list(conversation), meta.labels, meta.version
        new_items, new_labels, result = edit(items, labels)
        if new_items is None:
            return result
        try:
            # Any write since the read makes this fail, with nothing written.
            store.save(
                session_id, Conversation(new_items), expected_version=version, labels=new_labels
            )
        except VersionConflict:
            if attempt == retries:
                raise
            sleep(_backoff(attempt))
            continue
        return result
    raise AssertionError("unreachable")  # pragma: no cover


async def _arewrite(store: _AsyncStore, session_id: str, edit: _Edit[_T], retries: int) -> _T:
    """Async :func:`_rewrite`."""
    for attempt in range(retries + 1):
        try:
            conversation, meta = await store.load_with_metadata(session_id)
        except SessionNotFound:
            items, labels, version = None, _NO_LABELS, 0
        else:
            items, labels, version = list(conversation), meta.labels, meta.version
        new_items, new_labels, result = edit(items, labels)
        if new_items is None:
            return result
        try:
            await store.save(
                session_id, Conversation(new_items), expected_version=version, labels=new_labels
            )
        except VersionConflict:
            if attempt == retries:
                raise
            await asleep(_backoff(attempt))
            continue
        return result
    raise AssertionError("unreachable")  # pragma: no cover


def _index(idx: int, what: str = "a message index") -> int:
    if isinstance(idx, bool) or not isinstance(idx, int):
        raise TypeError(f"{what} must be an int, not {idx!r}")
    return idx


def _key(key: str) -> str:
    if not isinstance(key, str):
        raise TypeError(f"a chat store key must be a str, not {key!r}")
    return key


def _keys(ids: list[str], prefix: str) -> list[str]:
    return [session_id[len(prefix) :] for session_id in ids]


# -- the edits of AgentSessionChatStore ------------------------------------------------


def _delete_at(idx: int) -> _Edit[ChatMessage | None]:
    def edit(
        items: list[Message] | None, labels: Mapping[str, str]
    ) -> tuple[list[Message] | None, None, ChatMessage | None]:
        if items is None or idx >= len(items):
            return None, None, None
        removed = items.pop(idx)  # IndexError below -len, as SimpleChatStore (list.pop)
        return items, None, to_chat_message(removed)

    return edit


def _insert_at(idx: int, message: Message) -> _Edit[None]:
    def edit(
        items: list[Message] | None, labels: Mapping[str, str]
    ) -> tuple[list[Message] | None, None, None]:
        items = [] if items is None else items
        items.insert(idx, message)  # list.insert: past the end appends, negative counts back
        return items, None, None

    return edit


# -- AgentSessionChatStore -------------------------------------------------------------


class AgentSessionChatStore(_ChatStoreBase, Closing, BaseChatStore):
    """A LlamaIndex ``BaseChatStore`` keeping each key's messages in an agent-session store.

    Build it from a URL (:meth:`from_url`: it opens, owns and closes the stores) or
    from store objects you own: ``store`` serves the sync methods, ``async_store`` the
    async ones. With only ``store``, the async methods run it in a worker thread (an
    in-memory store is called directly: it never blocks). The sync methods need
    ``store``: ``ChatMemoryBuffer.aget`` calls them too (in a worker thread).

    Serialises (``to_dict``, ``model_dump``) as its ``url``, ``key_prefix`` and
    ``conflict_retries``, so ``AgentSessionChatStore.from_dict(d)`` reopens the same
    store; one built from store objects has ``url`` None and cannot be rebuilt that
    way. A URL's password is part of what it serialises, as with LlamaIndex's own SQL
    chat store. A copy (``copy.deepcopy``) shares the stores; only the original
    closes them.

    :param store: the sync store (``SQLiteStore``, ``RedisStore``...)
    :param async_store: the async store; for a durable backend, the same one as ``store``
    :param url: a store URL, as :func:`agent_session.open_store` takes
    :param key_prefix: prepended to each key to make its session id; ``get_keys``
        lists only the sessions under it
    :param conflict_retries: how often ``delete_message`` and ``add_message(idx=...)``
        redo an edit that a concurrent write got in before
    :raises ValueError: if neither or both of ``url`` and the store objects are given
    :raises TypeError: if a store is not an agent-session store of the right flavour
    """

    _sync_methods: ClassVar[bool] = True
    if TYPE_CHECKING:  # type checkers make a model's __init__ from its fields otherwise

        def __init__(
            self,
            store: SessionStore | None = None,
            *,
            async_store: AsyncSessionStore | None = None,
            url: str | None = None,
            key_prefix: str = "",
            conflict_retries: int = 16,
            **data: Any,
        ) -> None: ...

    @classmethod
    def class_name(cls) -> str:
        return "AgentSessionChatStore"

    def close(self) -> None:
        """Close the sync store if this object opened it (from a URL); harmless twice.

        An async store it opened (on the first async call) needs :meth:`aclose`.
        """
        if self._closes:
            self._stores.close()

    def _sync(self, method: str) -> SessionStore:
        store = self._stores.sync()
        if store is None:
            raise RuntimeError(
                f"{type(self).__name__}.{method} needs a sync store (ChatMemoryBuffer.aget "
                "calls the sync methods too): build it with from_url(), or pass store="
            )
        return store

    # -- sync ---------------------------------------------------------------------------

    def set_messages(self, key: str, messages: list[ChatMessage]) -> None:
        """Replace the key's messages (an empty list keeps the key, with no messages)."""
        conversation = Conversation(from_chat_message(m) for m in messages)
        self._sync("set_messages").save(self.key_prefix + _key(key), conversation)

    def get_messages(self, key: str) -> list[ChatMessage]:
        """The key's messages, oldest first; ``[]`` for a key that does not exist."""
        store = self._sync("get_messages")
        try:
            return _chat_messages(store.load(self.key_prefix + _key(key)))
        except SessionNotFound:
            return []

    def add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        """Add ``message`` at the end (atomic), or before position ``idx`` as ``list.insert``."""
        store = self._sync("add_message")
        session_id, stored = self.key_prefix + _key(key), from_chat_message(message)
        if idx is None:
            store.append(session_id, stored)
        else:
            _rewrite(store, session_id, _insert_at(_index(idx), stored), self.conflict_retries)

    def delete_messages(self, key: str) -> list[ChatMessage] | None:
        """Delete the key; the messages it held, or None if it did not exist."""
        store, session_id = self._sync("delete_messages"), self.key_prefix + _key(key)
        try:
            messages = _chat_messages(store.load(session_id))
        except SessionNotFound:
            return None
        store.delete(session_id)
        return messages

    def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        """Delete and return the message at ``idx`` (negative counts from the end);
        None if the key does not exist or ``idx`` is past the end.

        :raises IndexError: if ``idx`` is below ``-len`` (as ``SimpleChatStore``)
        :raises VersionConflict: if concurrent writes won ``conflict_retries`` + 1 times
        """
        store, session_id = self._sync("delete_message"), self.key_prefix + _key(key)
        return _rewrite(store, session_id, _delete_at(_index(idx)), self.conflict_retries)

    def delete_last_message(self, key: str) -> ChatMessage | None:
        """Atomically delete and return the newest message; None if there is none."""
        store = self._sync("delete_last_message")
        try:
            message = store.pop(self.key_prefix + _key(key))
        except SessionNotFound:
            return None
        return None if message is None else to_chat_message(message)

    def get_keys(self) -> list[str]:
        """The keys of the live sessions under ``key_prefix``, sorted."""
        ids = self._sync("get_keys").list_sessions(prefix=self.key_prefix or None)
        return _keys(ids, self.key_prefix)

    # -- async --------------------------------------------------------------------------

    async def aset_messages(self, key: str, messages: list[ChatMessage]) -> None:
        """Async :meth:`set_messages`."""
        conversation = Conversation(from_chat_message(m) for m in messages)
        await (await self._aio()).save(self.key_prefix + _key(key), conversation)

    async def aget_messages(self, key: str) -> list[ChatMessage]:
        """Async :meth:`get_messages`."""
        try:
            return _chat_messages(await (await self._aio()).load(self.key_prefix + _key(key)))
        except SessionNotFound:
            return []

    async def async_add_message(
        self, key: str, message: ChatMessage, idx: int | None = None
    ) -> None:
        """Async :meth:`add_message`."""
        store = await self._aio()
        session_id, stored = self.key_prefix + _key(key), from_chat_message(message)
        if idx is None:
            await store.append(session_id, stored)
        else:
            edit = _insert_at(_index(idx), stored)
            await _arewrite(store, session_id, edit, self.conflict_retries)

    async def adelete_messages(self, key: str) -> list[ChatMessage] | None:
        """Async :meth:`delete_messages`."""
        store, session_id = await self._aio(), self.key_prefix + _key(key)
        try:
            messages = _chat_messages(await store.load(session_id))
        except SessionNotFound:
            return None
        await store.delete(session_id)
        return messages

    async def adelete_message(self, key: str, idx: int) -> ChatMessage | None:
        """Async :meth:`delete_message`."""
        store, session_id = await self._aio(), self.key_prefix + _key(key)
        return await _arewrite(store, session_id, _delete_at(_index(idx)), self.conflict_retries)

    async def adelete_last_message(self, key: str) -> ChatMessage | None:
        """Async :meth:`delete_last_message`."""
        try:
            message = await (await self._aio()).pop(self.key_prefix + _key(key))
        except SessionNotFound:
            return None
        return None if message is None else to_chat_message(message)

    async def aget_keys(self) -> list[str]:
        """Async :meth:`get_keys`."""
        ids = await (await self._aio()).list_sessions(prefix=self.key_prefix or None)
        return _keys(ids, self.key_prefix)


# -- AgentSessionMemoryStore -----------------------------------------------------------


def _archived(labels: Mapping[str, str], total: int) -> int:
    """How many of the session's oldest messages are archived (0 if the label is bad)."""
    raw = labels.get(ARCHIVED_LABEL, "0")
    count = int(raw) if raw.isascii() and raw.isdigit() else 0
    return min(count, total)


def _with_archived(labels: Mapping[str, str], archived: int) -> dict[str, str]:
    """``labels`` with the archived count set (and no label for none)."""
    kept = {key: value for key, value in labels.items() if key != ARCHIVED_LABEL}
    return {**kept, ARCHIVED_LABEL: str(archived)} if archived else kept


def _status(status: object) -> MessageStatus:
    if not isinstance(status, MessageStatus):
        raise TypeError(f"status must be a MessageStatus, not {status!r}")
    return status


def _status_or_all(status: object) -> MessageStatus | None:
    return None if status is None else _status(status)


def _count(n: int, what: str = "n") -> int:
    if _index(n, what) < 0:
        raise ValueError(f"{what} must be >= 0, not {n!r}")
    return n


def _memory_edit(
    change: Callable[[list[Message], int], tuple[list[Message], int, _T] | None], missing: _T
) -> _Edit[_T]:
    """An edit of the messages and the archived count; ``change`` returns None for no write."""

    def edit(
        items: list[Message] | None, labels: Mapping[str, str]
    ) -> tuple[list[Message] | None, Mapping[str, str] | None, _T]:
        current = [] if items is None else items
        changed = change(current, _archived(labels, len(current)))
        if changed is None:
            return None, None, missing
        new_items, archived, result = changed
        return new_items, _with_archived(labels, archived), result

    return edit


class AgentSessionMemoryStore(_ChatStoreBase, AsyncDBChatStore):
    """A LlamaIndex ``AsyncDBChatStore`` over an agent-session store: what ``Memory`` takes.

    ``Memory.from_defaults(session_id=key, chat_store=AgentSessionMemoryStore(...))``.
    A key's messages, archived and active, are one session, oldest first; the session
    label :data:`ARCHIVED_LABEL` says how many of the oldest are archived (``Memory``
    archives the oldest active messages when its token limit is reached). Adding
    active messages is an atomic ``append``; every other change (archiving, deleting
    the oldest, setting) rewrites the session under ``expected_version`` (see the
    module doc), so it costs the session's length, and a write that came in between
    is never lost. ``count_messages`` reads only the metadata, and active messages
    are read with ``load(last=N)``.

    Built like :class:`AgentSessionChatStore` (a URL, or ``store`` / ``async_store``);
    every method is async. ``Memory``'s sync methods run them on a new event loop
    (``asyncio_run``), which the SQLite and in-memory stores allow.

    Differences from LlamaIndex's ``SQLAlchemyChatStore``: archived messages added
    with ``status=ARCHIVED`` go after the archived ones, before every active one (not
    at the end in time order); ``delete_message(key, idx)`` takes the message's
    position among all of the key's messages (there are no row ids); ``get_keys`` is
    sorted and lists a key whose messages were all deleted (its session is kept).
    """

    if TYPE_CHECKING:  # type checkers make a model's __init__ from its fields otherwise

        def __init__(
            self,
            store: SessionStore | None = None,
            *,
            async_store: AsyncSessionStore | None = None,
            url: str | None = None,
            key_prefix: str = "",
            conflict_retries: int = 16,
            **data: Any,
        ) -> None: ...

    @classmethod
    def class_name(cls) -> str:
        return "AgentSessionMemoryStore"

    async def _edit(
        self,
        key: str,
        change: Callable[[list[Message], int], tuple[list[Message], int, _T] | None],
        missing: _T,
    ) -> _T:
        edit = _memory_edit(change, missing)
        return await _arewrite(
            await self._aio(), self.key_prefix + _key(key), edit, self.conflict_retries
        )

    async def _active(self, session_id: str) -> list[Message]:
        """The active messages: the newest ``count - archived``, as of one moment."""
        store = await self._aio()
        for _ in range(self.conflict_retries + 1):
            try:
                meta = await store.get_metadata(session_id)
                active = meta.message_count - _archived(meta.labels, meta.message_count)
                conversation, now = await store.load_with_metadata(session_id, last=active)
            except SessionNotFound:
                return []
            if now.version == meta.version:
                return list(conversation)
        # Written to all along: read it all, the messages and the count of one moment.
        try:
            conversation, meta = await store.load_with_metadata(session_id)
        except SessionNotFound:
            return []
        return list(conversation)[_archived(meta.labels, len(conversation)) :]

    async def get_messages(
        self,
        key: str,
        status: MessageStatus | None = MessageStatus.ACTIVE,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[ChatMessage]:
        """The key's messages of ``status`` (None: all), oldest first, after ``offset``
        and at most ``limit``."""
        status = _status_or_all(status)
        session_id = self.key_prefix + _key(key)
        if status is MessageStatus.ACTIVE:
            items = await self._active(session_id)
        else:
            try:
                conversation, meta = await (await self._aio()).load_with_metadata(session_id)
            except SessionNotFound:
                return []
            items = list(conversation)
            if status is MessageStatus.ARCHIVED:
                items = items[: _archived(meta.labels, len(items))]
        start = 0 if offset is None else _count(offset, "offset")
        end = None if limit is None else start + _count(limit, "limit")
        return _chat_messages(items[start:end])

    async def count_messages(
        self, key: str, status: MessageStatus | None = MessageStatus.ACTIVE
    ) -> int:
        """How many messages of ``status`` (None: all) the key has: from its metadata."""
        status = _status_or_all(status)
        try:
            meta = await (await self._aio()).get_metadata(self.key_prefix + _key(key))
        except SessionNotFound:
            return 0
        archived = _archived(meta.labels, meta.message_count)
        if status is MessageStatus.ARCHIVED:
            return archived
        return (
            meta.message_count - archived if status is MessageStatus.ACTIVE else meta.message_count
        )

    async def add_message(
        self, key: str, message: ChatMessage, status: MessageStatus = MessageStatus.ACTIVE
    ) -> None:
        """Add ``message`` as the newest active one (atomic), or as the newest archived one."""
        await self.add_messages(key, [message], status)

    async def add_messages(
        self,
        key: str,
        messages: list[ChatMessage],
        status: MessageStatus = MessageStatus.ACTIVE,
    ) -> None:
        """Add ``messages`` as the newest active ones (one atomic append), or archived ones."""
        status = _status(status)
        stored = [from_chat_message(message) for message in messages]
        if not stored:
            _key(key)
            return
        if status is MessageStatus.ACTIVE:
            await (await self._aio()).append(self.key_prefix + _key(key), *stored)
            return

        def change(items: list[Message], archived: int) -> tuple[list[Message], int, None]:
            return items[:archived] + stored + items[archived:], archived + len(stored), None

        await self._edit(key, change, None)

    async def set_messages(
        self,
        key: str,
        messages: list[ChatMessage],
        status: MessageStatus = MessageStatus.ACTIVE,
    ) -> None:
        """Replace all of the key's messages (archived ones too) with ``messages``."""
        status = _status(status)
        stored = [from_chat_message(message) for message in messages]
        archived = len(stored) if status is MessageStatus.ARCHIVED else 0

        def change(items: list[Message], _: int) -> tuple[list[Message], int, None]:
            return stored, archived, None

        await self._edit(key, change, None)

    async def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        """Delete and return the message at position ``idx`` among all of the key's
        messages (archived first); None if there is none there."""
        _index(idx)

        def change(
            items: list[Message], archived: int
        ) -> tuple[list[Message], int, ChatMessage | None] | None:
            if not 0 <= idx < len(items):
                return None
            removed = items.pop(idx)
            return items, archived - (idx < archived), to_chat_message(removed)

        return await self._edit(key, change, None)

    async def delete_messages(self, key: str, status: MessageStatus | None = None) -> None:
        """Delete the key's messages of ``status``; None: delete the key."""
        status = _status_or_all(status)
        if status is None:
            await (await self._aio()).delete(self.key_prefix + _key(key))
            return
        keep_archived = status is MessageStatus.ACTIVE

        def change(items: list[Message], archived: int) -> tuple[list[Message], int, None] | None:
            kept = items[:archived] if keep_archived else items[archived:]
            if len(kept) == len(items):
                return None
            return kept, archived if keep_archived else 0, None

        await self._edit(key, change, None)

    async def delete_oldest_messages(self, key: str, n: int) -> list[ChatMessage]:
        """Delete the ``n`` oldest active messages; what was deleted."""
        return await self._take_oldest(key, n, archive=False)

    async def archive_oldest_messages(self, key: str, n: int) -> list[ChatMessage]:
        """Archive the ``n`` oldest active messages; what was archived."""
        return await self._take_oldest(key, n, archive=True)

    async def _take_oldest(self, key: str, n: int, *, archive: bool) -> list[ChatMessage]:
        _count(n)

        def change(
            items: list[Message], archived: int
        ) -> tuple[list[Message], int, list[ChatMessage]] | None:
            taken = items[archived : archived + n]
            if not taken:
                return None
            if archive:
                return items, archived + len(taken), _chat_messages(taken)
            return items[:archived] + items[archived + n :], archived, _chat_messages(taken)

        return await self._edit(key, change, [])

    async def get_keys(self) -> list[str]:
        """The keys of the live sessions under ``key_prefix``, sorted."""
        ids = await (await self._aio()).list_sessions(prefix=self.key_prefix or None)
        return _keys(ids, self.key_prefix)
