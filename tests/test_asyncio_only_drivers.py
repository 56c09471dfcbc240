"""Under trio, the asyncio-only stores refuse with a clear error instead of hanging."""

from __future__ import annotations

import pytest

from agent_session import AsyncPostgresStore, AsyncRedisStore


@pytest.fixture
def anyio_backend() -> str:
    return "trio"


async def test_redis_refuses_trio(redis_url: str) -> None:
    store = AsyncRedisStore(redis_url)
    with pytest.raises(RuntimeError, match="only asyncio"):
        await store.exists("s")


async def test_postgres_refuses_trio(postgres_dsn: str) -> None:
    store = AsyncPostgresStore(postgres_dsn)
    with pytest.raises(RuntimeError, match="only asyncio"):
        await store.exists("s")
