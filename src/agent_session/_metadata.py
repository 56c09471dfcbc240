"""Value types that stores return: :class:`SessionMetadata`, :class:`Page`, :class:`LayerStats`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

__all__ = ["EMPTY_LABELS", "LayerStats", "Page", "SessionMetadata"]

EMPTY_LABELS: Mapping[str, str] = MappingProxyType({})


class SessionMetadata(NamedTuple):
    """What a store knows about one session, as of the call that returned it.

    Immutable (a named tuple: cheap enough to build on every write). Times are epoch
    seconds from the store's clock. ``version`` is 1 on creation and grows by one on
    every write (``save``, ``append``, ``pop``); ``touch`` only moves ``expires_at``.
    ``size_bytes`` is the sum of the messages' UTF-8 wire-form sizes.
    """

    session_id: str
    created_at: float
    updated_at: float
    expires_at: float | None
    message_count: int
    size_bytes: int
    version: int
    labels: Mapping[str, str] = EMPTY_LABELS

    def is_expired(self, now: float) -> bool:
        """True if the session's TTL has run out at ``now``."""
        return self.expires_at is not None and self.expires_at <= now


@dataclass(frozen=True, slots=True)
class Page:
    """One page of :meth:`find_sessions` results, newest ``updated_at`` first.

    Pass ``next_cursor`` back as ``cursor`` for the next page; it is None on the last.
    """

    items: list[SessionMetadata]
    next_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class LayerStats:
    """Counters of one layer of a layered store, since it was built."""

    name: str
    hits: int = 0
    misses: int = 0
    write_backs: int = 0
    failures: int = 0
