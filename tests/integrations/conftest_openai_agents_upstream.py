"""A pytest plugin for the OpenAI Agents SDK's own session tests: ``SQLiteSession`` is ours.

Not a test module and not a ``conftest.py``, so this repository's test run never loads
it. ``nox -f noxfiles/openai_agents.py`` runs the published sdist's tests with
``-p conftest_openai_agents_upstream`` (this folder on ``PYTHONPATH``): on import it puts
:class:`UpstreamSQLiteSession`, an :class:`AgentSession` with ``SQLiteSession``'s
constructor, where ``from agents import SQLiteSession`` and ``from agents.memory import
SQLiteSession`` find it. ``AGENT_SESSION_UPSTREAM_STORE`` picks the store under it:

- ``sqlite`` (default): an ``AsyncSQLiteStore`` on the test's ``db_path``;
- ``memory``: one ``AsyncInMemoryStore`` per ``db_path`` (``":memory:"``: one per session);
- ``redis`` / ``postgres``: keys or tables of their own per ``db_path``, on the servers
  of ``AGENT_SESSION_REDIS_URL`` / ``AGENT_SESSION_POSTGRES_DSN``, removed at the end.

Sessions built on one ``db_path`` share their store's data, as two ``SQLiteSession``
objects on one file do. The table names ``SQLiteSession`` takes are ignored: the
stores have their own schema. The run fails if no test built one, so a test file that
stopped using ``SQLiteSession`` cannot pass vacuously.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import uuid
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any

import agents
import agents.memory
import pytest
from agents.memory import SessionSettings

from agent_session import (
    AsyncInMemoryStore,
    AsyncPostgresStore,
    AsyncRedisStore,
    AsyncSessionStore,
    AsyncSQLiteStore,
)
from agent_session.integrations.openai_agents import AgentSession

KIND = os.environ.get("AGENT_SESSION_UPSTREAM_STORE", "sqlite")
KINDS = ("sqlite", "memory", "redis", "postgres")
REDIS_URL = os.environ.get("AGENT_SESSION_REDIS_URL", "redis://127.0.0.1:6379/15")
POSTGRES_DSN = os.environ.get(
    "AGENT_SESSION_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)
if KIND not in KINDS:
    raise ValueError(f"AGENT_SESSION_UPSTREAM_STORE must be one of {KINDS}, not {KIND!r}")

# Everything this run writes to a server is under this tag, and removed at the end.
RUN = uuid.uuid4().hex[:8]
_memory_stores: dict[str, AsyncInMemoryStore] = {}
_built = 0
# Which tests built one of ours, and how each ended: the summary counts only those.
_current_test = ""
_users: dict[str, str] = {}
_deferred: list[AsyncSessionStore] = []


def _tag(db_path: str | os.PathLike[str]) -> str:
    """A short name for one ``db_path``; a new one each time for ``":memory:"``."""
    if str(db_path) == ":memory:":
        return uuid.uuid4().hex[:12]
    resolved = str(Path(db_path).expanduser().resolve())
    return hashlib.sha256(resolved.encode()).hexdigest()[:12]


def _store_for(db_path: str | os.PathLike[str]) -> tuple[AsyncSessionStore, bool]:
    """The store a ``SQLiteSession(..., db_path)`` stands for, and whether it owns it."""
    if KIND == "sqlite":
        return AsyncSQLiteStore(db_path), True
    if KIND == "memory":
        if str(db_path) == ":memory:":
            return AsyncInMemoryStore(), True
        key = str(Path(db_path).expanduser().resolve())
        return _memory_stores.setdefault(key, AsyncInMemoryStore()), False
    if KIND == "redis":
        return AsyncRedisStore(REDIS_URL, prefix=f"upstream:{RUN}:{_tag(db_path)}:"), True
    return AsyncPostgresStore(POSTGRES_DSN, table_prefix=f"up_{RUN}_{_tag(db_path)}_"), True


def _run_in_thread(work: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``work()`` to the end on an event loop of its own, from sync code or async."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(work())
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(timeout=30)
    if thread.is_alive():
        raise TimeoutError("closing the store took more than 30 s")
    if errors:
        raise errors[0]


class UpstreamSQLiteSession(AgentSession):
    """:class:`AgentSession` with ``SQLiteSession``'s constructor and its sync ``close()``."""

    def __init__(
        self,
        session_id: str,
        db_path: str | os.PathLike[str] = ":memory:",
        sessions_table: str = "agent_sessions",
        messages_table: str = "agent_messages",
        session_settings: SessionSettings | Mapping[str, Any] | None = None,
    ) -> None:
        global _built
        store, self._owns = _store_for(db_path)
        self.db_path = db_path
        super().__init__(session_id, store, session_settings=session_settings)
        _built += 1
        _users.setdefault(_current_test, "passed")

    def close(self) -> None:
        """Close the store (on a loop of its own: ``SQLiteSession.close`` is sync)."""
        if not self._owns:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            _run_in_thread(self.store.aclose)
            return
        if KIND == "sqlite":  # now: the test removes the file's folder next
            _run_in_thread(self.store.aclose)
        else:
            # A server store closes its client on the loop that made it, and that loop is
            # this thread's, blocked in this sync call: close it when the run ends.
            _deferred.append(self.store)


agents.SQLiteSession = UpstreamSQLiteSession  # type: ignore[misc, assignment]
agents.memory.SQLiteSession = UpstreamSQLiteSession  # type: ignore[misc, assignment]


def pytest_report_header() -> str:
    return (
        f"SQLiteSession is agent_session's {UpstreamSQLiteSession.__name__} "
        f"over the {KIND!r} store (AGENT_SESSION_UPSTREAM_STORE)"
    )


def _drop_server_data() -> None:
    if KIND == "redis":
        import redis

        with redis.Redis.from_url(REDIS_URL) as client:
            keys = list(client.scan_iter(match=f"upstream:{RUN}:*", count=1000))
            if keys:
                client.delete(*keys)
    elif KIND == "postgres":
        import psycopg

        with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) "
                "FROM information_schema.tables WHERE table_name LIKE %s",
                (f"up\\_{RUN}\\_%",),
            ).fetchall()
            if rows:
                conn.execute(f"DROP TABLE IF EXISTS {', '.join(r[0] for r in rows)} CASCADE")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    for store in _deferred:
        _run_in_thread(store.aclose)
    _drop_server_data()
    if _built == 0 and exitstatus == pytest.ExitCode.OK:
        # Nothing ran against our class: a pass would say nothing about it.
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_runtest_logstart(nodeid: str) -> None:
    global _current_test
    _current_test = nodeid


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.nodeid in _users and _users[report.nodeid] == "passed":
        if report.failed or report.skipped:
            _users[report.nodeid] = report.outcome


def pytest_terminal_summary(terminalreporter: Any) -> None:
    outcomes = list(_users.values())
    counts = ", ".join(f"{outcomes.count(o)} {o}" for o in ("passed", "failed", "skipped"))
    terminalreporter.write_line(
        f"agent_session: {len(_users)} tests built {_built} {UpstreamSQLiteSession.__name__} "
        f"objects over the {KIND!r} store in place of SQLiteSession: {counts}"
    )
