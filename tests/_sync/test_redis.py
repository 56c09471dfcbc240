# This file is generated from _async/test_redis.py by scripts/unasync.py: do not edit.
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
    RedisStore,
    BackendError,
    CapacityExceeded,
    Conversation,
    Message,
    SerializationError,
    SessionExpired,
    SessionNotFound,
    StoreClosed,
    VersionConflict,
    open_store,
)
from agent_session._backends.redis import redis_driver, client_options
from agent_session._concurrency import Nursery, sleep
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


def test_a_sessions_two_keys_share_one_hash_tag(redis_url: str, prefix: str) -> None:
    with RedisStore(redis_url, prefix=prefix) as store:
        for session_id in SPECIAL_IDS:
            store.save(session_id, Conversation().add_user(session_id), labels={"k": "v"})
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
            assert [m.content for m in store.load(session_id)] == [session_id]
            assert (store.get_metadata(session_id)).session_id == session_id
            assert (store.pop(session_id)) == _user(session_id)
        assert store.list_sessions() == sorted(SPECIAL_IDS)
        page = store.find_sessions(labels={"k": "v"})
        assert sorted(meta.session_id for meta in page.items) == sorted(SPECIAL_IDS)
        for session_id in SPECIAL_IDS:
            assert store.delete(session_id)
        assert keys_under(redis_url, prefix) == []  # no index entry left behind


def test_ids_that_differ_only_in_braces_are_different_sessions(
    redis_url: str, prefix: str
) -> None:
    ids = ["x", "{x}", "{x", "x}", "{{x}}"]
    with RedisStore(redis_url, prefix=prefix) as store:
        for n, session_id in enumerate(ids):
            store.append(session_id, *[_user(session_id)] * (n + 1))
        for n, session_id in enumerate(ids):
            assert [m.content for m in store.load(session_id)] == [session_id] * (n + 1)
        assert len(_session_keys(redis_url, prefix)) == 2 * len(ids)


def test_every_call_on_a_session_is_one_round_trip(redis_url: str, prefix: str) -> None:
    # pop takes two: it peeks, decodes, then removes only the message it decoded.
    driver, _errors = redis_driver()
    client = driver.Redis.from_url(redis_url, decode_responses=True, **client_options(driver))
    sent: list[str] = []
    original = client.execute_command

    def counting(*args: Any, **options: Any) -> Any:
        sent.append(str(args[0]).upper())
        return original(*args, **options)

    client.execute_command = counting
    store = RedisStore(client, prefix=prefix, default_ttl=60)
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
        call()
    for name, call in calls.items():
        sent.clear()
        call()
        assert sent == ["EVALSHA"] * (2 if name == "pop" else 1), name
    sent.clear()
    store.append("s", _user("x"))
    store.get_metadata("s")
    store.exists("s")
    assert sent == ["EVALSHA", "HMGET", "HGET"]
    store.close()
    client.close()


def test_redis_expires_both_keys_itself(
    redis_url: str, prefix: str, peek: redis.Redis
) -> None:
    with RedisStore(redis_url, prefix=prefix) as store:
        store.save("brief", Conversation().add_user("x"), ttl=0.2, labels={"k": "v"})
        store.save("forever", Conversation().add_user("y"), labels={"k": "v"})
        keys = [f"{prefix}{{brief}}:meta", f"{prefix}{{brief}}:msgs"]
        assert all(0 < peek.pttl(key) <= 200 for key in keys)
        assert all(peek.pttl(f"{prefix}{{forever}}:{kind}") == -1 for kind in ("meta", "msgs"))
        deadline = time.monotonic() + 5
        while any(peek.exists(key) for key in keys) and time.monotonic() < deadline:
            sleep(0.05)
        assert not any(peek.exists(key) for key in keys)
        # Reclaimed by Redis: gone (not found, not merely expired), and never listed.
        assert not store.exists("brief")
        with pytest.raises(SessionNotFound) as info:
            store.get_metadata("brief")
        assert not isinstance(info.value, SessionExpired)
        assert store.list_sessions() == ["forever"]
        page = store.find_sessions(labels={"k": "v"})
        assert [meta.session_id for meta in page.items] == ["forever"]
        # Readers dropped every index entry of it on sight.
        assert peek.zscore(prefix + "{}index:ids", "brief") is None
        assert peek.zscore(prefix + "{}index:updated", "brief") is None
        assert peek.zscore(prefix + "{}index:expiry", "brief") is None
        assert peek.smembers(prefix + "{}label:1:k=v") == {"forever"}
        assert not peek.hexists(prefix + "{}index:labels", "brief")
        assert store.purge_expired() == 0
        assert store.delete("forever")
        assert keys_under(redis_url, prefix) == []


