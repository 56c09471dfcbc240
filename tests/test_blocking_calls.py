"""The blocking-call detector the async tests run under (``tests/blockbuster_plugin.py``)
catches agent-session code blocking the event loop, and only that.

Hand-written, asyncio only: blockbuster watches asyncio's event loops.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from blockbuster import BlockingError
from blockbuster_plugin import no_blocking_calls

from agent_session import AsyncSQLiteStore, Message
from agent_session._concurrency import arun_blocking, run_blocking


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def detector() -> Iterator[None]:
    with no_blocking_calls():
        yield


def nap() -> None:
    time.sleep(0)


@pytest.mark.usefixtures("detector")
async def test_agent_session_code_sleeping_on_the_loop_fails() -> None:
    with pytest.raises(BlockingError, match="time.sleep"):
        run_blocking(time.sleep, 0)  # an agent-session frame, on the loop's thread
    await arun_blocking(time.sleep, 0.001)  # a worker thread: allowed
    nap()  # the test's own code: not what is checked


@pytest.mark.usefixtures("detector")
async def test_sqlite_runs_in_a_worker_thread_never_on_the_loop() -> None:
    async with AsyncSQLiteStore(":memory:") as store:
        await store.append("s", Message("user", "x"))  # through the store: a worker thread
        assert await store.exists("s")
        with pytest.raises(BlockingError, match="sqlite3"):
            store._engine.exists("s")  # the engine called right on the loop
