"""Benchmark of the process-local stores against a plain locked dict, in one run.

Prints two tables:

1. median ns per operation (``load``, ``save`` of new messages, ``resave`` of a loaded
   conversation, ``append`` of one message, timed in runs of 200 from a fresh
   20-message session) on a 20-message conversation, for the sync and async
   (asyncio) ``InMemoryStore``, ``CacheStore`` and ``LayeredStore(CacheStore over
   InMemoryStore)``, beside a baseline: a dict behind one ``threading.Lock`` that
   stores a tuple of messages and returns a list copy (the sync stores and the
   baselines take turns batch by batch);
2. ops/s of 1, 2 and 4 threads doing 90% ``load`` / 10% ``save`` over 10,000
   sessions, for the sync stores and the baseline.

Run: ``python benchmarks/bench_stores.py [--quick]``. Numbers are medians of
several batches; compare rows of one run only (these machines are noisy).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import anyio
from cachetools import TTLCache

from agent_session import (
    AsyncCacheStore,
    AsyncInMemoryStore,
    AsyncLayeredStore,
    AsyncSessionStore,
    CacheStore,
    Conversation,
    InMemoryStore,
    LayeredStore,
    Message,
)

SESSIONS = 10_000
#: Appends timed in one run from a fresh 20-message session (20 to 220 messages long).
APPEND_RUN = 200


class LockedDict:
    """The baseline: a dict of message tuples behind one lock."""

    name = "baseline dict+Lock"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[str, tuple[Message, ...]] = {}

    def save(self, session_id: str, conversation: Conversation) -> None:
        messages = tuple(conversation)
        with self._lock:
            self._data[session_id] = messages

    def append(self, session_id: str, message: Message) -> None:
        with self._lock:
            self._data[session_id] = self._data.get(session_id, ()) + (message,)

    def load(self, session_id: str) -> list[Message]:
        with self._lock:
            return list(self._data[session_id])


class LockedTTLCache(LockedDict):
    """The cache baseline: cachetools' TTLCache of message tuples behind one lock."""

    name = "baseline TTLCache+Lock"

    def __init__(self) -> None:
        super().__init__()
        self._data = TTLCache(maxsize=2 * SESSIONS, ttl=3600)  # type: ignore[assignment]


def conversation(size: int = 20) -> Conversation:
    builder = Conversation.builder().system("You are a helpful travel agent.")
    for turn in range(size - 1):
        if turn % 2:
            builder.assistant(f"Here is option {turn}: a flight at {turn}:00, 240 EUR.")
        else:
            builder.user(f"Can you find me a flight to Lisbon on day {turn}?")
    return builder.build()


def fresh_messages(count: int) -> list[Message]:
    # New objects each time: their wire size is not cached yet, as in real use.
    return [Message("user", f"And what about the hotel, question {i}?") for i in range(count)]


def conversation_of(loaded: Any) -> Conversation:
    """What a load gave, as a Conversation (the baseline's load gives a list)."""
    return loaded if isinstance(loaded, Conversation) else Conversation(loaded)


def interleaved(
    ops: dict[str, dict[str, Callable[[int], float]]], batch: int, repeats: int
) -> dict[str, dict[str, float]]:
    """Per store and operation, the median over ``repeats`` batches of ns per op.

    The stores take turns batch by batch, so a slow minute of the machine (CPU steal,
    another process) hurts every row alike and the ratios between rows hold.
    """
    samples: dict[str, dict[str, list[float]]] = {
        name: {op: [] for op in store_ops} for name, store_ops in ops.items()
    }
    for _ in range(repeats):
        for name, store_ops in ops.items():
            for op, run_batch in store_ops.items():
                samples[name][op].append(run_batch(batch) / batch * 1e9)
    return {
        name: {op: statistics.median(times) for op, times in store_samples.items()}
        for name, store_samples in samples.items()
    }


