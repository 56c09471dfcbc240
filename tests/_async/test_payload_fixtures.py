"""Every payload the real frameworks produce comes back unchanged through every store.

The payloads in ``tests/fixtures/payloads`` were made by the ``openai``, ``anthropic``,
``langchain-core`` and ``openai-agents`` packages themselves
(``scripts/make_payload_fixtures.py``). Each store gets all of them through ``save``,
``append`` one by one, ``load``, ``load(last=N)`` and ``pop``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agent_session import (
    AsyncCacheStore,
    AsyncInMemoryStore,
    AsyncLayeredStore,
    AsyncPostgresStore,
    AsyncRedisStore,
    AsyncSessionStore,
    AsyncSQLiteStore,
    Conversation,
    Message,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "payloads"
SOURCES = sorted(path.stem for path in FIXTURES.glob("*.json"))


def payloads(source: str) -> list[dict[str, Any]]:
    data = json.loads((FIXTURES / f"{source}.json").read_text(encoding="utf-8"))
    return [entry["payload"] for entry in data["payloads"]]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the Redis and PostgreSQL async drivers need it; trio: the contract


@pytest.fixture(params=["memory", "cache", "layered", "sqlite", "redis", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncSessionStore]:
    kind = request.param
    made: AsyncSessionStore
    if kind == "memory":
        made = AsyncInMemoryStore()
    elif kind == "cache":
        made = AsyncCacheStore(None)
    elif kind == "layered":
        made = AsyncLayeredStore(AsyncCacheStore(None), AsyncSQLiteStore(tmp_path / "l.db"))
    elif kind == "sqlite":
        made = AsyncSQLiteStore(tmp_path / "s.db")
    elif kind == "redis":
        prefix = f"test:fx{uuid.uuid4().hex[:8]}:"
        made = AsyncRedisStore(request.getfixturevalue("redis_url"), prefix=prefix)
    else:
        prefix = f"fx{uuid.uuid4().hex[:8]}_"
        made = AsyncPostgresStore(request.getfixturevalue("postgres_dsn"), table_prefix=prefix)
    try:
        yield made
    finally:
        await made.clear()
        if kind == "postgres":
            from postgres_helpers import drop_tables

            drop_tables(request.getfixturevalue("postgres_dsn"), prefix)
        await made.aclose()


@pytest.mark.parametrize("source", SOURCES)
async def test_every_payload_comes_back_unchanged(store: AsyncSessionStore, source: str) -> None:
    expected = payloads(source)
    assert expected, source
    await store.save("saved", Conversation([Message.from_dict(p) for p in expected]))
    for payload in expected:
        await store.append("appended", Message.from_dict(payload))
    for session_id in ("saved", "appended"):
        loaded = await store.load(session_id)
        assert loaded.to_dicts() == expected
        assert len({m.id for m in loaded}) == len(expected)  # each has an id of its own
        assert (await store.load(session_id, last=5)).to_dicts() == expected[-5:]
    popped = []
    while (message := await store.pop("saved")) is not None:
        popped.append(message.to_dict())
    assert popped == expected[::-1]
    # What a load handed out can be changed at will: the store is untouched.
    loaded = await store.load("appended")
    for data in loaded.to_dicts():
        data.clear()
    assert (await store.load("appended")).to_dicts() == expected
