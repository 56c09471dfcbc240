"""The async API under trio (through anyio): many tasks, one store, nothing lost.

Shows: AsyncSQLiteStore (SQLite off the event loop, in worker threads),
AsyncCacheStore and AsyncLayeredStore under trio; 50 tasks appending to one
session concurrently with an exact final count; ``async with`` closing the
store; ``async for`` over ``iter_sessions``. Run: python examples/async_trio.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import anyio

from agent_session import (
    AsyncCacheStore,
    AsyncLayeredStore,
    AsyncSessionStore,
    AsyncSQLiteStore,
    Message,
    StoreClosed,
)

TASKS, TURNS = 50, 4
problems: list[str] = []


def check(ok: bool, what: str) -> None:
    print(f"  {'ok ' if ok else 'FAIL'} {what}")
    if not ok:
        problems.append(what)


async def chat(store: AsyncSessionStore, task: int) -> None:
    for turn in range(TURNS):
        await store.append("room", Message("user", f"task {task} turn {turn}"))
        await store.append(f"private-{task:02d}", Message("assistant", f"turn {turn}"))


async def exercise(store: AsyncSessionStore) -> None:
    print(f"{type(store).__name__}: {TASKS} tasks x {TURNS} turns")
    async with anyio.create_task_group() as group:
        for task in range(TASKS):
            group.start_soon(chat, store, task)
    room = await store.load("room")
    check(len(room) == TASKS * TURNS, f"the shared session holds all {len(room)} messages")
    mine = [m.content for m in room if (m.content or "").startswith("task 7 ")]
    check(mine == [f"task 7 turn {t}" for t in range(TURNS)], "each task's turns in order")
    ids = [session_id async for session_id in store.iter_sessions(prefix="private-")]
    check(len(ids) == TASKS and ids == sorted(ids), f"iter_sessions: {len(ids)} private sessions")


async def main_async() -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "sessions.db"
        async with AsyncSQLiteStore(path) as sqlite_store:
            await exercise(sqlite_store)
        try:
            await sqlite_store.load("room")
            check(False, "a closed store must refuse calls")
        except StoreClosed:
            check(True, "async with closed the store")
        async with AsyncCacheStore(ttl=300, capacity=1000) as cache:
            await exercise(cache)
        layered = AsyncLayeredStore(AsyncCacheStore(ttl=300), AsyncSQLiteStore(path))
        async with layered:
            await layered.clear()
            await exercise(layered)
            print(f"  layer stats: {layered.stats()}")


def main() -> int:
    anyio.run(main_async, backend="trio")
    print("all good" if not problems else f"{len(problems)} problem(s): {problems}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
