"""Calls cancelled in flight: a write happens wholly or not at all, the store goes on
working, nothing a cancelled call started is still running when its caller hears of the
cancellation, and no connection goes back to a pool mid-request.

Each test cancels a few hundred calls, at delays drawn from a seeded RNG around the
call's own duration (measured first), so the cancellations land before, during and
after the work. Three ways to cancel: a cancel scope cancelled by another task, an
``anyio.fail_after`` deadline, and (asyncio only) ``Task.cancel()``, which is what
``asyncio.timeout`` and ``asyncio.wait_for`` do. ``docs/cancellation.md`` says what a
cancelled caller can know, store by store.

Async only: a blocking call cannot be cancelled halfway.
"""

from __future__ import annotations

import asyncio
import gc
import random
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import anyio
import pytest
import redis
import redis.asyncio
from postgres_helpers import drop_tables, new_prefix, query
from psycopg_pool import AsyncConnectionPool
from redis_helpers import delete_prefix
from redis_helpers import new_prefix as new_redis_prefix

from agent_session import (
    AsyncCacheStore,
    AsyncInMemoryStore,
    AsyncLayeredStore,
    AsyncPostgresStore,
    AsyncRedisStore,
    AsyncSessionStore,
    AsyncSQLiteStore,
    Conversation,
    Message,
)
from agent_session._concurrency import AsyncNursery, AsyncResult, asleep
from agent_session._serialization import messages_size

pytestmark = pytest.mark.async_only  # the generated blocking copy is deselected

#: Cancelled calls per store and way of cancelling.
TRIALS = 200
#: Cancellation delays are drawn from [0, SPAN x the call's median duration].
SPAN = 2.0
SESSION = "s"

State = tuple[tuple[str, ...], int]  # (the contents of the messages, the version)

# -- ways to cancel a call -----------------------------------------------------------------


class NativeCancel:
    """``Task.cancel()`` of the running task after ``delay`` seconds, once, as
    ``asyncio.timeout`` and ``asyncio.wait_for`` do it (asyncio only).

    Swallows its own cancellation; ``caught`` tells whether it reached the caller.
    """

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.fired = False
        self.caught = False

    def __enter__(self) -> NativeCancel:
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        self._handle = asyncio.get_running_loop().call_later(self.delay, self._fire)
        return self

    def _fire(self) -> None:
        self.fired = True
        self._task.cancel()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        self._handle.cancel()
        if not self.fired:
            return False
        if sys.version_info >= (3, 11):
            self._task.uncancel()  # ours, handled here, as asyncio.timeout does
        self.caught = isinstance(exc, asyncio.CancelledError)
        return self.caught


def ways_to_cancel(anyio_backend: str) -> list[str]:
    return ["scope", "fail_after"] + (["native"] if anyio_backend == "asyncio" else [])


class Outcome:
    """How an attempt went: did the call return, did the cancellation come while it ran."""

    def __init__(self, returned: bool, in_flight: bool) -> None:
        self.returned = returned
        self.in_flight = in_flight


async def attempt(how: str, delay: float, call: Callable[[], AsyncResult[object]]) -> Outcome:
    """Run ``call``, cancelled ``how`` after ``delay`` seconds."""
    if how == "fail_after":
        try:
            with anyio.fail_after(delay) as deadline:
                await call()
                in_flight = anyio.current_time() >= deadline.deadline
        except TimeoutError:
            return Outcome(False, True)
        return Outcome(True, in_flight)
    if how == "native":
        with NativeCancel(delay) as cancel:
            await call()
        return Outcome(not cancel.caught, cancel.fired)
    done: list[bool] = []
    cut: list[bool] = []

    async def run() -> None:
        await call()
        done.append(True)

    # The task group of another task cancelling the call's task, as on a sibling's failure.
    with anyio.CancelScope() as scope:
        async with AsyncNursery() as nursery:
            nursery.start_soon(run)
            await asleep(delay)
            cut.append(not done)
            scope.cancel()
    return Outcome(bool(done), cut == [True])


