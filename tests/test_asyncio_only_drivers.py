"""Under trio, the asyncio-only stores refuse with a clear error instead of hanging.

Hand-written: the generated sync tests have no event loop to refuse.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from agent_session import AsyncPostgresStore, AsyncRedisStore, Conversation, Message


@pytest.fixture
def anyio_backend() -> str:
    return "trio"


async def test_redis_refuses_trio_on_every_call(redis_url: str) -> None:
    store = AsyncRedisStore(redis_url)  # building it touches nothing
    calls: dict[str, Callable[[], Any]] = {
        "save": lambda: store.save("s", Conversation().add_user("x")),
        "append": lambda: store.append("s", Message("user", "x")),
        "load": lambda: store.load("s"),
        "pop": lambda: store.pop("s"),
        "get_metadata": lambda: store.get_metadata("s"),
        "exists": lambda: store.exists("s"),
        "delete": lambda: store.delete("s"),
        "touch": lambda: store.touch("s"),
        "list_sessions": lambda: store.list_sessions(),
        "find_sessions": lambda: store.find_sessions(),
        "purge_expired": lambda: store.purge_expired(),
        "clear": lambda: store.clear(),
        "aclose": lambda: store.aclose(),
    }
    for name, call in calls.items():
        with pytest.raises(RuntimeError, match="AsyncRedisStore supports only asyncio") as info:
            await call()
        assert "trio" in str(info.value), name
    with pytest.raises(RuntimeError, match="only asyncio"):
        async for _session_id in store.iter_sessions():
            pass


async def test_postgres_refuses_trio(postgres_dsn: str) -> None:
    store = AsyncPostgresStore(postgres_dsn)
    with pytest.raises(RuntimeError, match="only asyncio"):
        await store.exists("s")
