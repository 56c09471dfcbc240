"""A FastAPI chat endpoint keeping each user's conversation in the async store.

The same app as ``flask_app.py``, on the async API. JSON in and out:

- ``GET /chat/{user}``: ``{"user", "version", "messages": [{"role", "content"}, ...]}``;
  version 0 and no messages for a user who has not chatted yet.
- ``POST /chat/{user}`` with ``{"message": "...", "version": N}``, N being the version
  the page last saw: the question and the model's answer are appended in one write with
  ``expected_version=N``. 200 ``{"reply", "version"}``; if another tab wrote since, 409
  ``{"error", "version"}`` with the current version, and nothing is written: the page
  reloads the conversation and asks again. A malformed body gets FastAPI's 422.

The store is opened by the app's lifespan (``open_async_store``, on the server's event
loop) and closed when the server stops: ``AGENT_SESSION_URL`` names it
(``redis://127.0.0.1:6379/0`` needs ``pip install 'agent-session[redis]'``), else a
SQLite file in the temp directory. The "model" is a stand-in that answers
deterministically, without a network. The user comes from the URL to keep this short:
a real app takes it from its login.

Run: ``python examples/fastapi_app.py`` (or with ``--selftest``) drives the app through
Starlette's ``TestClient`` on a fresh SQLite file, under asyncio and, if trio is
installed, under trio; it exits 1 if anything is not as shown. Serve it:
``uvicorn fastapi_app:app --app-dir examples``. Needs ``pip install fastapi httpx``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from agent_session import (
    AsyncSessionStore,
    Conversation,
    InvalidSessionId,
    Message,
    SessionNotFound,
    VersionConflict,
    open_async_store,
)

STORE_URL_ENV = "AGENT_SESSION_URL"
HISTORY = 20  # messages of context the model sees


def default_db() -> Path:
    """The SQLite file used when ``AGENT_SESSION_URL`` is not set."""
    return Path(tempfile.gettempdir()) / "agent-session-examples" / "fastapi_chat.db"


def store_url() -> str:
    """``AGENT_SESSION_URL``, else the URL of a SQLite file in the temp directory."""
    url = os.environ.get(STORE_URL_ENV)
    if url:
        return url
    path = default_db()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path.as_posix()}"  # an absolute path: sqlite:////tmp/...


def fake_model(history: Conversation, question: str) -> str:
    """A stand-in for a model call: the same answer for the same input, no network."""
    return f"You said {question!r}; I remember {len(history)} earlier messages."


def session_id(user: str) -> str:
    return f"chat:{user}"


async def current_version(store: AsyncSessionStore, sid: str) -> int:
    """The session's version; 0 if it does not exist (``expected_version=0`` creates)."""
    try:
        return (await store.get_metadata(sid)).version
    except SessionNotFound:
        return 0


class Turn(BaseModel):
    """A POST body: the question, and the version of the conversation the page shows."""

    message: str = Field(min_length=1)
    version: int = Field(ge=0, strict=True)


def get_store(request: Request) -> AsyncSessionStore:
    store: AsyncSessionStore = request.app.state.store
    return store


Store = Annotated[AsyncSessionStore, Depends(get_store)]


def conflict(actual: int) -> JSONResponse:
    error = f"the conversation changed (now version {actual}): reload it and send again"
    return JSONResponse({"error": error, "version": actual}, status_code=409)


def create_app(url: str | None = None) -> FastAPI:
    """The chat app on the store at ``url`` (default: :func:`store_url`), opened by its lifespan."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Opened here, not at import: on the server's own event loop, closed when it stops.
        async with open_async_store(url or store_url()) as store:
            app.state.store = store
            yield

    app = FastAPI(lifespan=lifespan)

    @app.exception_handler(InvalidSessionId)
    async def bad_user(request: Request, exc: InvalidSessionId) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=400)

    @app.get("/chat/{user}")
    async def history(user: str, store: Store) -> dict[str, Any]:
        sid = session_id(user)
        # The version first, then the messages: a write in between leaves the page with
        # an older version than its messages, so its next POST gets a 409, never a loss.
        version = await current_version(store, sid)
        try:
            conversation = await store.load(sid)
        except SessionNotFound:
            conversation = Conversation()
        messages = [{"role": m.role, "content": m.text} for m in conversation]
        return {"user": user, "version": version, "messages": messages}

    @app.post("/chat/{user}")
    async def chat(user: str, turn: Turn, store: Store) -> JSONResponse:
        sid = session_id(user)
        actual = await current_version(store, sid)
        if actual != turn.version:  # stale already: refuse before paying for a model call
            return conflict(actual)
        try:
            context = await store.load(sid, last=HISTORY)
        except SessionNotFound:
            context = Conversation()
        reply = fake_model(context, turn.message)
        try:
            # The real guard: refused if any write landed since the page's version.
            meta = await store.append(
                sid,
                Message("user", turn.message),
                Message("assistant", reply),
                expected_version=turn.version,
            )
        except VersionConflict as exc:
            return conflict(exc.actual)
        return JSONResponse({"reply": reply, "version": meta.version})

    return app


# For ``uvicorn fastapi_app:app``: nothing is opened until the server starts.
app = create_app()


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


def selftest(checks: Checks, backend: Literal["asyncio", "trio"]) -> None:
    """Two tabs of one user, then a second user, through Starlette's test client."""
    from fastapi.testclient import TestClient  # here: serving the app needs no httpx

    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{(Path(directory) / 'c.db').as_posix()}"
        # ``with``: the client runs the lifespan, so the store opens and closes with it.
        with TestClient(create_app(url), backend=backend) as client:
            page = client.get("/chat/ada").json()
            checks.equal("a new user's version", page["version"], 0)
            tab_a = tab_b = page["version"]  # both tabs opened on version 0

            answer = client.post("/chat/ada", json={"message": "Hi from tab A", "version": tab_a})
            checks.equal("tab A's first message", answer.status_code, 200)
            checks.equal(
                "tab A's reply",
                answer.json()["reply"],
                "You said 'Hi from tab A'; I remember 0 earlier messages.",
            )
            tab_a = answer.json()["version"]
            checks.equal("the version after one turn", tab_a, 1)

            stale = client.post("/chat/ada", json={"message": "Hi from tab B", "version": tab_b})
            checks.equal("tab B, still on version 0: status", stale.status_code, 409)
            checks.equal("the 409 names the current version", stale.json()["version"], 1)
            texts = [m["content"] for m in client.get("/chat/ada").json()["messages"]]
            checks.equal("the refused message wrote nothing", texts[0::2], ["Hi from tab A"])

            tab_b = client.get("/chat/ada").json()["version"]  # tab B reloads, sends again
            retry = client.post("/chat/ada", json={"message": "Hi from tab B", "version": tab_b})
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
            bad = client.post("/chat/brian", json={"message": "hello"})
            checks.equal("a POST without a version", bad.status_code, 422)


def main(argv: list[str]) -> int:
    if argv not in ([], ["--selftest"]):
        print(f"usage: python {sys.argv[0]} [--selftest]; serve it with uvicorn")
        return 2
    checks = Checks()
    backends: list[Literal["asyncio", "trio"]] = ["asyncio"]
    try:
        import trio  # noqa: F401  # only to know whether the trio run can happen
    except ImportError:
        print("(trio is not installed: the app runs under asyncio only)")
    else:
        backends.append("trio")
    for backend in backends:
        print(f"FastAPI chat app under {backend}, driven by its test client:")
        selftest(checks, backend)
    if checks.failed:
        print(f"\n{len(checks.failed)} check(s) FAILED")
        return 1
    print("\nall checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
