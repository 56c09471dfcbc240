"""A layered store whose faster layers fail at random answers exactly like the model.

``LayeredStore(flaky cache, flaky memory store, SQLite)``: the cache and the middle
layer are :class:`FlakyStore` wrappers that, from one seeded RNG, raise
``BackendError`` before a call reaches the layer, or after it was applied there (the
outcome a caller cannot know), and the cache sleeps a few milliseconds now and then.
The authoritative layer never fails. Every answer must still be the model's: a
failing faster layer may cost time, never an answer (SPEC section 4, LayeredStore).
"""

from __future__ import annotations

import dataclasses
import itertools
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import initialize

from agent_session import (
    BackendError,
    CacheStore,
    Conversation,
    InMemoryStore,
    LayeredStore,
    Message,
    Page,
    SessionMetadata,
    SessionStore,
    SQLiteStore,
)
from agent_session._paging import FindQuery
from agent_session._validation import Default, WriteArgs
from agent_session.testing import FakeClock

from .contract_model import ModelConfig
from .machines import VARIANTS, Bench, StoreMachine, run_machine

#: Per call of a flaky layer: fail before it, fail after it was applied, sleep (cache).
FAIL_BEFORE, FAIL_AFTER, SLOW = 0.15, 0.1, 0.1


class Faults:
    """The seeded schedule of failures and delays that the flaky layers share."""

    def __init__(self) -> None:
        self.rng = random.Random(0)
        self.injected: Counter[str] = Counter()

    def before(self, layer: str, call: str, *, slow: bool) -> None:
        roll = self.rng.random()
        if roll < FAIL_BEFORE:
            self.injected["before"] += 1
            raise BackendError(f"injected: the {layer} layer failed before {call}")
        if slow and roll < FAIL_BEFORE + SLOW:
            self.injected["slow"] += 1
            time.sleep(self.rng.uniform(0.0005, 0.003))

    def after(self, layer: str, call: str) -> None:
        if self.rng.random() < FAIL_AFTER:
            self.injected["after"] += 1
            raise BackendError(f"injected: the {layer} layer applied {call}, then failed")


class FlakyStore(SessionStore):
    """A store that delegates every hook to ``inner``, failing (and, if ``slow``,
    sleeping) when ``faults`` says so. The front door (argument checks) is its own."""

    def __init__(self, inner: SessionStore, faults: Faults, *, slow: bool = False) -> None:
        self._inner = inner
        self._faults = faults
        self._slow = slow
        self.name = f"flaky {inner.name}"
        self._limits = inner._limits
        self._driver_errors = inner._driver_errors
        self._backend_name = inner._backend_name

    def _before(self, call: str) -> None:
        self._faults.before(self.name, call, slow=self._slow)

    def _after(self, call: str) -> None:
        self._faults.after(self.name, call)

    def _save(self, session_id: str, args: WriteArgs) -> SessionMetadata:
        self._before("save")
        result = self._inner._save(session_id, args)
        self._after("save")
        return result

    def _append(self, session_id: str, args: WriteArgs) -> SessionMetadata:
        self._before("append")
        result = self._inner._append(session_id, args)
        self._after("append")
        return result

    def _load(self, session_id: str, last: int | None) -> Conversation:
        self._before("load")
        result = self._inner._load(session_id, last)
        self._after("load")
        return result

    def _load_with_metadata(
        self, session_id: str, last: int | None
    ) -> tuple[Conversation, SessionMetadata]:
        self._before("load_with_metadata")
        result = self._inner._load_with_metadata(session_id, last)
        self._after("load_with_metadata")
        return result

    def _pop(self, session_id: str, expected_version: int | None) -> Message | None:
        self._before("pop")
        result = self._inner._pop(session_id, expected_version)
        self._after("pop")
        return result

    def _get_metadata(self, session_id: str) -> SessionMetadata:
        self._before("get_metadata")
        result = self._inner._get_metadata(session_id)
        self._after("get_metadata")
        return result

    def _exists(self, session_id: str) -> bool:
        self._before("exists")
        result = self._inner._exists(session_id)
        self._after("exists")
        return result

    def _delete(self, session_id: str) -> bool:
        self._before("delete")
        result = self._inner._delete(session_id)
        self._after("delete")
        return result

    def _list_sessions(self, prefix: str | None, limit: int | None) -> list[str]:
        self._before("list_sessions")
        result = self._inner._list_sessions(prefix, limit)
        self._after("list_sessions")
        return result

    def _iter_sessions(self, prefix: str | None) -> Iterator[str]:
        self._before("iter_sessions")
        for session_id in self._inner._iter_sessions(prefix):
            self._after("iter_sessions")  # fails mid-listing too
            yield session_id

    def _touch(self, session_id: str, ttl: float | None | Default) -> SessionMetadata:
        self._before("touch")
        result = self._inner._touch(session_id, ttl)
        self._after("touch")
        return result

    def _purge_expired(self) -> int:
        self._before("purge_expired")
        result = self._inner._purge_expired()
        self._after("purge_expired")
        return result

    def _clear(self) -> int:
        self._before("clear")
        result = self._inner._clear()
        self._after("clear")
        return result

    def _find_sessions(self, query: FindQuery) -> Page:
        self._before("find_sessions")
        result = self._inner._find_sessions(query)
        self._after("find_sessions")
        return result

    def _aclose(self) -> None:
        self._inner.close()


@dataclass
class FaultBench(Bench):
    faults: Faults = field(default_factory=Faults)
    #: the layered stores built, for their failure counts
    built: list[LayeredStore] = field(default_factory=list)


class FaultyLayersMachine(StoreMachine):
    """:class:`StoreMachine` with the fault schedule drawn by hypothesis (a seed), so a
    failing sequence replays with the same faults."""

    @initialize(seed=st.integers(0, 2**32 - 1))
    def seed_faults(self, seed: int) -> None:
        assert isinstance(self.bench, FaultBench)
        self.bench.faults.rng.seed(seed)


@pytest.mark.parametrize("config", VARIANTS, ids=lambda config: config.name)
def test_degradation_never_changes_an_answer(config: ModelConfig, tmp_path: Path) -> None:
    clock = FakeClock()
    files = (tmp_path / f"model-{n}.db" for n in itertools.count())
    flat = dataclasses.replace(config, sliding=False)  # the layered store slides
    options = flat.store_options()
    cache_options = {k: v for k, v in options.items() if k != "default_ttl"}

    def open_() -> list[LayeredStore]:
        bench.faults.rng.seed(0)  # until seed_faults runs: the same faults on every replay
        cache = CacheStore(config.default_ttl, capacity=1000, clock=clock, **cache_options)
        middle = InMemoryStore(clock=clock, **options)
        store = LayeredStore(
            FlakyStore(cache, bench.faults, slow=True),
            FlakyStore(middle, bench.faults),
            SQLiteStore(next(files), clock=clock, **options),
            sliding=config.sliding,
            clock=clock,
        )
        bench.built.append(store)
        return [store]

    bench = FaultBench(config, clock, open_)
    run_machine(bench, FaultyLayersMachine)
    # Not vacuous: faults were injected, and the layered store saw them.
    assert bench.faults.injected["before"] and bench.faults.injected["after"], bench.faults.injected
    assert bench.faults.injected["slow"], bench.faults.injected
    failures = sum(stats.failures for store in bench.built for stats in store.stats()[:-1])
    assert failures > 0