def test_purge_drops_the_index_entries_of_sessions_redis_reclaimed(
    redis_url: str, prefix: str, peek: redis.Redis
) -> None:
    with RedisStore(redis_url, prefix=prefix) as store:
        store.save("brief", Conversation().add_user("x"), ttl=0.2, labels={"k": "v"})
        keys = [f"{prefix}{{brief}}:meta", f"{prefix}{{brief}}:msgs"]
        deadline = time.monotonic() + 5
        while any(peek.exists(key) for key in keys) and time.monotonic() < deadline:
            sleep(0.05)
        assert keys_under(redis_url, prefix) != []  # its index entries are still there
        assert store.purge_expired() == 0  # Redis removed it, not purge_expired
        assert keys_under(redis_url, prefix) == []


def test_the_store_clock_decides_and_redis_gets_the_time_left(
    redis_url: str, prefix: str, peek: redis.Redis
) -> None:
    clock = FakeClock(1_000.0)  # far from real time: an absolute expiry would be wrong
    with RedisStore(redis_url, prefix=prefix, clock=clock) as store:
        store.append("s", _user("x"), ttl=600)
        keys = [f"{prefix}{{s}}:meta", f"{prefix}{{s}}:msgs"]
        assert all(300_000 < peek.pttl(key) <= 600_000 for key in keys)
        clock.advance(601)
        with pytest.raises(SessionExpired):
            store.get_metadata("s")
        assert all(peek.exists(key) for key in keys)  # Redis still holds it
        assert not store.exists("s")
        assert store.list_sessions() == []
        meta = store.append("s", _user("y"), ttl=30)  # a write starts anew
        assert (meta.version, meta.message_count, meta.created_at) == (1, 1, clock())
        assert all(0 < peek.pttl(key) <= 30_000 for key in keys)
        store.touch("s", ttl=None)  # no expiry: Redis's goes too
        assert all(peek.pttl(key) == -1 for key in keys)
        assert peek.zscore(prefix + "{}index:expiry", "s") is None
        store.touch("s", ttl=90)
        assert all(60_000 < peek.pttl(key) <= 90_000 for key in keys)
        assert peek.zscore(prefix + "{}index:expiry", "s") == clock() + 90


def test_a_refused_write_leaves_even_an_expired_session_alone(
    redis_url: str, prefix: str
) -> None:
    clock = FakeClock()
    with RedisStore(redis_url, prefix=prefix, clock=clock, max_messages=2) as store:
        store.save("s", Conversation().add_user("x"), ttl=5)
        clock.advance(6)
        with pytest.raises(VersionConflict):
            store.append("s", _user("y"), expected_version=1)  # expired: version 0
        with pytest.raises(CapacityExceeded):
            store.save("s", Conversation().add_user("a").add_user("b").add_user("c"))
        with pytest.raises(SessionExpired):  # still there, still expired
            store.get_metadata("s")
        meta = store.append("s", _user("y"), expected_version=0)
        assert (meta.version, meta.message_count) == (1, 1)


def test_an_enormous_ttl_is_stored_whole(redis_url: str, prefix: str) -> None:
    with RedisStore(redis_url, prefix=prefix) as store:
        meta = store.save("s", Conversation().add_user("x"), ttl=1e300)
        assert meta.expires_at == meta.updated_at + 1e300
        meta = store.append("s", _user("y"))
        assert meta.version == 2 and meta.expires_at == meta.updated_at + 1e300
        assert len(store.load("s")) == 2


