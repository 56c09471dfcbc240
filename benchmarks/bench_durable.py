"""Benchmark of the durable stores against their raw drivers, in one run.

Prints one table of median microseconds per operation:

- ``append`` of one message to a session already holding n = 10, 100 and 1,000
  messages (the cost must not grow with n), ``load`` of 20 and of 1,000
  messages, ``save`` of 20, for the sync and async ``SQLiteStore`` (file, WAL,
  synchronous=NORMAL), ``PostgresStore`` and ``RedisStore``;
- beside them, measured in the same run: raw driver floors (one sqlite3
  INSERT+COMMIT in WAL, one redis-py RPUSH, one psycopg INSERT+COMMIT) and the
  OpenAI Agents SDK's file-backed ``SQLiteSession`` and its ``RedisSession``
  doing the same get/add work.

Run: ``python benchmarks/bench_durable.py [--quick] [--postgres DSN] [--redis URL]``.
A store whose server is unreachable is reported as skipped. Compare rows of one
run only: these machines are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import msgspec

from agent_session import (
    AsyncPostgresStore,
    AsyncRedisStore,
    AsyncSessionStore,
    AsyncSQLiteStore,
    CacheStore,
    Conversation,
    LayeredStore,
    Message,
    PostgresStore,
    RedisStore,
    SessionStore,
    SQLiteStore,
)
from agent_session._model import stamp
from agent_session._serialization import encode_message

Row = dict[str, float]


def conversation(size: int) -> Conversation:
    builder = Conversation.builder().system("You are a helpful travel agent.")
    for turn in range(size - 1):
        if turn % 2:
            builder.assistant(f"Here is option {turn}: a flight at {turn % 24}:00, 240 EUR.")
        else:
            builder.user(f"Can you find me a flight to Lisbon on day {turn}?")
    return builder.build()


def turn_message(i: int) -> Message:
    return Message("user", f"And what about the hotel, question {i}?")


def median_us(samples: Sequence[float]) -> float:
    return statistics.median(samples) * 1e6


def timed(function: Callable[[], Any], count: int) -> list[float]:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return samples


async def atimed(function: Callable[[], Awaitable[Any]], count: int) -> list[float]:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        await function()
        samples.append(time.perf_counter() - start)
    return samples


def bench_sync_store(store: SessionStore, ops: int) -> Row:
    row: Row = {}
    for n in (10, 100, 1000):
        sid = f"append-{n}-{uuid.uuid4().hex}"
        store.save(sid, conversation(n))
        counter = iter(range(10**9))
        row[f"append@{n}"] = median_us(
            timed(lambda: store.append(sid, turn_message(next(counter))), ops)  # noqa: B023
        )
    small, large = f"load20-{uuid.uuid4().hex}", f"load1000-{uuid.uuid4().hex}"
    store.save(small, conversation(20))
    store.save(large, conversation(1000))
    row["load 20"] = median_us(timed(lambda: store.load(small), ops))
    row["load 1000"] = median_us(timed(lambda: store.load(large), max(ops // 10, 5)))
    conv = conversation(20)
    row["save 20"] = median_us(timed(lambda: store.save(small, conv), ops))
    store.clear()
    return row


async def bench_async_store(store: AsyncSessionStore, ops: int) -> Row:
    row: Row = {}
    for n in (10, 100, 1000):
        sid = f"append-{n}-{uuid.uuid4().hex}"
        await store.save(sid, conversation(n))
        counter = iter(range(10**9))
        row[f"append@{n}"] = median_us(
            await atimed(lambda: store.append(sid, turn_message(next(counter))), ops)  # noqa: B023
        )
    small, large = f"load20-{uuid.uuid4().hex}", f"load1000-{uuid.uuid4().hex}"
    await store.save(small, conversation(20))
    await store.save(large, conversation(1000))
    row["load 20"] = median_us(await atimed(lambda: store.load(small), ops))
    row["load 1000"] = median_us(await atimed(lambda: store.load(large), max(ops // 10, 5)))
    conv = conversation(20)
    row["save 20"] = median_us(await atimed(lambda: store.save(small, conv), ops))
    await store.clear()
    await store.aclose()
    return row


def sqlite_floor(directory: str, ops: int) -> Row:
    """One INSERT+COMMIT in WAL with synchronous=NORMAL: what any SQLite store pays."""
    db = sqlite3.connect(os.path.join(directory, "floor.db"), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE t (sid TEXT, seq INTEGER, body TEXT, PRIMARY KEY (sid, seq))")
    body = '{"role":"user","content":"And what about the hotel, question 1?"}'
    counter = iter(range(10**9))

    def insert() -> None:
        db.execute("BEGIN")
        db.execute("INSERT INTO t VALUES (?, ?, ?)", ("s", next(counter), body))
        db.execute("COMMIT")

    row = {"append@10": median_us(timed(insert, ops))}
    # The load floor: one SELECT of the rows, each parsed by the fastest JSON parser here.
    loads = fastest_loads()
    for n, column, count in ((20, "load 20", ops), (1000, "load 1000", max(ops // 10, 5))):
        sid = f"load{n}"
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO t VALUES (?, ?, ?)", [(sid, i, b) for i, b in enumerate(stored_rows(n))]
        )
        db.execute("COMMIT")

        def load(sid: str = sid) -> None:
            got = db.execute("SELECT body FROM t WHERE sid = ? ORDER BY seq", (sid,)).fetchall()
            [loads(body) for (body,) in got]

        row[column] = median_us(timed(load, count))
    db.close()
    return row


def stored_rows(n: int) -> list[str]:
    """The stored form of a conversation of ``n`` messages, as the stores write it."""
    return [encode_message(m) for m in stamp(list(conversation(n)), time.time())]


def fastest_loads() -> Callable[[str | bytes], Any]:
    """orjson.loads if installed (the issue's floor), else msgspec's decoder."""
    try:
        loads: Callable[[str | bytes], Any] = importlib.import_module("orjson").loads
    except ImportError:
        loads = msgspec.json.decode
    return loads


def redis_floor(url: str, ops: int) -> Row:
    import redis

    client = redis.Redis.from_url(url)
    key = f"bench-floor-{uuid.uuid4().hex}"
    body = '{"role":"user","content":"And what about the hotel, question 1?"}'
    row = {"append@10": median_us(timed(lambda: client.rpush(key, body), ops))}
    client.delete(key)
    loads = fastest_loads()
    for n, column, count in ((20, "load 20", ops), (1000, "load 1000", max(ops // 10, 5))):
        client.rpush(key, *stored_rows(n))

        def load() -> None:
            [loads(body) for body in client.lrange(key, 0, -1)]

        row[column] = median_us(timed(load, count))
        client.delete(key)
    client.close()
    return row


def postgres_floor(dsn: str, ops: int) -> Row:
    import psycopg

    table = f"bench_floor_{uuid.uuid4().hex[:8]}"
    body = '{"role":"user","content":"And what about the hotel, question 1?"}'
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE {table} (sid text, seq bigint, body text, PRIMARY KEY (sid, seq))"
        )
        counter = iter(range(10**9))
        row = {
            "append@10": median_us(
                timed(
                    lambda: conn.execute(
                        f"INSERT INTO {table} VALUES (%s, %s, %s)", ("s", next(counter), body)
                    ),
                    ops,
                )
            )
        }
        conn.execute(f"DROP TABLE {table}")
    return row


def openai_sqlite_session(directory: str, ops: int) -> Row | None:
    """The OpenAI Agents SDK's SQLiteSession doing the same get/add work."""
    try:
        import agents
    except ImportError:
        return None
    session_class: Any = agents.SQLiteSession  # typed loosely: the SDK is optional here
    path = os.path.join(directory, "openai.db")
    return asyncio.run(openai_session_row(lambda name: session_class(name, path), ops))


def openai_redis_session(url: str, prefix: str, ops: int) -> Row | None:
    """The OpenAI Agents SDK's RedisSession (redis.asyncio) doing the same get/add work."""
    try:
        from agents.extensions.memory.redis_session import RedisSession
    except ImportError:
        return None

    async def run() -> Row:
        import redis.asyncio

        client = redis.asyncio.Redis.from_url(url)
        try:
            return await openai_session_row(
                lambda name: RedisSession(name, redis_client=client, key_prefix=prefix + "sdk"),
                ops,
            )
        finally:
            keys = [key async for key in client.scan_iter(match=prefix + "sdk*")]
            if keys:
                await client.delete(*keys)
            await client.aclose()

    return asyncio.run(run())


async def openai_session_row(make: Callable[[str], Any], ops: int) -> Row:
    """append@n, load 20 and load 1000 of an OpenAI Agents SDK session class."""
    row: Row = {}
    for n in (10, 100, 1000):
        session = make(f"append-{n}")
        await session.add_items(conversation(n).to_dicts())
        add_one = _openai_adder(session)
        row[f"append@{n}"] = median_us(await atimed(add_one, ops))
    small = make("load20")
    await small.add_items(conversation(20).to_dicts())
    large = make("load1000")
    await large.add_items(conversation(1000).to_dicts())
    row["load 20"] = median_us(await atimed(small.get_items, ops))
    row["load 1000"] = median_us(await atimed(large.get_items, max(ops // 10, 5)))
    return row


def _openai_adder(session: Any) -> Callable[[], Awaitable[None]]:
    counter = iter(range(10**9))

    async def add_one() -> None:
        await session.add_items([turn_message(next(counter)).to_dict()])

    return add_one


def reachable(kind: str, target: str) -> bool:
    try:
        if kind == "redis":
            import redis

            redis.Redis.from_url(target, socket_connect_timeout=1).ping()
        else:
            import psycopg

            psycopg.connect(target, connect_timeout=2).close()
    except Exception as exc:  # noqa: BLE001  # any failure means: skip this row
        print(f"skipping {kind}: {exc}", file=sys.stderr)
        return False
    return True


COLUMNS = ["append@10", "append@100", "append@1000", "load 20", "load 1000", "save 20"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="durable store benchmark")
    parser.add_argument("--quick", action="store_true", help="few operations (a smoke test)")
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "AGENT_SESSION_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument(
        "--redis", default=os.environ.get("AGENT_SESSION_REDIS_URL", "redis://127.0.0.1:6379/15")
    )
    args = parser.parse_args(argv)
    ops = 20 if args.quick else 300
    rows: dict[str, Row | None] = {}
    prefix = f"bench_{uuid.uuid4().hex[:8]}_"
    with tempfile.TemporaryDirectory() as directory:
        rows["raw sqlite3 INSERT+COMMIT (WAL, NORMAL)"] = sqlite_floor(directory, ops)
        rows["SQLiteStore (file)"] = bench_sync_store(
            SQLiteStore(os.path.join(directory, "sync.db")), ops
        )
        rows["LayeredStore(CacheStore, SQLiteStore)"] = bench_sync_store(
            LayeredStore(
                CacheStore(None, capacity=10_000), SQLiteStore(os.path.join(directory, "l.db"))
            ),
            ops,
        )
        rows["AsyncSQLiteStore (file, asyncio)"] = asyncio.run(
            bench_async_store(AsyncSQLiteStore(os.path.join(directory, "async.db")), ops)
        )
        rows["openai-agents SQLiteSession (file)"] = openai_sqlite_session(directory, ops)
    if reachable("redis", args.redis):
        rows["raw redis-py RPUSH"] = redis_floor(args.redis, ops)
        rows["RedisStore"] = bench_sync_store(RedisStore(args.redis, prefix=prefix), ops)
        rows["AsyncRedisStore (asyncio)"] = asyncio.run(
            bench_async_store(AsyncRedisStore(args.redis, prefix=prefix), ops)
        )
        rows["openai-agents RedisSession"] = openai_redis_session(args.redis, prefix, ops)
    if reachable("postgres", args.postgres):
        rows["raw psycopg INSERT (autocommit)"] = postgres_floor(args.postgres, ops)
        rows["PostgresStore"] = bench_sync_store(
            PostgresStore(args.postgres, table_prefix=prefix), ops
        )
        rows["AsyncPostgresStore (asyncio)"] = asyncio.run(
            bench_async_store(AsyncPostgresStore(args.postgres, table_prefix=prefix), ops)
        )
        _drop_postgres_tables(args.postgres, prefix)

    header = ["store (median us per op)"] + COLUMNS
    body = [
        [name] + [("-" if row is None or col not in row else f"{row[col]:.1f}") for col in COLUMNS]
        for name, row in rows.items()
    ]
    widths = [max(len(r[i]) for r in [header] + body) for i in range(len(header))]
    print(f"\nPython {sys.version.split()[0]}, {ops} ops per cell")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=False)))
    print("  ".join("-" * w for w in widths))
    for r in body:
        print(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=False))
            )
        )
    _print_ratios(rows)
    return 0


