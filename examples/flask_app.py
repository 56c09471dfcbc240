"""A Flask chat endpoint keeping each user's conversation in the sync store.

Two routes, JSON in and out:

- ``GET /chat/<user>``: ``{"user", "version", "messages": [{"role", "content"}, ...]}``;
  version 0 and no messages for a user who has not chatted yet.
- ``POST /chat/<user>`` with ``{"message": "...", "version": N}``, N being the version
  the page last saw: the question and the model's answer are appended in one write with
  ``expected_version=N``. 200 ``{"reply", "version"}``; if another tab wrote since, 409
  ``{"error", "version"}`` with the current version, and nothing is written: the page
  reloads the conversation and asks again. So two tabs never overwrite each other, and
  a question sent twice is stored once.

The store is made once, when the app is, and shared by every request thread (stores
are thread-safe): ``AGENT_SESSION_URL`` names it (``redis://127.0.0.1:6379/0`` needs
``pip install 'agent-session[redis]'``), else a SQLite file in the temp directory. The
"model" is a stand-in that answers deterministically, without a network. The user
comes from the URL to keep this short: a real app takes it from its login.

Run: ``python examples/flask_app.py`` (or with ``--selftest``) drives the app through
Flask's test client on a fresh SQLite file and exits 1 if anything is not as shown.
Serve it: ``flask --app examples/flask_app.py run``. Needs ``pip install flask``.
"""

from __future__ import annotations

import atexit
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, request

from agent_session import (
    Conversation,
    InvalidSessionId,
    Message,
    SessionNotFound,
    SessionStore,
    SQLiteStore,
    VersionConflict,
    open_store,
)

STORE_URL_ENV = "AGENT_SESSION_URL"
HISTORY = 20  # messages of context the model sees


def default_db() -> Path:
    """The SQLite file used when ``AGENT_SESSION_URL`` is not set."""
    return Path(tempfile.gettempdir()) / "agent-session-examples" / "flask_chat.db"


def open_chat_store() -> SessionStore:
    """The store ``AGENT_SESSION_URL`` names, else a SQLite file in the temp directory."""
    url = os.environ.get(STORE_URL_ENV)
    if url:
        return open_store(url)
    path = default_db()
    path.parent.mkdir(parents=True, exist_ok=True)
    return SQLiteStore(path)


def fake_model(history: Conversation, question: str) -> str:
    """A stand-in for a model call: the same answer for the same input, no network."""
    return f"You said {question!r}; I remember {len(history)} earlier messages."


def session_id(user: str) -> str:
    return f"chat:{user}"


def current_version(store: SessionStore, sid: str) -> int:
    """The session's version; 0 if it does not exist (``expected_version=0`` creates)."""
    try:
        return store.get_metadata(sid).version
    except SessionNotFound:
        return 0


def parse_turn(body: Any) -> tuple[str, int]:
    """``(message, version)`` from a POST body; ValueError naming what is wrong."""
    if not isinstance(body, dict):
        raise ValueError(f'send a JSON object {{"message": ..., "version": ...}}, not {body!r}')
    message, version = body.get("message"), body.get("version")
    if not isinstance(message, str) or not message.strip():
        raise ValueError(f'"message" must be a non-empty string, not {message!r}')
    if type(version) is not int or version < 0:
        raise ValueError(f'"version" must be the integer version you last saw, not {version!r}')
    return message, version