def test_a_callers_client_is_used_as_is_and_not_closed(redis_url: str, prefix: str) -> None:
    driver, _errors = redis_driver()
    client = driver.Redis.from_url(redis_url, **client_options(driver))  # replies as bytes
    with RedisStore(client, prefix=prefix) as store:
        store.save("s", Conversation().add_user("hé"), labels={"k": "v"})
        store.append("s", _user("x"))
        assert [m.content for m in store.load("s")] == ["hé", "x"]
        assert dict((store.get_metadata("s")).labels) == {"k": "v"}
        assert store.list_sessions() == ["s"]
        assert [m.session_id for m in (store.find_sessions(labels={"k": "v"})).items] == ["s"]
        assert store.pop("s") == _user("x")
    with pytest.raises(StoreClosed):
        store.exists("s")
    assert client.ping()
    client.close()


def test_a_store_from_a_url_closes_once(redis_url: str, prefix: str) -> None:
    store = RedisStore(redis_url, prefix=prefix)
    store.append("s", _user("x"))
    store.close()
    store.close()
    with pytest.raises(StoreClosed):
        store.load("s")
    with pytest.raises(StoreClosed):
        for _session_id in store.iter_sessions():
            pass


def test_more_concurrent_calls_than_connections_wait_for_one(
    redis_url: str, prefix: str
) -> None:
    # Found by the soak run: 200 tasks on one store got MaxConnectionsError past the
    # pool's 100 connections; now a call waits for a free connection instead.
    with RedisStore(redis_url, prefix=prefix) as store:

        def writer(n: int) -> None:
            for i in range(3):
                store.append(f"s{n % 10}", _user(f"{n}:{i}"))
                store.load(f"s{n % 10}", last=2)

        with Nursery() as nursery:
            for n in range(150):
                nursery.start_soon(writer, n)
        total = 0
        for k in range(10):
            total += (store.get_metadata(f"s{k}")).message_count
        assert total == 450


def test_bad_arguments_are_refused_up_front(redis_url: str) -> None:
    with pytest.raises(TypeError, match="url_or_client"):
        RedisStore(42)
    with pytest.raises(TypeError, match="prefix"):
        RedisStore(redis_url, prefix=b"p:")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="socket_timeout"):
        RedisStore(redis_url, socket_timeout=0)
    with pytest.raises(ValueError, match="max_messages"):
        RedisStore(redis_url, max_messages=0)


def test_a_corrupted_message_raises_serialization_error(
    redis_url: str, prefix: str, peek: redis.Redis
) -> None:
    with RedisStore(redis_url, prefix=prefix) as store:
        store.append("s", _user("x"), _user("y"))
        peek.lset(f"{prefix}{{s}}:msgs", -1, "not json")
        before = store.get_metadata("s")
        with pytest.raises(SerializationError) as raised:
            store.load("s")
        assert raised.value.session_id == "s"
        with pytest.raises(SerializationError) as raised:
            store.pop("s")
        assert raised.value.session_id == "s"
        # Issue 7, defect 2: nothing written, the message a pop could not decode kept.
        assert store.get_metadata("s") == before
        kept = peek.lrange(f"{prefix}{{s}}:msgs", 0, -1)
        assert len(kept) == 2 and kept[-1] == "not json"
        assert store.delete("s")


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
def test_a_malformed_meta_field_stops_every_write_before_it_writes(
    redis_url: str, prefix: str, peek: redis.Redis, damage: tuple[str, str | None]
) -> None:
    # Issue 7, defect 2: a script found the damage only after writing (pop removed the
    # message, append applied and then reported BackendError, so a retry duplicated it).
    field, value = damage
    meta, msgs = f"{prefix}{{s}}:meta", f"{prefix}{{s}}:msgs"
    with RedisStore(redis_url, prefix=prefix, default_ttl=60, sliding=True) as store:
        store.save("s", Conversation([_user("x"), _user("y")]), labels={"k": "v"})
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
                write()
            assert raised.value.session_id == "s", name
            assert field in str(raised.value), name
            assert (peek.hgetall(meta), peek.lrange(msgs, 0, -1), peek.pttl(meta) > 0) == stored
        if field != "ttl":  # get_metadata reads every other field (issue 7, defect 6)
            with pytest.raises(SerializationError) as raised:
                store.get_metadata("s")
            assert raised.value.session_id == "s"
        assert store.delete("s")  # a damaged session can still be removed
        assert not peek.exists(meta, msgs)
        assert store.list_sessions() == []


