"""Bookkeeping of the layered store, shared by both halves: counters and coherence.

A layered store writes the authoritative layer first and then copies the result
into the faster layers; a read that falls through copies what it found back up.
Two such operations on one session can interleave (tasks, threads), and a copy
made by the slower of them could then land over a newer one: a stale cache. The
:class:`Coherence` tracker notices every overlap that involves a write; until
the copies are dropped, the store neither reads nor writes them for that session.
Its critical sections never await, so one ``threading.Lock`` serves both halves.
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
    __slots__ = ("readers", "settlers", "writers")

    def __init__(self) -> None:
        self.readers = 0  # reads that will copy what they found up
        self.writers = 0
        self.settlers = 0  # operations dropping the copies, after the last one ended


class Coherence:
    """Which sessions' faster copies may be older than the authority's, right now.

    Operations that copy into the faster layers register: writes with
    :meth:`begin_write`, reads that will write back with :meth:`begin_read` (which
    refuses while a write is in flight or the session is dirty: such a read copies
    nothing). A write overlapping any registered operation, or a ``clear``, makes
    the session *dirty*: a copy one of them makes may land after a newer one, even
    after the newer write returned. While dirty (in :attr:`dirty_ids`), reads skip
    the faster layers and writes copy nothing; when the last operation ends,
    :meth:`end` tells it to drop the copies, and :meth:`settle` (after the drop)
    makes the session clean again. So an older copy is never served after a newer
    write returned, however slow the operation that made it.

    Critical sections never await, so one ``threading.Lock`` serves both halves.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: dict[str, _Activity] = {}
        #: Ids whose faster copies must be neither read nor written now. Changed under
        #: the lock; read without it (one set lookup: the read hot path).
        self.dirty_ids: set[str] = set()
        self._clearing = 0  # clears in flight

    def dirty(self, session_id: str) -> bool:
        return session_id in self.dirty_ids

    def begin_write(self, session_id: str) -> None:
        with self._lock:
            activity = self._active.get(session_id)
            if activity is None:
                activity = self._active[session_id] = _Activity()
                if self._clearing:
                    self.dirty_ids.add(session_id)
            else:
                self.dirty_ids.add(session_id)  # it overlaps another operation
            activity.writers += 1

    def begin_read(self, session_id: str) -> bool:
        """Register a read that will copy what it finds up; False: it must copy nothing."""
        with self._lock:
            activity = self._active.get(session_id)
            if activity is None:
                if self._clearing:
                    return False
                activity = self._active[session_id] = _Activity()
            elif activity.writers or session_id in self.dirty_ids:
                return False  # it could read what a write in flight is replacing
            activity.readers += 1
            return True

    def end(self, session_id: str, *, write: bool, spoiled: bool = False) -> bool:
        """Close an operation (``spoiled``: its copies are unknown, e.g. it failed midway).

        True: the caller must drop the faster copies now, then call :meth:`settle`.
        """
        with self._lock:
            activity = self._active[session_id]
            if write:
                activity.writers -= 1
            else:
                activity.readers -= 1
            if spoiled:
                self.dirty_ids.add(session_id)
            if activity.readers or activity.writers:
                return False  # the last one to end drops the copies, after all landed
            if session_id in self.dirty_ids:
                activity.settlers += 1
                return True
            del self._active[session_id]
            return False

    def settle(self, session_id: str) -> None:
        """The copies were dropped: the session is clean unless operations began meanwhile."""
        with self._lock:
            activity = self._active[session_id]
            activity.settlers -= 1
            if not (activity.readers or activity.writers or activity.settlers):
                del self._active[session_id]
                self.dirty_ids.discard(session_id)

    def begin_clear(self) -> None:
        with self._lock:
            self._clearing += 1
            self.dirty_ids.update(self._active)  # what they copy may land after the clear

    def end_clear(self) -> None:
        with self._lock:
            self._clearing -= 1
