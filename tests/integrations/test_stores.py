"""``AdapterStores``, the stores behind every framework adapter, and ``with`` for them.

Hand-written (no generated twin): it serves both flavours at once.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from agent_session import (
    AsyncInMemoryStore,
    AsyncSessionStore,
    InMemoryStore,
    Message,
    SessionStore,
    StoreClosed,
)
from agent_session.integrations._stores import AdapterStores, Closing


@pytest.mark.parametrize(
    ("url", "private"),
    [
        ("memory://", True),
        ("cache://?ttl=60", True),
        ("sqlite://:memory:", True),
        ("sqlite:///:memory:", True),
        ("sqlite:///chat.db", False),
    ],
)
def test_a_url_of_storage_in_the_store_object_is_served_by_one_sync_store(
    url: str, private: bool
) -> None:
    assert AdapterStores(url=url).private is private


def test_store_objects_alone_say_which_flavour_serves() -> None:
    assert AdapterStores(store=InMemoryStore()).private
    assert not AdapterStores(store=InMemoryStore(), async_store=AsyncInMemoryStore()).private
    assert not AdapterStores(async_store=AsyncInMemoryStore()).private
    assert AdapterStores(async_store=AsyncInMemoryStore()).sync() is None


def test_a_bad_url_fails_at_once() -> None:
    with pytest.raises(ValueError, match="unknown store URL scheme"):
        AdapterStores(url="nosuch://x")


def test_concurrent_first_calls_open_one_sync_store(tmp_path: Path) -> None:
    stores = AdapterStores(url=f"sqlite:///{tmp_path}/a.db")
    start, seen = threading.Barrier(8), []

    def first_call() -> None:
        start.wait()
        seen.append(stores.sync())

    threads = [threading.Thread(target=first_call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(store) for store in seen}) == 1
    assert isinstance(seen[0], SessionStore)
    stores.close()


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_private_url_serves_the_async_methods_from_its_sync_store() -> None:
    stores = AdapterStores(url="memory://")
    assert await stores.aio() is None
    store = stores.sync()
    assert store is not None and stores.sync() is store
    await stores.aclose()
    with pytest.raises(StoreClosed):
        store.exists("s")


async def test_a_shared_url_opens_its_async_store_once_and_closes_both(tmp_path: Path) -> None:
    stores = AdapterStores(url=f"sqlite:///{tmp_path}/a.db")
    opened = await stores.aio()
    assert isinstance(opened, AsyncSessionStore) and await stores.aio() is opened
    store = stores.sync()
    assert store is not None
    store.append("s", Message("user", "hi"))
    assert (await opened.load("s"))[0].text == "hi"  # one file, both flavours
    await stores.aclose()
    await stores.aclose()  # harmless twice
    with pytest.raises(StoreClosed):
        store.exists("s")
    with pytest.raises(StoreClosed):
        await opened.exists("s")


async def test_the_callers_stores_are_never_closed() -> None:
    store, async_store = InMemoryStore(), AsyncInMemoryStore()
    stores = AdapterStores(store=store, async_store=async_store)
    assert stores.sync() is store and await stores.aio() is async_store
    assert stores.open_async() is async_store and stores.source() is store
    stores.close()
    await stores.aclose()
    assert not store.exists("s") and not await async_store.exists("s")  # still open


def test_open_async_takes_the_async_store_of_any_url() -> None:
    stores = AdapterStores(url="memory://")
    assert isinstance(stores.open_async(), AsyncInMemoryStore)
    assert stores.source() == "memory://"


class _Adapter(Closing):
    def __init__(self) -> None:
        self.calls: list[str] = []

    def close(self) -> None:
        self.calls.append("close")

    async def aclose(self) -> None:
        self.calls.append("aclose")


async def test_with_and_async_with_close_the_adapter() -> None:
    with _Adapter() as adapter:
        pass
    async with adapter as again:
        assert again is adapter
    assert adapter.calls == ["close", "aclose"]
