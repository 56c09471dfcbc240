"""Helpers of the Redis tests: unique key prefixes, key inspection, a private server."""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis
from redis.crc import key_slot


def new_prefix() -> str:
    """A key prefix no other test (or test run) uses."""
    return f"test:{uuid.uuid4().hex[:10]}:"


def keys_under(url: str, prefix: str) -> list[str]:
    """Every key whose name starts with ``prefix`` (a SCAN: tests only)."""
    escaped = "".join("\\" + c if c in "*?[]\\" else c for c in prefix)
    with redis.Redis.from_url(url, decode_responses=True) as client:
        return sorted(client.scan_iter(match=escaped + "*", count=1000))


def delete_prefix(url: str, prefix: str) -> None:
    """Delete every key under ``prefix``."""
    keys = keys_under(url, prefix)
    if keys:
        with redis.Redis.from_url(url) as client:
            client.delete(*keys)


def hash_tag(key: str) -> str:
    """What Redis Cluster hashes: the text between the first ``{`` and the next ``}``."""
    start = key.index("{")
    return key[start + 1 : key.index("}", start + 1)]


def slot(key: str) -> int:
    """The Redis Cluster slot of ``key``."""
    return int(key_slot(key.encode("utf-8")))


def disconnect_nodes(client: object) -> None:
    """After closing a blocking ``RedisCluster``: disconnect its nodes' pools, which its
    ``close()`` leaves open (redis-py gives each node a pool of its own). A no-op for
    an asyncio cluster client, which closes them itself."""
    for node in client.get_nodes():  # type: ignore[attr-defined]
        pool = getattr(getattr(node, "redis_connection", None), "connection_pool", None)
        if pool is not None:
            pool.disconnect()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cluster_port() -> int:
    """A spare port for a cluster node: at most 55535, its bus port (+10000) spare too."""
    for _ in range(1000):
        port = random.randrange(20000, 45000)
        if port not in _TAKEN and _bindable(port) and _bindable(port + 10000):
            _TAKEN.add(port)
            return port
    raise RuntimeError("no spare port pair for a Redis Cluster node")


_TAKEN: set[int] = set()


class PrivateRedis:
    """A ``redis-server`` of one test's own on 127.0.0.1, without persistence.

    ``stop()`` kills it (SIGKILL: an outage, not a shutdown), ``start()`` starts it
    again on the same port. Every wait is bounded.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._server: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("redis-server") is not None

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        self._server = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._server.poll() is not None:
                break
            try:
                with redis.Redis(port=self.port, socket_connect_timeout=0.2) as client:
                    client.ping()
                return
            except redis.RedisError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the private redis-server on port {self.port} did not start")

    def stop(self) -> None:
        if self._server is not None:
            self._server.kill()
            self._server.wait(timeout=10)
            self._server = None


class PrivateCluster:
    """A Redis Cluster of this test session's own: three masters, no replicas, no
    persistence, on spare loopback ports (``redis-server --cluster-enabled yes``).

    ``start()`` waits (bounded) until every node reports ``cluster_state:ok``;
    ``stop()`` kills every process it started. ``kill(port)`` / ``restart(port)``
    take one master down (SIGKILL: its keys are lost, there is no persistence) and
    bring it back with its slots (its ``nodes.conf`` is kept).
    """

    def __init__(self, directory: str, masters: int = 3) -> None:
        self.directory = directory
        self.ports = [cluster_port() for _ in range(masters)]
        self.url = f"redis://127.0.0.1:{self.ports[0]}/0"  # one node, for redis-py
        #: The store URL of the cluster.
        self.cluster_url = f"redis+cluster://127.0.0.1:{self.ports[0]}"
        self._servers: dict[int, subprocess.Popen[bytes]] = {}

    @staticmethod
    def available() -> bool:
        return shutil.which("redis-server") is not None and shutil.which("redis-cli") is not None

    def _spawn(self, port: int) -> None:
        command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1"]
        command += ["--cluster-enabled", "yes"]
        command += ["--cluster-config-file", f"{self.directory}/nodes-{port}.conf"]
        command += ["--cluster-node-timeout", "2000", "--dir", self.directory]
        command += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        self._servers[port] = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def _wait(self, deadline: float, check: Callable[[redis.Redis], bool], what: str) -> None:
        pending = list(self.ports)
        while pending:
            port = pending[0]
            server = self._servers.get(port)
            if server is not None and server.poll() is not None:
                raise RuntimeError(f"the private redis-server on port {port} exited")
            try:
                with redis.Redis(port=port, socket_connect_timeout=0.2, socket_timeout=1) as client:
                    if check(client):
                        pending.pop(0)
                        continue
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the private Redis Cluster did not get {what} in time")
            time.sleep(0.05)

    def start(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        try:
            for port in self.ports:
                self._spawn(port)
            self._wait(deadline, lambda client: bool(client.ping()), "its servers up")
            nodes = [f"127.0.0.1:{port}" for port in self.ports]
            subprocess.run(
                ["redis-cli", "--cluster", "create", *nodes]
                + ["--cluster-replicas", "0", "--cluster-yes"],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=max(1.0, deadline - time.monotonic()),
            )
            self.wait_ok(deadline)
        except BaseException:
            self.stop()
            raise

    def wait_ok(self, deadline: float) -> None:
        """Until every node says ``cluster_state:ok`` (and knows every other node)."""

        def ok(client: redis.Redis) -> bool:
            info = client.execute_command("CLUSTER", "INFO")  # type: ignore[no-untyped-call]
            text = info.decode() if isinstance(info, bytes) else str(info)
            return "cluster_state:ok" in text and f"cluster_known_nodes:{len(self.ports)}" in text

        self._wait(deadline, ok, "cluster_state:ok")

    def running(self) -> list[int]:
        """The ports of the nodes running now."""
        return [port for port, server in self._servers.items() if server.poll() is None]

    def kill(self, port: int) -> None:
        server = self._servers.pop(port, None)
        if server is not None:
            server.kill()
            server.wait(timeout=10)

    def restart(self, port: int, timeout: float = 20.0) -> None:
        self._spawn(port)
        self.wait_ok(time.monotonic() + timeout)

    def flush(self) -> None:
        """Empty every master (between tests)."""
        for port in self.ports:
            with redis.Redis(port=port, socket_timeout=5) as client:
                client.flushall()

    def stop(self) -> None:
        for port in list(self._servers):
            self.kill(port)


def private_cluster(directory: str, required: bool) -> Iterator[PrivateCluster]:
    """The body of the ``redis_cluster`` fixture: start, yield, kill everything."""
    if not PrivateCluster.available():
        message = "redis-server and redis-cli are needed for the Redis Cluster tests"
        if required:
            pytest.fail(message + " (AGENT_SESSION_REQUIRE_SERVICES=1)")
        pytest.skip(message)
    cluster = PrivateCluster(directory)
    try:
        cluster.start()
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        message = f"the private Redis Cluster did not start: {exc}"
        if required:
            pytest.fail(message + " (AGENT_SESSION_REQUIRE_SERVICES=1)")
        pytest.skip(message)
    try:
        yield cluster
    finally:
        cluster.stop()
