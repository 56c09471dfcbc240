"""What only the Redis store promises: key layout, one script per call, Redis-side
expiry, clients, outages.

asyncio only (redis.asyncio needs it); the refusal under trio is in
``tests/test_asyncio_only_drivers.py``, the wrong-flavour clients in
``tests/test_redis_flavours.py``, the tests with several processes in
``tests/test_redis_processes.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from redis_helpers import PrivateRedis, delete_prefix, hash_tag, keys_under, new_prefix, slot

from agent_session import (
    AsyncRedisStore,
    BackendError,
    CapacityExceeded,
    Conversation,
    Message,
    SerializationError,
    SessionExpired,
    SessionNotFound,
    StoreClosed,
    VersionConflict,
    open_async_store,
)
from agent_session._backends.redis import aredis_driver, client_options
from agent_session._concurrency import AsyncNursery, asleep
from agent_session.testing import FakeClock

from .stalled_clock import LATE_WRITES, check_a_stalled_write

# Ids that could break a key layout: separators, braces (hash tag delimiters) in
# every position, non-ASCII text, index key names, the longest id allowed.
SPECIAL_IDS = [
    "plain",
    "a:b:c",
    "with{brace",
    "close}brace",
    "}{",
    "{}",
    "{plain}",
    "x}y{z",
    "ünï:cødé 🙂",
    "pipe|in|id",
    "index:ids",  # the names of the store's own index keys, as ids
    "label:1:k=v",
    "x" * 512,
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A fresh key prefix per test; its keys are deleted afterwards."""
    prefix = new_prefix()
    yield prefix
    delete_prefix(redis_url, prefix)


@pytest.fixture
def peek(redis_url: str) -> Iterator[redis.Redis]:
    """A plain blocking client to look at the keys behind the store's back."""
    with redis.Redis.from_url(redis_url, decode_responses=True) as client:
        yield client


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    """A redis-server of this test's own, which the test may kill and restart."""
    if not PrivateRedis.available():
        pytest.skip("redis-server is not installed")
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


def _user(text: str) -> Message:
    return Message("user", text)


def _session_keys(url: str, prefix: str) -> list[str]:
    # Sessions' keys are "P{tag}:..."; the indexes' "P{}index:..." and "P{}label:...".
    return [
        key
        for key in keys_under(url, prefix)
        if key.startswith(prefix + "{") and not key.startswith(prefix + "{}")
    ]


async def test_a_sessions_two_keys_share_one_hash_tag(redis_url: str, prefix: str) -> None:
    async with AsyncRedisStore(redis_url, prefix=prefix) as store:
        for session_id in SPECIAL_IDS:
            await store.save(session_id, Conversation().add_user(session_id), labels={"k": "v"})
        keys = _session_keys(redis_url, prefix)
        assert len(keys) == 2 * len(SPECIAL_IDS)
        by_tag: dict[str, list[str]] = {}
        for key in keys:
            by_tag.setdefault(hash_tag(key), []).append(key)
        assert len(by_tag) == len(SPECIAL_IDS)  # one tag per session, shared by its keys
        for tag, pair in by_tag.items():
            assert sorted(key.rsplit(":", 1)[1] for key in pair) == ["meta", "msgs"], pair
            assert slot(pair[0]) == slot(pair[1])
            assert "{" not in tag[1:] and "}" not in tag
        # A brace-free id is its own tag; one with braces gets a digest instead.
        assert f"{prefix}{{a:b:c}}:meta" in keys
        assert not any("with{brace" in key for key in keys)
        for session_id in SPECIAL_IDS:
            assert [m.content for m in await store.load(session_id)] == [session_id]
            assert (await store.get_metadata(session_id)).session_id == session_id
            assert (await store.pop(session_id)) == _user(session_id)
        assert await store.list_sessions() == sorted(SPECIAL_IDS)
        page = await store.find_sessions(labels={"k": "v"})
        assert sorted(meta.session_id for meta in page.items) == sorted(SPECIAL_IDS)
        for session_id in SPECIAL_IDS:
            assert await store.delete(session_id)
        assert keys_under(redis_url, prefix) == []  # no index entry left behind


async def test_ids_that_differ_only_in_braces_are_different_sessions(
    redis_url: str, prefix: str
) -> None:
    ids = ["x", "{x}", "{x", "x}", "{{x}}"]
    async with AsyncRedisStore(redis_url, prefix=prefix) as store:
        for n, session_id in enumerate(ids):
            await store.append(session_id, *[_user(session_id)] * (n + 1))
        for n, session_id in enumerate(ids):
            assert [m.content for m in await store.load(session_id)] == [session_id] * (n + 1)
        assert len(_session_keys(redis_url, prefix)) == 2 * len(ids)


