"""The few hand-written shims that unasync cannot derive, each as an async/sync pair.

The async side is named ``AsyncX`` or ``aname``; its sync twin is ``X`` or ``name``
with the same methods, so ``scripts/unasync.py`` maps one to the other with a
single table entry. Only this module imports anyio, asyncio, sniffio and threading.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Annotated, Any, TypeVar, cast

import anyio
import anyio.to_thread
import sniffio

__all__ = [
    "AsyncLock",
    "AsyncNursery",
    "AsyncResult",
    "Lock",
    "Nursery",
    "Result",
    "aensure_asyncio",
    "arun_blocking",
    "arun_to_completion",
    "asleep",
    "ensure_asyncio",
    "run_blocking",
    "run_to_completion",
    "sleep",
]

T = TypeVar("T")

#: What an async callable gives back: ``AsyncResult[int]`` is an awaitable int, and
#: its sync twin ``Result[int]`` is the int itself (unasync leaves ``Awaitable`` alone).
AsyncResult = Awaitable[T]
Result = Annotated[T, "the sync twin of AsyncResult"]


class AsyncLock:
    """A task lock for one event loop: only where a lock must be held across an await."""

    def __init__(self) -> None:
        self._lock = anyio.Lock()

    async def __aenter__(self) -> None:
        await self._lock.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._lock.release()


class Lock:
    """The sync twin of :class:`AsyncLock`: a ``threading.Lock``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def __enter__(self) -> None:
        self._lock.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._lock.release()


async def asleep(seconds: float) -> None:
    """Sleep without blocking the event loop."""
    await anyio.sleep(seconds)


def sleep(seconds: float) -> None:
    """Sleep the calling thread."""
    time.sleep(seconds)


#: How often a cancelled caller looks whether the work it waits for has ended.
_SETTLE_POLL = 0.001


class _Claim:
    """Who comes first: the worker thread starting the work, or its caller giving up."""

    __slots__ = ("_token", "done")

    def __init__(self) -> None:
        self._token = [True]
        self.done = False

    def take(self) -> bool:
        """True for the first taker only: ``list.pop`` is atomic, so no lock is needed."""
        try:
            self._token.pop()
        except IndexError:
            return False
        return True


def _run_claimed(claim: _Claim, function: Callable[..., T], args: tuple[Any, ...]) -> T:
    if not claim.take():
        # The caller was cancelled before the work began: it never runs, and nobody
        # reads this result (the caller's future is cancelled).
        return cast(T, None)
    try:
        return function(*args)
    finally:
        claim.done = True


async def _until_done(claim: _Claim) -> None:
    with anyio.CancelScope(shield=True):
        while not claim.done:
            try:
                await anyio.sleep(_SETTLE_POLL)
            except anyio.get_cancelled_exc_class():
                pass  # another asyncio Task.cancel(): the work still runs, so wait on


async def arun_blocking(function: Callable[..., T], *args: Any) -> T:
    """Run blocking ``function(*args)`` in a worker thread, off the event loop.

    A cancelled caller sees the cancellation either before the thread began the work
    (which then never runs) or once the work has ended, never while it still runs.
    anyio's cancel scopes (and trio's) wait for a started thread by themselves; an
    asyncio ``Task.cancel()`` (``asyncio.timeout``, ``wait_for``) does not, hence the claim.
    """
    claim = _Claim()
    try:
        return await anyio.to_thread.run_sync(_run_claimed, claim, function, args)
    except BaseException:
        if not claim.take():  # the thread began the work: let it end before saying so
            await _until_done(claim)
        raise


def run_blocking(function: Callable[..., T], *args: Any) -> T:
    """Run ``function(*args)`` right here: the sync half has no loop to protect."""
    return function(*args)


async def _until_task_done(task: asyncio.Future[Any]) -> None:
    with anyio.CancelScope(shield=True):  # anyio would cancel each await here again
        while not task.done():
            try:
                await asyncio.wait([task])
            except asyncio.CancelledError:
                pass  # another Task.cancel(): the work has not ended, so wait on
    if not task.cancelled():
        task.exception()  # retrieved: its failure is superseded by the cancellation


async def arun_to_completion(
    function: Callable[..., Awaitable[T]], *args: Any, interrupt: bool = False
) -> T:
    """Await ``function(*args)`` to its end, even when the caller is cancelled meanwhile.

    The caller's cancellation is raised once the work has ended, never while it is in
    flight, so nothing it started outlives the call (a statement still running at the
    server, a pool half closed). On asyncio the work runs in a task of its own, which
    anyio's cancel scopes, re-cancelling every await, cannot reach.

    :param interrupt: pass the cancellation on to the work, once: a driver then cancels
        its request at the server and waits for that, instead of being cut off midway
        (psycopg would close the connection and leave the statement running there).
        False: the work is not interrupted at all (closing a store). Under trio the work
        runs in the caller's task: shielded, or (``interrupt``) as it is.
    """
    if sniffio.current_async_library() != "asyncio":
        if interrupt:
            return await function(*args)
        with anyio.CancelScope(shield=True):
            return await function(*args)
    task = asyncio.ensure_future(function(*args))
    try:
        return await asyncio.shield(task)
    except BaseException:
        if not task.done():
            if interrupt:
                task.cancel()
            await _until_task_done(task)
        raise


def run_to_completion(function: Callable[..., T], *args: Any, interrupt: bool = False) -> T:
    """Call ``function(*args)``: a blocking call cannot be cancelled halfway anyway."""
    return function(*args)


def aensure_asyncio(what: str) -> None:
    """Raise a clear ``RuntimeError`` when an asyncio-only driver is used under trio."""
    try:
        library = sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        return
    if library != "asyncio":
        raise RuntimeError(
            f"{what} supports only asyncio, but this code runs under {library}: use "
            "the SQLite or in-memory stores there, or the blocking store in a worker thread"
        )


def ensure_asyncio(what: str) -> None:
    """The sync half runs no event loop: nothing to check."""


class AsyncNursery:
    """Run tasks concurrently and wait for all of them (an anyio task group).

    The first failure cancels the rest and propagates.
    """

    def __init__(self) -> None:
        self._group = anyio.create_task_group()

    async def __aenter__(self) -> AsyncNursery:
        await self._group.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        return await self._group.__aexit__(exc_type, exc, tb)

    def start_soon(self, function: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> None:
        self._group.start_soon(function, *args)


class Nursery:
    """Run functions in threads and join them all; the first worker error is re-raised."""

    def __init__(self) -> None:
        self._threads: list[threading.Thread] = []
        self._errors: list[BaseException] = []

    def __enter__(self) -> Nursery:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for thread in self._threads:
            thread.join()
        if self._errors and exc is None:
            raise self._errors[0]

    def start_soon(self, function: Callable[..., Any], *args: Any) -> None:
        def run() -> None:
            try:
                function(*args)
            except BaseException as exc:  # noqa: BLE001  # handed to the joining thread
                self._errors.append(exc)

        thread = threading.Thread(target=run, daemon=True)
        self._threads.append(thread)
        thread.start()
