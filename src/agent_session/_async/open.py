"""``open_async_store(url)``: a store from a URL."""

from __future__ import annotations

from typing import Any

from .._urls import parse_store_url
from .base import AsyncSessionStore
from .cache import AsyncCacheStore
from .memory import AsyncInMemoryStore

__all__ = ["open_async_store"]


def open_async_store(url: str, **options: Any) -> AsyncSessionStore:
    """Build a store from a URL; keyword options override the URL's query options.

    ``memory://?capacity=N``, ``cache://?ttl=300&capacity=N``,
    ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``,
    ``sqlite://:memory:``, ``postgresql://user@host/db``, ``redis://host:6379/0``
    (``rediss://`` for TLS). Every store also takes ``default_ttl``, ``sliding``,
    ``max_messages``, ``max_message_bytes`` and ``max_session_bytes``.

    :raises ValueError: on an unknown scheme or option, or a bad option value
    :raises ImportError: if the store's driver extra is not installed
    :return: a new store; the caller closes it
    """
    parsed = parse_store_url(url)
    kwargs: dict[str, Any] = {**parsed.options, **options}
    if parsed.kind == "memory":
        return AsyncInMemoryStore(**kwargs)
    if parsed.kind == "cache":
        return AsyncCacheStore(kwargs.pop("ttl"), **kwargs)
    if parsed.kind == "sqlite":
        from .sqlite import AsyncSQLiteStore

        return AsyncSQLiteStore(parsed.target, **kwargs)
    if parsed.kind == "postgresql":
        from .postgres import AsyncPostgresStore

        return AsyncPostgresStore(parsed.target, **kwargs)
    from .redis import AsyncRedisStore

    return AsyncRedisStore(parsed.target, **kwargs)