async def test_every_call_on_a_session_is_one_round_trip(redis_url: str, prefix: str) -> None:
    # pop takes two: it peeks, decodes, then removes only the message it decoded.
    driver, _errors = aredis_driver()
    client = driver.Redis.from_url(redis_url, decode_responses=True, **client_options(driver))
    sent: list[str] = []
    original = client.execute_command

    async def counting(*args: Any, **options: Any) -> Any:
        sent.append(str(args[0]).upper())
        return await original(*args, **options)

    client.execute_command = counting
    store = AsyncRedisStore(client, prefix=prefix, default_ttl=60)
    calls: dict[str, Callable[[], Any]] = {
        "save": lambda: store.save("s", Conversation().add_user("a"), labels={"k": "v"}),
        "append": lambda: store.append("s", _user("b"), _user("c")),
        "load": lambda: store.load("s"),
        "load last": lambda: store.load("s", last=1),
        "load_with_metadata": lambda: store.load_with_metadata("s"),
        "pop": lambda: store.pop("s"),
        "touch": lambda: store.touch("s", ttl=30),
        "delete": lambda: store.delete("s"),
    }
    for call in calls.values():  # the first run may load the scripts into Redis
        await call()
    for name, call in calls.items():
        sent.clear()
        await call()
        assert sent == ["EVALSHA"] * (2 if name == "pop" else 1), name
    sent.clear()
    await store.append("s", _user("x"))
    await store.get_metadata("s")
    await store.exists("s")
    assert sent == ["EVALSHA", "HMGET", "HGET"]
    await store.aclose()
    await client.aclose()


async def test_redis_expires_both_keys_itself(
    redis_url: str, prefix: str, peek: redis.Redis
) -> None:
    async with AsyncRedisStore(redis_url, prefix=prefix) as store:
        await store.save("brief", Conversation().add_user("x"), ttl=0.2, labels={"k": "v"})
        await store.save("forever", Conversation().add_user("y"), labels={"k": "v"})
        keys = [f"{prefix}{{brief}}:meta", f"{prefix}{{brief}}:msgs"]
        assert all(0 < peek.pttl(key) <= 200 for key in keys)
        assert all(peek.pttl(f"{prefix}{{forever}}:{kind}") == -1 for kind in ("meta", "msgs"))
        deadline = time.monotonic() + 5
        while any(peek.exists(key) for key in keys) and time.monotonic() < deadline:
            await asleep(0.05)
        assert not any(peek.exists(key) for key in keys)
        # Reclaimed by Redis: gone (not found, not merely expired), and never listed.
        assert not await store.exists("brief")
        with pytest.raises(SessionNotFound) as info:
            await store.get_metadata("brief")
        assert not isinstance(info.value, SessionExpired)
        assert await store.list_sessions() == ["forever"]
        page = await store.find_sessions(labels={"k": "v"})
        assert [meta.session_id for meta in page.items] == ["forever"]
        # Readers dropped every index entry of it on sight.
        assert peek.zscore(prefix + "{}index:ids", "brief") is None
        assert peek.zscore(prefix + "{}index:updated", "brief") is None
        assert peek.zscore(prefix + "{}index:expiry", "brief") is None
        assert peek.smembers(prefix + "{}label:1:k=v") == {"forever"}
        assert not peek.hexists(prefix + "{}index:labels", "brief")
        assert await store.purge_expired() == 0
        assert await store.delete("forever")
        assert keys_under(redis_url, prefix) == []


async def test_purge_drops_the_index_entries_of_sessions_redis_reclaimed(
    redis_url: str, prefix: str, peek: redis.Redis
) -> None:
    async with AsyncRedisStore(redis_url, prefix=prefix) as store:
        await store.save("brief", Conversation().add_user("x"), ttl=0.2, labels={"k": "v"})
        keys = [f"{prefix}{{brief}}:meta", f"{prefix}{{brief}}:msgs"]
        deadline = time.monotonic() + 5
        while any(peek.exists(key) for key in keys) and time.monotonic() < deadline:
            await asleep(0.05)
        assert keys_under(redis_url, prefix) != []  # its index entries are still there
        assert await store.purge_expired() == 0  # Redis removed it, not purge_expired
        assert keys_under(redis_url, prefix) == []


