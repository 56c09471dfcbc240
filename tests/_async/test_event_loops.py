"""One async store, many event loops: ``asyncio.run`` after ``asyncio.run``, the loops of
two threads at once, a loop that ends while another goes on, closing from any loop.

What the OpenAI Agents SDK's ``run_sync``, a thread-per-loop server or a test suite with
a loop per test do with one store object. Every store kind, every answer checked, and
for the server stores the connections counted at the server: a loop's client goes with
its loop, and closing the store closes every loop's. The loops are asyncio's (the
drivers of Redis and PostgreSQL need it); the generated sync copy is deselected
(``async_only``): a blocking store has no event loop.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from postgres_helpers import drop_tables, new_prefix
from redis_helpers import delete_prefix
from redis_helpers import new_prefix as new_key_prefix

from agent_session import (
    AsyncCacheStore,
    AsyncInMemoryStore,
    AsyncPostgresStore,
    AsyncRedisStore,
    AsyncSessionStore,
    AsyncSQLiteStore,
    Message,
    StoreClosed,
)
from agent_session._backends.redis import aredis_driver, client_options
from agent_session._concurrency import arun_blocking

pytestmark = pytest.mark.async_only

#: Rounds of (append to its own session, append to a shared one, load the newest):
#: about 100 calls per loop.
ROUNDS = 35
WAIT = 30.0  # seconds any one wait on another thread may take, at most


def in_new_loop(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` in an event loop of its own, as ``asyncio.run`` runs it."""
    return asyncio.run(function(*args))


