# This file is generated from _async/test_payload_fixtures.py by scripts/unasync.py: do not edit.
"""Every payload the real frameworks produce comes back unchanged through every store.

The payloads in ``tests/fixtures/payloads`` were made by the ``openai``, ``anthropic``,
``langchain-core`` and ``openai-agents`` packages themselves
(``scripts/make_payload_fixtures.py``). Each store gets all of them through ``save``,
``append`` one by one, ``load``, ``load(last=N)`` and ``pop``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent_session import (
    CacheStore,
    InMemoryStore,
    LayeredStore,
    PostgresStore,
    RedisStore,
    SessionStore,
    SQLiteStore,
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
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SessionStore]:
    kind = request.param
    made: SessionStore
    if kind == "memory":
        made = InMemoryStore()
    elif kind == "cache":
        made = CacheStore(None)
    elif kind == "layered":
        made = LayeredStore(CacheStore(None), SQLiteStore(tmp_path / "l.db"))
    elif kind == "sqlite":
        made = SQLiteStore(tmp_path / "s.db")
    elif kind == "redis":
        prefix = f"test:fx{uuid.uuid4().hex[:8]}:"
        made = RedisStore(request.getfixturevalue("redis_url"), prefix=prefix)
    else:
        prefix = f"fx{uuid.uuid4().hex[:8]}_"
        made = PostgresStore(request.getfixturevalue("postgres_dsn"), table_prefix=prefix)
    try:
        yield made
    finally:
        made.clear()
        if kind == "postgres":
            from postgres_helpers import drop_tables

            drop_tables(request.getfixturevalue("postgres_dsn"), prefix)
        made.close()


@pytest.mark.parametrize("source", SOURCES)
def test_every_payload_comes_back_unchanged(store: SessionStore, source: str) -> None:
    expected = payloads(source)
    assert expected, source
    store.save("saved", Conversation([Message.from_dict(p) for p in expected]))
    for payload in expected:
        store.append("appended", Message.from_dict(payload))
    for session_id in ("saved", "appended"):
        loaded = store.load(session_id)
        assert loaded.to_dicts() == expected
        assert len({m.id for m in loaded}) == len(expected)  # each has an id of its own
        assert (store.load(session_id, last=5)).to_dicts() == expected[-5:]
    popped = []
    while (message := store.pop("saved")) is not None:
        popped.append(message.to_dict())
    assert popped == expected[::-1]
    # What a load handed out can be changed at will: the store is untouched.
    loaded = store.load("appended")
    for data in loaded.to_dicts():
        data.clear()
    assert (store.load("appended")).to_dicts() == expected