async def test_the_store_clock_decides_and_redis_gets_the_time_left(
    redis_url: str, prefix: str, peek: redis.Redis
) -> None:
    clock = FakeClock(1_000.0)  # far from real time: an absolute expiry would be wrong
    async with AsyncRedisStore(redis_url, prefix=prefix, clock=clock) as store:
        await store.append("s", _user("x"), ttl=600)
        keys = [f"{prefix}{{s}}:meta", f"{prefix}{{s}}:msgs"]
        assert all(300_000 < peek.pttl(key) <= 600_000 for key in keys)
        clock.advance(601)
        with pytest.raises(SessionExpired):
            await store.get_metadata("s")
        assert all(peek.exists(key) for key in keys)  # Redis still holds it
        assert not await store.exists("s")
        assert await store.list_sessions() == []
        meta = await store.append("s", _user("y"), ttl=30)  # a write starts anew
        assert (meta.version, meta.message_count, meta.created_at) == (1, 1, clock())
        assert all(0 < peek.pttl(key) <= 30_000 for key in keys)
        await store.touch("s", ttl=None)  # no expiry: Redis's goes too
        assert all(peek.pttl(key) == -1 for key in keys)
        assert peek.zscore(prefix + "{}index:expiry", "s") is None
        await store.touch("s", ttl=90)
        assert all(60_000 < peek.pttl(key) <= 90_000 for key in keys)
        assert peek.zscore(prefix + "{}index:expiry", "s") == clock() + 90


async def test_a_refused_write_leaves_even_an_expired_session_alone(
    redis_url: str, prefix: str
) -> None:
    clock = FakeClock()
    async with AsyncRedisStore(redis_url, prefix=prefix, clock=clock, max_messages=2) as store:
        await store.save("s", Conversation().add_user("x"), ttl=5)
        clock.advance(6)
        with pytest.raises(VersionConflict):
            await store.append("s", _user("y"), expected_version=1)  # expired: version 0
        with pytest.raises(CapacityExceeded):
            await store.save("s", Conversation().add_user("a").add_user("b").add_user("c"))
        with pytest.raises(SessionExpired):  # still there, still expired
            await store.get_metadata("s")
        meta = await store.append("s", _user("y"), expected_version=0)
        assert (meta.version, meta.message_count) == (1, 1)


async def test_an_enormous_ttl_is_stored_whole(redis_url: str, prefix: str) -> None:
    async with AsyncRedisStore(redis_url, prefix=prefix) as store:
        meta = await store.save("s", Conversation().add_user("x"), ttl=1e300)
        assert meta.expires_at == meta.updated_at + 1e300
        meta = await store.append("s", _user("y"))
        assert meta.version == 2 and meta.expires_at == meta.updated_at + 1e300
        assert len(await store.load("s")) == 2


async def test_a_callers_client_is_used_as_is_and_not_closed(redis_url: str, prefix: str) -> None:
    driver, _errors = aredis_driver()
    client = driver.Redis.from_url(redis_url, **client_options(driver))  # replies as bytes
    async with AsyncRedisStore(client, prefix=prefix) as store:
        await store.save("s", Conversation().add_user("hé"), labels={"k": "v"})
        await store.append("s", _user("x"))
        assert [m.content for m in await store.load("s")] == ["hé", "x"]
        assert dict((await store.get_metadata("s")).labels) == {"k": "v"}
        assert await store.list_sessions() == ["s"]
        assert [m.session_id for m in (await store.find_sessions(labels={"k": "v"})).items] == ["s"]
        assert await store.pop("s") == _user("x")
    with pytest.raises(StoreClosed):
        await store.exists("s")
    assert await client.ping()
    await client.aclose()


async def test_a_store_from_a_url_closes_once(redis_url: str, prefix: str) -> None:
    store = AsyncRedisStore(redis_url, prefix=prefix)
    await store.append("s", _user("x"))
    await store.aclose()
    await store.aclose()
    with pytest.raises(StoreClosed):
        await store.load("s")
    with pytest.raises(StoreClosed):
        async for _session_id in store.iter_sessions():
            pass


async def test_more_concurrent_calls_than_connections_wait_for_one(
    redis_url: str, prefix: str
) -> None:
    # Found by the soak run: 200 tasks on one store got MaxConnectionsError past the
    # pool's 100 connections; now a call waits for a free connection instead.
    async with AsyncRedisStore(redis_url, prefix=prefix) as store:

        async def writer(n: int) -> None:
            for i in range(3):
                await store.append(f"s{n % 10}", _user(f"{n}:{i}"))
                await store.load(f"s{n % 10}", last=2)

        async with AsyncNursery() as nursery:
            for n in range(150):
                nursery.start_soon(writer, n)
        total = 0
        for k in range(10):
            total += (await store.get_metadata(f"s{k}")).message_count
        assert total == 450


