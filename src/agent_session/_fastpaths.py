"""The fast paths that reach into private state, all in one place.

Each one skips a public API that costs more than the work (measured on the write and
load paths of the in-memory stores) and depends on a layout that is not promised:
cachetools' LRU order, ``SessionMetadata``'s tuple base, ``Conversation``'s list and
size cache. ``tests/test_fastpaths.py`` checks that each is really taken with the
installed libraries, so a change in one fails a test instead of silently slowing down.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from ._metadata import SessionMetadata
from ._model import Conversation, Message
from ._serialization import messages_size

__all__ = [
    "conversation_size",
    "conversation_snapshot",
    "lru_order",
    "new_conversation",
    "new_metadata",
]

# SessionMetadata's own __new__ is a Python function; tuple's takes half the time.
_new_tuple = tuple.__new__
_new_object = object.__new__


def new_metadata(fields: tuple[Any, ...]) -> SessionMetadata:
    """``SessionMetadata(*fields)`` without the NamedTuple's Python-level ``__new__``."""
    return _new_tuple(SessionMetadata, fields)


def new_conversation(messages: list[Message], sized: tuple[int, int]) -> Conversation:
    """A :class:`Conversation` that owns ``messages`` (checked and stamped), without copying.

    :param sized: ``(n, bytes)``: the payload bytes of the first ``n`` messages, if known
    """
    conversation: Conversation = _new_object(Conversation)
    conversation._messages = messages
    conversation._sized = sized
    conversation._stamped = len(messages)  # saving it again stamps only what is added
    return conversation


def conversation_size(conversation: Conversation) -> int:
    """The conversation's ``size_bytes``; only messages added since the last call are summed."""
    counted, total = conversation._sized
    messages = conversation._messages
    if counted < len(messages):
        total += messages_size(messages[counted:])
        conversation._sized = (len(messages), total)
    return total


def conversation_snapshot(conversation: Conversation) -> tuple[list[Message], int, int]:
    """A copy of the conversation's messages, their payload bytes, and how many of the
    first ones are known to be stamped, in one pass."""
    messages = list(conversation._messages)  # the snapshot: later edits change nothing
    count = len(messages)
    counted, size = conversation._sized
    if counted != count:  # messages added since the size was counted (conversation_size)
        size = conversation_size(conversation)
        if conversation._sized[0] != count:  # another thread added one meanwhile
            size = messages_size(messages)
    stamped = conversation._stamped
    return messages, size, stamped if stamped < count else count


def lru_order(cache: object) -> OrderedDict[Any, Any] | None:
    """cachetools' ``TLRUCache`` LRU order, an OrderedDict, if its layout is the known one.

    Moving a key to its end is exactly what a cache hit does, for ~0.05 us instead of
    ~1 us through ``get()``. None: another layout, so use the public way.
    """
    order = getattr(cache, "_TLRUCache__items", None)
    return order if isinstance(order, OrderedDict) else None