def sync_ops(store: Any, batch: int) -> dict[str, Callable[[int], float]]:
    """The timed operations on ``store``: each runs ``n`` of them and gives the seconds."""
    conv = conversation()
    store.save("s", conv)
    load, save, append = store.load, store.save, store.append

    def loads(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            load("s")
        return time.perf_counter() - start

    def saves(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            save("s", conv)
        return time.perf_counter() - start

    loaded = conversation_of(store.load("s"))  # an agent's loop: load, add, save again

    def resaves(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            save("r", loaded)
        return time.perf_counter() - start

    def appends(n: int) -> float:
        # In runs of APPEND_RUN from a fresh 20-message session (the save untimed): the
        # baseline's append copies its tuple, so a batch-long session would make it, and
        # every ratio to it, depend on the batch size (--quick or not).
        elapsed = 0.0
        for done in range(0, n, APPEND_RUN):
            store.save("a", conv)
            messages = fresh_messages(min(APPEND_RUN, n - done))
            start = time.perf_counter()
            for message in messages:
                append("a", message)
            elapsed += time.perf_counter() - start
        return elapsed

    appends(batch)  # warm up
    return {"load": loads, "save": saves, "resave": resaves, "append": appends}


def bench_async(store: AsyncSessionStore, batch: int, repeats: int) -> dict[str, float]:
    result: dict[str, float] = {}

    async def main() -> None:
        conv = conversation()
        await store.save("s", conv)
        samples: dict[str, list[float]] = {"load": [], "save": [], "resave": [], "append": []}
        loaded = await store.load("s")
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(batch):
                await store.load("s")
            samples["load"].append(time.perf_counter() - start)
            start = time.perf_counter()
            for _ in range(batch):
                await store.save("s", conv)
            samples["save"].append(time.perf_counter() - start)
            start = time.perf_counter()
            for _ in range(batch):
                await store.save("r", loaded)
            samples["resave"].append(time.perf_counter() - start)
            elapsed = 0.0
            for done in range(0, batch, APPEND_RUN):  # as in bench_sync
                await store.save("a", conv)
                messages = fresh_messages(min(APPEND_RUN, batch - done))
                start = time.perf_counter()
                for message in messages:
                    await store.append("a", message)
                elapsed += time.perf_counter() - start
            samples["append"].append(elapsed)
        for op, times in samples.items():
            result[op] = statistics.median(times) / batch * 1e9

    anyio.run(main, backend="asyncio")
    return result


def threaded_ops_per_s(store: Any, threads: int, seconds: float) -> float:
    """Total ops/s of ``threads`` threads doing 90% load / 10% save on random sessions."""
    conv = conversation()
    ids = [f"session-{i}" for i in range(SESSIONS)]
    for session_id in ids:
        store.save(session_id, conv)
    counts = [0] * threads
    stop = threading.Event()
    barrier = threading.Barrier(threads + 1)

    def worker(slot: int) -> None:
        rng = random.Random(slot)
        plan = [(rng.random() < 0.9, rng.choice(ids)) for _ in range(4096)]
        load, save = store.load, store.save
        done = 0
        barrier.wait()
        while not stop.is_set():
            for is_load, session_id in plan:
                if is_load:
                    load(session_id)
                else:
                    save(session_id, conv)
            done += len(plan)
        counts[slot] = done

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in workers:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for thread in workers:
        thread.join()
    return sum(counts) / (time.perf_counter() - start)


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=False)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(
            "  ".join(
                str(c).rjust(w) if i else str(c).ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=False))
            )
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small batches (a smoke test)")
    args = parser.parse_args(argv)
    batch, repeats, seconds, rounds = (200, 3, 0.2, 1) if args.quick else (2_000, 15, 0.5, 5)

    def sync_stores() -> list[tuple[str, Any]]:
        return [
            (LockedDict.name, LockedDict()),
            (LockedTTLCache.name, LockedTTLCache()),
            ("InMemoryStore", InMemoryStore()),
            ("CacheStore", CacheStore(None, capacity=2 * SESSIONS)),
            (
                "LayeredStore(cache, memory)",
                LayeredStore(CacheStore(None, capacity=2 * SESSIONS), InMemoryStore()),
            ),
        ]

    async_stores: list[tuple[str, AsyncSessionStore]] = [
        ("AsyncInMemoryStore", AsyncInMemoryStore()),
        ("AsyncCacheStore", AsyncCacheStore(None, capacity=2 * SESSIONS)),
        (
            "AsyncLayeredStore(cache, memory)",
            AsyncLayeredStore(AsyncCacheStore(None, capacity=2 * SESSIONS), AsyncInMemoryStore()),
        ),
    ]
    results = interleaved(
        {name: sync_ops(store, batch) for name, store in sync_stores()}, batch, repeats
    )
    for name, async_store in async_stores:
        results[name] = bench_async(async_store, batch, repeats)
    base = results[LockedDict.name]
    rows = [
        [
            name,
            f"{r['load']:.0f}",
            f"{r['load'] / base['load']:.2f}x",
            f"{r['save']:.0f}",
            f"{r['resave']:.0f}",
            f"{r['resave'] / base['resave']:.2f}x",
            f"{r['append']:.0f}",
            f"{r['append'] / base['append']:.2f}x",
        ]
        for name, r in results.items()
    ]
    table(
        f"median ns per op, 20-message conversation (Python {sys.version.split()[0]}); "
        "save: 20 messages never stored (each stamped with an id), resave: a loaded "
        "conversation (ids kept)",
        ["store", "load", "/base", "save", "resave", "/base", "append", "/base"],
        rows,
    )
    cache_base = results[LockedTTLCache.name]
    ratios = [
        (
            "InMemoryStore resave / dict+Lock save (target 2x)",
            results["InMemoryStore"]["resave"] / base["resave"],
        ),
        (
            "InMemoryStore append / dict+Lock append (target 2x)",
            results["InMemoryStore"]["append"] / base["append"],
        ),
        (
            "CacheStore resave / TTLCache+Lock save (target 1.5x)",
            results["CacheStore"]["resave"] / cache_base["resave"],
        ),
        (
            "CacheStore save / TTLCache+Lock save (target 1.5x)",
            results["CacheStore"]["save"] / cache_base["save"],
        ),
        (
            "async InMemory load / sync InMemory load",
            results["AsyncInMemoryStore"]["load"] / results["InMemoryStore"]["load"],
        ),
        (
            "CacheStore load / InMemoryStore load",
            results["CacheStore"]["load"] / results["InMemoryStore"]["load"],
        ),
        (
            "Layered load / CacheStore load (its first layer)",
            results["LayeredStore(cache, memory)"]["load"] / results["CacheStore"]["load"],
        ),
    ]
    table("ratios", ["ratio", "value"], [[name, f"{value:.2f}x"] for name, value in ratios])

    # Machines drift (CPU steal, frequency): interleave the thread counts over several
    # rounds and keep each one's median, so a slow minute hurts every column alike.
    thread_rows = []
    for name, _ in sync_stores():
        samples: dict[int, list[float]] = {1: [], 2: [], 4: []}
        for _round in range(rounds):
            for threads in samples:
                store = dict(sync_stores())[name]  # a fresh store per run
                samples[threads].append(threaded_ops_per_s(store, threads, seconds))
        figures = [statistics.median(samples[threads]) for threads in (1, 2, 4)]
        thread_rows.append(
            [name] + [f"{f / 1e6:.2f}M" for f in figures] + [f"{figures[2] / figures[0]:.2f}"]
        )
    table(
        f"ops/s, 90% load / 10% save over {SESSIONS:,} sessions (sync)",
        ["store", "1 thread", "2 threads", "4 threads", "4t/1t"],
        thread_rows,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