async def test_bad_arguments_are_refused_up_front(redis_url: str) -> None:
    with pytest.raises(TypeError, match="url_or_client"):
        AsyncRedisStore(42)
    with pytest.raises(TypeError, match="prefix"):
        AsyncRedisStore(redis_url, prefix=b"p:")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="socket_timeout"):
        AsyncRedisStore(redis_url, socket_timeout=0)
    with pytest.raises(ValueError, match="max_messages"):
        AsyncRedisStore(redis_url, max_messages=0)


async def test_a_corrupted_message_raises_serialization_error(
    redis_url: str, prefix: str, peek: redis.Redis
) -> None:
    async with AsyncRedisStore(redis_url, prefix=prefix) as store:
        await store.append("s", _user("x"), _user("y"))
        peek.lset(f"{prefix}{{s}}:msgs", -1, "not json")
        before = await store.get_metadata("s")
        with pytest.raises(SerializationError) as raised:
            await store.load("s")
        assert raised.value.session_id == "s"
        with pytest.raises(SerializationError) as raised:
            await store.pop("s")
        assert raised.value.session_id == "s"
        # Issue 7, defect 2: nothing written, the message a pop could not decode kept.
        assert await store.get_metadata("s") == before
        kept = peek.lrange(f"{prefix}{{s}}:msgs", 0, -1)
        assert len(kept) == 2 and kept[-1] == "not json"
        assert await store.delete("s")


@pytest.mark.parametrize(
    "damage",
    [
        ("count", "abc"),
        ("version", "1.5"),
        ("expires", "soon"),
        ("ttl", "x"),
        ("labels", "{not json"),
        ("labels", '{"k": 1}'),
        ("updated", None),
        ("labels", None),
        ("ttl", None),
        ("size", None),
    ],
)
async def test_a_malformed_meta_field_stops_every_write_before_it_writes(
    redis_url: str, prefix: str, peek: redis.Redis, damage: tuple[str, str | None]
) -> None:
    # Issue 7, defect 2: a script found the damage only after writing (pop removed the
    # message, append applied and then reported BackendError, so a retry duplicated it).
    field, value = damage
    meta, msgs = f"{prefix}{{s}}:meta", f"{prefix}{{s}}:msgs"
    async with AsyncRedisStore(redis_url, prefix=prefix, default_ttl=60, sliding=True) as store:
        await store.save("s", Conversation([_user("x"), _user("y")]), labels={"k": "v"})
        if value is None:
            peek.hdel(meta, field)
        else:
            peek.hset(meta, field, value)
        stored = (peek.hgetall(meta), peek.lrange(msgs, 0, -1), peek.pttl(meta) > 0)
        writes: dict[str, Callable[[], Any]] = {
            "append": lambda: store.append("s", _user("z")),
            "save": lambda: store.save("s", Conversation([_user("z")])),
            "pop": lambda: store.pop("s"),
            "touch": lambda: store.touch("s"),
        }
        if field not in ("version", "labels"):  # a sliding load writes the expiry only
            writes["load"] = lambda: store.load("s")
        for name, write in writes.items():
            with pytest.raises(SerializationError) as raised:
                await write()
            assert raised.value.session_id == "s", name
            assert field in str(raised.value), name
            assert (peek.hgetall(meta), peek.lrange(msgs, 0, -1), peek.pttl(meta) > 0) == stored
        if field != "ttl":  # get_metadata reads every other field (issue 7, defect 6)
            with pytest.raises(SerializationError) as raised:
                await store.get_metadata("s")
            assert raised.value.session_id == "s"
        assert await store.delete("s")  # a damaged session can still be removed
        assert not peek.exists(meta, msgs)
        assert await store.list_sessions() == []


async def test_a_message_list_lost_behind_the_stores_back_is_reported(
    redis_url: str, prefix: str, peek: redis.Redis
) -> None:
    async with AsyncRedisStore(redis_url, prefix=prefix) as store:
        await store.append("s", _user("x"), _user("y"))
        peek.delete(f"{prefix}{{s}}:msgs")  # as an eviction under memory pressure would
        with pytest.raises(SerializationError, match="noeviction"):
            await store.load("s")
        with pytest.raises(SerializationError, match="noeviction"):
            await store.load("s", last=1)
        with pytest.raises(SerializationError, match="noeviction"):
            await store.pop("s")


async def test_labels_with_awkward_text_are_indexed_exactly(redis_url: str, prefix: str) -> None:
    awkward = {"a=b": "c", "a": "b=c", "ключ": "värde 🙂", "x:y|z": "new\nline", "": "empty key"}
    async with AsyncRedisStore(redis_url, prefix=prefix) as store:
        await store.save("s", Conversation().add_user("x"), labels=awkward)
        await store.save("t", Conversation().add_user("x"), labels={"a": "b"})
        assert dict((await store.get_metadata("s")).labels) == awkward
        for key, value in awkward.items():
            page = await store.find_sessions(labels={key: value})
            assert [meta.session_id for meta in page.items] == ["s"], key
        assert (await store.find_sessions(labels={"a": "b"})).items[0].session_id == "t"
        assert (await store.find_sessions(labels=awkward)).items[0].session_id == "s"
        await store.save("s", Conversation().add_user("x"), labels={})
        assert (await store.find_sessions(labels={"a=b": "c"})).items == []
        await store.delete("s")
        await store.delete("t")
        assert keys_under(redis_url, prefix) == []