async def median_duration(call: Callable[[], AsyncResult[object]], times: int = 15) -> float:
    durations = []
    for _ in range(times):
        start = time.perf_counter()
        await call()
        durations.append(time.perf_counter() - start)
    return statistics.median(durations)


# -- the exercise: random writes, cancelled at random, checked against a model ----------


async def snapshot(store: AsyncSessionStore) -> State:
    """The session's contents and version, checked against its own metadata."""
    conversation, meta = await store.load_with_metadata(SESSION)
    assert meta.message_count == len(conversation), meta
    assert meta.size_bytes == messages_size(conversation), meta
    return tuple(str(m.content) for m in conversation), meta.version


class Write:
    """One write of the exercise and the state it leads to."""

    def __init__(self, kind: str, trial: int, rng: random.Random) -> None:
        self.kind = kind
        self.messages = [Message("user", f"{trial}-{kind}-{k}") for k in range(rng.randint(1, 3))]

    async def __call__(self, store: AsyncSessionStore) -> object:
        if self.kind == "append":
            return await store.append(SESSION, *self.messages)
        if self.kind == "save":
            return await store.save(SESSION, Conversation(self.messages))
        return await store.pop(SESSION)

    def after(self, state: State) -> State:
        contents, version = state
        written = tuple(str(m.content) for m in self.messages)
        if self.kind == "append":
            return contents + written, version + 1
        if self.kind == "save":
            return written, version + 1
        return (contents[:-1], version + 1) if contents else state  # pop; empty: no write


async def exercise(
    store: AsyncSessionStore,
    how: str,
    seed: str,
    kinds: tuple[str, ...] = ("append", "append", "save", "pop"),
    check: Callable[[State], AsyncResult[None]] | None = None,
) -> Counter[str]:
    """TRIALS random writes, each cancelled after a random delay; every outcome checked.

    A write that returned must show; one that was cancelled must show wholly or not at
    all, and must not land later (each trial starts by reading the state again).
    """
    rng = random.Random(seed)
    await store.save(SESSION, Conversation([Message("user", "start")]))
    span = SPAN * await median_duration(lambda: store.append(SESSION, Message("user", "x")))
    await store.save(SESSION, Conversation([Message("user", "start")]))
    state = await snapshot(store)
    tally: Counter[str] = Counter()
    for trial in range(TRIALS):
        write = Write(rng.choice(kinds), trial, rng)
        delay = rng.uniform(0, span)
        before = await snapshot(store)
        assert before == state, f"trial {trial}: a cancelled write landed late"
        expected = write.after(before)

        async def call(store: AsyncSessionStore = store, write: Write = write) -> object:
            return await write(store)

        outcome = await attempt(how, delay, call)
        state = await snapshot(store)
        if check is not None:
            await check(state)
        tally["cancelled in flight"] += outcome.in_flight
        if outcome.returned:
            assert state == expected, f"trial {trial}: {write.kind} returned but did not show"
            tally["returned"] += 1
        elif state == expected:
            tally["cancelled, written"] += 1
        else:
            assert state == before, f"trial {trial}: a cancelled {write.kind} left {state}"
            tally["cancelled, not written"] += 1
    await asleep(0.02)
    assert await snapshot(store) == state, "a cancelled write landed late"
    # The next call on the same store object works.
    meta = await store.append(SESSION, Message("user", "after"))
    assert meta.version == state[1] + 1
    assert (await store.load(SESSION, last=1))[0].content == "after"
    return tally


# -- the stores of this process: memory, cache, SQLite, layered ---------------------------

LOCAL = ["memory", "cache", "sqlite", "layered-cache", "layered-sqlite"]