def test_a_message_list_lost_behind_the_stores_back_is_reported(
    redis_url: str, prefix: str, peek: redis.Redis
) -> None:
    with RedisStore(redis_url, prefix=prefix) as store:
        store.append("s", _user("x"), _user("y"))
        peek.delete(f"{prefix}{{s}}:msgs")  # as an eviction under memory pressure would
        with pytest.raises(SerializationError, match="noeviction"):
            store.load("s")
        with pytest.raises(SerializationError, match="noeviction"):
            store.load("s", last=1)
        with pytest.raises(SerializationError, match="noeviction"):
            store.pop("s")


def test_labels_with_awkward_text_are_indexed_exactly(redis_url: str, prefix: str) -> None:
    awkward = {"a=b": "c", "a": "b=c", "ключ": "värde 🙂", "x:y|z": "new\nline", "": "empty key"}
    with RedisStore(redis_url, prefix=prefix) as store:
        store.save("s", Conversation().add_user("x"), labels=awkward)
        store.save("t", Conversation().add_user("x"), labels={"a": "b"})
        assert dict((store.get_metadata("s")).labels) == awkward
        for key, value in awkward.items():
            page = store.find_sessions(labels={key: value})
            assert [meta.session_id for meta in page.items] == ["s"], key
        assert (store.find_sessions(labels={"a": "b"})).items[0].session_id == "t"
        assert (store.find_sessions(labels=awkward)).items[0].session_id == "s"
        store.save("s", Conversation().add_user("x"), labels={})
        assert (store.find_sessions(labels={"a=b": "c"})).items == []
        store.delete("s")
        store.delete("t")
        assert keys_under(redis_url, prefix) == []


def test_a_large_conversation_is_written_in_one_script(redis_url: str, prefix: str) -> None:
    conversation = Conversation()
    for i in range(2_500):  # more than one RPUSH batch, more than Lua's unpack limit
        conversation.add_user(str(i))
    with RedisStore(redis_url, prefix=prefix) as store:
        meta = store.save("big", conversation)
        assert meta.message_count == 2_500
        assert store.load("big") == conversation
        meta = store.append("big", *[_user(str(i)) for i in range(2_500, 4_500)])
        assert meta.message_count == 4_500
        assert [m.content for m in store.load("big", last=3)] == ["4497", "4498", "4499"]


def test_no_key_outlives_its_session(redis_url: str, prefix: str) -> None:
    clock = FakeClock()
    with RedisStore(redis_url, prefix=prefix, clock=clock) as store:
        for n in range(5):
            session_id = f"s{n}"
            store.save(session_id, Conversation().add_user("a"), labels={"n": str(n)})
            store.save(session_id, Conversation().add_user("b"), labels={"team": "x"})
            store.append(session_id, _user("c"), ttl=10 if n % 2 else None)
            store.pop(session_id)
            store.touch(session_id)
        clock.advance(11)
        assert store.purge_expired() == 2  # s1, s3
        assert store.list_sessions() == ["s0", "s2", "s4"]
        for session_id in ["s0", "s2", "s4"]:
            assert store.delete(session_id)
        assert keys_under(redis_url, prefix) == []


def test_clear_removes_its_prefix_only(redis_url: str, prefix: str) -> None:
    other_prefix = new_prefix()
    clock = FakeClock()
    try:
        with (
            RedisStore(redis_url, prefix=prefix, clock=clock) as store,
            RedisStore(redis_url, prefix=other_prefix) as other,
        ):
            store.save("a", Conversation().add_user("x"), labels={"k": "v"})
            store.save("b", Conversation().add_user("x"), ttl=5)
            other.save("a", Conversation().add_user("kept"))
            clock.advance(6)
            assert store.clear() == 1  # live ones only; the expired one goes too
            assert keys_under(redis_url, prefix) == []
            assert [m.content for m in other.load("a")] == ["kept"]
    finally:
        delete_prefix(redis_url, other_prefix)


