"""A minimal single-file Django project whose view keeps chats in the sync store.

The same chat as ``flask_app.py``, JSON in and out:

- ``GET /chat/<user>``: ``{"user", "version", "messages": [{"role", "content"}, ...]}``;
  version 0 and no messages for a user who has not chatted yet.
- ``POST /chat/<user>`` with ``{"message": "...", "version": N}``, N being the version
  the page last saw: the question and the model's answer are appended in one write with
  ``expected_version=N``. 200 ``{"reply", "version"}``; if another tab wrote since, 409
  ``{"error", "version"}`` with the current version, and nothing is written.

``settings.configure`` stands in for ``settings.py`` and this module is the URLconf.
One store serves the whole process (stores are thread-safe; ``runserver`` uses a
thread per request), opened on first use: ``AGENT_SESSION_URL`` names it
(``redis://127.0.0.1:6379/0`` needs ``pip install 'agent-session[redis]'``), else a
SQLite file in the temp directory. The "model" is a stand-in that answers
deterministically, without a network. To stay short, there is no middleware: a real
project keeps Django's CSRF middleware (the page sends the token) and takes the user
from its login rather than the URL.

Run: ``python examples/django_app.py`` (or with ``--selftest``) drives the view through
Django's test ``Client`` on a fresh SQLite file and exits 1 if anything is not as
shown. Serve it: ``python examples/django_app.py runserver`` (any other argument goes
to Django's command line). Needs ``pip install django``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import django
from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.http import require_http_methods

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

if not settings.configured:  # a second import (say, by a test) must not configure again
    settings.configure(
        DEBUG=False,
        SECRET_KEY="example-only-not-a-secret",
        ROOT_URLCONF=__name__,
        ALLOWED_HOSTS=["127.0.0.1", "localhost", "testserver"],
        INSTALLED_APPS=[],
        MIDDLEWARE=[],
        DATABASES={},  # conversations live in agent-session's store, not Django's ORM
    )
    django.setup()


def default_db() -> Path:
    """The SQLite file used when ``AGENT_SESSION_URL`` is not set."""
    return Path(tempfile.gettempdir()) / "agent-session-examples" / "django_chat.db"


def open_chat_store() -> SessionStore:
    """The store ``AGENT_SESSION_URL`` names, else a SQLite file in the temp directory."""
    url = os.environ.get(STORE_URL_ENV)
    if url:
        return open_store(url)
    db = default_db()
    db.parent.mkdir(parents=True, exist_ok=True)
    return SQLiteStore(db)


_store: SessionStore | None = None
_store_lock = threading.Lock()  # two first requests at once must not open two stores


def get_store() -> SessionStore:
    """The process's store, opened by the first request that needs it."""
    global _store
    with _store_lock:
        if _store is None:
            _store = open_chat_store()
        return _store


def use_store(store: SessionStore | None) -> SessionStore | None:
    """Serve from ``store`` from now on (None: open the default again); the previous one.

    For tests and the self-test; the caller closes both.
    """
    global _store
    with _store_lock:
        previous, _store = _store, store
        return previous


def fake_model(history: Conversation, question: str) -> str:
    """A stand-in for a model call: the same answer for the same input, no network."""
    return f"You said {question!r}; I remember {len(history)} earlier messages."


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


def conflict(actual: int) -> JsonResponse:
    error = f"the conversation changed (now version {actual}): reload it and send again"
    return JsonResponse({"error": error, "version": actual}, status=409)


@require_http_methods(["GET", "POST"])
def chat(request: HttpRequest, user: str) -> JsonResponse:
    store, sid = get_store(), f"chat:{user}"
    try:
        if request.method == "GET":
            return history(store, sid, user)
        try:
            question, version = parse_turn(json.loads(request.body or b"null"))
        except ValueError as exc:  # json.JSONDecodeError is a ValueError too
            return JsonResponse({"error": str(exc)}, status=400)
        return turn(store, sid, question, version)
    except InvalidSessionId as exc:
        return JsonResponse({"error": str(exc)}, status=400)


