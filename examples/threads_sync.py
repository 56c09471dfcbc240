"""The sync API shared by many threads, as in a Flask or Django worker.

One module-level store serves 8 threads, each handling "requests": load the
user's session, append the user's message and the reply. Nothing is lost, and a
read-modify-write done with ``expected_version`` retries until it wins.
Run: python examples/threads_sync.py
"""

from __future__ import annotations

import sys
import tempfile
import threading
from pathlib import Path

from agent_session import (
    Conversation,
    InMemoryStore,
    Message,
    SessionStore,
    SQLiteStore,
    VersionConflict,
)

THREADS, REQUESTS = 8, 25
problems: list[str] = []


def check(ok: bool, what: str) -> None:
    print(f"  {'ok ' if ok else 'FAIL'} {what}")
    if not ok:
        problems.append(what)


def handle_request(store: SessionStore, user: str, text: str) -> None:
    """What a web view does: read the history, answer, record both turns."""
    if not store.exists(user):
        # Another thread may create it between exists() and save(): expected_version=0
        # makes the save fail instead of overwriting what that thread wrote.
        try:
            store.save(user, Conversation().add_system("You are helpful."), expected_version=0)
        except VersionConflict:
            pass
    history = store.load(user, last=10)
    reply = f"reply #{len(history)} to {text!r}"
    store.append(user, Message("user", text), Message("assistant", reply))


def rename_with_retry(store: SessionStore, user: str, worker: int) -> int:
    """A read-modify-write made safe with expected_version; returns the retries it took."""
    retries = 0
    while True:
        meta = store.get_metadata(user)
        conversation = store.load(user)
        conversation.add_user(f"worker {worker} was here")
        try:
            store.save(user, conversation, expected_version=meta.version)
            return retries
        except VersionConflict:
            retries += 1


def run(store: SessionStore) -> None:
    print(f"{type(store).__name__}: {THREADS} threads x {REQUESTS} requests")
    retries: list[int] = []

    def worker(number: int) -> None:
        for i in range(REQUESTS):
            handle_request(store, f"user-{i % 5}", f"thread {number} request {i}")
            handle_request(store, "everyone", f"thread {number} request {i}")
        retries.append(rename_with_retry(store, "everyone", number))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everyone = store.load("everyone")
    users = [m for m in everyone if m.role == "user"]
    expected = THREADS * REQUESTS + THREADS  # requests, plus one mark per worker
    check(len(users) == expected, f"'everyone' holds {len(users)} user messages")
    check(len(retries) == THREADS, f"every read-modify-write won, after {sum(retries)} retries")
    total = sum(len(store.load(f"user-{u}")) for u in range(5))
    check(total == 5 + 2 * THREADS * REQUESTS, f"the per-user sessions hold {total} messages")


def main() -> int:
    with InMemoryStore() as memory:
        run(memory)
    with tempfile.TemporaryDirectory() as directory:
        with SQLiteStore(Path(directory) / "sessions.db") as sqlite_store:
            run(sqlite_store)
    print("all good" if not problems else f"{len(problems)} problem(s): {problems}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