def create_app(store: SessionStore | None = None) -> Flask:
    """The chat app on ``store`` (the caller closes it), or on :func:`open_chat_store`."""
    if store is None:
        store = open_chat_store()
        atexit.register(store.close)
    chats = store  # the narrowed type, for the views
    app = Flask(__name__)

    @app.errorhandler(InvalidSessionId)
    def bad_user(exc: InvalidSessionId) -> tuple[Response, int]:
        return jsonify(error=str(exc)), 400

    @app.get("/chat/<user>")
    def history(user: str) -> Response:
        sid = session_id(user)
        # The version first, then the messages: a write in between leaves the page with
        # an older version than its messages, so its next POST gets a 409, never a loss.
        version = current_version(chats, sid)
        try:
            conversation = chats.load(sid)
        except SessionNotFound:
            conversation = Conversation()
        messages = [{"role": m.role, "content": m.text} for m in conversation]
        return jsonify(user=user, version=version, messages=messages)

    @app.post("/chat/<user>")
    def chat(user: str) -> tuple[Response, int]:
        try:
            question, version = parse_turn(request.get_json(silent=True))
        except ValueError as exc:
            return jsonify(error=str(exc)), 400
        sid = session_id(user)
        actual = current_version(chats, sid)
        if actual != version:  # stale already: refuse before paying for a model call
            return conflict(actual)
        try:
            context = chats.load(sid, last=HISTORY)
        except SessionNotFound:
            context = Conversation()
        reply = fake_model(context, question)
        try:
            # The real guard: refused if any write landed since the page's version.
            meta = chats.append(
                sid,
                Message("user", question),
                Message("assistant", reply),
                expected_version=version,
            )
        except VersionConflict as exc:
            return conflict(exc.actual)
        return jsonify(reply=reply, version=meta.version), 200

    def conflict(actual: int) -> tuple[Response, int]:
        error = f"the conversation changed (now version {actual}): reload it and send again"
        return jsonify(error=error, version=actual), 409

    return app


class Checks:
    """Prints each check as it runs and remembers the failed ones for ``main``'s exit code."""

    def __init__(self) -> None:
        self.failed: list[str] = []

    def equal(self, what: str, actual: object, expected: object) -> None:
        if actual == expected:
            print(f"  ok: {what} = {actual!r}")
        else:
            print(f"  FAILED: {what}: got {actual!r}, expected {expected!r}")
            self.failed.append(what)


def selftest(checks: Checks) -> None:
    """Two tabs of one user, then a second user, through Flask's test client."""
    with tempfile.TemporaryDirectory() as directory, SQLiteStore(Path(directory) / "c.db") as store:
        client = create_app(store).test_client()

        page = client.get("/chat/ada").get_json()
        checks.equal("a new user's version", page["version"], 0)
        tab_a = tab_b = page["version"]  # both tabs opened on version 0

        answer = client.post("/chat/ada", json={"message": "Hi from tab A", "version": tab_a})
        checks.equal("tab A's first message", answer.status_code, 200)
        checks.equal(
            "tab A's reply",
            answer.get_json()["reply"],
            "You said 'Hi from tab A'; I remember 0 earlier messages.",
        )
        tab_a = answer.get_json()["version"]
        checks.equal("the version after one turn", tab_a, 1)

        stale = client.post("/chat/ada", json={"message": "Hi from tab B", "version": tab_b})
        checks.equal("tab B, still on version 0: status", stale.status_code, 409)
        checks.equal("the 409 names the current version", stale.get_json()["version"], 1)
        texts = [m["content"] for m in client.get("/chat/ada").get_json()["messages"]]
        checks.equal("the refused message wrote nothing", texts[0::2], ["Hi from tab A"])

        page = client.get("/chat/ada").get_json()  # tab B reloads, then sends again
        tab_b = page["version"]
        retry = client.post("/chat/ada", json={"message": "Hi from tab B", "version": tab_b})
        checks.equal(
            "tab B after reloading", (retry.status_code, retry.get_json()["version"]), (200, 2)
        )

        texts = [m["content"] for m in client.get("/chat/ada").get_json()["messages"]]
        checks.equal("ada's conversation: messages", len(texts), 4)
        checks.equal("tab A's message stored once", texts.count("Hi from tab A"), 1)
        checks.equal("tab B's message stored once", texts.count("Hi from tab B"), 1)
        checks.equal(
            "the reply to tab B (the model saw tab A's turn)",
            texts[3],
            "You said 'Hi from tab B'; I remember 2 earlier messages.",
        )

        checks.equal(
            "another user starts empty", client.get("/chat/brian").get_json()["version"], 0
        )
        bad = client.post("/chat/brian", json={"message": "hello"})
        checks.equal("a POST without a version", bad.status_code, 400)


def main(argv: list[str]) -> int:
    if argv not in ([], ["--selftest"]):
        print(f"usage: python {sys.argv[0]} [--selftest]; serve it with flask --app ... run")
        return 2
    checks = Checks()
    print("Flask chat app, driven by its test client:")
    selftest(checks)
    if checks.failed:
        print(f"\n{len(checks.failed)} check(s) FAILED")
        return 1
    print("\nall checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
