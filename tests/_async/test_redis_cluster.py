"""The Redis store on a Redis Cluster: a private one of three masters (``redis_cluster``
in ``tests/conftest.py``, built by ``tests/redis_helpers.py``).

The whole store contract runs on it too (``tests/_async/test_contract_redis.py``);
here: the layout over slots and nodes, the two calls of a write and what happens when
the second one fails, index updates that arrive late or race with a cleanup, prefixes,
URLs and clients. asyncio only (redis.asyncio needs it).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import redis.cluster
import redis.exceptions
from redis_helpers import PrivateCluster, disconnect_nodes, new_prefix, slot

from agent_session import (
    AsyncRedisStore,
    BackendError,
    Conversation,
    Message,
    SessionMetadata,
    open_async_store,
)
from agent_session._backends.redis import aredis_driver, client_options
from agent_session._concurrency import AsyncNursery, asleep

#: How long a test waits for the cluster to notice a killed node, or to heal.
_BOUND = 15.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def cluster(redis_cluster: PrivateCluster) -> Iterator[PrivateCluster]:
    """The session's cluster, emptied after each test."""
    yield redis_cluster
    redis_cluster.wait_ok(time.monotonic() + _BOUND)  # healed, if the test broke it
    redis_cluster.flush()


@pytest.fixture
def prefix() -> str:
    return new_prefix()


@pytest.fixture
def peek(cluster: PrivateCluster) -> Iterator[redis.cluster.RedisCluster]:
    """A plain blocking cluster client to look at the keys behind the store's back."""
    client = redis.cluster.RedisCluster.from_url(cluster.url, decode_responses=True)
    yield client
    client.close()
    disconnect_nodes(client)


async def _close(client: Any) -> None:
    """Close a cluster client of the test's own, every node's connections too."""
    await client.aclose()
    disconnect_nodes(client)


def _user(text: str) -> Message:
    return Message("user", text)


def _keys(peek: redis.cluster.RedisCluster, prefix: str) -> list[str]:
    escaped = "".join("\\" + c if c in "*?[]\\" else c for c in prefix)
    return sorted(peek.scan_iter(match=escaped + "*", count=1000))


def _port(peek: redis.cluster.RedisCluster, key: str) -> int:
    return int(peek.get_node_from_key(key).port)  # type: ignore[no-untyped-call]


def _index_key(prefix: str) -> str:
    return f"{prefix}{{{prefix}}}index:state"


def _ids_on_other_nodes(peek: redis.cluster.RedisCluster, prefix: str, n: int) -> list[str]:
    """``n`` session ids whose keys live on another node than the index."""
    index_port = _port(peek, _index_key(prefix))
    found = []
    for i in range(1000):
        session_id = f"s{i}"
        if _port(peek, f"{prefix}{{{session_id}}}:meta") != index_port:
            found.append(session_id)
            if len(found) == n:
                return found
    raise AssertionError("no session id hashes away from the index node")


async def _eventually(call: Any, bound: float = _BOUND) -> Any:
    """``call()``'s result once it stops raising BackendError (a healed node's first
    call may still meet a connection the kill broke)."""
    deadline = time.monotonic() + bound
    while True:
        try:
            return await call()
        except BackendError:
            if time.monotonic() > deadline:
                raise
            await asleep(0.1)


async def test_sessions_spread_over_the_nodes_and_the_index_is_one_slot(
    cluster: PrivateCluster, peek: redis.cluster.RedisCluster, prefix: str
) -> None:
    ids = [f"user-{n}" for n in range(40)] + ["with{brace}", "ünï 🙂"]
    async with AsyncRedisStore(cluster.cluster_url, prefix=prefix) as store:
        for n, session_id in enumerate(ids):
            await store.save(session_id, Conversation().add_user("x"), labels={"k": str(n % 3)})
        keys = _keys(peek, prefix)
        index = [key for key in keys if key.startswith(f"{prefix}{{{prefix}}}")]
        sessions = [key for key in keys if key not in index]
        assert len(sessions) == 2 * len(ids)
        assert {slot(key) for key in index} == {slot(_index_key(prefix))}  # one slot
        assert len({slot(key) for key in sessions}) == len(ids)  # a slot per session
        assert len({_port(peek, key) for key in sessions}) == len(cluster.ports)
        for session_id in ids:
            meta, msgs = store._keys(session_id)
            assert slot(meta) == slot(msgs)
        assert await store.list_sessions() == sorted(ids)
        page = await store.find_sessions(labels={"k": "1"}, limit=100)
        assert sorted(m.session_id for m in page.items) == sorted(ids[1::3])
        for session_id in ids:
            assert await store.delete(session_id)
        assert _keys(peek, prefix) == []  # no index entry left behind


