"""Helpers of the Redis tests: unique key prefixes, key inspection, a private server."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