@pytest.mark.parametrize("nested", ["nested:", "index:", "label:1:k=", "x"])
def test_stores_whose_prefixes_nest_never_see_each_others_sessions(
    redis_url: str, prefix: str, nested: str
) -> None:
    # Issue 7, defect 3: clear() on "app:" deleted the sessions of "app:nested:".
    inner_prefix = prefix + nested
    try:
        with (
            RedisStore(redis_url, prefix=prefix) as outer,
            RedisStore(redis_url, prefix=inner_prefix) as inner,
        ):
            inner.save("a", Conversation().add_user("kept"), labels={"k": "v"})
            inner.append("ids", _user("kept"))
            outer.save("a", Conversation().add_user("x"), labels={"k": "v"})
            outer.save("index", Conversation().add_user("x"), ttl=60)
            inner_keys = keys_under(redis_url, inner_prefix)
            assert outer.list_sessions() == ["a", "index"]
            assert outer.clear() == 2
            assert keys_under(redis_url, inner_prefix) == inner_keys
            assert inner.list_sessions() == ["a", "ids"]
            assert [m.content for m in inner.load("a")] == ["kept"]
            assert [p.session_id for p in (inner.find_sessions(labels={"k": "v"})).items] == [
                "a"
            ]
            assert inner.clear() == 2
            assert keys_under(redis_url, prefix) == []
    finally:
        delete_prefix(redis_url, inner_prefix)


@pytest.mark.parametrize("bad", ["app:{x}:", "{", "a}b"])
def test_a_prefix_with_a_brace_is_refused(redis_url: str, bad: str) -> None:
    with pytest.raises(ValueError, match="must not contain"):
        RedisStore(redis_url, prefix=bad)


def test_open_async_store_builds_a_redis_store(redis_url: str, prefix: str) -> None:
    url = f"{redis_url}?prefix={prefix}&default_ttl=30&socket_timeout=2"
    with open_store(url) as store:
        assert isinstance(store, RedisStore)
        meta = store.append("s", _user("x"))
        assert meta.expires_at == meta.updated_at + 30
    assert _session_keys(redis_url, prefix) == [f"{prefix}{{s}}:meta", f"{prefix}{{s}}:msgs"]


def test_scripts_flushed_from_redis_are_loaded_again(private_redis: PrivateRedis) -> None:
    clock = FakeClock()
    with RedisStore(private_redis.url, clock=clock) as store:
        store.append("s", _user("x"), ttl=5)
        with redis.Redis.from_url(private_redis.url) as admin:
            admin.script_flush()
        store.append("s", _user("y"))  # NOSCRIPT: redis-py loads it and retries
        assert [m.content for m in store.load("s")] == ["x", "y"]
        with redis.Redis.from_url(private_redis.url) as admin:
            admin.script_flush()
        clock.advance(6)
        assert store.purge_expired() == 1  # the pipelined path loads them too


def test_an_outage_raises_backend_error_then_the_same_store_recovers(
    private_redis: PrivateRedis,
) -> None:
    store = RedisStore(private_redis.url, socket_timeout=2.0)
    try:
        store.save("s", Conversation().add_user("before"), labels={"k": "v"})
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
                call()
            assert isinstance(info.value.__cause__, redis.RedisError), name
        with pytest.raises(BackendError):
            for _session_id in store.iter_sessions():
                pass
        # A refused connection fails at once: nothing waits for a timeout or retries.
        assert time.monotonic() - started < 10
        private_redis.start()  # same port, empty (no persistence)
        meta = store.append("s", _user("after"))
        assert meta.version == 1  # a fresh server: the write started a new session
        assert [m.content for m in store.load("s")] == ["after"]
        assert store.list_sessions() == ["s"]
    finally:
        store.close()


