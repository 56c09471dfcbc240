"""The few hand-written shims that unasync cannot derive, each as an async/sync pair.

The async side is named ``AsyncX`` or ``aname``; its sync twin is ``X`` or ``name``
with the same methods, so ``scripts/unasync.py`` maps one to the other with a
single table entry. Only this module imports anyio, sniffio and threading.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Annotated, Any, TypeVar

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
    "asleep",
    "ensure_asyncio",
    "run_blocking",
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


async def arun_blocking(function: Callable[..., T], *args: Any) -> T:
    """Run blocking ``function(*args)`` in a worker thread, off the event loop."""
    return await anyio.to_thread.run_sync(function, *args)


def run_blocking(function: Callable[..., T], *args: Any) -> T:
    """Run ``function(*args)`` right here: the sync half has no loop to protect."""
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
