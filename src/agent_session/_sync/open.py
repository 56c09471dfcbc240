# This file is generated from _async/open.py by scripts/unasync.py: do not edit.
"""``open_store(url)``: a store from a URL, found in the registry of stores."""

from __future__ import annotations

from typing import Any

from .._urls import parse_store_url
from .base import SessionStore

__all__ = ["open_store"]


def open_store(url: str, **options: Any) -> SessionStore:
    """Build a store from a URL; keyword options override the URL's query options.

    ``memory://?capacity=N``, ``cache://?ttl=300&capacity=N``,
    ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``,
    ``sqlite://:memory:``, ``postgresql://user@host/db``, ``redis://host:6379/0``
    (``rediss://`` for TLS), and the schemes of any store class that declares a
    ``url_spec``. Every store also takes ``default_ttl``, ``sliding``,
    ``max_messages``, ``max_message_bytes`` and ``max_session_bytes``.

    :raises ValueError: on an unknown scheme or option, or a bad option value
    :raises ImportError: if the store's driver extra is not installed
    :return: a new store; the caller closes it
    """
    parsed = parse_store_url(url)
    return SessionStore._registry[parsed.kind]._from_url(parsed, options)