def _print_ratios(rows: dict[str, Row | None]) -> None:
    def get(name: str, col: str) -> float | None:
        row = rows.get(name)
        return None if row is None else row.get(col)

    print("\nratios")
    checks = [
        (
            "SQLiteStore append@1000 / append@10",
            get("SQLiteStore (file)", "append@1000"),
            get("SQLiteStore (file)", "append@10"),
        ),
        (
            "Layered(cache, SQLite) append / SQLiteStore append (target 1.15x)",
            get("LayeredStore(CacheStore, SQLiteStore)", "append@10"),
            get("SQLiteStore (file)", "append@10"),
        ),
        (
            "Layered(cache, SQLite) load 20 / SQLiteStore load 20",
            get("LayeredStore(CacheStore, SQLiteStore)", "load 20"),
            get("SQLiteStore (file)", "load 20"),
        ),
        (
            "SQLiteStore append / raw sqlite3 INSERT",
            get("SQLiteStore (file)", "append@10"),
            get("raw sqlite3 INSERT+COMMIT (WAL, NORMAL)", "append@10"),
        ),
        (
            "SQLiteSession append / AsyncSQLiteStore append",
            get("openai-agents SQLiteSession (file)", "append@10"),
            get("AsyncSQLiteStore (file, asyncio)", "append@10"),
        ),
        (
            "RedisStore append / raw RPUSH",
            get("RedisStore", "append@10"),
            get("raw redis-py RPUSH", "append@10"),
        ),
        (
            "RedisStore append@1000 / append@10",
            get("RedisStore", "append@1000"),
            get("RedisStore", "append@10"),
        ),
        (
            "PostgresStore append / raw INSERT",
            get("PostgresStore", "append@10"),
            get("raw psycopg INSERT (autocommit)", "append@10"),
        ),
        (
            "SQLiteStore load 20 / raw SELECT + parse (target 1.5x)",
            get("SQLiteStore (file)", "load 20"),
            get("raw sqlite3 INSERT+COMMIT (WAL, NORMAL)", "load 20"),
        ),
        (
            "SQLiteStore load 1000 / raw SELECT + parse (target 2x)",
            get("SQLiteStore (file)", "load 1000"),
            get("raw sqlite3 INSERT+COMMIT (WAL, NORMAL)", "load 1000"),
        ),
        (
            "RedisStore load 20 / raw LRANGE + parse (target 1.3x)",
            get("RedisStore", "load 20"),
            get("raw redis-py RPUSH", "load 20"),
        ),
        (
            "RedisStore load 1000 / raw LRANGE + parse (target 2x)",
            get("RedisStore", "load 1000"),
            get("raw redis-py RPUSH", "load 1000"),
        ),
        (
            "SQLiteSession load 20 / AsyncSQLiteStore load 20 (target > 1)",
            get("openai-agents SQLiteSession (file)", "load 20"),
            get("AsyncSQLiteStore (file, asyncio)", "load 20"),
        ),
        (
            "RedisSession load 20 / AsyncRedisStore load 20 (target > 1)",
            get("openai-agents RedisSession", "load 20"),
            get("AsyncRedisStore (asyncio)", "load 20"),
        ),
        (
            "RedisSession load 1000 / AsyncRedisStore load 1000 (target > 1)",
            get("openai-agents RedisSession", "load 1000"),
            get("AsyncRedisStore (asyncio)", "load 1000"),
        ),
        (
            "PostgresStore append@1000 / append@10",
            get("PostgresStore", "append@1000"),
            get("PostgresStore", "append@10"),
        ),
    ]
    for label, top, bottom in checks:
        value = "-" if top is None or bottom is None else f"{top / bottom:.2f}x"
        print(f"  {label:<66} {value}")


def _drop_postgres_tables(dsn: str, prefix: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE tablename LIKE %s", (prefix + "%",)
        ).fetchall()
        for (table,) in tables:
            conn.execute(f'DROP TABLE IF EXISTS "{table}" CASCADE')


if __name__ == "__main__":
    sys.exit(main())
