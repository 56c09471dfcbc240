"""Bookkeeping of the layered store, shared by both halves: counters and coherence.

A layered store writes the authoritative layer first and then copies the result
into the faster layers; a read that falls through copies what it found back up.
Two such operations on one session can interleave (tasks, threads), and a copy
made by the slower of them could then overwrite a newer one: a stale cache. The
:class:`Coherence` tracker notices every overlap that involves a write, and the
store then invalidates the faster copies instead of trusting them. Its critical
sections never await, so one ``threading.Lock`` serves both halves.
"""

from __future__ import annotations

import itertools
import threading

from .._metadata import LayerStats

__all__ = ["Coherence", "LayerCounters"]


def _value(counter: itertools.count[int]) -> int:
    # itertools.count has no getter (and its pickle support is going away in 3.14);
    # its repr, "count(N)", shows the next value without consuming it.
    return int(repr(counter)[6:-1])


class LayerCounters:
    """Hits, misses, write-backs and failures of one layer, counted without a lock.

    ``next()`` on an ``itertools.count`` is one atomic C call, so concurrent
    counting loses nothing and costs no lock on the read path.
    """

    __slots__ = ("failures", "hits", "misses", "name", "write_backs")

    def __init__(self, name: str) -> None:
        self.name = name
        self.hits = itertools.count()
        self.misses = itertools.count()
        self.write_backs = itertools.count()
        self.failures = itertools.count()

    def snapshot(self) -> LayerStats:
        return LayerStats(
            self.name,
            _value(self.hits),
            _value(self.misses),
            _value(self.write_backs),
            _value(self.failures),
        )


class _Activity:
    __slots__ = ("dirty", "readers", "writers")

    def __init__(self) -> None:
        self.readers = 0
        self.writers = 0
        self.dirty = False


class Coherence:
    """Tracks operations in flight per session; overlapping ones must invalidate.

    ``begin`` before touching the authoritative layer, ``end`` after copying into
    the faster layers. ``end`` returns True when a write overlapped this operation
    (or a ``clear`` ran meanwhile): the copies just made may be older than what
    the authoritative layer holds, so the caller drops them. Readers overlapping
    only readers copy the same data and need not invalidate.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: dict[str, _Activity] = {}
        self._clears = 0  # odd while a clear runs; operations overlapping one see it move

    def begin(self, session_id: str, *, write: bool) -> int:
        with self._lock:
            activity = self._active.get(session_id)
            if activity is None:
                activity = self._active[session_id] = _Activity()
            elif activity.writers or (write and activity.readers):
                activity.dirty = True
            if write:
                activity.writers += 1
            else:
                activity.readers += 1
            return self._clears

    def end(self, session_id: str, token: int, *, write: bool) -> bool:
        """Close an operation; True if its copies must be invalidated."""
        with self._lock:
            activity = self._active[session_id]
            stale = activity.dirty or token != self._clears or self._clears % 2 == 1
            if write:
                activity.writers -= 1
            else:
                activity.readers -= 1
            if not (activity.readers or activity.writers):
                del self._active[session_id]
            return stale

    def begin_clear(self) -> None:
        with self._lock:
            self._clears += 1

    def end_clear(self) -> None:
        with self._lock:
            self._clears += 1
