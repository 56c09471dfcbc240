"""Data written by agent-session 0.1.0 (wire format 1) still loads, from every durable
store's layout: the committed fixtures of ``tests/fixtures/v1`` (see its README).

Format 1 messages carry no id and no time: they load with ``id`` and ``created_at``
None, their payload exactly as 0.1.0 returned it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from postgres_helpers import query
from redis_helpers import delete_prefix

from agent_session import (
    Conversation,
    Message,
    PostgresStore,
    RedisStore,
    SessionStore,
    SQLiteStore,
)
from agent_session.testing import FakeClock

FIXTURES = Path(__file__).with_name("fixtures") / "v1"
EXPECTED: dict[str, Any] = json.loads((FIXTURES / "expected.json").read_text(encoding="utf-8"))
READ_AT = EXPECTED["clock"]["read_at"]


def _pick(entry: dict[str, Any], field: str, store: str) -> Any:
    return entry[field] if field in entry else entry[field + "_by_store"][store]


def check_v1_data(store: SessionStore, kind: str, *, listings: bool = True) -> None:
    """Every fixture session loads as 0.1.0 returned it, and the store goes on writing."""
    for session_id, entry in EXPECTED["sessions"].items():
        loaded = store.load(session_id)
        assert loaded.to_dicts() == entry["messages"], session_id
        assert all(m.id is None and m.created_at is None for m in loaded), session_id
        meta = store.get_metadata(session_id)
        want = _pick(entry, "metadata", kind)
        assert (meta.message_count, meta.size_bytes, meta.version) == (
            want["message_count"],
            want["size_bytes"],
            want["version"],
        ), session_id
        assert (meta.created_at, meta.updated_at, meta.expires_at) == (
            want["created_at"],
            want["updated_at"],
            want["expires_at"],
        )
        assert dict(meta.labels) == dict(want["labels"]), session_id
        last = store.load(session_id, last=2).to_dicts()
        assert last == entry["messages"][-2:], session_id
    if listings:
        assert store.list_sessions() == EXPECTED["list_sessions"]
        found = store.find_sessions(labels={"tenant": "acme"}).items
        assert [m.session_id for m in found] == EXPECTED["find_sessions_tenant_acme"]
    # Format 1 and format 2 messages live side by side in one session.
    session_id = "chat-plain"
    store.append(session_id, Message("user", "and Spain?"))
    loaded = store.load(session_id)
    assert [m.id is None for m in loaded] == [True, True, True, False]
    popped = store.pop(session_id)
    assert popped is not None and popped.text == "and Spain?"
    popped = store.pop(session_id)
    assert (
        popped is not None and popped.to_dict() == EXPECTED["sessions"][session_id]["messages"][-1]
    )
    # Saved again, the old messages get ids like any new one.
    store.save(session_id, Conversation(loaded.messages[:2]))
    assert all(m.id is not None for m in store.load(session_id))


def test_sqlite_reads_a_v1_file(tmp_path: Path) -> None:
    copy = tmp_path / "v1.db"
    shutil.copyfile(FIXTURES / "sqlite_v1.db", copy)
    with SQLiteStore(copy, clock=FakeClock(READ_AT)) as store:
        check_v1_data(store, "sqlite")


@pytest.fixture
def v1_schema(postgres_dsn: str) -> Iterator[str]:
    if shutil.which("psql") is None:
        pytest.skip("psql is not installed")
    schema = f"v1_{uuid.uuid4().hex[:10]}"
    sql = (FIXTURES / "postgres_v1.sql").read_text(encoding="utf-8").replace("v1fixture", schema)
    subprocess.run(
        ["psql", "-v", "ON_ERROR_STOP=1", "-q", "-d", postgres_dsn, "-f", "-"],
        input=sql,
        text=True,
        check=True,
        capture_output=True,
    )
    yield schema
    query(postgres_dsn, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_postgres_reads_v1_tables(postgres_dsn: str, v1_schema: str) -> None:
    with PostgresStore(postgres_dsn, schema=v1_schema, clock=FakeClock(READ_AT)) as store:
        check_v1_data(store, "postgres")


@pytest.fixture
def v1_prefix(redis_url: str) -> Iterator[str]:
    data = json.loads((FIXTURES / "redis_v1.json").read_text(encoding="utf-8"))
    old, prefix = data["prefix"], f"test:v1{uuid.uuid4().hex[:8]}:"
    with redis.Redis.from_url(redis_url, decode_responses=True) as client:
        pipe = client.pipeline(transaction=False)
        for name, entry in data["keys"].items():
            name = prefix + name[len(old) :]
            kind, value = entry["type"], entry["value"]
            if kind == "hash":
                pipe.hset(name, mapping=value)
            elif kind == "list":
                pipe.rpush(name, *value)
            elif kind == "zset":
                pipe.zadd(name, {member: score for member, score in value})
            elif kind == "set":
                pipe.sadd(name, *value)
            if entry["pttl"] > 0:
                pipe.pexpire(name, entry["pttl"])
        pipe.execute()
    yield prefix
    delete_prefix(redis_url, prefix)


def test_redis_reads_v1_keys(redis_url: str, v1_prefix: str) -> None:
    # 0.1.0 named its index keys "<prefix>index:*" and "<prefix>label:*"; this release
    # names them "<prefix>{}index:*" (issue 7, defect 3), so 0.1.0's sessions load by id
    # but are not listed until written again.
    with RedisStore(redis_url, prefix=v1_prefix, clock=FakeClock(READ_AT)) as store:
        check_v1_data(store, "redis", listings=False)
