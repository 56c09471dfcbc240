# This file is generated from _async/memory.py by scripts/unasync.py: do not edit.
"""``InMemoryStore``: sessions in this process's memory, lock-striped."""

from __future__ import annotations

import time
from datetime import timedelta

from .._backends.striped import DEFAULT_STRIPES, StripedCore
from .._urls import COMMON_OPTIONS, URLSpec
from .._validation import Clock, Limits, check_clock, check_ttl
from .striped_store import StripedStore

__all__ = ["InMemoryStore"]


class InMemoryStore(StripedStore):
    """Sessions in process memory; nothing is ever evicted.

    Loads take no lock and return without copying a message (messages are
    immutable); writes lock one stripe of ``stripes``.

    :param capacity: at most this many sessions; creating one more raises
        :class:`CapacityExceeded` (after expired sessions are purged), updating an
        existing one still works; None for no limit
    :param default_ttl: seconds or ``timedelta`` a session lives after its last
        write; None: forever
    :param sliding: True: a ``load`` restarts the TTL too
    :param stripes: how many independently locked parts (a power of two)
    :param clock: a zero-argument callable returning epoch seconds
    :param max_messages: at most this many messages per session
    :param max_message_bytes: at most this many bytes per message (wire form)
    :param max_session_bytes: at most this many bytes per session (wire form)
    """

    name = "memory"
    url_spec = URLSpec("memory", ("memory",), {**COMMON_OPTIONS, "capacity": int, "stripes": int})

    def __init__(
        self,
        capacity: int | None = None,
        *,
        default_ttl: float | timedelta | None = None,
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
            evict=False,
            default_ttl=check_ttl(default_ttl, "default_ttl"),
            sliding=sliding,
            stripes=stripes,
            clock=check_clock(clock),
            limits=self._limits,
        )
