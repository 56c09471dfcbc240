"""The layered store's coherence tracker, alone, under threads.

``Coherence`` decides when a layered store may read or copy into its faster layers.
A lost count in it (two threads' ``writers += 1`` seen as one) would let a read copy
a stale snapshot up while a write is in flight, or leave a session dirty (never cached
again) or raise ``KeyError`` for good. Its lock is what keeps the counts; these tests
drive it from threads switching as often as CPython allows.
"""

from __future__ import annotations

import random
import sys
import threading
from collections.abc import Iterator

import pytest

from agent_session._backends.layering import Coherence

THREADS = 4
OPERATIONS = 20_000  # per thread: bounded, about a second in all
IDS = ("a", "b")


@pytest.fixture
def switch_often() -> Iterator[None]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # preempt threads between any two bytecodes, nearly
    yield
    sys.setswitchinterval(before)


def test_one_write_makes_overlapping_reads_copy_nothing_and_a_second_write_dirty() -> None:
    coherence = Coherence()
    coherence.begin_write("s")
    assert not coherence.begin_read("s")  # it could copy what the write replaces
    assert not coherence.dirty("s")
    coherence.begin_write("s")  # two writes overlap: either copy may land last
    assert coherence.dirty("s")
    assert not coherence.end("s", write=True)  # not the last one
    assert coherence.end("s", write=True)  # the last: drop the copies, then settle
    coherence.settle("s")
    assert not coherence.dirty("s")
    assert coherence.begin_read("s")
    assert not coherence.end("s", write=False)


def test_a_clear_in_flight_dirties_what_runs_and_refuses_new_reads() -> None:
    coherence = Coherence()
    assert coherence.begin_read("s")
    coherence.begin_clear()
    assert coherence.dirty("s")
    assert not coherence.begin_read("t")
    coherence.begin_write("t")
    assert coherence.dirty("t")
    coherence.end_clear()
    for session_id, write in (("s", False), ("t", True)):
        assert coherence.end(session_id, write=write)
        coherence.settle(session_id)
    assert not coherence.dirty_ids


def test_concurrent_operations_all_settle_clean(switch_often: None) -> None:
    coherence = Coherence()
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def run(seed: int) -> None:
        rng = random.Random(seed)
        start.wait()
        try:
            for _ in range(OPERATIONS):
                session_id = rng.choice(IDS)
                if rng.random() < 0.5:
                    coherence.begin_write(session_id)
                    write = True
                elif coherence.begin_read(session_id):
                    write = False
                else:
                    continue  # a read that copies nothing registers nothing
                if coherence.end(session_id, write=write):
                    coherence.settle(session_id)
        except BaseException as exc:  # a KeyError from a lost entry, say
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(seed,)) for seed in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    # Every operation ended and every drop settled: nothing stays dirty or active,
    # so the sessions are read from and copied into the faster layers again.
    assert coherence.dirty_ids == set()
    assert coherence.begin_read("a") and not coherence.dirty("a")
