"""``AsyncCacheStore``: a TTL/LRU cache of sessions (cachetools underneath)."""

from __future__ import annotations

import time
from datetime import timedelta

from .._backends.striped import DEFAULT_STRIPES, StripedCore
from .._urls import COMMON_OPTIONS, URLSpec
from .._validation import Clock, Limits, check_clock, check_ttl
from .striped_store import AsyncStripedStore

__all__ = ["AsyncCacheStore"]


class AsyncCacheStore(AsyncStripedStore):
    """A bounded cache of sessions: at capacity the least recently used one goes.

    Eviction never raises. Expired sessions are evicted first, then the least
    recently used; the LRU order is kept per stripe (cachetools' ``TLRUCache``),
    so with many stripes the victim is the LRU of its stripe, not of the whole
    cache. Caches under 128 sessions use one stripe, so their LRU is exact.

    :param ttl: the default TTL in seconds or ``timedelta`` (None: no expiry)
    :param capacity: at most this many sessions
    :param sliding: True: a ``load`` restarts the TTL too
    :param stripes: how many independently locked parts (a power of two)
    :param clock: a zero-argument callable returning epoch seconds
    :param max_messages: at most this many messages per session
    :param max_message_bytes: at most this many bytes per message (wire form)
    :param max_session_bytes: at most this many bytes per session (wire form)
    """

    name = "cache"
    url_spec = URLSpec(
        "cache",
        ("cache",),
        {
            **{k: v for k, v in COMMON_OPTIONS.items() if k != "default_ttl"},
            "ttl": float,
            "capacity": int,
            "stripes": int,
        },
        defaults={"ttl": None},
    )

    def __init__(
        self,
        ttl: float | timedelta | None,
        *,
        capacity: int = 10_000,
        sliding: bool = False,
        stripes: int = DEFAULT_STRIPES,
        clock: Clock = time.time,
        max_messages: int | None = None,
        max_message_bytes: int | None = None,
        max_session_bytes: int | None = None,
    ) -> None:
        self._limits = Limits(max_messages, max_message_bytes, max_session_bytes)
        self._core = StripedCore(
            self.name,
            capacity=capacity,
            evict=True,
            default_ttl=check_ttl(ttl),
            sliding=sliding,
            stripes=stripes,
            clock=check_clock(clock),
            limits=self._limits,
        )
