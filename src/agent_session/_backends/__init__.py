"""The backend engines, one module per store family, below the stores' public classes.

- ``striped``: the lock-striped in-process core of ``InMemoryStore`` and ``CacheStore``;
- ``layering``: ``LayeredStore``'s bookkeeping (layer health, stats);
- ``sqlite``: the SQLite engine (schema, migrations, one connection behind a lock);
- ``postgres``: the PostgreSQL schema, migrations and SQL, and the psycopg loader;
- ``redis``: the Redis Lua scripts and key layout, and the redis-py loader.

The engines are shared by the async and sync halves (``_async/``, ``_sync/``), which
only differ in how they wait.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

__all__ = ["DriverInfo", "import_driver"]

#: A loaded driver and the exceptions that mean "the backend failed" (mapped to BackendError).
DriverInfo = tuple[Any, tuple[type[BaseException], ...]]


def import_driver(module: str, extra: str, store: str) -> ModuleType:
    """Import an optional driver on first use, so ``import agent_session`` never needs it.

    :raises ImportError: naming the extra to install
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{store} needs the {module.split('.')[0]} driver: pip install 'agent-session[{extra}]'"
        ) from exc