def test_an_empty_prefix_is_refused(redis_url: str) -> None:
    # clear() deletes every key under the prefix: with "" that would be the whole database.
    with pytest.raises(ValueError, match="prefix"):
        RedisStore(redis_url, prefix="")


@pytest.mark.parametrize("late_write", LATE_WRITES)
def test_a_write_that_read_the_clock_then_stalled_never_moves_time_back(
    redis_url: str, prefix: str, late_write: str
) -> None:
    clock = FakeClock(1000.0)
    check_a_stalled_write(
        RedisStore(redis_url, prefix=prefix, clock=clock, default_ttl=1.5, sliding=True),
        clock,
        late_write,
    )


def _close_under_load(url: str, prefix: str, round_: int) -> None:
    """8 workers append and read in a loop; the store is closed under them."""
    store = RedisStore(url, prefix=prefix)
    appended: list[tuple[str, str]] = []
    endings: list[BaseException | None] = []
    deadline = time.monotonic() + 5  # bounded even if closing stopped nothing

    def worker(n: int) -> None:
        session_id = f"s{n % 2}"
        i = 0
        try:
            while time.monotonic() < deadline:
                text = f"{round_}-{n}-{i}"
                store.append(session_id, _user(text))
                appended.append((session_id, text))
                store.load(session_id, last=3)
                store.list_sessions()
                store.find_sessions(limit=5)
                i += 1
        except Exception as exc:  # collected: the test judges every one of them
            endings.append(exc)
            return
        endings.append(None)

    with Nursery() as nursery:
        for n in range(8):
            nursery.start_soon(worker, n)
        sleep(0.15)
        store.close()
    assert len(endings) == 8
    for ending in endings:
        assert isinstance(ending, (StoreClosed, BackendError)), repr(ending)
    with RedisStore(url, prefix=prefix) as fresh:
        for session_id in ("s0", "s1"):
            held = {m.content for m in fresh.load(session_id)}
            assert {text for sid, text in appended if sid == session_id} <= held


def test_closing_while_calls_are_in_flight_raises_only_store_errors(
    redis_url: str, prefix: str
) -> None:
    # Issue 7, defect 9: close() under calls in flight (threads, in the sync half) leaked
    # redis-py internals ("'NoneType' object has no attribute 'readline'", "I/O
    # operation on closed file"). Calls in flight finish, or raise StoreClosed (or
    # BackendError); no append that returned is lost.
    for round_ in range(3):  # each round a few tenths of a second
        _close_under_load(redis_url, prefix, round_)