def history(store: SessionStore, sid: str, user: str) -> JsonResponse:
    # The version first, then the messages: a write in between leaves the page with an
    # older version than its messages, so its next POST gets a 409, never a loss.
    version = current_version(store, sid)
    try:
        conversation = store.load(sid)
    except SessionNotFound:
        conversation = Conversation()
    messages = [{"role": m.role, "content": m.text} for m in conversation]
    return JsonResponse({"user": user, "version": version, "messages": messages})


def turn(store: SessionStore, sid: str, question: str, version: int) -> JsonResponse:
    actual = current_version(store, sid)
    if actual != version:  # stale already: refuse before paying for a model call
        return conflict(actual)
    try:
        context = store.load(sid, last=HISTORY)
    except SessionNotFound:
        context = Conversation()
    reply = fake_model(context, question)
    try:
        # The real guard: refused if any write landed since the page's version.
        meta = store.append(
            sid, Message("user", question), Message("assistant", reply), expected_version=version
        )
    except VersionConflict as exc:
        return conflict(exc.actual)
    return JsonResponse({"reply": reply, "version": meta.version})


urlpatterns = [path("chat/<str:user>", chat)]


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
    """Two tabs of one user, then a second user, through Django's test client."""
    from django.test import Client

    def post(user: str, body: dict[str, Any]) -> Any:
        return client.post(f"/chat/{user}", json.dumps(body), content_type="application/json")

    with tempfile.TemporaryDirectory() as directory, SQLiteStore(Path(directory) / "c.db") as store:
        previous = use_store(store)
        try:
            client = Client()
            page = client.get("/chat/ada").json()
            checks.equal("a new user's version", page["version"], 0)
            tab_a = tab_b = page["version"]  # both tabs opened on version 0

            answer = post("ada", {"message": "Hi from tab A", "version": tab_a})
            checks.equal("tab A's first message", answer.status_code, 200)
            checks.equal(
                "tab A's reply",
                answer.json()["reply"],
                "You said 'Hi from tab A'; I remember 0 earlier messages.",
            )
            tab_a = answer.json()["version"]
            checks.equal("the version after one turn", tab_a, 1)

            stale = post("ada", {"message": "Hi from tab B", "version": tab_b})
            checks.equal("tab B, still on version 0: status", stale.status_code, 409)
            checks.equal("the 409 names the current version", stale.json()["version"], 1)
            texts = [m["content"] for m in client.get("/chat/ada").json()["messages"]]
            checks.equal("the refused message wrote nothing", texts[0::2], ["Hi from tab A"])

            tab_b = client.get("/chat/ada").json()["version"]  # tab B reloads, sends again
            retry = post("ada", {"message": "Hi from tab B", "version": tab_b})
            checks.equal(
                "tab B after reloading", (retry.status_code, retry.json()["version"]), (200, 2)
            )

            texts = [m["content"] for m in client.get("/chat/ada").json()["messages"]]
            checks.equal("ada's conversation: messages", len(texts), 4)
            checks.equal("tab A's message stored once", texts.count("Hi from tab A"), 1)
            checks.equal("tab B's message stored once", texts.count("Hi from tab B"), 1)
            checks.equal(
                "the reply to tab B (the model saw tab A's turn)",
                texts[3],
                "You said 'Hi from tab B'; I remember 2 earlier messages.",
            )

            checks.equal(
                "another user starts empty", client.get("/chat/brian").json()["version"], 0
            )
            checks.equal(
                "a POST without a version", post("brian", {"message": "hi"}).status_code, 400
            )
        finally:
            use_store(previous)


def main(argv: list[str]) -> int:
    if argv and argv != ["--selftest"]:
        from django.core.management import execute_from_command_line

        execute_from_command_line([sys.argv[0], *argv])  # runserver, check, ...
        return 0
    checks = Checks()
    print("Django chat view, driven by its test client:")
    selftest(checks)
    if checks.failed:
        print(f"\n{len(checks.failed)} check(s) FAILED")
        return 1
    print("\nall checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