def run_in(loop: asyncio.AbstractEventLoop, function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` on ``loop`` (not running), as the Agents SDK's run_sync does."""
    return loop.run_until_complete(function(*args))


def shut_down(loop: asyncio.AbstractEventLoop) -> None:
    """End a loop as ``asyncio.run`` does: its async generators first, then close it."""
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()


class LoopThread:
    """An asyncio event loop running in a thread of its own until shut down."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def call(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)`` on this loop, from another thread; its result."""
        future = asyncio.run_coroutine_threadsafe(function(*args), self.loop)
        return future.result(timeout=WAIT)

    def shut_down(self) -> None:
        if self.loop.is_closed():
            return
        self.call(self.loop.shutdown_asyncgens)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(WAIT)
        self.loop.close()


class Kit:
    """A store kind: how to make one, and how many connections it holds at its server."""

    def __init__(
        self, kind: str, make: Callable[[], AsyncSessionStore], connections: Callable[[], int]
    ) -> None:
        self.kind = kind
        self.make = make
        self.connections = connections
        self.has_server = kind in ("redis", "postgres")

    def settled(self, expected: Callable[[int], bool]) -> int:
        """The connection count, once ``expected`` holds (the server sees a close late)."""
        deadline = time.monotonic() + 5.0
        count = self.connections()
        while not expected(count) and time.monotonic() < deadline:
            time.sleep(0.02)
            count = self.connections()
        return count


def _redis_connections(url: str, name: str) -> int:
    with redis.Redis.from_url(url) as peek:
        return sum(1 for client in peek.client_list() if client.get("name") == name)


def _postgres_connections(dsn: str, name: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (name,)
        ).fetchone()
    return int(row[0]) if row else 0


@pytest.fixture(params=["memory", "cache", "sqlite", "redis", "postgres"])
def kit(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Kit]:
    kind = str(request.param)
    name = f"loops-{uuid.uuid4().hex[:8]}"  # names this test's connections at the server
    if kind == "memory":
        yield Kit(kind, AsyncInMemoryStore, lambda: 0)
    elif kind == "cache":
        yield Kit(kind, lambda: AsyncCacheStore(None, capacity=1000), lambda: 0)
    elif kind == "sqlite":
        path = tmp_path / "loops.db"
        yield Kit(kind, lambda: AsyncSQLiteStore(path), lambda: 0)
    elif kind == "redis":
        url = request.getfixturevalue("redis_url")
        prefix = new_key_prefix()
        named = f"{url}{'&' if '?' in url else '?'}client_name={name}"
        yield Kit(
            kind,
            lambda: AsyncRedisStore(named, prefix=prefix),
            lambda: _redis_connections(url, name),
        )
        delete_prefix(url, prefix)
    else:
        dsn = request.getfixturevalue("postgres_dsn")
        table_prefix = new_prefix()
        options = {"kwargs": {"application_name": name}}
        yield Kit(
            kind,
            lambda: AsyncPostgresStore(dsn, table_prefix=table_prefix, pool_kwargs=options),
            lambda: _postgres_connections(dsn, name),
        )
        drop_tables(dsn, table_prefix)


async def chat(store: AsyncSessionStore, session_id: str, tag: str) -> list[str]:
    """Rounds of calls, each answer checked; the session's texts at the end."""
    for i in range(ROUNDS):
        await store.append(session_id, Message("user", f"{tag}{i}"))
        await store.append("shared", Message("user", f"{tag}{i}"))
        newest = await store.load(session_id, last=1)
        assert [m.content for m in newest] == [f"{tag}{i}"]
    return await texts(store, session_id)


async def texts(store: AsyncSessionStore, session_id: str) -> list[str]:
    return [str(m.content) for m in await store.load(session_id)]


def said(tag: str) -> list[str]:
    return [f"{tag}{i}" for i in range(ROUNDS)]


def test_asyncio_run_after_asyncio_run(kit: Kit) -> None:
    store = kit.make()  # outside any loop, as a module-level store is
    for run in range(3):
        assert in_new_loop(chat, store, "s", "x") == said("x") * (run + 1)
        # The loop's client went with the loop: nothing is left open at the server.
        assert kit.settled(lambda count: count == 0) == 0
    assert in_new_loop(texts, store, "shared") == said("x") * 3
    in_new_loop(store.aclose)
    with pytest.raises(StoreClosed):
        in_new_loop(store.exists, "s")


def test_the_loops_of_two_threads_at_once(kit: Kit) -> None:
    store = kit.make()
    barrier = threading.Barrier(2)

    async def work(tag: str) -> tuple[list[str], int]:
        await arun_blocking(barrier.wait, WAIT)  # both loops run from here on
        mine = await chat(store, tag, tag)
        await arun_blocking(barrier.wait, WAIT)  # both done, both loops still running
        open_now = await arun_blocking(kit.connections)
        await arun_blocking(barrier.wait, WAIT)
        return mine, open_now

    with ThreadPoolExecutor(2) as threads:
        futures = [threads.submit(in_new_loop, work, tag) for tag in ("a", "b")]
        (a, open_a), (b, open_b) = [future.result(timeout=WAIT * 2) for future in futures]
    assert (a, b) == (said("a"), said("b"))
    if kit.has_server:
        assert open_a >= 2 and open_b >= 2  # a client per loop, both open at once
    shared = in_new_loop(texts, store, "shared")
    assert sorted(shared) == sorted(a + b)  # no append lost
    assert [t for t in shared if t.startswith("a")] == a  # each loop's in its order
    assert kit.settled(lambda count: count == 0) == 0  # both loops ended: nothing open
    in_new_loop(store.aclose)


def test_a_loop_that_ends_takes_its_client_along_and_the_others_go_on(kit: Kit) -> None:
    store = kit.make()
    first = LoopThread()  # the store's first loop: it gets the client made with the store
    idle = asyncio.new_event_loop()  # run now and then, never closed meanwhile (run_sync)
    try:
        assert first.call(chat, store, "f", "f") == said("f")
        assert run_in(idle, chat, store, "i", "i") == said("i")
        both = kit.connections()
        first.shut_down()
        if kit.has_server:
            assert 1 <= kit.settled(lambda count: count < both) < both  # the first loop's went
        # The loop that stayed keeps its client, and a new loop makes its own.
        assert run_in(idle, texts, store, "f") == said("f")
        assert in_new_loop(texts, store, "i") == said("i")
        assert run_in(idle, chat, store, "i", "j") == said("i") + said("j")
        run_in(idle, store.aclose)
    finally:
        first.shut_down()
        shut_down(idle)
    assert kit.settled(lambda count: count == 0) == 0


def test_closing_the_store_closes_the_clients_of_every_loop(kit: Kit) -> None:
    store = kit.make()
    other = LoopThread()  # keeps running while the store closes from another loop
    try:
        assert other.call(chat, store, "o", "o") == said("o")

        async def close_here() -> int:
            assert await chat(store, "m", "m") == said("m")
            await store.aclose()
            # No loop's client is left: the other loop's was closed on that loop.
            return int(await arun_blocking(kit.settled, lambda count: count == 0))

        assert in_new_loop(close_here) == 0
        with pytest.raises(StoreClosed):
            other.call(store.exists, "o")
        other.call(store.aclose)  # and again, from the other loop: harmless
    finally:
        other.shut_down()
    assert kit.connections() == 0


@pytest.fixture
def redis_store_url(redis_url: str) -> Iterator[tuple[str, str]]:
    prefix = new_key_prefix()
    yield redis_url, prefix
    delete_prefix(redis_url, prefix)


def test_a_redis_client_of_yours_belongs_to_the_loop_of_the_first_call(
    redis_store_url: tuple[str, str],
) -> None:
    url, prefix = redis_store_url
    driver, _errors = aredis_driver()

    async def main() -> None:
        client = driver.Redis.from_url(url, **client_options(driver))  # reads no metadata
        store = AsyncRedisStore(client, prefix=prefix)
        await store.append("s", Message("user", "x"))  # binds the store to this loop
        with pytest.raises(RuntimeError, match="belongs to the event loop of its first call"):
            await arun_blocking(in_new_loop, store.exists, "s")  # another loop, another thread
        assert await store.exists("s")  # its own loop is still served
        await store.aclose()
        assert await client.ping()  # not closed: it is the caller's
        await client.aclose()

    in_new_loop(main)


@pytest.fixture
def postgres_table_prefix(postgres_dsn: str) -> Iterator[tuple[str, str]]:
    prefix = new_prefix()
    yield postgres_dsn, prefix
    drop_tables(postgres_dsn, prefix)


def test_a_postgres_pool_of_yours_belongs_to_the_loop_of_the_first_call(
    postgres_table_prefix: tuple[str, str],
) -> None:
    from psycopg_pool import AsyncConnectionPool

    dsn, prefix = postgres_table_prefix

    async def main() -> None:
        async with AsyncConnectionPool(dsn, kwargs={"autocommit": True}, min_size=1) as pool:
            store = AsyncPostgresStore(pool, table_prefix=prefix)
            await store.append("s", Message("user", "x"))
            with pytest.raises(RuntimeError, match="belongs to the event loop of its first"):
                await arun_blocking(in_new_loop, store.exists, "s")
            assert await store.exists("s")
            await store.aclose()
            assert not pool.closed  # the caller's

    in_new_loop(main)