def local_store(kind: str, path: Path) -> tuple[AsyncSessionStore, AsyncSessionStore]:
    """The store, and its authoritative layer (itself unless layered)."""
    if kind == "memory":
        store: AsyncSessionStore = AsyncInMemoryStore()
        return store, store
    if kind == "cache":
        store = AsyncCacheStore(None)
        return store, store
    authority = AsyncSQLiteStore(path)
    if kind == "sqlite":
        return authority, authority
    faster: AsyncSessionStore
    # A SQLite faster layer awaits a thread too: cancellations land between the layers.
    faster = AsyncCacheStore(None) if kind == "layered-cache" else AsyncSQLiteStore(":memory:")
    return AsyncLayeredStore(faster, authority), authority


@pytest.mark.parametrize("kind", LOCAL)
async def test_a_cancelled_write_is_whole_or_absent(
    kind: str, anyio_backend: str, tmp_path: Path
) -> None:
    """Appends, saves and pops cancelled at random: each shows wholly or not at all,
    none lands late, and a layered store's answers always match its authority's."""
    store, authority = local_store(kind, tmp_path / "cancel.db")

    async def same_as_authority(state: State) -> None:
        # A layered store never serves a faster copy that differs from the authority.
        assert state == await snapshot(authority)

    async with store:
        for how in ways_to_cancel(anyio_backend):
            check = same_as_authority if store is not authority else None
            tally = await exercise(store, how, f"{kind}-{how}", check=check)
            if kind in ("memory", "cache"):
                # Nothing inside their calls awaits: a cancellation can only take
                # effect at the caller's next await, after the call returned.
                assert tally["returned"] == TRIALS, (how, tally)
            else:
                assert tally["cancelled in flight"] > 0, (how, tally)


class Watched:
    """Counts the SQLite engine's writes that began, and those still running."""

    def __init__(self, store: AsyncSQLiteStore) -> None:
        self.began = 0
        self.running = 0
        engine = store._engine  # the blocking calls that the worker threads run
        for name in ("append", "save", "pop"):
            setattr(engine, name, self._watch(getattr(engine, name)))

    def _watch(self, method: Callable[..., Any]) -> Callable[..., Any]:
        def watched(*args: Any) -> Any:
            self.began += 1
            self.running += 1
            try:
                return method(*args)
            finally:
                self.running -= 1

        return watched


async def test_a_cancelled_sqlite_write_ended_before_its_caller_heard_or_never_began(
    anyio_backend: str, tmp_path: Path
) -> None:
    """The worker thread is never still writing when the caller hears of the cancellation.

    Under anyio's cancel scopes and trio a cancelled write never began (one that began
    returns); under asyncio's ``Task.cancel()`` it may also have ended, written.
    """
    async with AsyncSQLiteStore(tmp_path / "threads.db") as store:
        watched = Watched(store)
        for how in ways_to_cancel(anyio_backend):
            rng = random.Random(f"threads-{how}")
            await store.save(SESSION, Conversation([Message("user", "start")]))
            span = SPAN * await median_duration(lambda: store.append(SESSION, Message("user", "x")))
            tally: Counter[str] = Counter()
            for trial in range(TRIALS):
                write = Write("append", trial, rng)
                before = await snapshot(store)
                began = watched.began
                still_running: list[int] = []

                async def call(write: Write = write, still: list[int] = still_running) -> object:
                    try:
                        return await write(store)
                    except BaseException:
                        still.append(watched.running)  # the moment the caller hears of it
                        raise

                outcome = await attempt(how, rng.uniform(0, span), call)
                tally["cancelled in flight"] += outcome.in_flight
                assert still_running in ([], [0]), f"{how}, trial {trial}: a thread still writes"
                state = await snapshot(store)
                ran = watched.began - began
                if outcome.returned:
                    assert ran == 1 and state == write.after(before)
                    tally["returned"] += 1
                elif ran:
                    assert how == "native", f"{how}, trial {trial}: cancelled after it began"
                    assert state == write.after(before)
                    tally["cancelled once ended, written"] += 1
                else:
                    assert state == before
                    tally["cancelled before it began"] += 1
            assert tally["cancelled in flight"] > 0, (how, tally)


# -- closing in a cancelled scope ----------------------------------------------------------


