"""Model-based tests of the async flavour, under asyncio and trio.

The same machine as the blocking stores (``machines.StoreMachine``), driving an async
store through an anyio blocking portal: the test is a plain function (hypothesis
runs the machine, step by step, in the test's thread) and the portal runs one event
loop of the backend under test (asyncio or trio, from the ``anyio_backend`` fixture)
in a thread of its own for the whole test; every call is one ``portal.call``.

Why a portal, not the alternatives: hypothesis has no async state machines (its
``RuleBasedStateMachine`` rules are plain functions), and ``anyio.run`` per step
would start a new event loop for every call, so a store could not keep anything
bound to its loop (a lock, a worker thread limiter, a connection pool) from one call
to the next, as it does in real use. One loop for the whole test, as an application
has, is what the portal gives; it works the same under asyncio and trio.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from anyio.from_thread import start_blocking_portal

from agent_session import (
    AsyncCacheStore,
    AsyncInMemoryStore,
    AsyncLayeredStore,
    AsyncPostgresStore,
    AsyncRedisStore,
    AsyncSessionStore,
    AsyncSQLiteStore,
)
from agent_session.testing import FakeClock

from .contract_model import ModelConfig
from .machines import VARIANTS, Bench, PortalDriver, run_machine

by_name = pytest.mark.parametrize("config", VARIANTS, ids=lambda config: config.name)


@pytest.fixture
def driver(anyio_backend: str) -> Iterator[PortalDriver]:
    """A portal running one event loop of ``anyio_backend`` for the whole test."""
    with start_blocking_portal(anyio_backend) as portal:
        yield PortalDriver(portal)


def cache_store(config: ModelConfig, clock: FakeClock, capacity: int = 100_000) -> AsyncCacheStore:
    options = config.store_options()
    return AsyncCacheStore(options.pop("default_ttl"), capacity=capacity, clock=clock, **options)


@by_name
def test_memory(config: ModelConfig, driver: PortalDriver) -> None:
    clock = FakeClock()
    options = config.store_options()
    run_machine(Bench(config, clock, lambda: [AsyncInMemoryStore(clock=clock, **options)], driver))


@by_name
def test_cache(config: ModelConfig, driver: PortalDriver) -> None:
    clock = FakeClock()
    forgetful = dataclasses.replace(config, forgetful=True)
    run_machine(Bench(forgetful, clock, lambda: [cache_store(config, clock)], driver))


@by_name
def test_sqlite(config: ModelConfig, driver: PortalDriver, tmp_path: Path) -> None:
    clock = FakeClock()
    options = config.store_options()
    files = (tmp_path / f"model-{n}.db" for n in itertools.count())
    run_machine(
        Bench(
            config, clock, lambda: [AsyncSQLiteStore(next(files), clock=clock, **options)], driver
        )
    )


@by_name
def test_layered_cache_over_sqlite(
    config: ModelConfig, driver: PortalDriver, tmp_path: Path
) -> None:
    clock = FakeClock()
    files = (tmp_path / f"model-{n}.db" for n in itertools.count())

    def open_() -> list[AsyncSessionStore]:
        flat = dataclasses.replace(config, sliding=False)  # the layered store slides
        durable = AsyncSQLiteStore(next(files), clock=clock, **flat.store_options())
        cache = cache_store(flat, clock, 1000)
        return [AsyncLayeredStore(cache, durable, sliding=config.sliding, clock=clock)]

    run_machine(Bench(config, clock, open_, driver))


# PostgreSQL and Redis: asyncio only (psycopg's and redis-py's async need it; under trio
# they raise RuntimeError, which tests/test_asyncio_only_drivers.py covers).


@pytest.fixture
def asyncio_driver() -> Iterator[PortalDriver]:
    with start_blocking_portal("asyncio") as portal:
        yield PortalDriver(portal)


@pytest.fixture
def postgres_prefix(postgres_dsn: str) -> Iterator[str]:
    from postgres_helpers import drop_tables, new_prefix

    prefix = new_prefix()
    yield prefix
    drop_tables(postgres_dsn, prefix)


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    from redis_helpers import delete_prefix, new_prefix

    prefix = new_prefix()
    yield prefix
    delete_prefix(redis_url, prefix)


def reused(config: ModelConfig, clock: FakeClock, driver: PortalDriver, store: object) -> Bench:
    """A bench over one store kept for all the test's examples: cleared at each start."""

    def open_() -> list[object]:
        driver.call(store, "clear")
        return [store]

    return Bench(config, clock, open_, driver, close=lambda _stores: None)


@by_name
def test_postgres(
    config: ModelConfig, asyncio_driver: PortalDriver, postgres_dsn: str, postgres_prefix: str
) -> None:
    clock = FakeClock()
    options = config.store_options()
    store = AsyncPostgresStore(postgres_dsn, table_prefix=postgres_prefix, clock=clock, **options)
    try:
        run_machine(reused(config, clock, asyncio_driver, store))
    finally:
        asyncio_driver.close(store)


@by_name
def test_redis(
    config: ModelConfig, asyncio_driver: PortalDriver, redis_url: str, redis_prefix: str
) -> None:
    clock = FakeClock()
    options = config.store_options()
    store = AsyncRedisStore(redis_url, prefix=redis_prefix, clock=clock, **options)
    try:
        run_machine(reused(config, clock, asyncio_driver, store))
    finally:
        asyncio_driver.close(store)
