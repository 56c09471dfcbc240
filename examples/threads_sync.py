"""The sync API shared by many threads, as in a Flask or Django worker.

A web app makes one store when it starts and every request thread uses it: stores
are safe to share between threads (don't make one per request). Here 8 threads
serve 240 requests for 4 users, in two kinds of views:

- ``chat``: load the user's recent history, "ask the model", then record the
  question and the answer in one ``append``. Appends are atomic, so concurrent
  requests never lose a message, and the answer always follows its question.
- ``rename_assistant``: a read-modify-write of the whole conversation (rewrite the
  system prompt, counting the edits in it). Done naively, it would silently undo
  whatever another thread wrote in between; with ``expected_version`` the save is
  refused (``VersionConflict``) and the view retries on fresh data.

Both run on an ``InMemoryStore`` and then on a ``SQLiteStore`` file; at the end
every message is there exactly once and every edit was counted.
Run: ``python examples/threads_sync.py`` (exits 1 if anything is not as shown).
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from agent_session import (
    Conversation,
    InMemoryStore,
    Message,
    SessionStore,
    SQLiteStore,
    VersionConflict,
)

THREADS, CLIENTS, REQUESTS_PER_CLIENT = 8, 8, 30
USERS = ["ada", "brian", "chen", "dana"]
MAX_ATTEMPTS = 50

# As in a Flask or Django app: one store for the whole process, made at import time.
# (A real app picks one kind; main() below runs the same views on two.)
STORE: SessionStore = InMemoryStore()


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


def system_prompt(edits: int) -> str:
    return f"You are a helpful assistant. (edited {edits} times)"


def edits_in(conversation: Conversation) -> int:
    """How many edits the system prompt (the first message) counts."""
    content = conversation[0].text
    return int(content.rsplit("edited ", 1)[1].split()[0])


def chat(user: str, text: str) -> str:
    """A chat request: recent history in, question and answer appended in one write."""
    history = STORE.load(user, last=20)
    time.sleep(0.001)  # the model thinking (other requests run meanwhile)
    answer = f"answer to {text!r} (seen {len(history)} recent messages)"
    STORE.append(user, Message("user", text), Message("assistant", answer))
    return answer


def rename_assistant(user: str) -> int:
    """A read-modify-write of the whole conversation, safe with ``expected_version``.

    :return: how many times it had to start again
    """
    for attempt in range(MAX_ATTEMPTS):
        # Read the version first, then the messages: if a write lands in between, the
        # version is older than what we loaded, and the save below is refused (safe).
        # The other order could pair new messages with a newer version and lose one.
        version = STORE.get_metadata(user).version
        conversation = STORE.load(user)
        edited = Conversation([Message("system", system_prompt(edits_in(conversation) + 1))])
        for message in conversation.messages[1:]:
            edited.add(message)
        time.sleep(0.001)  # some work between the read and the write
        try:
            STORE.save(user, edited, expected_version=version)
            return attempt
        except VersionConflict:
            # Someone wrote meanwhile: start again from fresh data, after a random pause
            # that grows, so that busy writers do not keep colliding in step.
            time.sleep(random.uniform(0, 0.001) * (attempt + 1))
    # A web app would answer "409 Conflict, try again" here.
    raise RuntimeError(f"gave up renaming for {user} after {MAX_ATTEMPTS} attempts")


def handle(client: int, request: int) -> tuple[str, int]:
    """One request, as a WSGI server would hand it to one of its threads; (user, retries)."""
    user = USERS[(client + request) % len(USERS)]
    if request % 5 == 4:
        return user, rename_assistant(user)
    chat(user, f"client {client} request {request}")
    return user, 0


def serve(checks: Checks) -> None:
    requests = CLIENTS * REQUESTS_PER_CLIENT
    print(f"\n{STORE!r}: {THREADS} threads serve {requests} requests from {CLIENTS} clients")
    for user in USERS:  # sign-up: each user starts with a system prompt
        STORE.save(user, Conversation().add_system(system_prompt(0)))

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        futures = [
            pool.submit(handle, client, request)
            for request in range(REQUESTS_PER_CLIENT)
            for client in range(CLIENTS)
        ]
        retries = Counter[str]()
        for future in futures:
            try:
                user, retried = future.result()  # re-raises the request's error, if any
            except Exception as exc:
                checks.fail(f"a request failed: {exc!r}")
            else:
                retries[user] += retried
    print(f"  served in {time.perf_counter() - started:.2f} s")

    expected_chats: dict[str, list[str]] = {user: [] for user in USERS}
    expected_edits = Counter[str]()
    for client in range(CLIENTS):
        for request in range(REQUESTS_PER_CLIENT):
            user = USERS[(client + request) % len(USERS)]
            if request % 5 == 4:
                expected_edits[user] += 1
            else:
                expected_chats[user].append(f"client {client} request {request}")

    for user in USERS:
        conversation = STORE.load(user)
        questions = [m.content for m in conversation if m.role == "user"]
        # After the system prompt: question, answer, question, answer... (a lost or
        # split turn shows in the message count, so pairs may stop early: strict=False).
        pairs = zip(conversation.messages[1::2], conversation.messages[2::2], strict=False)
        print(f"  {user}: {len(conversation)} messages, renames retried {retries[user]} times")
        checks.equal(
            f"{user}: messages (1 system + 2 per chat)",
            len(conversation),
            1 + 2 * len(expected_chats[user]),
        )
        checks.true(
            f"{user}: every question exactly once",
            sorted(q or "" for q in questions) == sorted(expected_chats[user]),
        )
        checks.true(
            f"{user}: every answer right after its question",
            all(q.role == "user" and a.text.startswith(f"answer to {q.text!r}") for q, a in pairs),
        )
        checks.equal(f"{user}: edits counted", edits_in(conversation), expected_edits[user])


def main() -> int:
    global STORE
    # Switch threads every 10 us rather than every 5 ms, so requests overlap as much as on
    # a busy server (and a lost update would show).
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    checks = Checks()
    try:
        with STORE:
            serve(checks)
        with tempfile.TemporaryDirectory() as directory:
            STORE = SQLiteStore(Path(directory) / "sessions.db")
            with STORE:
                serve(checks)
    finally:
        sys.setswitchinterval(interval)
    if checks.failed:
        print(f"\n{len(checks.failed)} check(s) FAILED:")
        for what in checks.failed:
            print(f"  - {what}")
        return 1
    print("\nAll checks passed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
