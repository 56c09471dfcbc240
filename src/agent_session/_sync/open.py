# This file is generated from _async/open.py by scripts/unasync.py: do not edit.
"""``open_store(url)``: a store from a URL."""

from __future__ import annotations

from typing import Any

from .._urls import parse_store_url
from .base import SessionStore
from .cache import CacheStore
from .memory import InMemoryStore

__all__ = ["open_store"]


def open_store(url: str, **options: Any) -> SessionStore:
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
        return InMemoryStore(**kwargs)
    if parsed.kind == "cache":
        return CacheStore(kwargs.pop("ttl"), **kwargs)
    if parsed.kind == "sqlite":
        from .sqlite import SQLiteStore

        return SQLiteStore(parsed.target, **kwargs)
    if parsed.kind == "postgresql":
        from .postgres import PostgresStore

        return PostgresStore(parsed.target, **kwargs)
    from .redis import RedisStore

    return RedisStore(parsed.target, **kwargs)
