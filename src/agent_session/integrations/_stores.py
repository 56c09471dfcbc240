"""What every framework adapter does with its stores: given, or opened from a URL.

An adapter takes store objects (the caller's: never closed here) or a store URL.
From a URL, :class:`AdapterStores` opens each flavour on first use and closes only
what it opened. A URL naming storage private to one store object (``memory://``,
``cache://``, ``sqlite://:memory:``) would give a sync and an async store two
separate copies of the data, so there one sync store serves both flavours
(:attr:`AdapterStores.private`) and the adapter's async methods call it in a worker
thread. :class:`AsyncClosing` and :class:`Closing` give the adapters ``async with``
and ``with``.
"""

from __future__ import annotations

from typing import TypeVar

from .._async.base import AsyncSessionStore
from .._async.open import open_async_store
from .._concurrency import Lock, arun_blocking
from .._sync.base import SessionStore
from .._sync.open import open_store
from .._urls import parse_store_url

__all__ = ["AdapterStores", "AsyncClosing", "Closing"]

_Self = TypeVar("_Self")
#: URL kinds whose storage lives in the store object itself (and sqlite's ``:memory:``).
_PRIVATE_KINDS = frozenset(("memory", "cache"))


def _in_process(url: str) -> bool:
    parsed = parse_store_url(url)  # a bad URL fails here, not at the first call
    return parsed.kind in _PRIVATE_KINDS or parsed.target == ":memory:"


class AdapterStores:
    """The sync and async store of one adapter object (and of its copies).

    :param url: a store URL: each flavour is opened from it on first use, and owned
    :param store: the caller's sync store; alone, it serves the async methods too
    :param async_store: the caller's async store
    :raises ValueError: on a bad URL (now, not at the first call)
    """

    def __init__(
        self,
        *,
        url: str | None = None,
        store: SessionStore | None = None,
        async_store: AsyncSessionStore | None = None,
    ) -> None:
        self.url = url
        self._sync, self._async = store, async_store
        self._owned: list[SessionStore | AsyncSessionStore] = []
        self._opening = Lock()  # two threads' first calls open one store, not two
        #: True: the sync store serves the async methods too (:meth:`aio` gives None),
        #: for a URL whose storage lives in the store object, or a sync store alone.
        self.private = async_store is None if url is None else _in_process(url)

    def source(self) -> object:
        """What the stores came from, for a ``repr``: the URL, else the caller's store."""
        return self.url if self.url is not None else self._sync or self._async

    def sync(self) -> SessionStore | None:
        """The sync store, opened from the URL on first use; None: an async store alone."""
        if self._sync is None and self.url is not None:
            with self._opening:
                if self._sync is None:
                    self._sync = open_store(self.url)
                    self._owned.append(self._sync)
        return self._sync

    def open_async(self) -> AsyncSessionStore:
        """The async store, opened from the URL now if need be (this may block).

        Whether the URL is :attr:`private` is not asked: a caller with no sync flavour
        (the OpenAI Agents SDK's session) takes the async store of any URL.
        """
        with self._opening:
            if self._async is None:
                assert self.url is not None, "no async store and no URL to open one from"
                self._async = open_async_store(self.url)
                self._owned.append(self._async)
            return self._async

    async def aio(self) -> AsyncSessionStore | None:
        """The async store, opened on first use; None where the sync store serves (private)."""
        if self.private:
            return None
        if self._async is not None:
            return self._async
        # In a worker thread: opening may import the driver, which reads files, and
        # nothing may block the event loop (LangChain's tests check with blockbuster).
        return await arun_blocking(self.open_async)

    def close(self) -> None:
        """Close the sync store opened here; an opened async one needs :meth:`aclose`."""
        for store in self._owned:
            if isinstance(store, SessionStore):
                store.close()

    async def aclose(self) -> None:
        """Close every store opened here (none of the caller's); harmless twice."""
        for store in self._owned:
            if isinstance(store, SessionStore):
                await arun_blocking(store.close)
            else:
                await store.aclose()


class AsyncClosing:
    """``async with adapter``: :meth:`aclose` on the way out."""

    async def aclose(self) -> None:
        raise NotImplementedError

    async def __aenter__(self: _Self) -> _Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class Closing(AsyncClosing):
    """``with adapter`` too: :meth:`close` on the way out."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
