"""Fail an async test whose agent-session code blocks the event loop (blockbuster).

Active for every test under ``tests/_async`` (the contract suite included); registered
by ``tests/conftest.py``. blockbuster patches the blocking calls (sockets, files,
``os.stat``, ``time.sleep``, ``sqlite3``, ``input``, an explicit ``Lock.acquire`` that
would wait) to raise ``BlockingError`` when they run on a thread with a running asyncio
event loop and agent-session code on the stack. So a worker thread (the SQLite store's
``arun_blocking``) may block, and so may the test's own code (a blocking client peeking
at Redis). Not checked: code under trio (blockbuster knows asyncio's loops only), and a
``with lock:`` (it enters the lock without the patched ``acquire``): the locks of the
in-memory stores guard dict updates only, by design.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from blockbuster import BlockBuster, blockbuster_ctx

ASYNC_TESTS = Path(__file__).parent / "_async"


@contextmanager
def no_blocking_calls() -> Iterator[BlockBuster]:
    """blockbuster on agent-session's code while in the block."""
    with blockbuster_ctx(["agent_session"]) as buster:
        yield buster


@pytest.fixture(autouse=True)
def _no_blocking_calls(request: pytest.FixtureRequest) -> Iterator[None]:
    if ASYNC_TESTS not in request.node.path.parents:
        yield
        return
    with no_blocking_calls():
        yield