async def test_a_large_conversation_is_written_in_one_script(redis_url: str, prefix: str) -> None:
    conversation = Conversation()
    for i in range(2_500):  # more than one RPUSH batch, more than Lua's unpack limit
        conversation.add_user(str(i))
    async with AsyncRedisStore(redis_url, prefix=prefix) as store:
        meta = await store.save("big", conversation)
        assert meta.message_count == 2_500
        assert await store.load("big") == conversation
        meta = await store.append("big", *[_user(str(i)) for i in range(2_500, 4_500)])
        assert meta.message_count == 4_500
        assert [m.content for m in await store.load("big", last=3)] == ["4497", "4498", "4499"]


async def test_no_key_outlives_its_session(redis_url: str, prefix: str) -> None:
    clock = FakeClock()
    async with AsyncRedisStore(redis_url, prefix=prefix, clock=clock) as store:
        for n in range(5):
            session_id = f"s{n}"
            await store.save(session_id, Conversation().add_user("a"), labels={"n": str(n)})
            await store.save(session_id, Conversation().add_user("b"), labels={"team": "x"})
            await store.append(session_id, _user("c"), ttl=10 if n % 2 else None)
            await store.pop(session_id)
            await store.touch(session_id)
        clock.advance(11)
        assert await store.purge_expired() == 2  # s1, s3
        assert await store.list_sessions() == ["s0", "s2", "s4"]
        for session_id in ["s0", "s2", "s4"]:
            assert await store.delete(session_id)
        assert keys_under(redis_url, prefix) == []


async def test_clear_removes_its_prefix_only(redis_url: str, prefix: str) -> None:
    other_prefix = new_prefix()
    clock = FakeClock()
    try:
        async with (
            AsyncRedisStore(redis_url, prefix=prefix, clock=clock) as store,
            AsyncRedisStore(redis_url, prefix=other_prefix) as other,
        ):
            await store.save("a", Conversation().add_user("x"), labels={"k": "v"})
            await store.save("b", Conversation().add_user("x"), ttl=5)
            await other.save("a", Conversation().add_user("kept"))
            clock.advance(6)
            assert await store.clear() == 1  # live ones only; the expired one goes too
            assert keys_under(redis_url, prefix) == []
            assert [m.content for m in await other.load("a")] == ["kept"]
    finally:
        delete_prefix(redis_url, other_prefix)


@pytest.mark.parametrize("nested", ["nested:", "index:", "label:1:k=", "x"])
async def test_stores_whose_prefixes_nest_never_see_each_others_sessions(
    redis_url: str, prefix: str, nested: str
) -> None:
    # Issue 7, defect 3: clear() on "app:" deleted the sessions of "app:nested:".
    inner_prefix = prefix + nested
    try:
        async with (
            AsyncRedisStore(redis_url, prefix=prefix) as outer,
            AsyncRedisStore(redis_url, prefix=inner_prefix) as inner,
        ):
            await inner.save("a", Conversation().add_user("kept"), labels={"k": "v"})
            await inner.append("ids", _user("kept"))
            await outer.save("a", Conversation().add_user("x"), labels={"k": "v"})
            await outer.save("index", Conversation().add_user("x"), ttl=60)
            inner_keys = keys_under(redis_url, inner_prefix)
            assert await outer.list_sessions() == ["a", "index"]
            assert await outer.clear() == 2
            assert keys_under(redis_url, inner_prefix) == inner_keys
            assert await inner.list_sessions() == ["a", "ids"]
            assert [m.content for m in await inner.load("a")] == ["kept"]
            assert [p.session_id for p in (await inner.find_sessions(labels={"k": "v"})).items] == [
                "a"
            ]
            assert await inner.clear() == 2
            assert keys_under(redis_url, prefix) == []
    finally:
        delete_prefix(redis_url, inner_prefix)


@pytest.mark.parametrize("bad", ["app:{x}:", "{", "a}b"])
async def test_a_prefix_with_a_brace_is_refused(redis_url: str, bad: str) -> None:
    with pytest.raises(ValueError, match="must not contain"):
        AsyncRedisStore(redis_url, prefix=bad)


