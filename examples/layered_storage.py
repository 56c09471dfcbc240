"""A cache in front of a durable store: ``LayeredStore(CacheStore, SQLiteStore)``.

Layers are listed fastest first; the last one is authoritative. This example shows:

- write-through: a write goes to SQLite first, then to the cache, so both hold it;
- a miss and the fallback: with the cache's copy gone (evicted, say), ``load``
  falls through to SQLite and writes the session back into the cache by itself;
  ``stats()`` counts the hits, misses and write-backs of each layer;
- TTL: the cache keeps its copies for its own (short) TTL; once one expires, the
  read falls back to SQLite, which keeps the session far longer;
- graceful degradation: a cache whose every call raises ``BackendError`` (a small
  subclass with a switch) costs nothing but speed: reads come from SQLite, writes
  succeed, the failures are logged and counted, and once the cache is back its
  outdated copy is never served.

Time is a :class:`FakeClock` shared by every layer, moved by hand: nothing sleeps.
Run: ``python examples/layered_storage.py`` (exits 1 if anything is not as shown).
"""

from __future__ import annotations

import logging
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from agent_session import (
    BackendError,
    CacheStore,
    Conversation,
    LayeredStore,
    Message,
    SessionMetadata,
    SessionNotFound,
    SQLiteStore,
)
from agent_session.testing import FakeClock


class Checks:
    """Prints each check as it runs and remembers the failed ones for ``main``'s exit code."""

    def __init__(self) -> None:
        self.failed: list[str] = []

    def equal(self, what: str, actual: object, expected: object) -> None:
        if actual == expected:
            print(f"    ok: {what} = {actual!r}")
        else:
            self.fail(f"{what}: got {actual!r}, expected {expected!r}")

    def true(self, what: str, condition: bool) -> None:
        if condition:
            print(f"    ok: {what}")
        else:
            self.fail(what)

    def fail(self, what: str) -> None:
        print(f"    FAILED: {what}")
        self.failed.append(what)


class FlakyCache(CacheStore):
    """A cache whose calls raise :class:`BackendError` while ``failing`` is set.

    It stands for a cache server that went away (a Redis restart, a network split):
    a store reports such trouble as ``BackendError``, with the driver's exception as
    its ``__cause__``.
    """

    failing = False

    def _check(self) -> None:
        if self.failing:
            raise BackendError("cache unreachable (simulated)") from ConnectionRefusedError(
                111, "Connection refused"
            )

    def load(self, session_id: str, **options: Any) -> Conversation:
        self._check()
        return super().load(session_id, **options)

    def save(self, session_id: str, conversation: Conversation, **options: Any) -> SessionMetadata:
        self._check()
        return super().save(session_id, conversation, **options)

    def append(self, session_id: str, *messages: Message, **options: Any) -> SessionMetadata:
        self._check()
        return super().append(session_id, *messages, **options)

    def pop(self, session_id: str, **options: Any) -> Message | None:
        self._check()
        return super().pop(session_id, **options)

    def get_metadata(self, session_id: str) -> SessionMetadata:
        self._check()
        return super().get_metadata(session_id)

    def exists(self, session_id: str) -> bool:
        self._check()
        return super().exists(session_id)

    def touch(self, session_id: str, **options: Any) -> SessionMetadata:
        self._check()
        return super().touch(session_id, **options)

    def delete(self, session_id: str) -> bool:
        self._check()
        return super().delete(session_id)


def show_stats(store: LayeredStore) -> None:
    for layer in store.stats():
        print(
            f"  stats {layer.name:>6}: hits={layer.hits} misses={layer.misses} "
            f"write_backs={layer.write_backs} failures={layer.failures}"
        )


def held(store: CacheStore | SQLiteStore, session_id: str) -> int | None:
    """How many messages one layer holds for the session (None: no live copy)."""
    try:
        return len(store.load(session_id))
    except SessionNotFound:
        return None


