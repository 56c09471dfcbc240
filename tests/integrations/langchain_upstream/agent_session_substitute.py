"""A pytest plugin that runs langchain-core's own chat-history tests against our class.

Loaded by ``noxfiles/langchain.py`` with ``-p agent_session_substitute`` in the
extracted langchain-core sdist, before any of its test modules is imported: it puts
:class:`UpstreamHistory` (our ``AgentSessionChatMessageHistory``, with the
constructor of LangChain's ``InMemoryChatMessageHistory``) in place of
``langchain_core.chat_history.InMemoryChatMessageHistory``, so every test that uses
LangChain's reference history uses ours. Their conftests (the ``blockbuster``
blocking-call detector included) stay in force. Never collected by our own test run
(the name does not start with ``test_``).

The store comes from ``AGENT_SESSION_LANGCHAIN_STORE``: ``memory``, ``sqlite``,
``postgresql`` or ``redis`` (the servers of ``AGENT_SESSION_POSTGRES_DSN`` and
``AGENT_SESSION_REDIS_URL``), with a table or key prefix of this run's own,
removed at the end.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import langchain_core.chat_history
import pytest
from langchain_core.messages import BaseMessage

from agent_session import AsyncSessionStore, SessionStore, open_async_store, open_store
from agent_session.integrations.langchain import AgentSessionChatMessageHistory

KIND = os.environ.get("AGENT_SESSION_LANGCHAIN_STORE", "memory")
POSTGRES_DSN = os.environ.get(
    "AGENT_SESSION_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("AGENT_SESSION_REDIS_URL", "redis://127.0.0.1:6379/15")
RUN = uuid.uuid4().hex[:10]
TABLE_PREFIX = f"lcup_{RUN}_"
_tmp = tempfile.TemporaryDirectory(prefix="agent-session-lc-")


def _url() -> str:
    if KIND == "memory":
        return "memory://"
    if KIND == "sqlite":
        return f"sqlite:///{_tmp.name}/history.db"
    if KIND == "postgresql":
        separator = "&" if "?" in POSTGRES_DSN else "?"
        return f"{POSTGRES_DSN}{separator}table_prefix={TABLE_PREFIX}"
    if KIND == "redis":
        separator = "&" if "?" in REDIS_URL else "?"
        return f"{REDIS_URL}{separator}prefix=test:lcup{RUN}:"
    raise ValueError(
        f"AGENT_SESSION_LANGCHAIN_STORE={KIND!r}: use memory, sqlite, postgresql or redis"
    )


URL = _url()
# One pair of stores for every history, as an application shares them; the memory
# store alone serves both flavours (an async twin would be another, empty store).
SYNC_STORE: SessionStore = open_store(URL)
ASYNC_STORE: AsyncSessionStore | None = None if KIND == "memory" else open_async_store(URL)


#: How many histories of ours the tests made: none would mean the substitution failed.
made = 0
#: The tests that made one, and those that did not (they test LangChain's base class).
using: list[str] = []
not_using: list[str] = []


class UpstreamHistory(AgentSessionChatMessageHistory):
    # Our class's docstring, which says what LangChain deprecated and where to go.
    __doc__ = AgentSessionChatMessageHistory.__doc__

    def __init__(self, messages: Sequence[BaseMessage] = (), **kwargs: Any) -> None:
        """``InMemoryChatMessageHistory(messages=[...])``: a new session of its own."""
        if kwargs:
            raise TypeError(f"unexpected arguments {sorted(kwargs)}")
        global made
        super().__init__(f"lc-{uuid.uuid4().hex}", SYNC_STORE, async_store=ASYNC_STORE)
        made += 1
        if messages:
            self.add_messages(messages)

    # InMemoryChatMessageHistory is a pydantic model: equal when its messages are.
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, UpstreamHistory):
            return NotImplemented
        return self.messages == other.messages

    __hash__ = None  # type: ignore[assignment]  # mutable, like the pydantic model


langchain_core.chat_history.InMemoryChatMessageHistory = UpstreamHistory  # type: ignore[misc, assignment]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    before = made
    try:
        return (yield)
    finally:
        (using if made > before else not_using).append(item.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if made == 0 and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED  # they ran LangChain's class


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminalreporter.write_line(
        f"agent-session: {made} AgentSessionChatMessageHistory objects stood in for "
        f"InMemoryChatMessageHistory, on {URL}, in {len(using)} tests; "
        f"{len(not_using)} tests used none of them:"
    )
    for nodeid in not_using:
        terminalreporter.write_line(f"    {nodeid}")


def pytest_unconfigure() -> None:
    """Remove what the run stored, and close the stores."""
    try:
        SYNC_STORE.clear()
        SYNC_STORE.close()
        if ASYNC_STORE is not None:
            # On a loop of its own: every test's loop is closed by now. A failure here
            # is the store's (closing from another loop), not LangChain's tests': said.
            try:
                asyncio.run(ASYNC_STORE.aclose())
            except Exception as exc:  # noqa: BLE001  # reported; the run's result stands
                print(
                    f"agent-session: {type(ASYNC_STORE).__name__}.aclose() on a new event "
                    f"loop failed: {type(exc).__name__}: {exc}",
                    file=sys.stderr,
                )
    finally:
        if KIND == "postgresql":
            import psycopg

            tables = ", ".join(f'"{TABLE_PREFIX}{t}"' for t in ("messages", "sessions", "schema"))
            with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
                conn.execute(f"DROP TABLE IF EXISTS {tables} CASCADE".encode())
        _tmp.cleanup()
