"""A cache in front of a durable store: LayeredStore(CacheStore, SQLiteStore).

Shows: write-through (both layers hold a save), a miss in the cache falling
through to SQLite and being written back automatically, TTL expiry in the cache
followed by a fallback, and graceful degradation: with the cache layer failing,
reads and writes still work from SQLite, failures are counted, and the cache's
copy is never served stale once it recovers. Run: python examples/layered_storage.py
"""

from __future__ import annotations

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
    SessionNotFound,
    SQLiteStore,
)
from agent_session.testing import FakeClock

problems: list[str] = []


def check(ok: bool, what: str) -> None:
    print(f"  {'ok ' if ok else 'FAIL'} {what}")
    if not ok:
        problems.append(what)


class FlakyCache(CacheStore):
    """A cache layer that fails every call while ``down`` is set."""

    down = False

    def _maybe_fail(self) -> None:
        if self.down:
            raise BackendError("cache is down (simulated)")

    def load(self, session_id: str, *, last: int | None = None) -> Conversation:
        self._maybe_fail()
        return super().load(session_id, last=last)

    def save(self, session_id: str, conversation: Conversation, **options: Any) -> Any:
        self._maybe_fail()
        return super().save(session_id, conversation, **options)

    def append(self, session_id: str, *messages: Message, **options: Any) -> Any:
        self._maybe_fail()
        return super().append(session_id, *messages, **options)

    def get_metadata(self, session_id: str) -> Any:
        self._maybe_fail()
        return super().get_metadata(session_id)

    def delete(self, session_id: str) -> bool:
        self._maybe_fail()
        return super().delete(session_id)


def stats_line(store: LayeredStore) -> str:
    return "; ".join(
        f"{s.name}: hits={s.hits} misses={s.misses} write_backs={s.write_backs} "
        f"failures={s.failures}"
        for s in store.stats()
    )


def main() -> int:
    clock = FakeClock()
    with tempfile.TemporaryDirectory() as directory:
        cache = FlakyCache(timedelta(minutes=5), capacity=1000, clock=clock)
        durable = SQLiteStore(Path(directory) / "sessions.db", clock=clock)
        with LayeredStore(cache, durable, clock=clock) as store:
            print("Write-through")
            store.save("alice", Conversation().add_user("Hi"), ttl=3600)
            check(cache.exists("alice") and durable.exists("alice"), "both layers hold it")

            print("Miss, fallback and write-back")
            cache.delete("alice")  # as if evicted
            check(len(store.load("alice")) == 1, "load fell through to SQLite")
            check(cache.exists("alice"), "and wrote the session back into the cache")
            store.load("alice")
            print(f"  stats: {stats_line(store)}")
            check(store.stats()[0].write_backs == 1, "one write-back counted")

            print("TTL expiry in the cache, then fallback")
            clock.advance(6 * 60)  # past the cache's 5 minutes, within SQLite's hour
            check(not cache.exists("alice"), "the cache's copy expired")
            check(len(store.load("alice")) == 1, "the read fell back to SQLite")

            print("Graceful degradation: the cache layer fails")
            cache.down = True
            store.append("alice", Message("assistant", "Hello! (written while the cache is down)"))
            check(len(store.load("alice")) == 2, "reads still served, from SQLite")
            print(f"  stats: {stats_line(store)}")
            check(store.stats()[0].failures > 0, "the cache's failures are counted")
            cache.down = False
            loaded = store.load("alice")
            check(len(loaded) == 2, "after recovery the cache never serves its old copy")
            try:
                store.load("nobody")
                check(False, "a missing session must raise")
            except SessionNotFound:
                check(True, "a session in no layer raises SessionNotFound")
    print("all good" if not problems else f"{len(problems)} problem(s): {problems}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
