"""Two store objects over one durable backend answer like one store: what either
acknowledged, the other reads (two processes' view of one database).

Every call of the machine goes through one of the two objects, chosen by hypothesis
(``view``), and the model is one: so a session one object wrote, touched, slid,
popped or cleared reads the same through the other, cursors of one page on the
other, and the clock is shared as two processes share real time. A third kind of
step closes one of the objects and opens a new one in its place (a process
restarting): what was acknowledged before is still there.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis.stateful import rule

from agent_session import PostgresStore, RedisStore, SessionStore, SQLiteStore
from agent_session.testing import FakeClock

from .contract_model import ModelConfig
from .machines import VARIANTS, VIEW, Bench, StoreMachine, run_machine

by_name = pytest.mark.parametrize("config", VARIANTS, ids=lambda config: config.name)


@dataclass
class TwoViews(Bench):
    """A bench whose ``another()`` opens one more store object on the same backend."""

    another: Callable[[], Any] = lambda: None


class TwoViewsMachine(StoreMachine):
    @rule(view=VIEW)
    def reopen(self, view: int) -> None:
        """Close one view and open a new store object in its place."""
        assert isinstance(self.bench, TwoViews)
        self.driver.close(self.views[view])
        self.views[view] = self.bench.another()  # self.views is self.stores: closed at the end


def run_two_views(config: ModelConfig, clock: FakeClock, another: Callable[[], Any]) -> None:
    """Two fresh objects per example (the backend emptied through the first)."""

    def open_() -> list[Any]:
        first = another()
        first.clear()
        return [first, another()]

    run_machine(TwoViews(config, clock, open_, another=another), TwoViewsMachine)


@by_name
def test_sqlite(config: ModelConfig, tmp_path: Path) -> None:
    clock = FakeClock()
    options = config.store_options()
    files = (tmp_path / f"model-{n}.db" for n in itertools.count())
    path = [next(files)]

    def another() -> SessionStore:
        return SQLiteStore(path[0], clock=clock, **options)

    def open_() -> list[SessionStore]:
        path[0] = next(files)  # a new file per example
        return [another(), another()]

    run_machine(TwoViews(config, clock, open_, another=another), TwoViewsMachine)


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
    options = config.store_options()
    run_two_views(
        config,
        clock,
        lambda: PostgresStore(postgres_dsn, table_prefix=postgres_prefix, clock=clock, **options),
    )


@by_name
def test_redis(config: ModelConfig, redis_url: str, redis_prefix: str) -> None:
    clock = FakeClock()
    options = config.store_options()
    run_two_views(
        config, clock, lambda: RedisStore(redis_url, prefix=redis_prefix, clock=clock, **options)
    )
