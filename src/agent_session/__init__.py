"""agent-session: conversations of LLM agents in pluggable stores, async and sync."""

from __future__ import annotations

from ._async.base import AsyncSessionStore
from ._async.cache import AsyncCacheStore
from ._async.layered import AsyncLayeredStore
from ._async.memory import AsyncInMemoryStore
from ._async.open import open_async_store
from ._async.postgres import AsyncPostgresStore
from ._async.redis import AsyncRedisStore
from ._async.sqlite import AsyncSQLiteStore
from ._errors import (
    BackendError,
    CapacityExceeded,
    InvalidSessionId,
    SerializationError,
    SessionError,
    SessionExpired,
    SessionNotFound,
    StoreClosed,
    VersionConflict,
)
from ._metadata import LayerStats, Page, SessionMetadata
from ._model import Conversation, ConversationBuilder, Message, ToolCall
from ._serialization import dumps_conversation, loads_conversation
from ._sync.base import SessionStore
from ._sync.cache import CacheStore
from ._sync.layered import LayeredStore
from ._sync.memory import InMemoryStore
from ._sync.open import open_store
from ._sync.postgres import PostgresStore
from ._sync.redis import RedisStore
from ._sync.sqlite import SQLiteStore
from ._validation import DEFAULT

__version__ = "0.1.0"

__all__ = [
    "AsyncCacheStore",
    "AsyncInMemoryStore",
    "AsyncLayeredStore",
    "AsyncPostgresStore",
    "AsyncRedisStore",
    "AsyncSQLiteStore",
    "AsyncSessionStore",
    "BackendError",
    "CacheStore",
    "CapacityExceeded",
    "Conversation",
    "ConversationBuilder",
    "DEFAULT",
    "InMemoryStore",
    "InvalidSessionId",
    "LayerStats",
    "LayeredStore",
    "Message",
    "Page",
    "PostgresStore",
    "RedisStore",
    "SQLiteStore",
    "SerializationError",
    "SessionError",
    "SessionExpired",
    "SessionMetadata",
    "SessionNotFound",
    "SessionStore",
    "StoreClosed",
    "ToolCall",
    "VersionConflict",
    "dumps_conversation",
    "loads_conversation",
    "open_async_store",
    "open_store",
]

# Show the public names as agent_session.X in reprs and tracebacks.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) and _obj.__module__.startswith("agent_session."):
        _obj.__module__ = __name__
del _name, _obj
