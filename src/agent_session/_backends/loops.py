"""A store's driver clients: one per event loop for the async drivers, one for the blocking.

The async drivers' clients belong to the event loop that first used them (their
connections, locks and background tasks live there): ``redis.asyncio``'s connection
pool, psycopg_pool's ``AsyncConnectionPool``. A store used from several loops (each
``asyncio.run``, a loop per thread, the OpenAI Agents SDK's ``run_sync``) therefore
keeps a client per loop, made on that loop's first call. The blocking drivers' clients
are thread-safe: the sync flavour keeps one for every thread.

A loop's client is closed on that loop when the loop shuts down (``asyncio.run``,
``asyncio.Runner`` and anyio call ``shutdown_asyncgens``, which closes a watcher async
generator started for it), or when the store closes. A loop closed without that
shutdown is forgotten on the next new loop (nothing can run on it any more, its
sockets go with it), and at most ``_MAX_LOOPS`` loops keep a client: past that, the
clients of loops not running are dropped, to be closed when their loop runs again.

Shared by both halves and never generated: the async half has the store pass a
coroutine function as ``close``, the sync half a plain one, and that choice is the
flavour.
"""

from __future__ import annotations

import asyncio  # noqa: TID251  # what this module is about: asyncio event loops
import inspect
import logging
import threading  # noqa: TID251  # a critical section of dict updates, never awaited
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Generic, TypeVar, cast

from .._errors import StoreClosed

__all__ = ["PerLoop"]

T = TypeVar("T")

logger = logging.getLogger("agent_session")

#: Loops that keep a client at once before those not running lose theirs.
_MAX_LOOPS = 64
#: How often closing looks whether another loop closed its client.
_POLL = 0.01


def _step(awaitable: Awaitable[Any]) -> None:
    """Run an awaitable that never suspends to its end, here and now."""
    try:
        cast("Any", awaitable).send(None)
    except StopIteration:
        return
    raise AssertionError("the loop watcher suspended")  # pragma: no cover


class _Entry(Generic[T]):
    """A loop's client, and the async generator that closes it when the loop shuts down."""

    __slots__ = ("client", "closed", "loop", "watcher")

    def __init__(self, loop: asyncio.AbstractEventLoop, client: T) -> None:
        self.loop = loop
        self.client = client
        self.closed = False
        self.watcher: AsyncIterator[None] | None = None


