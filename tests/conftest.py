"""Shared fixtures: the async backends, and the PostgreSQL and Redis servers; the
``async_only`` marker."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from redis_helpers import PrivateCluster

pytest_plugins = ["blockbuster_plugin"]

REQUIRE_SERVICES = os.environ.get("AGENT_SESSION_REQUIRE_SERVICES") == "1"
POSTGRES_DSN = os.environ.get(
    "AGENT_SESSION_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("AGENT_SESSION_REDIS_URL", "redis://127.0.0.1:6379/15")
SYNC_TESTS = Path(__file__).parent / "_sync"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the generated sync copy of every test marked ``async_only``."""
    drop = [
        item
        for item in items
        if SYNC_TESTS in item.path.parents and item.get_closest_marker("async_only")
    ]
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = [item for item in items if item not in drop]


@pytest.fixture(params=[pytest.param("asyncio", id="asyncio"), pytest.param("trio", id="trio")])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    # Explicit: anyio's default would silently drop trio if it were missing.
    return str(request.param)


def _require(name: str, url: str, default_port: int, env: str) -> str:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError as exc:
        message = f"{name} not reachable at {host}:{port} ({exc}): set {env} or start it"
        if REQUIRE_SERVICES:
            pytest.fail(message + " (AGENT_SESSION_REQUIRE_SERVICES=1)")
        pytest.skip(message)
    return url


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    """The PostgreSQL DSN to test against; skips (or fails in CI) when it is down."""
    return _require("PostgreSQL", POSTGRES_DSN, 5432, "AGENT_SESSION_POSTGRES_DSN")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis URL to test against; skips (or fails in CI) when it is down."""
    return _require("Redis", REDIS_URL, 6379, "AGENT_SESSION_REDIS_URL")


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateCluster]:
    """A private 3-master Redis Cluster for the session (tests/redis_helpers.py); skips
    (or fails in CI) when it cannot start. Its processes are killed at the end."""
    from redis_helpers import private_cluster  # here: redis-py is an optional extra

    yield from private_cluster(str(tmp_path_factory.mktemp("redis-cluster")), REQUIRE_SERVICES)