async def closed_in_a_cancelled_scope(store: AsyncSessionStore) -> None:
    """Use ``store``, then close it in a cancel scope that is already cancelled."""
    with anyio.CancelScope() as scope:
        await store.append(SESSION, Message("user", "x"))
        scope.cancel()
        await store.aclose()


async def released(gone: Callable[[], bool], release: Callable[[], AsyncResult[None]]) -> bool:
    """True once ``gone()`` (a server sees a closed connection go within moments).

    If not, ``release()`` closes what the store left open, so that the leak is this
    test's failure and not a warning in a later test.
    """
    for _ in range(200):
        if gone():
            return True
        await asleep(0.01)
    await release()
    return False


async def close_left_open(kind: type[Any], close: str, left: Callable[[Any], bool]) -> None:
    """Close the driver objects of ``kind`` that ``left`` picks, found on the heap (the
    store no longer knows them: it believes it is closed)."""
    for obj in [o for o in gc.get_objects() if isinstance(o, kind) and left(o)]:
        await getattr(obj, close)()


async def test_closing_in_a_cancelled_scope_still_closes_sqlite(
    anyio_backend: str, tmp_path: Path
) -> None:
    """``async with store`` left because of a cancellation closes the store all the same.

    In WAL mode the last connection to close removes the ``-wal`` file: it is there
    while the store is open.
    """
    path = tmp_path / "close.db"
    wal = path.with_name(path.name + "-wal")
    with anyio.move_on_after(0.05):
        async with AsyncSQLiteStore(path) as store:
            await store.append(SESSION, Message("user", "x"))
            assert wal.exists()
            await asleep(5)  # cancelled here; the close runs in the cancelled scope
    # The engine's close never ran, so the store's own hook can still release it.
    assert await released(lambda: not wal.exists(), store._aclose), "the connection is open"
    store = AsyncSQLiteStore(path)
    await closed_in_a_cancelled_scope(store)
    assert await released(lambda: not wal.exists(), store._aclose), "the connection is open"


# -- PostgreSQL ------------------------------------------------------------------------


@pytest.fixture
def pg_prefix(postgres_dsn: str) -> Iterator[str]:
    prefix = new_prefix()
    yield prefix
    drop_tables(postgres_dsn, prefix)


def backends_of(dsn: str, application_name: str) -> Counter[str]:
    """The states of the server's connections named ``application_name``."""
    rows = query(
        dsn, "SELECT state FROM pg_stat_activity WHERE application_name = %s", (application_name,)
    )
    return Counter(str(state) for (state,) in rows)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize("autocommit", [True, False], ids=["autocommit", "transactions"])
async def test_postgres_cancelled_writes_are_whole_or_absent_and_leave_the_pool_idle(
    postgres_dsn: str, pg_prefix: str, anyio_backend: str, autocommit: bool
) -> None:
    """No statement runs on at the server after its caller heard of the cancellation,
    and no connection goes back to the pool mid-transaction, nor is thrown away.

    A pool of the caller's, so its statistics can be read. With autocommit, as in the
    pool the store makes, each write is one statement; without, each write is a
    transaction the store commits, and a cancellation can land inside it.
    """
    app = f"cancel-{uuid.uuid4().hex[:8]}"
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        postgres_dsn,
        kwargs={"application_name": app, "autocommit": autocommit},
        min_size=2,
        max_size=2,
        open=False,
    )
    await pool.open(wait=True)
    try:
        async with AsyncPostgresStore(pool, table_prefix=pg_prefix) as store:
            for how in ways_to_cancel(anyio_backend):
                tally = await exercise(store, how, f"postgres-{how}")
                assert tally["cancelled in flight"] > 0, (how, tally)
                states = backends_of(postgres_dsn, app)
                assert states == Counter(idle=2), (how, states)
                stats = pool.pop_stats()
                # A connection cut off mid-statement would be closed and replaced.
                assert stats.get("returns_bad", 0) == 0, (how, stats)
                assert stats["pool_available"] == stats["pool_size"] == 2, (how, stats)
    finally:
        await pool.close()