async def test_a_write_is_its_sessions_script_then_the_index_script(
    cluster: PrivateCluster, peek: redis.cluster.RedisCluster, prefix: str
) -> None:
    driver, _errors = aredis_driver()
    client = driver.RedisCluster.from_url(
        cluster.url, decode_responses=True, **client_options(driver)
    )
    sent: list[tuple[str, str]] = []
    original = client.execute_command

    async def counting(*args: Any, **options: Any) -> Any:
        command = str(args[0]).upper()
        key = str(args[3]) if command in ("EVALSHA", "EVAL") else str(args[1])
        sent.append((command, "index" if key == _index_key(prefix) else "session"))
        return await original(*args, **options)

    client.execute_command = counting
    store = AsyncRedisStore(client, prefix=prefix, default_ttl=60)
    calls: dict[str, Any] = {
        "save": lambda: store.save("s", Conversation().add_user("a"), labels={"k": "v"}),
        "append": lambda: store.append("s", _user("b"), _user("c")),
        "touch": lambda: store.touch("s", ttl=30),
        "delete": lambda: store.delete("s"),
    }
    for call in calls.values():  # the first run may load the scripts into the nodes
        await call()
    await store.append("s", _user("x"))
    await store.pop("s")
    await store.load_with_metadata("s")
    await store.delete("s")
    for name, call in calls.items():
        sent.clear()
        await call()
        assert sent == [("EVALSHA", "session"), ("EVALSHA", "index")], name
    await store.append("s", _user("x"), _user("y"))
    sent.clear()
    await store.pop("s")  # peek, pop, index
    assert sent == [("EVALSHA", "session")] * 2 + [("EVALSHA", "index")]
    for read in (
        lambda: store.load("s"),
        lambda: store.load("s", last=1),
        lambda: store.load_with_metadata("s"),
        lambda: store.get_metadata("s"),
    ):
        sent.clear()
        await read()
        assert len(sent) == 1 and sent[0][1] == "session"
    await store.aclose()
    await _close(client)


class _FailingIndex:
    """Makes the store's index script fail (a driver ConnectionError) while ``on``."""

    def __init__(self, store: AsyncRedisStore) -> None:
        self.on = True
        self.failed = 0
        original = store._run

        async def run(script: Any, keys: list[str], args: list[str]) -> Any:
            if self.on and script is store._scripts.index:
                self.failed += 1
                raise redis.exceptions.ConnectionError("index node unreachable (test)")
            return await original(script, keys, args)

        store._run = run  # type: ignore[method-assign]