async def test_open_async_store_builds_a_redis_store(redis_url: str, prefix: str) -> None:
    url = f"{redis_url}?prefix={prefix}&default_ttl=30&socket_timeout=2"
    async with open_async_store(url) as store:
        assert isinstance(store, AsyncRedisStore)
        meta = await store.append("s", _user("x"))
        assert meta.expires_at == meta.updated_at + 30
    assert _session_keys(redis_url, prefix) == [f"{prefix}{{s}}:meta", f"{prefix}{{s}}:msgs"]


async def test_scripts_flushed_from_redis_are_loaded_again(private_redis: PrivateRedis) -> None:
    clock = FakeClock()
    async with AsyncRedisStore(private_redis.url, clock=clock) as store:
        await store.append("s", _user("x"), ttl=5)
        with redis.Redis.from_url(private_redis.url) as admin:
            admin.script_flush()
        await store.append("s", _user("y"))  # NOSCRIPT: redis-py loads it and retries
        assert [m.content for m in await store.load("s")] == ["x", "y"]
        with redis.Redis.from_url(private_redis.url) as admin:
            admin.script_flush()
        clock.advance(6)
        assert await store.purge_expired() == 1  # the pipelined path loads them too


async def test_an_outage_raises_backend_error_then_the_same_store_recovers(
    private_redis: PrivateRedis,
) -> None:
    store = AsyncRedisStore(private_redis.url, socket_timeout=2.0)
    try:
        await store.save("s", Conversation().add_user("before"), labels={"k": "v"})
        private_redis.stop()
        calls: dict[str, Callable[[], Any]] = {
            "save": lambda: store.save("s", Conversation().add_user("during")),
            "append": lambda: store.append("s", _user("during")),
            "load": lambda: store.load("s"),
            "get_metadata": lambda: store.get_metadata("s"),
            "exists": lambda: store.exists("s"),
            "pop": lambda: store.pop("s"),
            "touch": lambda: store.touch("s"),
            "delete": lambda: store.delete("s"),
            "list_sessions": lambda: store.list_sessions(),
            "find_sessions": lambda: store.find_sessions(labels={"k": "v"}),
            "purge_expired": lambda: store.purge_expired(),
            "clear": lambda: store.clear(),
        }
        started = time.monotonic()
        for name, call in calls.items():
            with pytest.raises(BackendError) as info:
                await call()
            assert isinstance(info.value.__cause__, redis.RedisError), name
        with pytest.raises(BackendError):
            async for _session_id in store.iter_sessions():
                pass
        # A refused connection fails at once: nothing waits for a timeout or retries.
        assert time.monotonic() - started < 10
        private_redis.start()  # same port, empty (no persistence)
        meta = await store.append("s", _user("after"))
        assert meta.version == 1  # a fresh server: the write started a new session
        assert [m.content for m in await store.load("s")] == ["after"]
        assert await store.list_sessions() == ["s"]
    finally:
        await store.aclose()


async def test_an_empty_prefix_is_refused(redis_url: str) -> None:
    # clear() deletes every key under the prefix: with "" that would be the whole database.
    with pytest.raises(ValueError, match="prefix"):
        AsyncRedisStore(redis_url, prefix="")


@pytest.mark.parametrize("late_write", LATE_WRITES)
async def test_a_write_that_read_the_clock_then_stalled_never_moves_time_back(
    redis_url: str, prefix: str, late_write: str
) -> None:
    clock = FakeClock(1000.0)
    await check_a_stalled_write(
        AsyncRedisStore(redis_url, prefix=prefix, clock=clock, default_ttl=1.5, sliding=True),
        clock,
        late_write,
    )


async def _close_under_load(url: str, prefix: str, round_: int) -> None:
    """8 workers append and read in a loop; the store is closed under them."""
    store = AsyncRedisStore(url, prefix=prefix)
    appended: list[tuple[str, str]] = []
    endings: list[BaseException | None] = []
    deadline = time.monotonic() + 5  # bounded even if closing stopped nothing

    async def worker(n: int) -> None:
        session_id = f"s{n % 2}"
        i = 0
        try:
            while time.monotonic() < deadline:
                text = f"{round_}-{n}-{i}"
                await store.append(session_id, _user(text))
                appended.append((session_id, text))
                await store.load(session_id, last=3)
                await store.list_sessions()
                await store.find_sessions(limit=5)
                i += 1
        except Exception as exc:  # collected: the test judges every one of them
            endings.append(exc)
            return
        endings.append(None)

    async with AsyncNursery() as nursery:
        for n in range(8):
            nursery.start_soon(worker, n)
        await asleep(0.15)
        await store.aclose()
    assert len(endings) == 8
    for ending in endings:
        assert isinstance(ending, (StoreClosed, BackendError)), repr(ending)
    async with AsyncRedisStore(url, prefix=prefix) as fresh:
        for session_id in ("s0", "s1"):
            held = {m.content for m in await fresh.load(session_id)}
            assert {text for sid, text in appended if sid == session_id} <= held


