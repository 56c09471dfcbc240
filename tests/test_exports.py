"""The public names of ``agent_session``, and importing it without the optional drivers."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import agent_session

# SPEC section 1: every store twice, the interfaces, and the shared types.
SPEC_NAMES = {
    "AsyncInMemoryStore",
    "InMemoryStore",
    "AsyncCacheStore",
    "CacheStore",
    "AsyncLayeredStore",
    "LayeredStore",
    "AsyncSQLiteStore",
    "SQLiteStore",
    "AsyncPostgresStore",
    "PostgresStore",
    "AsyncRedisStore",
    "RedisStore",
    "AsyncSessionStore",
    "SessionStore",
    "Conversation",
    "Message",
    "SessionMetadata",
    "Page",
    "LayerStats",
    "DEFAULT",
    "open_store",
    "open_async_store",
    "SessionError",
    "SessionNotFound",
    "SessionExpired",
    "InvalidSessionId",
    "VersionConflict",
    "CapacityExceeded",
    "SerializationError",
    "BackendError",
    "StoreClosed",
}


def test_all_is_sorted_and_unique() -> None:
    names = agent_session.__all__
    assert list(names) == sorted(names)
    assert len(set(names)) == len(names)


def test_every_name_in_all_is_importable() -> None:
    namespace: dict[str, object] = {}
    exec("from agent_session import *", namespace)
    for name in agent_session.__all__:
        assert hasattr(agent_session, name), name
        assert namespace[name] is getattr(agent_session, name), name


def test_the_spec_names_are_public() -> None:
    assert SPEC_NAMES <= set(agent_session.__all__)


def test_public_classes_belong_to_agent_session() -> None:
    classes = [getattr(agent_session, n) for n in agent_session.__all__]
    classes = [c for c in classes if isinstance(c, type)]
    assert len(classes) >= 25
    for cls in classes:
        assert cls.__module__ == "agent_session", cls
        assert repr(cls) == f"<class 'agent_session.{cls.__name__}'>"


def test_each_sync_class_is_the_twin_of_an_async_one() -> None:
    for name in agent_session.__all__:
        if name.startswith("Async"):
            assert name[len("Async") :] in agent_session.__all__, name


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_import_without_the_drivers() -> None:
    # A None entry in sys.modules makes `import psycopg` / `import redis` raise ImportError.
    result = _run(
        """
        import sys
        sys.modules["psycopg"] = None
        sys.modules["redis"] = None
        import agent_session
        print(len(agent_session.__all__))
        """
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == len(agent_session.__all__)


def test_driverless_stores_work_and_driver_stores_say_which_extra() -> None:
    result = _run(
        """
        import sys
        for name in ("psycopg", "psycopg_pool", "redis"):
            sys.modules[name] = None
        import agent_session
        agent_session.SQLiteStore(":memory:").close()
        agent_session.InMemoryStore().close()
        for make, extra in [
            (lambda: agent_session.RedisStore("redis://localhost"), "agent-session[redis]"),
            (lambda: agent_session.PostgresStore("postgresql://x"), "agent-session[postgres]"),
        ]:
            try:
                make()
            except ImportError as e:
                assert extra in str(e), e
            else:
                raise SystemExit("no ImportError for " + extra)
        """
    )
    assert result.returncode == 0, result.stderr