def seconds_left(store: CacheStore | SQLiteStore, session_id: str, clock: FakeClock) -> float:
    expires_at = store.get_metadata(session_id).expires_at
    return float("inf") if expires_at is None else expires_at - clock()


def main() -> int:
    # The layered store logs each failure of a faster layer (logger "agent_session.layered").
    logging.basicConfig(level=logging.WARNING, format="    log: %(message)s", stream=sys.stdout)
    checks = Checks()
    clock = FakeClock()
    with tempfile.TemporaryDirectory() as directory:
        cache = FlakyCache(timedelta(minutes=5), capacity=1_000, clock=clock)
        durable = SQLiteStore(Path(directory) / "sessions.db", default_ttl=86_400, clock=clock)
        # Closing the layered store (leaving `with`) closes its layers too.
        with LayeredStore(cache, durable, clock=clock) as store:
            print("1. Write-through: SQLite first, then the cache")
            store.save("alice", Conversation().add_system("Be brief.").add_user("Hi"))
            store.append("alice", Message("assistant", "Hello!"))
            checks.equal("messages in the cache", held(cache, "alice"), 3)
            checks.equal("messages in SQLite", held(durable, "alice"), 3)
            # Each copy lives for its own layer's TTL (never longer than SQLite's copy).
            checks.equal("seconds the cache keeps it", seconds_left(cache, "alice", clock), 300)
            checks.equal("seconds SQLite keeps it", seconds_left(durable, "alice", clock), 86_400)
            checks.equal("a read served by the cache", len(store.load("alice")), 3)
            show_stats(store)

            print("\n2. A miss falls through to SQLite and is written back")
            cache.delete("alice")  # as if the cache had evicted it
            checks.equal("messages loaded with the cache empty", len(store.load("alice")), 3)
            checks.equal("messages back in the cache", held(cache, "alice"), 3)
            store.load("alice")  # a cache hit again
            show_stats(store)
            cache_stats, sqlite_stats = store.stats()
            checks.equal("cache write-backs", cache_stats.write_backs, 1)
            checks.equal("cache misses", cache_stats.misses, 1)
            checks.equal("SQLite hits", sqlite_stats.hits, 1)

            print("\n3. The cache's copy expires first; the read falls back to SQLite")
            clock.advance(6 * 60)  # past the cache's 5 minutes, well within SQLite's day
            checks.equal("messages in the cache 6 minutes later", held(cache, "alice"), None)
            checks.equal("messages loaded", len(store.load("alice")), 3)
            checks.equal("cache write-backs", store.stats()[0].write_backs, 2)

            print("\n4. The cache goes down: everything still works, only slower")
            cache.failing = True
            store.append("alice", Message("user", "Are you still there?"))
            store.append("alice", Message("assistant", "Yes, from SQLite."))
            checks.equal("messages loaded with the cache down", len(store.load("alice")), 5)
            checks.equal("exists", store.exists("alice"), True)
            checks.equal("version", store.get_metadata("alice").version, 4)
            show_stats(store)
            checks.true("the cache's failures are counted", store.stats()[0].failures > 0)

            print("\n5. The cache comes back, still holding its old copy")
            cache.failing = False
            # The layered store could not drop that copy while the cache was down; it
            # remembered, and skips the copy until it has written a fresh one there.
            checks.equal("messages the cache itself holds (stale)", held(cache, "alice"), 3)
            checks.equal("messages loaded through the layered store", len(store.load("alice")), 5)
            checks.equal("messages in the cache after that load", held(cache, "alice"), 5)
            show_stats(store)
            try:
                store.load("nobody")
            except SessionNotFound:
                print("  a session no layer holds -> SessionNotFound")
            else:
                checks.fail("a session no layer holds loaded")
    if checks.failed:
        print(f"\n{len(checks.failed)} check(s) FAILED:")
        for what in checks.failed:
            print(f"  - {what}")
        return 1
    print("\nAll checks passed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
