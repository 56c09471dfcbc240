"""Write the format-v1 fixtures in tests/fixtures/v1/ with agent-session 0.1.0 itself.

The fixtures are what release 0.1.0 (commit f068bbc, wire format version 1) actually
writes in each durable store's layout, so later releases can prove they still read it.
This script must run with the 0.1.0 code importable, never with a newer tree::

    git -C /work/main worktree add /tmp/v1tree f068bbc      # once; reuse it if it exists
    python3 -m venv /tmp/v1venv
    /tmp/v1venv/bin/pip install -q -e '/tmp/v1tree[postgres,redis]'
    /tmp/v1venv/bin/python scripts/make_v1_fixtures.py            # write the fixtures
    /tmp/v1venv/bin/python scripts/make_v1_fixtures.py --verify   # restore and re-read them

(the paths are this checkout's: the fixtures go to ``tests/fixtures/v1`` of the tree
holding this script, whatever the working directory, unless ``--out`` says otherwise).

It needs PostgreSQL (``--pg-dsn``, default ``postgresql://postgres@127.0.0.1:5432/test``,
with ``pg_dump`` and ``psql`` on PATH) and Redis (``--redis-url``, default
``redis://127.0.0.1:6379/14``; that database is FLUSHDB'ed first, so never point it at
a database holding anything of value). Everything it creates there is removed again:
the PostgreSQL schema ``v1fixture`` (and, with ``--verify``, a scratch database) and
the Redis keys under ``v1fixture:``.

Every store gets its own :class:`FakeClock` starting at 1_700_000_000.0 and the same
sequence of calls, so all output is deterministic; the one exception is the Redis
``pttl`` of keys with an expiry, read at dump time and rounded up to whole seconds.

Files written:

- ``sqlite_v1.db``: the database file of ``SQLiteStore`` (WAL checkpointed, VACUUMed);
- ``postgres_v1.sql``: ``pg_dump --schema=v1fixture`` of ``PostgresStore``'s tables;
- ``redis_v1.json``: every key ``RedisStore(prefix="v1fixture:")`` wrote: type, value, pttl;
- ``expected.json``: what 0.1.0's ``load`` / ``get_metadata`` return for each session.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import agent_session
from agent_session import (
    Conversation,
    Message,
    PostgresStore,
    RedisStore,
    SessionStore,
    SQLiteStore,
    ToolCall,
)
from agent_session.testing import FakeClock

COMMIT = "f068bbcb39f9faa94b7edab112b948ad19cd09b6"
START = 1_700_000_000.0
#: TTL of the labelled session: 10**9 s, so expires_at = 2_700_000_000.0 (year 2055),
#: far enough that even a reader using the real clock sees it live for decades.
TTL = 10**9
PG_SCHEMA = "v1fixture"
REDIS_PREFIX = "v1fixture:"
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "v1"
STORES = ("sqlite", "postgres", "redis")

# Session ids: plain ones, one with non-ASCII text, a space and a slash, and one with
# braces (the Redis store then tags its keys with a SHA-1 of the id instead of the id).
PLAIN = "chat-plain"
TOOLS = "tools/ünïcode ✓"
LABELLED = "labelled-ttl"
APPENDED = "team:{alpha}:appended"
EMPTY = "empty"

METADATA = {
    "trace": {"id": "tr-0001", "spans": [1, 2, 3], "sampled": True, "parent": None},
    "floats": [0.1, -0.0, 1e-07, 3.141592653589793, 1.5e300, -2.5, 100.0],
    "ints": [0, -1, 9007199254740993, 12345678901234567890],
    "text": "héllo wörld — 日本語 — עברית — 🦜🔧👩🏽‍💻 — e\u0301",
    "escapes": 'quote " backslash \\ newline \n tab \t nul \u0000 bell \u0007 ls \u2028',
    "ключ": {"深い": {"deeper": [{"emoji": "🎉"}, [], {}]}},
    "empty": "",
}


def _write_data(store: SessionStore, clock: FakeClock) -> dict[str, Any]:
    """The data set: the same calls on every store. Returns what pop() gave back."""
    # 1. A plain chat, saved in one go.
    chat = (
        Conversation.builder()
        .system("You are a terse assistant.")
        .user("What is the capital of France?")
        .assistant("Paris.")
        .build()
    )
    store.save(PLAIN, chat)
    clock.advance(1.5)

    # 2. Tools: assistant tool_calls (no content), tool results answering them by
    #    tool_call_id, `name` fields, and nested metadata with unicode, emoji and floats.
    tools = Conversation()
    tools.add_developer("Use the tools when asked about weather.", name="policy")
    tools.add_user("Weather in Zürich and 東京? ☔", name="alice", metadata={"lang": "de"})
    tools.add_assistant(
        None,
        tool_calls=[
            ToolCall("call_1", "get_weather", '{"city":"Zürich","unit":"°C"}'),
            ToolCall("call_2", "get_weather", '{"city": "東京"}'),
        ],
        metadata={"model": "gpt-x", "latency_s": 0.25, "usage": {"in": 12, "out": 30}},
    )
    tools.add_tool('{"temp": 3.5, "sky": "❄"}', tool_call_id="call_1", name="get_weather")
    tools.add_tool("", tool_call_id="call_2", name="get_weather", metadata={"error": None})
    tools.add_assistant("Zürich: 3.5 °C ❄. 東京: no data 🤷.", metadata=METADATA)
    store.save(TOOLS, tools)
    clock.advance(2.25)

    # 3. Labels (non-ASCII ones included) and a TTL far in the future.
    labelled = Conversation().add_user("Remember me.").add_assistant("Noted.")
    store.save(
        LABELLED,
        labelled,
        ttl=TTL,
        labels={"tenant": "acme", "env": "prod", "ünï": "✓ yes", "a": ""},
    )
    clock.advance(0.125)

    # 4. Created by append, appended to several times, popped once.
    store.append(APPENDED, Message("system", "Count with me."))
    clock.advance(1.0)
    store.append(APPENDED, Message("user", "one"), Message("assistant", "two"))
    clock.advance(1.0)
    store.append(APPENDED, Message("user", "three", metadata={"n": 3}))
    clock.advance(1.0)
    store.append(APPENDED, Message("assistant", "four"), Message("user", "five (to be popped)"))
    clock.advance(0.5)
    popped = store.pop(APPENDED)
    clock.advance(0.5)

    # 5. A session saved with no messages at all.
    store.save(EMPTY, Conversation())
    clock.advance(10.0)
    assert popped is not None
    return {"popped": popped.to_dict(), "read_at": clock.now}


SESSIONS = (PLAIN, TOOLS, LABELLED, APPENDED, EMPTY)


def _meta_dict(meta: agent_session.SessionMetadata) -> dict[str, Any]:
    return {
        "created_at": meta.created_at,
        "updated_at": meta.updated_at,
        "expires_at": meta.expires_at,
        "message_count": meta.message_count,
        "size_bytes": meta.size_bytes,
        "version": meta.version,
        # A list of pairs, not an object: the order the store returns them in is kept.
        "labels": [list(item) for item in meta.labels.items()],
    }


def read_back(store: SessionStore) -> dict[str, Any]:
    """What the store returns for every session: messages, metadata, listings."""
    sessions = {}
    for session_id in SESSIONS:
        sessions[session_id] = {
            "messages": store.load(session_id).to_dicts(),
            "metadata": _meta_dict(store.get_metadata(session_id)),
        }
    return {
        "sessions": sessions,
        "list_sessions": store.list_sessions(),
        "find_sessions": [m.session_id for m in store.find_sessions().items],
        "find_sessions_tenant_acme": [
            m.session_id for m in store.find_sessions(labels={"tenant": "acme"}).items
        ],
    }


# -- stores -------------------------------------------------------------------------------


def open_sqlite(path: Path, clock: FakeClock) -> SQLiteStore:
    return SQLiteStore(path, clock=clock)


def open_postgres(dsn: str, clock: FakeClock) -> PostgresStore:
    return PostgresStore(dsn, schema=PG_SCHEMA, clock=clock)


def open_redis(url: str, clock: FakeClock) -> RedisStore:
    return RedisStore(url, prefix=REDIS_PREFIX, clock=clock)


def finish_sqlite(path: Path, dest: Path) -> None:
    """Fold the WAL into the file, VACUUM it and copy the lone file to ``dest``."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("VACUUM")
        busy, _log, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0, "WAL checkpoint was blocked"
    finally:
        conn.close()
    # Closing the last connection removes both; an empty -wal or any -shm left over
    # holds nothing the file needs.
    wal, shm = Path(f"{path}-wal"), Path(f"{path}-shm")
    assert not wal.exists() or wal.stat().st_size == 0, f"{wal} still holds data"
    wal.unlink(missing_ok=True)
    shm.unlink(missing_ok=True)
    shutil.copyfile(path, dest)