# -- Redis -------------------------------------------------------------------------------


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    prefix = new_redis_prefix()
    yield prefix
    delete_prefix(redis_url, prefix)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_redis_cancelled_writes_are_whole_or_absent(
    redis_url: str, redis_prefix: str, anyio_backend: str
) -> None:
    async with AsyncRedisStore(redis_url, prefix=redis_prefix) as store:
        for how in ways_to_cancel(anyio_backend):
            tally = await exercise(store, how, f"redis-{how}")
            assert tally["cancelled in flight"] > 0, (how, tally)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_redis_replies_stay_with_their_calls(
    redis_url: str, redis_prefix: str, anyio_backend: str
) -> None:
    """A call cancelled mid-reply (a long load, a pipelined listing) never leaves its
    reply for the next call on the connection to read."""
    big = [Message("user", f"{i}:" + "x" * 1000) for i in range(300)]  # a ~300 kB reply
    probe = [Message("assistant", "probe")]
    async with AsyncRedisStore(redis_url, prefix=redis_prefix) as store:
        await store.save("big", Conversation(big))
        for i in range(20):
            await store.save(f"many-{i:02}", Conversation(probe))
        await store.save("probe", Conversation(probe), labels={"k": "v"})
        expected_meta = await store.get_metadata("probe")
        ids = await store.list_sessions()

        calls: list[Callable[[], AsyncResult[object]]] = [
            lambda: store.load("big"),
            lambda: store.list_sessions(),
            lambda: store.find_sessions(limit=5),
            lambda: store.get_metadata("big"),
        ]
        span = SPAN * await median_duration(calls[0])
        for how in ways_to_cancel(anyio_backend):
            rng = random.Random(f"replies-{how}")
            tally: Counter[bool] = Counter()
            for _ in range(TRIALS):
                outcome = await attempt(how, rng.uniform(0, span), rng.choice(calls))
                tally[outcome.returned] += 1
                # Each of these would read a stale reply as garbage or as a wrong answer.
                assert await store.get_metadata("probe") == expected_meta
                assert [m.content for m in await store.load("probe")] == ["probe"]
                assert await store.exists("absent") is False
                assert await store.list_sessions() == ids
            assert tally[False] > 0, (how, tally)
        assert [m.content for m in await store.load("big")] == [m.content for m in big]


# -- the connections the store makes -----------------------------------------------------


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_closing_in_a_cancelled_scope_still_closes_postgres(
    postgres_dsn: str, pg_prefix: str, anyio_backend: str
) -> None:
    """The store's own pool is closed even when ``aclose`` runs in a cancelled scope."""
    app = f"close-{uuid.uuid4().hex[:8]}"
    pool_kwargs = {"kwargs": {"application_name": app}}
    store = AsyncPostgresStore(postgres_dsn, table_prefix=pg_prefix, pool_kwargs=pool_kwargs)
    await closed_in_a_cancelled_scope(store)

    async def release() -> None:
        await close_left_open(
            AsyncConnectionPool,
            "close",
            lambda pool: not pool.closed and pool.kwargs.get("application_name") == app,
        )

    gone = released(lambda: not backends_of(postgres_dsn, app), release)
    assert await gone, "the cancelled close left the pool open"


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_closing_in_a_cancelled_scope_still_closes_redis(
    redis_url: str, redis_prefix: str, anyio_backend: str
) -> None:
    """The store's own client is closed even when ``aclose`` runs in a cancelled scope."""
    name = f"close-{uuid.uuid4().hex[:8]}"
    store = AsyncRedisStore(f"{redis_url}?client_name={name}", prefix=redis_prefix)
    await closed_in_a_cancelled_scope(store)

    async def release() -> None:
        await close_left_open(
            redis.asyncio.Redis,
            "aclose",
            lambda client: client.connection_pool.connection_kwargs.get("client_name") == name,
        )

    with redis.Redis.from_url(redis_url) as peek:

        def gone() -> bool:
            return not [c for c in peek.client_list() if c.get("name") == name]

        assert await released(gone, release), "the cancelled close left the client open"