async def test_closing_while_calls_are_in_flight_raises_only_store_errors(
    redis_url: str, prefix: str
) -> None:
    # Issue 7, defect 9: close() under calls in flight (threads, in the sync half) leaked
    # redis-py internals ("'NoneType' object has no attribute 'readline'", "I/O
    # operation on closed file"). Calls in flight finish, or raise StoreClosed (or
    # BackendError); no append that returned is lost.
    for round_ in range(3):  # each round a few tenths of a second
        await _close_under_load(redis_url, prefix, round_)


@pytest.mark.parametrize(
    ("which", "damage"),
    [
        ("meta", "string"),
        ("meta", "list"),
        ("msgs", "hash"),
        ("msgs", "string"),
    ],
)
async def test_a_session_key_of_the_wrong_type_raises_serialization_error(
    redis_url: str, prefix: str, peek: redis.Redis, which: str, damage: str
) -> None:
    # Issue 7, defect 6: a key of another type (set behind the store's back) raised
    # BackendError (Redis's WRONGTYPE), as if Redis were down.
    async with AsyncRedisStore(redis_url, prefix=prefix, default_ttl=60) as store:
        await store.save("s", Conversation([_user("x")]), labels={"k": "v"})
        await store.save("other", Conversation([_user("y")]), labels={"k": "v"})
        key = f"{prefix}{{s}}:{which}"
        peek.delete(key)
        if damage == "string":
            peek.set(key, "stray")
        elif damage == "list":
            peek.rpush(key, "stray")
        else:
            peek.hset(key, "stray", "1")

        def snapshot() -> dict[str, Any]:
            return {k: (peek.type(k), peek.dump(k)) for k in keys_under(redis_url, prefix)}

        before = snapshot()
        calls: dict[str, Callable[[], Any]] = {
            "save": lambda: store.save("s", Conversation([_user("z")])),
            "append": lambda: store.append("s", _user("z")),
            "load": lambda: store.load("s"),
            "load last": lambda: store.load("s", last=1),
            "load_with_metadata": lambda: store.load_with_metadata("s"),
            "pop": lambda: store.pop("s"),
            "touch": lambda: store.touch("s"),
        }
        if which == "meta":  # these read the meta hash only
            calls["get_metadata"] = lambda: store.get_metadata("s")
            calls["exists"] = lambda: store.exists("s")
        for name, call in calls.items():
            with pytest.raises(SerializationError) as raised:
                await call()
            assert raised.value.session_id == "s", name
            assert key in str(raised.value) and damage in str(raised.value), name
            assert snapshot() == before, name  # nothing written
        # The other session is untouched, and the listings go on without the damage.
        assert [m.content for m in await store.load("other")] == ["y"]
        listed = ["other"] if which == "meta" else ["other", "s"]
        assert await store.list_sessions() == listed
        assert [sid async for sid in store.iter_sessions()] == listed
        for labels in (None, {"k": "v"}):
            page = await store.find_sessions(labels=labels)
            assert sorted(meta.session_id for meta in page.items) == listed
        assert await store.purge_expired() == 0
        assert await store.delete("s")  # a damaged session can still be removed
        assert not peek.exists(f"{prefix}{{s}}:meta", f"{prefix}{{s}}:msgs")
        assert await store.list_sessions() == ["other"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("expires", "soon"),
        ("expires", "nan"),
        ("created", "nan"),
        ("updated", "inf"),
        ("count", "-1"),
        ("size", "1e3"),
        ("version", "two"),
        ("labels", "[1]"),
    ],
)
async def test_a_garbled_meta_field_raises_serialization_error_on_every_read(
    redis_url: str, prefix: str, peek: redis.Redis, field: str, value: str
) -> None:
    # Issue 7, defect 6: exists() raised a bare ValueError on a garbled expiry, and
    # get_metadata() took NaN, infinite and negative numbers for good ones.
    async with AsyncRedisStore(redis_url, prefix=prefix) as store:
        await store.save("s", Conversation([_user("x")]), labels={"k": "v"})
        peek.hset(f"{prefix}{{s}}:meta", field, value)
        reads: dict[str, Callable[[], Any]] = {"get_metadata": lambda: store.get_metadata("s")}
        if field == "expires":
            reads["exists"] = lambda: store.exists("s")
        if field in ("expires", "updated", "count", "size"):  # what load reads
            reads["load"] = lambda: store.load("s")
        reads["load_with_metadata"] = lambda: store.load_with_metadata("s")  # reads all
        for name, read in reads.items():
            with pytest.raises(SerializationError) as raised:
                await read()
            assert raised.value.session_id == "s", name
            assert field in str(raised.value) or value in str(raised.value), name


