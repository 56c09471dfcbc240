"""The basics of agent-session, on the embedded default store: SQLiteStore.

A tour of one store's whole API, printed as it goes:

- save, load, append, pop, get_metadata, list_sessions, exists, delete;
- value semantics: what you saved or loaded is yours, the stored copy changes only
  when you write it;
- optimistic concurrency: ``expected_version`` and :class:`VersionConflict`;
- TTL: a session expires after its time to live (``SessionExpired``), ``touch``
  keeps it alive, ``purge_expired`` removes it (then ``SessionNotFound``); the
  clock is a :class:`FakeClock` we move by hand, so nothing sleeps;
- labels and ``find_sessions``, paged with a cursor;
- durability: closing the store and opening the same file again;
- limits: ``InMemoryStore(capacity=...)`` and ``max_messages`` raise
  :class:`CapacityExceeded` instead of dropping anything.

Run: ``python examples/basic_storage.py`` (exits 1 if anything is not as shown).
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
    SessionMetadata,
    SessionNotFound,
    SQLiteStore,
    StoreClosed,
    VersionConflict,
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


def seconds_left(meta: SessionMetadata, clock: FakeClock) -> float | None:
    return None if meta.expires_at is None else meta.expires_at - clock()


def crud(store: SQLiteStore, checks: Checks) -> None:
    print("\n1. Save, load, append, pop")
    conversation = Conversation.builder().system("You are a travel agent.").user("Hi!").build()
    meta = store.save("alice", conversation, labels={"user": "alice", "plan": "free"})
    print(f"  save('alice', 2 messages) -> version {meta.version}, {meta.size_bytes} bytes")
    checks.equal("version after the first save", meta.version, 1)

    meta = store.append("alice", Message("assistant", "Where would you like to go?"))
    checks.equal("version after append", meta.version, 2)
    # Several messages in one append land together, atomically: one write, one version.
    meta = store.append(
        "alice", Message("user", "Lisbon, in May."), Message("assistant", "Lovely. Flights?")
    )
    checks.equal("version after appending two messages at once", meta.version, 3)
    checks.equal("message_count", meta.message_count, 5)

    loaded = store.load("alice")
    print("  load('alice'):")
    for message in loaded:
        print(f"      {message.role:>9}: {message.content}")
    newest = [m.role for m in store.load("alice", last=2)]
    checks.equal("load(last=2): the newest two, oldest first", newest, ["user", "assistant"])

    popped = store.pop("alice")  # e.g. drop a reply the user asked to regenerate
    checks.equal("pop('alice') content", popped and popped.content, "Lovely. Flights?")
    checks.equal("messages left", len(store.load("alice")), 4)

    store.save("empty", Conversation())
    checks.equal("pop('empty') on an empty session", store.pop("empty"), None)
    checks.equal("its version (that pop wrote nothing)", store.get_metadata("empty").version, 1)

    meta = store.get_metadata("alice")
    print(
        f"  get_metadata('alice'): version={meta.version} messages={meta.message_count} "
        f"size_bytes={meta.size_bytes} labels={dict(meta.labels)} expires_at={meta.expires_at}"
    )
    checks.equal("list_sessions()", store.list_sessions(), ["alice", "empty"])
    checks.equal("exists('alice')", store.exists("alice"), True)
    checks.equal("exists('bob')", store.exists("bob"), False)
    checks.equal("delete('empty')", store.delete("empty"), True)
    checks.equal("delete('empty') again", store.delete("empty"), False)
    try:
        store.load("empty")
    except SessionNotFound as exc:
        print(f"  load('empty') -> SessionNotFound: {exc}")
    else:
        checks.fail("load of a deleted session returned instead of raising SessionNotFound")


def value_semantics(store: SQLiteStore, checks: Checks) -> None:
    print("\n2. Value semantics: stored copies change only when you write them")
    mine = Conversation().add_user("first draft")
    store.save("draft", mine)
    mine.add_user("added after saving")  # changes my object only
    checks.equal("stored messages after I edited my object", len(store.load("draft")), 1)

    loaded = store.load("draft")
    loaded.add_assistant("added to a loaded copy")
    checks.equal("stored messages after I edited a loaded copy", len(store.load("draft")), 1)
    again, twice = store.load("draft"), store.load("draft")
    checks.true("two loads give equal, distinct objects", again == twice and again is not twice)
    store.save("draft", loaded)  # now it is stored
    checks.equal("stored messages after saving the loaded copy", len(store.load("draft")), 2)


def optimistic(store: SQLiteStore, checks: Checks) -> None:
    print("\n3. Optimistic concurrency with expected_version")
    meta = store.save("order-1", Conversation().add_user("one ticket"), expected_version=0)
    print(f"  save(expected_version=0) created 'order-1' at version {meta.version}")
    try:
        store.save("order-1", Conversation().add_user("someone else's"), expected_version=0)
    except VersionConflict as exc:
        print(f"  creating it again -> VersionConflict: expected {exc.expected}, is {exc.actual}")
    else:
        checks.fail("expected_version=0 overwrote an existing session")

    # Two clients read the same version; the first write wins, the second is refused
    # and must re-read: nobody silently overwrites the other.
    seen = store.get_metadata("order-1").version
    store.append("order-1", Message("user", "make it two"), expected_version=seen)
    try:
        store.append("order-1", Message("user", "make it three"), expected_version=seen)
    except VersionConflict as exc:
        print(f"  the stale writer -> VersionConflict: expected {exc.expected}, is {exc.actual}")
    else:
        checks.fail("a write with a stale expected_version went through")
    checks.equal(
        "stored messages (the refused write wrote nothing)",
        [m.content for m in store.load("order-1")],
        ["one ticket", "make it two"],
    )


def ttl(store: SQLiteStore, clock: FakeClock, checks: Checks) -> None:
    print("\n4. TTL: sessions expire (the clock moves by hand, nothing sleeps)")
    meta = store.save("short-lived", Conversation().add_user("ping"), ttl=60)
    checks.equal("seconds left after save(ttl=60)", seconds_left(meta, clock), 60.0)
    clock.advance(50)
    touched = store.touch("short-lived")  # activity: restart its 60 s
    checks.equal("seconds left after touch(), 50 s later", seconds_left(touched, clock), 60.0)
    checks.equal("version after touch (not a write)", touched.version, meta.version)
    checks.equal("updated_at after touch (not a write)", touched.updated_at, meta.updated_at)
    clock.advance(45)
    checks.equal("95 s after saving, exists()", store.exists("short-lived"), True)
    clock.advance(20)
    checks.equal("60 s after the touch, exists()", store.exists("short-lived"), False)
    checks.true("list_sessions() skips it", "short-lived" not in store.list_sessions())
    try:
        store.load("short-lived")
    except SessionExpired as exc:
        print(f"  load() -> SessionExpired: {exc}")
    else:
        checks.fail("load of an expired session did not raise SessionExpired")
    checks.equal("purge_expired()", store.purge_expired(), 1)
    try:
        store.load("short-lived")
    except SessionExpired:
        checks.fail("after purge_expired the session still reads as expired")
    except SessionNotFound:
        print("  after purging, load() -> SessionNotFound (it is simply gone)")
    else:
        checks.fail("a purged session loaded")


def labels(store: SQLiteStore, clock: FakeClock, checks: Checks) -> None:
    print("\n5. Labels and find_sessions")
    for user, plan in [("bob", "pro"), ("carol", "free"), ("dave", "pro"), ("erin", "pro")]:
        clock.advance(1)  # distinct updated_at, so the order below is plain to see
        store.save(user, Conversation().add_user(f"Hi, I'm {user}"), labels={"plan": plan})
    page = store.find_sessions(labels={"plan": "pro"}, limit=2)
    ids = [m.session_id for m in page.items]
    print(f"  find_sessions(labels={{'plan': 'pro'}}, limit=2) -> {ids}, more: {page.next_cursor}")
    checks.equal("first page, newest updated_at first", ids, ["erin", "dave"])
    page = store.find_sessions(labels={"plan": "pro"}, limit=2, cursor=page.next_cursor)
    checks.equal("second page", [m.session_id for m in page.items], ["bob"])
    checks.equal("no page after the last", page.next_cursor, None)

    # save(labels=None), the default, keeps the labels; labels={...} replaces them.
    store.save("carol", store.load("carol").add_assistant("Welcome!"))
    store.save("carol", store.load("carol"), labels={"plan": "pro"})  # she upgraded
    pro = [m.session_id for m in store.find_sessions(labels={"plan": "pro"}).items]
    checks.equal("pro sessions after carol upgraded", pro, ["carol", "erin", "dave", "bob"])


def durability(path: Path, clock: FakeClock, checks: Checks) -> None:
    print("\n6. Durable: close the store, open the file again")
    with SQLiteStore(path, clock=clock) as reopened:
        print(f"  {reopened!r} on {path.name}: {reopened.list_sessions()}")
        checks.equal("alice's messages after reopening", len(reopened.load("alice")), 4)


def limits(checks: Checks) -> None:
    print("\n7. Limits raise CapacityExceeded; nothing is dropped silently")
    with InMemoryStore(capacity=2, max_messages=3) as store:
        store.save("a", Conversation().add_user("hello"))
        store.save("b", Conversation())
        try:
            store.save("c", Conversation())
        except CapacityExceeded as exc:
            print(f"  a third session with capacity=2 -> CapacityExceeded:\n      {exc}")
        else:
            checks.fail("a third session fit into a store of capacity 2")
        store.append("a", Message("assistant", "hi"))
        checks.equal("updating an existing session at capacity works", len(store.load("a")), 2)
        store.delete("b")
        store.save("c", Conversation())
        checks.equal("after a delete there is room again", store.list_sessions(), ["a", "c"])

        try:
            store.append("a", Message("user", "one"), Message("user", "two"))
        except CapacityExceeded as exc:
            print(f"  4 messages with max_messages=3 -> CapacityExceeded:\n      {exc}")
        else:
            checks.fail("max_messages=3 let a session grow to 4 messages")
        checks.equal("messages after the refused append (all or nothing)", len(store.load("a")), 2)
    try:
        store.exists("a")
    except StoreClosed:
        print("  leaving `with` closed the store: calls now raise StoreClosed")
    else:
        checks.fail("a closed store answered a call")


def main() -> int:
    checks = Checks()
    clock = FakeClock()  # any zero-argument callable returning epoch seconds works
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "sessions.db"
        # SQLiteStore(":memory:") works too, for a private database that dies with the store.
        with SQLiteStore(path, clock=clock) as store:
            print(f"Opened {store!r} on a fresh file")
            crud(store, checks)
            value_semantics(store, checks)
            optimistic(store, checks)
            ttl(store, clock, checks)
            labels(store, clock, checks)
        durability(path, clock, checks)
    limits(checks)
    if checks.failed:
        print(f"\n{len(checks.failed)} check(s) FAILED:")
        for what in checks.failed:
            print(f"  - {what}")
        return 1
    print("\nAll checks passed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