def _psql(dsn: str, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn, *args],
        check=True,
        text=True,
        capture_output=True,
        **kwargs,
    )


def drop_pg_schema(dsn: str) -> None:
    _psql(dsn, "-c", f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")


def dump_postgres(dsn: str, dest: Path) -> None:
    """pg_dump the fixture schema; drop the psql ``\\restrict``/``\\unrestrict`` lines.

    pg_dump 15.14+ (and 13.22+, 14.19+, 16.10+, 17.6+) wraps its output in
    ``\\restrict <random key>`` ... ``\\unrestrict <key>``: psql older than those
    releases fails on them ("invalid command"), and the random key would change the
    file on every run. The dump is trusted (we wrote it), so the lines go.
    """
    out = subprocess.run(
        ["pg_dump", "-d", dsn, f"--schema={PG_SCHEMA}", "--no-owner", "--no-privileges"],
        check=True,
        text=True,
        capture_output=True,
    ).stdout
    lines = [
        line
        for line in out.splitlines(keepends=True)
        if not line.startswith(("\\restrict ", "\\unrestrict "))
    ]
    dest.write_text("".join(lines), encoding="utf-8")


def _redis_client(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, decode_responses=True)


def dump_redis(url: str, dest: Path) -> None:
    """Every key under the prefix as ``{"type", "value", "pttl"}``, then delete them."""
    client = _redis_client(url)
    try:
        keys: dict[str, Any] = {}
        for name in sorted(client.scan_iter(match=REDIS_PREFIX + "*", count=1000)):
            kind = client.type(name)
            if kind == "hash":
                value: Any = dict(sorted(client.hgetall(name).items()))
            elif kind == "list":
                value = client.lrange(name, 0, -1)
            elif kind == "zset":
                value = [[m, s] for m, s in client.zrange(name, 0, -1, withscores=True)]
            elif kind == "set":
                value = sorted(client.smembers(name))
            elif kind == "string":
                value = client.get(name)
            else:
                raise AssertionError(f"unexpected Redis type {kind!r} of {name!r}")
            pttl = client.pttl(name)
            # Read a moment after the store's PEXPIRE: round up to whole seconds so the
            # file does not change with the milliseconds the dump took.
            keys[name] = {
                "type": kind,
                "value": value,
                "pttl": -1 if pttl < 0 else math.ceil(pttl / 1000) * 1000,
            }
        data = {"prefix": REDIS_PREFIX, "keys": keys}
        dest.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def restore_redis(url: str, fixture: Path) -> None:
    """Recreate the dumped keys (replacing any of the same name)."""
    data = json.loads(fixture.read_text(encoding="utf-8"))
    client = _redis_client(url)
    try:
        pipe = client.pipeline(transaction=True)
        for name, entry in data["keys"].items():
            kind, value = entry["type"], entry["value"]
            pipe.delete(name)
            if kind == "hash":
                pipe.hset(name, mapping=value)
            elif kind == "list":
                pipe.rpush(name, *value)
            elif kind == "zset":
                pipe.zadd(name, {member: score for member, score in value})
            elif kind == "set":
                pipe.sadd(name, *value)
            elif kind == "string":
                pipe.set(name, value)
            else:
                raise AssertionError(f"unexpected Redis type {kind!r} of {name!r}")
            if entry["pttl"] > 0:
                pipe.pexpire(name, entry["pttl"])
        pipe.execute()
    finally:
        client.close()


def delete_redis_prefix(url: str) -> int:
    client = _redis_client(url)
    try:
        names = list(client.scan_iter(match=REDIS_PREFIX + "*", count=1000))
        return client.delete(*names) if names else 0
    finally:
        client.close()


def flush_redis_db(url: str) -> None:
    db = int((urlsplit(url).path or "/0").lstrip("/") or 0)
    if db in (0, 15):
        raise SystemExit(f"refusing to FLUSHDB Redis database {db}: use a scratch one (14)")
    client = _redis_client(url)
    try:
        client.flushdb()
    finally:
        client.close()


# -- commands -----------------------------------------------------------------------------


def _check_version() -> None:
    if agent_session.__version__ != "0.1.0":
        raise SystemExit(
            f"agent_session {agent_session.__version__} from {agent_session.__file__} is "
            "imported: these fixtures must be written by 0.1.0 (see this script's docstring)"
        )


def _merge(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One expected.json: shared values once, a per-store entry where stores differ."""
    first = results[STORES[0]]
    merged: dict[str, Any] = {"sessions": {}}
    for session_id in SESSIONS:
        entry: dict[str, Any] = {}
        for field in ("messages", "metadata"):
            values = {name: results[name]["sessions"][session_id][field] for name in STORES}
            if all(v == values[STORES[0]] for v in values.values()):
                entry[field] = values[STORES[0]]
            else:
                entry[field + "_by_store"] = values
        merged["sessions"][session_id] = entry
    for field in ("list_sessions", "find_sessions", "find_sessions_tenant_acme"):
        values = {name: results[name][field] for name in STORES}
        if all(v == first[field] for v in values.values()):
            merged[field] = first[field]
        else:
            merged[field + "_by_store"] = values
    return merged


def expected_for(expected: dict[str, Any], store: str) -> dict[str, Any]:
    """The per-store view of expected.json, in ``read_back``'s shape."""

    def pick(entry: dict[str, Any], field: str) -> Any:
        return entry[field] if field in entry else entry[field + "_by_store"][store]

    return {
        "sessions": {
            sid: {"messages": pick(e, "messages"), "metadata": pick(e, "metadata")}
            for sid, e in expected["sessions"].items()
        },
        **{
            field: pick(expected, field)
            for field in ("list_sessions", "find_sessions", "find_sessions_tenant_acme")
        },
    }


def make(out: Path, pg_dsn: str, redis_url: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, Any]] = {}
    extras: dict[str, dict[str, Any]] = {}

    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "sessions.db"
        clock = FakeClock(START)
        with open_sqlite(db_path, clock) as store:
            extras["sqlite"] = _write_data(store, clock)
            results["sqlite"] = read_back(store)
        finish_sqlite(db_path, out / "sqlite_v1.db")

    drop_pg_schema(pg_dsn)
    try:
        clock = FakeClock(START)
        with open_postgres(pg_dsn, clock) as pg_store:
            extras["postgres"] = _write_data(pg_store, clock)
            results["postgres"] = read_back(pg_store)
        dump_postgres(pg_dsn, out / "postgres_v1.sql")
    finally:
        drop_pg_schema(pg_dsn)

    flush_redis_db(redis_url)
    try:
        clock = FakeClock(START)
        with open_redis(redis_url, clock) as redis_store:
            extras["redis"] = _write_data(redis_store, clock)
            results["redis"] = read_back(redis_store)
        dump_redis(redis_url, out / "redis_v1.json")
    finally:
        delete_redis_prefix(redis_url)

    assert all(e == extras["sqlite"] for e in extras.values()), extras
    expected = {
        "written_by": {
            "package": "agent-session",
            "version": agent_session.__version__,
            "commit": COMMIT,
            "wire_format_version": 1,
        },
        "clock": {
            "start": START,
            "read_at": extras["sqlite"]["read_at"],
            "note": "every store ran on FakeClock(start); read with a clock before "
            "the labelled session's expires_at (read_at works)",
        },
        "postgres": {"schema": PG_SCHEMA, "table_prefix": "agent_session_"},
        "redis": {"prefix": REDIS_PREFIX},
        "popped_from": {APPENDED: extras["sqlite"]["popped"]},
        **_merge(results),
    }
    (out / "expected.json").write_text(
        json.dumps(expected, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    for name in ("sqlite_v1.db", "postgres_v1.sql", "redis_v1.json", "expected.json"):
        print(f"wrote {out / name} ({(out / name).stat().st_size} bytes)")


def _scratch_dsn(dsn: str, dbname: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + dbname))


def verify(out: Path, pg_dsn: str, redis_url: str) -> None:
    """Restore every fixture into its backend and read it back with this code."""
    expected = json.loads((out / "expected.json").read_text(encoding="utf-8"))
    read_at = expected["clock"]["read_at"]
    failures = []

    def check(store_name: str, store: SessionStore) -> None:
        got = read_back(store)
        want = expected_for(expected, store_name)
        ok = got == want
        print(f"{store_name}: {'OK' if ok else 'MISMATCH'}")
        if not ok:
            failures.append(store_name)

    # SQLite: a copy of the lone file in a fresh directory.
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "copy.db"
        shutil.copyfile(out / "sqlite_v1.db", copy)
        with open_sqlite(copy, FakeClock(read_at)) as store:
            check("sqlite", store)

    # PostgreSQL: psql -f into a brand-new, empty database.
    scratch = "v1fixture_verify"
    _psql(pg_dsn, "-c", f"DROP DATABASE IF EXISTS {scratch}")
    _psql(pg_dsn, "-c", f"CREATE DATABASE {scratch}")
    try:
        scratch_dsn = _scratch_dsn(pg_dsn, scratch)
        _psql(scratch_dsn, "-c", f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")
        _psql(scratch_dsn, "-f", str(out / "postgres_v1.sql"))
        with open_postgres(scratch_dsn, FakeClock(read_at)) as pg_store:
            check("postgres", pg_store)
    finally:
        _psql(pg_dsn, "-c", f"DROP DATABASE IF EXISTS {scratch} WITH (FORCE)")

    # Redis: the keys recreated under the same prefix in the scratch database.
    flush_redis_db(redis_url)
    try:
        restore_redis(redis_url, out / "redis_v1.json")
        with open_redis(redis_url, FakeClock(read_at)) as redis_store:
            check("redis", redis_store)
    finally:
        delete_redis_prefix(redis_url)

    if failures:
        raise SystemExit(f"fixtures do not read back as expected.json: {', '.join(failures)}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--pg-dsn",
        default=os.environ.get("V1_FIXTURE_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("V1_FIXTURE_REDIS_URL", "redis://127.0.0.1:6379/14")
    )
    parser.add_argument(
        "--verify", action="store_true", help="restore the fixtures and compare, write nothing"
    )
    args = parser.parse_args(argv)
    _check_version()
    if args.verify:
        verify(args.out, args.pg_dsn, args.redis_url)
    else:
        make(args.out, args.pg_dsn, args.redis_url)


if __name__ == "__main__":
    main()