class PerLoop(Generic[T]):
    """The clients of one store: one per event loop (async) or one for all (sync).

    :param first: the first client, made by the store (or given by its caller)
    :param close: closes a client; a coroutine function for an async driver, whose
        clients are then kept per event loop
    :param ended: closes a client as its loop shuts down, after asyncio cancelled
        every task of the loop (the driver's own too); None: ``close``
    :param make: makes another client, for each loop after the first; None: ``first``
        is the caller's, never closed here, and used from the loop of its first call only
    :param owner: the store's class name, for errors
    :param what: what a client is (``"Redis client"``), for errors
    :param timeout: seconds closing waits for a client of another running loop to close
    """

    def __init__(
        self,
        first: T,
        close: Callable[[T], Any],
        make: Callable[[], T] | None,
        *,
        ended: Callable[[T], Any] | None = None,
        owner: str,
        what: str,
        timeout: float = 5.0,
    ) -> None:
        self._first: T | None = first
        self._only = first
        self._close = close
        self._ended = close if ended is None else ended
        self._make = make
        self._owner = owner
        self._what = what
        self._timeout = timeout
        self._per_loop = inspect.iscoroutinefunction(close)
        self._entries: dict[asyncio.AbstractEventLoop, _Entry[T]] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._home = ""  # the loop of a caller's client, once known

    def __len__(self) -> int:
        """How many loops have a client now (the sync flavour: 1)."""
        return len(self._entries) if self._per_loop else 1

    def get(self) -> T:
        """The client for the running event loop (the sync flavour: the only one).

        :raises StoreClosed: if the store closed before this loop's first call
        :raises RuntimeError: a client of the caller's, used from another loop than
            that of its first call
        """
        if not self._per_loop:
            return self._only
        loop = asyncio.get_running_loop()
        entry = self._entries.get(loop)  # a dict read: atomic, no lock on the hot path
        if entry is not None:
            return entry.client
        return self._add(loop)

    def _add(self, loop: asyncio.AbstractEventLoop) -> T:
        with self._lock:
            if self._closed:
                raise StoreClosed(self._owner)
            if self._make is None:  # the caller's client: one loop, the first
                if self._first is None:
                    raise RuntimeError(
                        f"{self._owner} was given a {self._what} of yours, which belongs "
                        f"to the event loop of its first call ({self._home}), and this call "
                        f"runs on another ({loop!r}): give the store a URL instead (it "
                        "then keeps a client per event loop), or call it from that loop only"
                    )
                self._home = repr(loop)
            self._forget_ended()
            if self._first is not None:
                client, self._first = self._first, None
            else:
                assert self._make is not None  # checked above
                client = self._make()
            entry = _Entry(loop, client)
            self._entries[loop] = entry
        if self._make is not None:  # only the store's own clients are closed with the loop
            self._watch(entry)
        return client

    def _forget_ended(self) -> None:
        """Drop the clients of closed loops and, past the bound, of loops not running."""
        for loop in [loop for loop in self._entries if loop.is_closed()]:
            del self._entries[loop]
        if self._make is not None and len(self._entries) >= _MAX_LOOPS:
            # Their watchers go with them: the garbage collector hands each back to its
            # loop (asyncio's async generator finalizer), which closes the client there.
            idle = [loop for loop in self._entries if not loop.is_running()]
            for loop in idle[: len(self._entries) - _MAX_LOOPS + 1]:
                del self._entries[loop]

    def _watch(self, entry: _Entry[T]) -> None:
        """Start an async generator on the entry's loop that closes its client when the
        loop shuts down its async generators."""

        async def watcher() -> AsyncIterator[None]:
            try:
                yield
            finally:
                await self._loop_ended(entry)

        agen = watcher()
        # The first step registers it with the running loop (its firstiter hook) and
        # stops at the yield, awaiting nothing: no task is needed.
        _step(agen.__anext__())
        entry.watcher = agen

    async def _loop_ended(self, entry: _Entry[T]) -> None:
        with self._lock:
            if self._entries.get(entry.loop) is entry:
                del self._entries[entry.loop]
        await self._close_client(entry, ending=True)

    async def _close_client(self, entry: _Entry[T], ending: bool = False) -> None:
        """Close the entry's client, once, on its own loop (the running one)."""
        if entry.closed:
            return
        entry.closed = True
        try:
            await (self._ended if ending else self._close)(entry.client)
        except asyncio.CancelledError:
            cancelling = getattr(asyncio.current_task(), "cancelling", None)  # 3.11+
            if not ending or (cancelling is not None and cancelling()):
                raise
            # A close that waits for the driver's own tasks, which asyncio cancelled
            # before the loop's shutdown came here: their cancellation, not ours.
            logger.debug("%s: a %s closed as its loop ended", self._owner, self._what)
        except Exception as exc:  # noqa: BLE001  # a loop's end must not fail on it
            logger.warning("%s: closing a %s failed: %r", self._owner, self._what, exc)

    async def _close_entry(self, entry: _Entry[T]) -> None:
        """Close the entry's client, then finish its watcher (both on the entry's loop)."""
        await self._close_client(entry)
        if entry.watcher is not None:
            # Finished now, so the garbage collector has nothing to hand back to the loop.
            _step(cast("Any", entry.watcher).aclose())

    async def aclose(self) -> None:
        """Close every client the store made, each on its own loop (the async flavour).

        The running loop's client is closed here; one of a loop running in another
        thread is closed there, waiting at most ``timeout``; one of a loop not running
        is closed when that loop runs again or shuts down; a closed loop's is forgotten.
        """
        with self._lock:
            self._closed = True
            entries = list(self._entries.values())
            self._entries.clear()
        if self._make is None or not entries:
            return  # the caller's client stays open
        here = asyncio.get_running_loop()
        for entry in entries:
            loop = entry.loop
            if loop is here:
                await self._close_entry(entry)
            elif loop.is_running():
                await self._close_elsewhere(entry)
            # else: its watcher, dropped with it, closes it when that loop next runs

    async def _close_elsewhere(self, entry: _Entry[T]) -> None:
        loop = entry.loop
        closing = self._close_entry(entry)
        try:
            future = asyncio.run_coroutine_threadsafe(closing, loop)
        except RuntimeError:  # closed in between: nothing can close it there any more
            closing.close()
            return
        waiting = asyncio.wrap_future(future)
        deadline = time.monotonic() + self._timeout
        # Polled: a loop that stops before it ran the close never answers.
        while not waiting.done() and not loop.is_closed() and time.monotonic() < deadline:
            await asyncio.wait({waiting}, timeout=_POLL)
        if not waiting.done():
            waiting.cancel()
        elif not waiting.cancelled():  # cancelled: that loop was shutting down meanwhile
            waiting.result()

    def close(self) -> None:
        """Close the client the store made (the sync flavour)."""
        self._closed = True
        if self._make is not None:
            self._close(self._only)
