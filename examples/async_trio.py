"""The async API under trio: many tasks sharing one store, nothing lost.

Every store has an async twin (``AsyncInMemoryStore``, ``AsyncCacheStore``,
``AsyncSQLiteStore``, ``AsyncLayeredStore``...) that runs under asyncio and under
trio, through anyio. This example runs under trio (``anyio.run(...,
backend="trio")``) and shows, for each of those four stores:

- 50 tasks appending to one shared session at once, each turn a user message and
  its reply in one ``append``: the final count is exact, every reply directly
  follows its question, and each task's turns keep their order;
- ``async for`` over ``iter_sessions`` (ids in sorted order, constant memory);
- ``async with`` closing the store (calls after it raise ``StoreClosed``).

``AsyncSQLiteStore`` runs SQLite in worker threads, so the event loop never blocks.
Run: ``python examples/async_trio.py`` (needs trio: ``pip install trio``; exits 1
if anything is not as shown).
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from itertools import pairwise as pairs_of
from pathlib import Path

import anyio
import sniffio

from agent_session import (
    AsyncCacheStore,
    AsyncInMemoryStore,
    AsyncLayeredStore,
    AsyncSessionStore,
    AsyncSQLiteStore,
    Message,
    StoreClosed,
)

TASKS, TURNS = 50, 4


class Checks:
    """Prints each check as it runs and remembers the failed ones for ``main``'s exit code."""

    def __init__(self) -> None:
        self.failed: list[str] = []

    def equal(self, what: str, actual: object, expected: object) -> None:
        if actual == expected:
            print(f"    ok: {what} = {actual!r}")
        else:
            self.fail(f"{what}: got {actual!r}, expected {expected!r}")

    def true(self, what: str, condition: bool) -> None:
        if condition:
            print(f"    ok: {what}")
        else:
            self.fail(what)

    def fail(self, what: str) -> None:
        print(f"    FAILED: {what}")
        self.failed.append(what)


async def chat(store: AsyncSessionStore, task: int) -> None:
    """One task's conversation: TURNS turns in the shared room and in its own session."""
    for turn in range(TURNS):
        question = Message("user", f"task {task} turn {turn}")
        answer = Message("assistant", f"answer to task {task} turn {turn}")
        # Both messages in one append: they land together, nobody else's in between.
        await store.append("room", question, answer)
        await store.append(f"user-{task:02d}", question, answer)
        await anyio.sleep(0.005)  # the model thinking: the other tasks run meanwhile


async def exercise(store: AsyncSessionStore, checks: Checks) -> None:
    print(f"\n{store!r}: {TASKS} tasks x {TURNS} turns, all at once")
    async with store:  # closes the store on the way out, even on an error
        async with anyio.create_task_group() as tasks:
            for task in range(TASKS):
                tasks.start_soon(chat, store, task)

        room = await store.load("room")
        checks.equal("messages in the shared session", len(room), TASKS * TURNS * 2)
        pairs = [(room[i], room[i + 1]) for i in range(0, len(room) - 1, 2)]
        checks.true(
            "every reply directly follows its question",
            all(answer.content == f"answer to {question.content}" for question, answer in pairs),
        )
        writers = [question.text.split()[1] for question, _ in pairs]
        switches = sum(a != b for a, b in pairs_of(writers))
        print(f"  turns of different tasks interleave: {switches} changes of writer in a row")
        in_order = all(
            [q.text for q, _ in pairs if q.text.startswith(f"task {task} ")]
            == [f"task {task} turn {turn}" for turn in range(TURNS)]
            for task in range(TASKS)
        )
        checks.true("each task's turns in the order it wrote them", in_order)

        ids = []
        async for session_id in store.iter_sessions(prefix="user-"):
            ids.append(session_id)
        checks.equal("sessions found by async for over iter_sessions", len(ids), TASKS)
        checks.true("... in sorted order", ids == sorted(ids))
        if isinstance(store, AsyncLayeredStore):
            # Writes that overlapped on one session dropped its cached copy (a slower
            # one could otherwise leave an older copy behind): the load above read
            # SQLite and wrote the session back, so this one is a cache hit.
            await store.load("room")
            checks.equal("cache hits", store.stats()[0].hits, 1)
            for layer in store.stats():
                print(
                    f"  stats {layer.name:>6}: hits={layer.hits} misses={layer.misses} "
                    f"write_backs={layer.write_backs} failures={layer.failures}"
                )
    try:
        await store.exists("room")
    except StoreClosed:
        print("  `async with` closed it: calls now raise StoreClosed")
    else:
        checks.fail("a store closed by `async with` still answered")


async def main_async(checks: Checks) -> None:
    library = sniffio.current_async_library()
    print(f"Running under {library}")
    checks.equal("event loop", library, "trio")
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        makers: list[Callable[[], AsyncSessionStore]] = [
            AsyncInMemoryStore,
            lambda: AsyncCacheStore(ttl=300, capacity=1_000),
            lambda: AsyncSQLiteStore(folder / "sessions.db"),
            lambda: AsyncLayeredStore(
                AsyncCacheStore(ttl=300), AsyncSQLiteStore(folder / "layered.db")
            ),
        ]
        for make in makers:
            await exercise(make(), checks)


def main() -> int:
    checks = Checks()
    anyio.run(main_async, checks, backend="trio")
    if checks.failed:
        print(f"\n{len(checks.failed)} check(s) FAILED:")
        for what in checks.failed:
            print(f"  - {what}")
        return 1
    print("\nAll checks passed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