_STRAYS = [
    "label entry of a missing session",
    "index entries of a missing session",
    "garbled expires",
    "garbled updated",
    "garbled labels",
    "meta of the wrong type",
]


@pytest.mark.parametrize("stray", _STRAYS)
async def test_a_stray_index_entry_never_breaks_the_listings(
    redis_url: str, prefix: str, peek: redis.Redis, stray: str
) -> None:
    # Issue 7, defect 6: one bad entry in an index (an id whose session is gone or
    # garbled) made list_sessions / iter_sessions / find_sessions fail on every call.
    clock = FakeClock()
    label_set = prefix + "{}label:1:k=v"
    async with AsyncRedisStore(redis_url, prefix=prefix, clock=clock) as store:
        for session_id in ("a", "b", "c"):
            await store.save(session_id, Conversation([_user(session_id)]), labels={"k": "v"})
            clock.advance(1)
        meta = f"{prefix}{{b}}:meta"
        found, listed = ["c", "a"], ["a", "c"]  # what find_sessions and list_sessions give
        if stray == "label entry of a missing session":
            peek.sadd(label_set, "ghost")  # in no other index, nor in index:labels
            found, listed = ["c", "b", "a"], ["a", "b", "c"]
        elif stray == "index entries of a missing session":
            peek.delete(meta, f"{prefix}{{b}}:msgs")
            peek.hdel(prefix + "{}index:labels", "b")  # nothing left to say where it was
        elif stray == "meta of the wrong type":
            peek.delete(meta)
            peek.set(meta, "stray")
            peek.zadd(prefix + "{}index:expiry", {"b": 0})  # and due for purging
        else:
            field = stray.split()[1]
            peek.hset(meta, field, {"expires": "soon", "updated": "x", "labels": "{bad"}[field])
            if field != "expires":
                listed = ["a", "b", "c"]  # list_sessions reads the expiry only
        for _ in range(2):  # not for good: the second time as the first
            for labels in ({"k": "v"}, None):
                page = await store.find_sessions(labels=labels)
                assert [m.session_id for m in page.items] == found, labels
                # Paging by cursor goes past the damage to every other session.
                first = await store.find_sessions(labels=labels, limit=1)
                assert first.next_cursor is not None
                rest = await store.find_sessions(labels=labels, cursor=first.next_cursor)
                assert [m.session_id for m in first.items + rest.items] == found, labels
            assert await store.list_sessions() == listed
            assert await store.list_sessions(limit=2) == listed[:2]
            assert [sid async for sid in store.iter_sessions()] == listed
        if stray.endswith("missing session"):  # cheap to clean: cleaned
            assert peek.smembers(label_set) == set(found)
            for index in ("ids", "updated"):
                assert peek.zscore(f"{prefix}{{}}index:{index}", "b") is None or "b" in found
        assert await store.purge_expired() == 0
        assert peek.zscore(prefix + "{}index:expiry", "b") is None
        assert await store.clear() == len(listed)
        assert keys_under(redis_url, prefix) == []


async def test_load_with_metadata_is_one_script_and_never_gives_up(
    redis_url: str, prefix: str
) -> None:
    # The base class's default reads the metadata, the messages and the metadata again
    # until no write came in between (it gives up after 20 tries under steady writes);
    # the Redis store reads both in one script: never a retry, never a give-up.
    async with AsyncRedisStore(redis_url, prefix=prefix) as store:
        await store.append("s", _user("0"))
        snapshots: list[tuple[int, int]] = []

        async def writer(n: int) -> None:
            for i in range(50):
                await store.append("s", _user(f"{n}:{i}"))

        async def reader() -> None:
            for _ in range(80):
                conversation, meta = await store.load_with_metadata("s")
                assert len(conversation) == meta.message_count
                assert [m.content for m in conversation][-1] is not None
                snapshots.append((meta.version, meta.message_count))

        async with AsyncNursery() as nursery:
            for n in range(4):
                nursery.start_soon(writer, n)
            nursery.start_soon(reader)
        assert all(version == count for version, count in snapshots)  # one append each
        assert snapshots == sorted(snapshots)

        async def apart(session_id: str) -> Any:
            raise AssertionError("load_with_metadata read the metadata apart")

        store._get_metadata = apart  # type: ignore[method-assign]
        conversation, meta = await store.load_with_metadata("s", last=2)
        assert meta.message_count == 201 and meta.version == 201 and len(conversation) == 2
