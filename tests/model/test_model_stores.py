"""Model-based tests of every blocking store: any sequence of calls answers like the model.

One state machine (``machines.StoreMachine``) per store and store variant (limits; a
default TTL; sliding expiry), each call compared with the plain-Python model of the
contract in ``contract_model.py``. The in-memory stores, the layered store and SQLite
get a new store (and a new file) per example; PostgreSQL and Redis one store per test
on its own tables or keys, cleared at the start of every example and dropped after.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import Phase, settings

from agent_session import (
    CacheStore,
    InMemoryStore,
    LayeredStore,
    Message,
    PostgresStore,
    RedisStore,
    SessionMetadata,
    SessionStore,
    SQLiteStore,
)
from agent_session._validation import Default
from agent_session.testing import FakeClock

from .contract_model import ModelConfig
from .machines import EXPIRING, MODEL_SETTINGS, VARIANTS, Bench, run_machine

by_name = pytest.mark.parametrize("config", VARIANTS, ids=lambda config: config.name)


def cache_store(config: ModelConfig, clock: FakeClock, capacity: int = 100_000) -> CacheStore:
    """A cache roomy enough that nothing live is ever evicted (its TTL: the default)."""
    options = config.store_options()
    return CacheStore(options.pop("default_ttl"), capacity=capacity, clock=clock, **options)


def layered(config: ModelConfig, clock: FakeClock, authority: SessionStore) -> LayeredStore:
    """A cache over ``authority``, as the contract suite's ``layered_over`` builds it:
    the layered store slides, its layers do not."""
    cache = cache_store(dataclasses.replace(config, sliding=False), clock, 1000)
    return LayeredStore(cache, authority, sliding=config.sliding, clock=clock)


def reused(config: ModelConfig, clock: FakeClock, *stores: SessionStore) -> Bench:
    """A bench over stores a test keeps for all its examples: cleared at each start."""

    def open_() -> list[SessionStore]:
        stores[0].clear()
        return list(stores)

    return Bench(config, clock, open_, close=lambda _stores: None)


@by_name
def test_memory(config: ModelConfig) -> None:
    clock = FakeClock()
    run_machine(
        Bench(config, clock, lambda: [InMemoryStore(clock=clock, **config.store_options())])
    )


@by_name
def test_memory_with_capacity(config: ModelConfig) -> None:
    # A hard capacity the machine never passes (5 ids): only its bookkeeping is in play.
    clock = FakeClock()
    run_machine(
        Bench(
            config,
            clock,
            lambda: [InMemoryStore(5, stripes=1, clock=clock, **config.store_options())],
        )
    )


@by_name
def test_cache(config: ModelConfig) -> None:
    clock = FakeClock()
    forgetful = dataclasses.replace(config, forgetful=True)
    run_machine(Bench(forgetful, clock, lambda: [cache_store(config, clock)]))


@by_name
def test_sqlite(config: ModelConfig, tmp_path: Path) -> None:
    clock = FakeClock()
    files = (tmp_path / f"model-{n}.db" for n in itertools.count())
    run_machine(
        Bench(
            config, clock, lambda: [SQLiteStore(next(files), clock=clock, **config.store_options())]
        )
    )


@by_name
def test_layered_cache_over_sqlite(config: ModelConfig, tmp_path: Path) -> None:
    clock = FakeClock()
    files = (tmp_path / f"model-{n}.db" for n in itertools.count())

    def open_() -> list[SessionStore]:
        options = {**config.store_options(), "sliding": False}
        return [layered(config, clock, SQLiteStore(next(files), clock=clock, **options))]

    run_machine(Bench(config, clock, open_))


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


@by_name
def test_postgres(config: ModelConfig, postgres_dsn: str, postgres_prefix: str) -> None:
    clock = FakeClock()
    options: dict[str, Any] = config.store_options()
    with PostgresStore(postgres_dsn, table_prefix=postgres_prefix, clock=clock, **options) as store:
        run_machine(reused(config, clock, store))


@by_name
def test_redis(config: ModelConfig, redis_url: str, redis_prefix: str) -> None:
    clock = FakeClock()
    with RedisStore(redis_url, prefix=redis_prefix, clock=clock, **config.store_options()) as store:
        run_machine(reused(config, clock, store))


# -- the machine can fail ---------------------------------------------------------------


class _LimitlessListing(InMemoryStore):
    """Defective on purpose: ``list_sessions`` ignores ``limit``."""

    def _list_sessions(self, prefix: str | None, limit: int | None) -> list[str]:
        return super()._list_sessions(prefix, None)


class _ForgetfulTouch(InMemoryStore):
    """Defective on purpose: ``touch(ttl=...)`` moves the expiry but does not make the
    new TTL the session's own, so the next ``ttl=DEFAULT`` write uses the old one."""

    def _touch(self, session_id: str, ttl: float | None | Default) -> SessionMetadata:
        entries = self._core._stripe(session_id).entries
        before = entries.get(session_id)
        meta = super()._touch(session_id, ttl)  # raises for a missing or expired session
        if before is not None:
            entries[session_id].ttl = before.ttl
        return meta


@pytest.mark.parametrize("defective", [_LimitlessListing, _ForgetfulTouch])
def test_the_machine_catches_a_wrong_answer(defective: type[InMemoryStore]) -> None:
    clock = FakeClock()
    options = EXPIRING.store_options()
    bench = Bench(EXPIRING, clock, lambda: [defective(clock=clock, **options)])
    # A budget of its own (cheap in memory), so that a change of the rules cannot make
    # CI's sequences miss it; no shrinking: only that it fails matters.
    budget = settings(
        MODEL_SETTINGS,
        derandomize=True,  # a soak run too: the same sequences, known to catch both
        max_examples=100,
        stateful_step_count=60,
        phases=[Phase.explicit, Phase.generate],
    )
    with pytest.raises(AssertionError):
        run_machine(bench, using=budget)


# -- found by the machines ----------------------------------------------------------------


def _sliding_layered(tmp_path: Path, clock: FakeClock) -> LayeredStore:
    durable = SQLiteStore(tmp_path / "sessions.db", default_ttl=10, clock=clock)
    return LayeredStore(CacheStore(10, clock=clock), durable, sliding=True, clock=clock)


def test_sliding_layered_load_restarts_the_ttl(tmp_path: Path) -> None:
    # The control for the test below: load slides.
    clock = FakeClock()
    with _sliding_layered(tmp_path, clock) as store:
        store.append("a", Message("user", "hi"))
        clock.advance(0.5)
        store.load("a")
        assert store.get_metadata("a").expires_at == clock() + 10


def test_sliding_layered_load_with_metadata_restarts_the_ttl(tmp_path: Path) -> None:
    clock = FakeClock()
    with _sliding_layered(tmp_path, clock) as store:
        store.append("a", Message("user", "hi"))
        clock.advance(0.5)
        _, meta = store.load_with_metadata("a")
        assert meta.expires_at == clock() + 10
        assert store.get_metadata("a").expires_at == clock() + 10