@pytest.mark.parametrize(
    ("which", "damage"),
    [
        ("meta", "string"),
        ("meta", "list"),
        ("msgs", "hash"),
        ("msgs", "string"),
    ],
)
def test_a_session_key_of_the_wrong_type_raises_serialization_error(
    redis_url: str, prefix: str, peek: redis.Redis, which: str, damage: str
) -> None:
    # Issue 7, defect 6: a key of another type (set behind the store's back) raised
    # BackendError (Redis's WRONGTYPE), as if Redis were down.
    with RedisStore(redis_url, prefix=prefix, default_ttl=60) as store:
        store.save("s", Conversation([_user("x")]), labels={"k": "v"})
        store.save("other", Conversation([_user("y")]), labels={"k": "v"})
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
                call()
            assert raised.value.session_id == "s", name
            assert key in str(raised.value) and damage in str(raised.value), name
            assert snapshot() == before, name  # nothing written
        # The other session is untouched, and the listings go on without the damage.
        assert [m.content for m in store.load("other")] == ["y"]
        listed = ["other"] if which == "meta" else ["other", "s"]
        assert store.list_sessions() == listed
        assert [sid for sid in store.iter_sessions()] == listed
        for labels in (None, {"k": "v"}):
            page = store.find_sessions(labels=labels)
            assert sorted(meta.session_id for meta in page.items) == listed
        assert store.purge_expired() == 0
        assert store.delete("s")  # a damaged session can still be removed
        assert not peek.exists(f"{prefix}{{s}}:meta", f"{prefix}{{s}}:msgs")
        assert store.list_sessions() == ["other"]


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
def test_a_garbled_meta_field_raises_serialization_error_on_every_read(
    redis_url: str, prefix: str, peek: redis.Redis, field: str, value: str
) -> None:
    # Issue 7, defect 6: exists() raised a bare ValueError on a garbled expiry, and
    # get_metadata() took NaN, infinite and negative numbers for good ones.
    with RedisStore(redis_url, prefix=prefix) as store:
        store.save("s", Conversation([_user("x")]), labels={"k": "v"})
        peek.hset(f"{prefix}{{s}}:meta", field, value)
        reads: dict[str, Callable[[], Any]] = {"get_metadata": lambda: store.get_metadata("s")}
        if field == "expires":
            reads["exists"] = lambda: store.exists("s")
        if field in ("expires", "updated", "count", "size"):  # what load reads
            reads["load"] = lambda: store.load("s")
        reads["load_with_metadata"] = lambda: store.load_with_metadata("s")  # reads all
        for name, read in reads.items():
            with pytest.raises(SerializationError) as raised:
                read()
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
def test_a_stray_index_entry_never_breaks_the_listings(
    redis_url: str, prefix: str, peek: redis.Redis, stray: str
) -> None:
    # Issue 7, defect 6: one bad entry in an index (an id whose session is gone or
    # garbled) made list_sessions / iter_sessions / find_sessions fail on every call.
    clock = FakeClock()
    label_set = prefix + "{}label:1:k=v"
    with RedisStore(redis_url, prefix=prefix, clock=clock) as store:
        for session_id in ("a", "b", "c"):
            store.save(session_id, Conversation([_user(session_id)]), labels={"k": "v"})
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
                page = store.find_sessions(labels=labels)
                assert [m.session_id for m in page.items] == found, labels
                # Paging by cursor goes past the damage to every other session.
                first = store.find_sessions(labels=labels, limit=1)
                assert first.next_cursor is not None
                rest = store.find_sessions(labels=labels, cursor=first.next_cursor)
                assert [m.session_id for m in first.items + rest.items] == found, labels
            assert store.list_sessions() == listed
            assert store.list_sessions(limit=2) == listed[:2]
            assert [sid for sid in store.iter_sessions()] == listed
        if stray.endswith("missing session"):  # cheap to clean: cleaned
            assert peek.smembers(label_set) == set(found)
            for index in ("ids", "updated"):
                assert peek.zscore(f"{prefix}{{}}index:{index}", "b") is None or "b" in found
        assert store.purge_expired() == 0
        assert peek.zscore(prefix + "{}index:expiry", "b") is None
        assert store.clear() == len(listed)
        assert keys_under(redis_url, prefix) == []


def test_load_with_metadata_is_one_script_and_never_gives_up(
    redis_url: str, prefix: str
) -> None:
    # The base class's default reads the metadata, the messages and the metadata again
    # until no write came in between (it gives up after 20 tries under steady writes);
    # the Redis store reads both in one script: never a retry, never a give-up.
    with RedisStore(redis_url, prefix=prefix) as store:
        store.append("s", _user("0"))
        snapshots: list[tuple[int, int]] = []

        def writer(n: int) -> None:
            for i in range(50):
                store.append("s", _user(f"{n}:{i}"))

        def reader() -> None:
            for _ in range(80):
                conversation, meta = store.load_with_metadata("s")
                assert len(conversation) == meta.message_count
                assert [m.content for m in conversation][-1] is not None
                snapshots.append((meta.version, meta.message_count))

        with Nursery() as nursery:
            for n in range(4):
                nursery.start_soon(writer, n)
            nursery.start_soon(reader)
        assert all(version == count for version, count in snapshots)  # one append each
        assert snapshots == sorted(snapshots)

        def apart(session_id: str) -> Any:
            raise AssertionError("load_with_metadata read the metadata apart")

        store._get_metadata = apart  # type: ignore[method-assign]
        conversation, meta = store.load_with_metadata("s", last=2)
        assert meta.message_count == 201 and meta.version == 201 and len(conversation) == 2