async def test_an_index_update_that_fails_loses_nothing_and_the_listing_recovers(
    cluster: PrivateCluster, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = cluster.cluster_url
    async with (
        AsyncRedisStore(url, prefix=prefix) as store,
        AsyncRedisStore(url, prefix=prefix) as other,
    ):
        await store.save("a", Conversation().add_user("a1"), labels={"team": "x"})
        failing = _FailingIndex(store)
        # Acknowledged: the session's own script ran; its index update is kept.
        meta = await store.append("b", _user("b1"))
        await store.save("a", Conversation().add_user("a2"), labels={"team": "y"})
        assert failing.failed == 2 and meta.version == 1
        assert "index update failed" in caplog.text
        assert [m.content for m in await store.load("b")] == ["b1"]
        assert [m.content for m in await store.load("a")] == ["a2"]
        with pytest.raises(BackendError) as info:
            await store.list_sessions()  # the kept updates cannot be delivered yet
        assert isinstance(info.value.__cause__, redis.exceptions.ConnectionError)
        # What another store (process) sees meanwhile: the index as it was.
        assert await other.list_sessions() == ["a"]
        assert (await other.find_sessions(labels={"team": "y"})).items == []
        # The index is back: the next index call delivers what was kept.
        failing.on = False
        assert await store.list_sessions() == ["a", "b"]
        assert await other.list_sessions() == ["a", "b"]
        page = await other.find_sessions(labels={"team": "y"})
        assert [m.session_id for m in page.items] == ["a"]
        assert (await other.find_sessions(labels={"team": "x"})).items == []
        assert store._pending == {}


async def test_repair_index_mends_an_update_whose_store_is_gone(
    cluster: PrivateCluster, prefix: str
) -> None:
    url = cluster.cluster_url
    async with AsyncRedisStore(url, prefix=prefix) as other:
        store = AsyncRedisStore(url, prefix=prefix)
        _FailingIndex(store)
        await store.append("lost", _user("m1"), _user("m2"))
        await store.aclose()  # its kept update goes with it (a process that ended)
        await other.save("kept", Conversation().add_user("k"))
        assert await other.list_sessions() == ["kept"]
        assert await other.repair_index() == 2
        assert await other.list_sessions() == ["kept", "lost"]
        assert [m.content for m in await other.load("lost")] == ["m1", "m2"]
        assert await other.repair_index() == 2  # harmless again


async def test_repair_index_does_nothing_on_one_server(redis_url: str, prefix: str) -> None:
    async with AsyncRedisStore(redis_url, prefix=prefix) as store:
        await store.save("s", Conversation().add_user("x"))
        assert await store.repair_index() == 0
        await store.clear()


async def test_a_killed_index_node_loses_no_acknowledged_message(
    cluster: PrivateCluster, peek: redis.cluster.RedisCluster, prefix: str
) -> None:
    # The index node is killed (no persistence: the index is lost with it) while the
    # sessions' nodes stay up. A write then is acknowledged (its session's script ran);
    # listings fail with BackendError while the node is away, and once it is back the
    # kept index update and repair_index() bring the listing back.
    index_port = _port(peek, _index_key(prefix))
    first, second = _ids_on_other_nodes(peek, prefix, 2)
    store = AsyncRedisStore(cluster.cluster_url, prefix=prefix, socket_timeout=2)
    try:
        await store.save(first, Conversation().add_user("m1"))
        await store.save(second, Conversation().add_user("n1"))
        cluster.kill(index_port)
        meta = await store.append(first, _user("m2"))  # its index update fails
        assert meta.version == 2 and meta.message_count == 2
        with pytest.raises(BackendError) as info:
            await store.list_sessions()
        assert isinstance(info.value.__cause__, redis.exceptions.ConnectionError)
        cluster.restart(index_port)  # back before the others mark it failed, most often
        conversation = await _eventually(lambda: store.load(first))
        assert [m.content for m in conversation] == ["m1", "m2"]  # nothing acknowledged lost
        # The kept update of `first` is delivered; `second`'s entry went with the node.
        assert await _eventually(store.list_sessions) == [first]
        assert await store.repair_index() == 2
        assert await store.list_sessions() == sorted([first, second])
        assert [m.content for m in await store.load(second)] == ["n1"]
    finally:
        if index_port not in cluster.running():
            cluster.restart(index_port)
        await store.aclose()


async def test_a_cluster_that_is_down_raises_backend_error_then_recovers(
    cluster: PrivateCluster, peek: redis.cluster.RedisCluster, prefix: str
) -> None:
    # A node that does not see every slot served says CLUSTERDOWN to every command (as
    # the whole cluster does while a master is down): here, a node that gives up one
    # of its slots for a moment.
    async with AsyncRedisStore(cluster.cluster_url, prefix=prefix) as store:
        await store.append("s", _user("m1"))
        key = store._keys("s")[0]
        with redis.Redis(port=_port(peek, key), decode_responses=True) as node:
            node.execute_command("CLUSTER", "DELSLOTS", slot(key))
            try:
                deadline = time.monotonic() + _BOUND
                while "cluster_state:fail" not in node.execute_command("CLUSTER", "INFO"):
                    assert time.monotonic() < deadline
                    await asleep(0.02)
                for call in (lambda: store.append("s", _user("m2")), lambda: store.load("s")):
                    with pytest.raises(BackendError) as info:
                        await call()
                    assert isinstance(info.value.__cause__, redis.exceptions.ClusterDownError)
                    assert "ClusterDownError" in str(info.value)
            finally:
                node.execute_command("CLUSTER", "ADDSLOTS", slot(key))
        cluster.wait_ok(time.monotonic() + _BOUND)
        assert [m.content for m in await _eventually(lambda: store.load("s"))] == ["m1"]
        await store.append("s", _user("m3"))  # the same store works again
        assert [m.content for m in await store.load("s")] == ["m1", "m3"]


async def test_a_late_index_update_never_moves_the_index_back(
    cluster: PrivateCluster, prefix: str
) -> None:
    async with AsyncRedisStore(cluster.cluster_url, prefix=prefix) as store:
        old = await store.save("s", Conversation().add_user("a"), labels={"v": "1"})
        new = await store.save("s", Conversation().add_user("b"), labels={"v": "2"})
        # The first write's index update, arriving after the second's (another task's
        # call was slower): the index keeps showing the newer state.
        await store._run_index(
            [["sync", "s", repr(old.updated_at), str(old.version), "", '{"v":"1"}']]
        )
        assert (await store.find_sessions(labels={"v": "1"})).items == []
        page = await store.find_sessions(labels={"v": "2"})
        assert page.items == [new]
        hit = await store.find_sessions(updated_after=old.updated_at - 1)
        assert hit.items == [new]


async def test_the_index_ends_at_the_newest_write_under_concurrent_writers(
    cluster: PrivateCluster, peek: redis.cluster.RedisCluster, prefix: str
) -> None:
    # Writers interleave between their two calls, so index updates arrive out of
    # order; each session's index state still ends at its newest write.
    async with AsyncRedisStore(cluster.cluster_url, prefix=prefix, default_ttl=60) as store:

        async def writer(n: int) -> None:
            for i in range(25):
                session_id = f"s{(n + i) % 4}"
                if i % 3 == 0:
                    labels = {"writer": str(n), "round": str(i)}
                    await store.save(session_id, Conversation().add_user(f"{n}:{i}"), labels=labels)
                elif i % 3 == 1:
                    await store.append(session_id, _user(f"{n}:{i}"))
                else:
                    await store.touch(session_id, ttl=30 + i)

        for n in range(4):  # touch needs the session to exist
            await store.append(f"s{n}", _user("first"))
        async with AsyncNursery() as nursery:
            for n in range(4):
                nursery.start_soon(writer, n)
        index = f"{prefix}{{{prefix}}}index:"
        for n in range(4):
            meta = await store.get_metadata(f"s{n}")
            state = peek.hget(index + "state", meta.session_id)
            updated, version, labels = str(state).split("|", 2)
            assert (float(updated), int(version)) == (meta.updated_at, meta.version)
            assert json.loads(labels) == dict(meta.labels)
            assert peek.zscore(index + "updated", meta.session_id) == meta.updated_at
            assert peek.zscore(index + "expiry", meta.session_id) == meta.expires_at
            page = await store.find_sessions(labels=dict(meta.labels))
            assert [m.session_id for m in page.items] == [meta.session_id]
        assert await store.list_sessions() == [f"s{n}" for n in range(4)]


async def test_a_cleanup_never_drops_a_session_written_meanwhile(
    cluster: PrivateCluster, peek: redis.cluster.RedisCluster, prefix: str
) -> None:
    # A listing meets an index entry whose session is gone and cleans it up; between
    # its look at the session and its index call, another store writes the session
    # anew. The cleanup must leave the new session's entry.
    url = cluster.cluster_url
    async with (
        AsyncRedisStore(url, prefix=prefix) as store,
        AsyncRedisStore(url, prefix=prefix) as writer,
    ):
        await store.save("s", Conversation().add_user("old"))
        peek.delete(*store._keys("s"))  # gone behind the store's back (as Redis expiry does)
        original = store._run_many
        raced: list[SessionMetadata] = []

        async def racing(script: Any, calls: list[tuple[list[str], list[str]]]) -> list[Any]:
            results = await original(script, calls)
            if script is store._scripts.delete and not raced:
                raced.append(await writer.append("s", _user("new")))
            return results

        store._run_many = racing  # type: ignore[method-assign]
        assert await store.list_sessions() == []  # it was gone when the listing looked
        assert raced
        assert await store.list_sessions() == ["s"]  # the new session's entry stayed
        assert [m.content for m in await store.load("s")] == ["new"]


@pytest.mark.parametrize("nested", ["nested:", "index:", "x"])
async def test_two_prefixes_never_see_each_other(
    cluster: PrivateCluster, peek: redis.cluster.RedisCluster, prefix: str, nested: str
) -> None:
    url = cluster.cluster_url
    async with (
        AsyncRedisStore(url, prefix=prefix) as outer,
        AsyncRedisStore(url, prefix=prefix + nested) as inner,
    ):
        for n in range(6):
            await outer.save(f"o{n}", Conversation().add_user("o"), labels={"k": "v"})
            await inner.save(f"i{n}", Conversation().add_user("i"), labels={"k": "v"})
        assert await outer.list_sessions() == [f"o{n}" for n in range(6)]
        assert await inner.list_sessions() == [f"i{n}" for n in range(6)]
        assert {m.session_id[0] for m in (await outer.find_sessions(labels={"k": "v"})).items} == {
            "o"
        }
        assert not await outer.exists("i0") and not await inner.exists("o0")
        assert await outer.clear() == 6
        assert await outer.list_sessions() == []
        assert await inner.list_sessions() == [f"i{n}" for n in range(6)]
        assert [m.content for m in await inner.load("i3")] == ["i"]
        assert all(key.startswith(prefix + nested) for key in _keys(peek, prefix))
        assert await inner.clear() == 6
        assert _keys(peek, prefix) == []


async def test_load_with_metadata_is_one_moment_under_concurrent_appends(
    cluster: PrivateCluster, prefix: str
) -> None:
    async with AsyncRedisStore(cluster.cluster_url, prefix=prefix) as store:
        await store.append("s", _user("0"))
        snapshots: list[tuple[int, int]] = []

        async def writer(n: int) -> None:
            for i in range(40):
                await store.append("s", _user(f"{n}:{i}"))

        async def reader() -> None:
            for _ in range(60):
                conversation, meta = await store.load_with_metadata("s")
                assert len(conversation) == meta.message_count
                snapshots.append((meta.version, meta.message_count))

        async with AsyncNursery() as nursery:
            for n in range(4):
                nursery.start_soon(writer, n)
            nursery.start_soon(reader)
        assert len(snapshots) == 60
        assert all(version == count for version, count in snapshots)  # one append each
        assert snapshots == sorted(snapshots)
        conversation, meta = await store.load_with_metadata("s", last=3)
        assert meta.message_count == 161 and len(conversation) == 3


async def test_cluster_urls(cluster: PrivateCluster, prefix: str) -> None:
    port = cluster.ports[1]  # any node will do: the client finds the others
    async with open_async_store(f"redis+cluster://127.0.0.1:{port}/0?prefix={prefix}") as store:
        assert isinstance(store, AsyncRedisStore) and store._cluster
        await store.save("s", Conversation().add_user("x"))
        assert await store.list_sessions() == ["s"]
    for bad, match in [
        (f"redis+cluster://127.0.0.1:{port}/1", "database '1'"),
        (f"redis+cluster://127.0.0.1:{port}?db=2", "database '2'"),
        (f"redis+cluster://127.0.0.1:{port}?colour=blue", "colour"),
        (f"redis://127.0.0.1:{port}?cluster=true", "cluster"),
        ("redis+cluster:///", "no host"),
    ]:
        with pytest.raises(ValueError, match=match):
            AsyncRedisStore(bad, prefix=prefix)


async def test_a_cluster_store_built_while_the_cluster_is_down_raises_backend_error(
    prefix: str,
) -> None:
    from redis_helpers import cluster_port

    store = AsyncRedisStore(
        f"redis+cluster://127.0.0.1:{cluster_port()}", prefix=prefix, socket_timeout=0.5
    )  # building it touches nothing
    with pytest.raises(BackendError) as info:
        await store.exists("s")
    expected = (redis.exceptions.RedisError, redis.exceptions.RedisClusterException, OSError)
    assert isinstance(info.value.__cause__, expected)
    await store.aclose()


async def test_a_callers_cluster_client_is_used_as_is_and_not_closed(
    cluster: PrivateCluster, prefix: str
) -> None:
    driver, _errors = aredis_driver()
    client = driver.RedisCluster.from_url(cluster.url, decode_responses=False)
    async with AsyncRedisStore(client, prefix=prefix) as store:
        await store.save("s", Conversation().add_user("x"), labels={"k": "v"})
        await store.append("s", _user("y"))
        assert await store.list_sessions() == ["s"]
        assert [m.content for m in await store.load("s")] == ["x", "y"]
        assert (await store.find_sessions(labels={"k": "v"})).items[0].message_count == 2
        assert await store.purge_expired() == 0
        assert await store.clear() == 1
    assert await client.ping()  # still open
    await _close(client)


@pytest.mark.async_only
@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_the_cluster_store_refuses_trio(cluster: PrivateCluster, anyio_backend: str) -> None:
    assert anyio_backend == "trio"
    store = AsyncRedisStore(cluster.cluster_url)
    with pytest.raises(RuntimeError, match="supports only asyncio"):
        await store.list_sessions()
