"""The basics on the embedded default store (SQLite): CRUD, TTL, limits, lifecycle.

Shows: save/load/append/pop, value semantics, metadata and versions, optimistic
concurrency, TTL expiry with a clock we move by hand, capacity and size limits,
labels and find_sessions, touch, delete, purge. Run: python examples/basic_storage.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from agent_session import (
    CapacityExceeded,
    Conversation,
    InMemoryStore,
    Message,
    SessionExpired,
    SessionNotFound,
    SQLiteStore,
    VersionConflict,
)
from agent_session.testing import FakeClock

problems: list[str] = []


def check(ok: bool, what: str) -> None:
    print(f"  {'ok ' if ok else 'FAIL'} {what}")
    if not ok:
        problems.append(what)


def crud(store: SQLiteStore) -> None:
    print("CRUD and value semantics")
    conversation = Conversation.builder().system("You are a travel agent.").user("Hi!").build()
    meta = store.save("alice", conversation, labels={"user": "alice"})
    check(meta.version == 1 and meta.message_count == 2, f"saved: {meta.message_count} messages")
    conversation.add_user("edited after saving")
    check(len(store.load("alice")) == 2, "editing my object afterwards changed nothing stored")
    meta = store.append("alice", Message("assistant", "Hello! Where to?"))
    check(meta.version == 2 and meta.message_count == 3, "append: version 2, 3 messages")
    loaded = store.load("alice")
    print(
        f"  loaded {[m.role for m in loaded]}; newest 1: {store.load('alice', last=1)[0].content}"
    )
    popped = store.pop("alice")
    check(popped is not None and popped.role == "assistant", "pop removed the newest message")
    check(store.list_sessions() == ["alice"], "list_sessions sees alice")
    check(store.exists("alice") and not store.exists("bob"), "exists")

    print("Optimistic concurrency")
    version = store.get_metadata("alice").version
    store.append("alice", Message("user", "Lisbon"), expected_version=version)
    try:
        store.append("alice", Message("user", "stale writer"), expected_version=version)
        check(False, "a stale expected_version must raise")
    except VersionConflict as conflict:
        check(True, f"VersionConflict: expected {conflict.expected}, actual {conflict.actual}")


def ttl(store: SQLiteStore, clock: FakeClock) -> None:
    print("TTL (the clock moves by hand)")
    store.save("short-lived", Conversation().add_user("ping"), ttl=60)
    clock.advance(30)
    store.touch("short-lived")  # restart its 60 s
    clock.advance(45)
    check(store.exists("short-lived"), "touch kept it alive past its first deadline")
    clock.advance(20)
    check(not store.exists("short-lived"), "expired 60 s after the touch")
    try:
        store.load("short-lived")
        check(False, "loading an expired session must raise")
    except SessionExpired:
        check(True, "load raises SessionExpired")
    check(store.purge_expired() == 1, "purge_expired removed it")
    try:
        store.load("short-lived")
    except SessionExpired:
        check(False, "after purging it is simply gone")
    except SessionNotFound:
        check(True, "then load raises SessionNotFound")


def lifecycle(store: SQLiteStore) -> None:
    print("Labels, search, delete")
    store.save("bob", Conversation().add_user("Hi"), labels={"user": "bob", "plan": "pro"})
    page = store.find_sessions(labels={"plan": "pro"})
    check([m.session_id for m in page.items] == ["bob"], "find_sessions by label")
    check(store.delete("bob") and not store.delete("bob"), "delete: True, then False")


def limits() -> None:
    print("Capacity and size limits")
    with InMemoryStore(capacity=2, max_messages=3) as store:
        store.save("a", Conversation())
        store.save("b", Conversation())
        try:
            store.save("c", Conversation())
            check(False, "a third session must not fit")
        except CapacityExceeded as exc:
            check(True, f"CapacityExceeded: {exc}")
        store.save("a", Conversation().add_user("updating an existing one still works"))
        try:
            store.append("a", *(Message("user", str(i)) for i in range(3)))
            check(False, "a fourth message must not fit")
        except CapacityExceeded:
            check(True, "max_messages=3 refused a 4th message, nothing written")
        check(len(store.load("a")) == 1, "the refused append wrote nothing")


def main() -> int:
    clock = FakeClock()
    with tempfile.TemporaryDirectory() as directory:
        with SQLiteStore(Path(directory) / "sessions.db", clock=clock) as store:
            crud(store)
            ttl(store, clock)
            lifecycle(store)
    limits()
    print("all good" if not problems else f"{len(problems)} problem(s): {problems}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
