"""Optional drivers, imported on first use so ``import agent_session`` never needs them.

Each loader comes as an async/sync pair (``aredis_driver`` / ``redis_driver``) so
the generated sync half picks the blocking driver with one table entry.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

__all__ = [
    "DriverInfo",
    "apostgres_driver",
    "aredis_driver",
    "postgres_driver",
    "redis_driver",
]

DriverInfo = tuple[Any, tuple[type[BaseException], ...]]


def _load(module: str, extra: str, store: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{store} needs the {module.split('.')[0]} driver: pip install 'agent-session[{extra}]'"
        ) from exc


def aredis_driver() -> DriverInfo:
    """``redis.asyncio`` and the exceptions that mean the backend failed."""
    module = _load("redis.asyncio", "redis", "RedisStore")
    exceptions = _load("redis.exceptions", "redis", "RedisStore")
    return module, (exceptions.RedisError, OSError)


def redis_driver() -> DriverInfo:
    """``redis`` (blocking) and the exceptions that mean the backend failed."""
    module = _load("redis", "redis", "RedisStore")
    exceptions = _load("redis.exceptions", "redis", "RedisStore")
    return module, (exceptions.RedisError, OSError)


def apostgres_driver() -> DriverInfo:
    """``psycopg_pool.AsyncConnectionPool``'s module and the failure exceptions."""
    pool = _load("psycopg_pool", "postgres", "PostgresStore")
    psycopg = _load("psycopg", "postgres", "PostgresStore")
    return (psycopg, pool, pool.AsyncConnectionPool), (psycopg.Error, pool.PoolTimeout, OSError)


def postgres_driver() -> DriverInfo:
    """``psycopg_pool.ConnectionPool``'s module and the failure exceptions."""
    pool = _load("psycopg_pool", "postgres", "PostgresStore")
    psycopg = _load("psycopg", "postgres", "PostgresStore")
    return (psycopg, pool, pool.ConnectionPool), (psycopg.Error, pool.PoolTimeout, OSError)
