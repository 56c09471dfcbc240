"""The web-framework examples (examples/*_app.py), driven by each framework's own test client.

Every app runs on a SQLite file and on Redis (FastAPI under trio too, where Redis's
asyncio-only driver cannot go). What a user relies on: two tabs cannot overwrite each
other, a user's history grows turn by turn, and users are kept apart.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import pytest
from redis_helpers import new_prefix

from agent_session import InMemoryStore, Message, SQLiteStore, open_store

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
Response = tuple[int, dict[str, Any]]


def load_example(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` (not a package) once, under its own module name."""
    module_name = f"agent_session_example_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Before running it: Django imports the module again by name, as its URLconf.
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


@dataclass
class Chat:
    """One app behind its test client: ``get``/``post`` give (status, JSON body)."""

    app: ModuleType  # the example's module
    url: str  # the store it serves from, for looking behind the app's back
    get: Callable[[str], Response]
    post: Callable[[str, dict[str, Any]], Response]

    def messages(self, user: str) -> list[tuple[str | None, str]]:
        """(role, text) of the user's stored conversation, read from the store itself."""
        with open_store(self.url) as store:
            if not store.exists(f"chat:{user}"):
                return []
            return [(m.role, m.text) for m in store.load(f"chat:{user}")]


def flask_chat(url: str, stack: ExitStack) -> Chat:
    pytest.importorskip("flask")
    app = load_example("flask_app")
    store = stack.enter_context(open_store(url))
    flask_app = app.create_app(store)

    # A client per request, as each tab is its own browser: clients are not for sharing
    # between threads, the app and its store are.
    def get(user: str) -> Response:
        response = flask_app.test_client().get(f"/chat/{user}")
        return response.status_code, response.get_json()

    def post(user: str, body: dict[str, Any]) -> Response:
        response = flask_app.test_client().post(f"/chat/{user}", json=body)
        return response.status_code, response.get_json()

    return Chat(app, url, get, post)


def fastapi_chat(
    url: str, stack: ExitStack, backend: Literal["asyncio", "trio"] = "asyncio"
) -> Chat:
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")  # Starlette's TestClient is built on it
    from fastapi.testclient import TestClient

    app = load_example("fastapi_app")
    # Entered: the client runs the app's lifespan, which opens the store and closes it.
    client = stack.enter_context(TestClient(app.create_app(url), backend=backend))

    def get(user: str) -> Response:
        response = client.get(f"/chat/{user}")
        return response.status_code, response.json()

    def post(user: str, body: dict[str, Any]) -> Response:
        response = client.post(f"/chat/{user}", json=body)
        return response.status_code, response.json()

    return Chat(app, url, get, post)


def django_chat(url: str, stack: ExitStack) -> Chat:
    pytest.importorskip("django")
    app = load_example("django_app")
    from django.test import Client

    store = stack.enter_context(open_store(url))
    previous = app.use_store(store)
    stack.callback(app.use_store, previous)

    # A client per request, as each tab is its own browser (see flask_chat).
    def get(user: str) -> Response:
        response = Client().get(f"/chat/{user}")
        return response.status_code, response.json()

    def post(user: str, body: dict[str, Any]) -> Response:
        data = json.dumps(body)
        response = Client().post(f"/chat/{user}", data, content_type="application/json")
        return response.status_code, response.json()

    return Chat(app, url, get, post)


APPS = {
    "flask": flask_chat,
    "fastapi": fastapi_chat,
    "fastapi-trio": lambda url, stack: fastapi_chat(url, stack, backend="trio"),
    "django": django_chat,
}
CASES = [
    pytest.param((app, store), id=f"{app}-{store}")
    for app in APPS
    for store in ("sqlite", "redis")
    if (app, store) != ("fastapi-trio", "redis")  # redis-py's async client is asyncio-only
]


@pytest.fixture(params=CASES)
def chat(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Chat]:
    """One example app on a store of its own, through its framework's test client."""
    app, kind = request.param
    if kind == "sqlite":
        url = f"sqlite:///{(tmp_path / 'chats.db').as_posix()}"
    else:
        url = f"{request.getfixturevalue('redis_url')}?prefix={new_prefix()}"
    with ExitStack() as stack:
        if kind == "redis":  # last out: delete the keys this test wrote
            stack.callback(clear, url)
        yield APPS[app](url, stack)


def clear(url: str) -> None:
    with open_store(url) as store:
        store.clear()


def reply(question: str, earlier: int) -> str:
    """What the examples' fake model answers."""
    return f"You said {question!r}; I remember {earlier} earlier messages."


def test_a_stale_tab_gets_409_and_writes_nothing(chat: Chat) -> None:
    status, page = chat.get("ada")
    assert (status, page) == (200, {"user": "ada", "version": 0, "messages": []})
    tab_a = tab_b = page["version"]

    status, body = chat.post("ada", {"message": "from tab A", "version": tab_a})
    assert (status, body) == (200, {"reply": reply("from tab A", 0), "version": 1})

    status, body = chat.post("ada", {"message": "from tab B", "version": tab_b})
    assert status == 409
    assert body["version"] == 1  # the current version, to reload at
    assert "version 1" in body["error"]
    assert chat.messages("ada") == [
        ("user", "from tab A"),
        ("assistant", reply("from tab A", 0)),
    ]

    # Tab B reloads, sees tab A's turn, and sends again on the version it now shows.
    status, page = chat.get("ada")
    assert page["version"] == 1
    assert [m["content"] for m in page["messages"]] == ["from tab A", reply("from tab A", 0)]
    status, body = chat.post("ada", {"message": "from tab B", "version": page["version"]})
    assert (status, body) == (200, {"reply": reply("from tab B", 2), "version": 2})
    texts = [text for _, text in chat.messages("ada")]
    assert texts.count("from tab A") == 1
    assert texts.count("from tab B") == 1


def test_a_write_while_the_model_thinks_gets_409(
    chat: Chat, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The version matched when the request came in; another tab writes during the model
    # call. The append's expected_version must refuse the late write.
    chat.post("ada", {"message": "first", "version": 0})
    model = chat.app.fake_model

    def slow_model(history: Any, question: str) -> str:
        with open_store(chat.url) as other_tab:
            other_tab.append("chat:ada", Message("user", "meanwhile"))
        return str(model(history, question))

    monkeypatch.setattr(chat.app, "fake_model", slow_model)
    status, body = chat.post("ada", {"message": "late", "version": 1})
    assert (status, body["version"]) == (409, 2)
    texts = [text for _, text in chat.messages("ada")]
    assert texts == ["first", reply("first", 0), "meanwhile"]


def test_history_grows_per_user(chat: Chat) -> None:
    version = 0
    for turn in range(3):
        status, body = chat.post("ada", {"message": f"question {turn}", "version": version})
        assert status == 200
        assert body == {"reply": reply(f"question {turn}", 2 * turn), "version": version + 1}
        version = body["version"]
    status, page = chat.get("ada")
    assert page["version"] == 3
    assert [(m["role"], m["content"]) for m in page["messages"]] == [
        (role, text)
        for turn in range(3)
        for role, text in (
            ("user", f"question {turn}"),
            ("assistant", reply(f"question {turn}", 2 * turn)),
        )
    ]


def test_users_are_separate(chat: Chat) -> None:
    assert chat.post("ada", {"message": "I am ada", "version": 0})[0] == 200
    assert chat.post("ada", {"message": "still ada", "version": 1})[0] == 200
    # Brian's first turn: his own version 0, whatever ada's is.
    status, body = chat.post("brian", {"message": "I am brian", "version": 0})
    assert (status, body) == (200, {"reply": reply("I am brian", 0), "version": 1})
    status, body = chat.post("brian", {"message": "wrong version", "version": 2})
    assert (status, body["version"]) == (409, 1)

    assert chat.get("ada")[1]["version"] == 2
    assert [m["content"] for m in chat.get("brian")[1]["messages"]] == [
        "I am brian",
        reply("I am brian", 0),
    ]
    assert chat.messages("carol") == []
    assert chat.get("carol")[1] == {"user": "carol", "version": 0, "messages": []}


@pytest.mark.parametrize(
    "body",
    [
        {"message": "no version"},
        {"message": "a string version", "version": "0"},
        {"message": "a negative version", "version": -1},
        {"message": "", "version": 0},
        {"version": 0},
    ],
)
def test_a_bad_body_is_refused_and_writes_nothing(chat: Chat, body: dict[str, Any]) -> None:
    status, _ = chat.post("ada", body)
    # FastAPI validates with pydantic: its usual 422; the others answer 400.
    assert status == (422 if chat.app.__name__.endswith("fastapi_app") else 400)
    assert chat.messages("ada") == []


def test_two_tabs_at_the_same_moment_one_wins(chat: Chat) -> None:
    # Both tabs send on version 0 at once, from their own threads: exactly one write.
    tabs = 4
    barrier = threading.Barrier(tabs, timeout=10)
    statuses: list[int] = []

    def tab(number: int) -> None:
        barrier.wait()
        statuses.append(chat.post("ada", {"message": f"tab {number}", "version": 0})[0])

    threads = [threading.Thread(target=tab, args=(number,)) for number in range(tabs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(statuses) == [200] + [409] * (tabs - 1)
    assert len(chat.messages("ada")) == 2


@pytest.mark.parametrize("name", ["flask_app", "django_app"])
def test_the_sync_apps_store_comes_from_the_environment(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip(name.split("_")[0])
    app = load_example(name)
    monkeypatch.setenv("AGENT_SESSION_URL", "memory://")
    with app.open_chat_store() as store:
        assert isinstance(store, InMemoryStore)
    monkeypatch.delenv("AGENT_SESSION_URL")
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))  # where the default file goes
    with app.open_chat_store() as store:
        assert isinstance(store, SQLiteStore)
        store.append("x", Message("user", "hi"))
    assert app.default_db().is_relative_to(tmp_path)
    assert app.default_db().is_file()


def test_the_async_apps_store_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("fastapi")
    app = load_example("fastapi_app")
    monkeypatch.setenv("AGENT_SESSION_URL", "redis://127.0.0.1:6379/0")
    assert app.store_url() == "redis://127.0.0.1:6379/0"
    monkeypatch.delenv("AGENT_SESSION_URL")
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    assert (
        app.store_url()
        == f"sqlite:///{(tmp_path / 'agent-session-examples').as_posix()}/fastapi_chat.db"
    )


@pytest.mark.parametrize("name", ["flask_app", "fastapi_app", "django_app"])
def test_the_self_test_passes(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    # What `nox -s examples` runs: the script's own checks, through its test client.
    pytest.importorskip(name.split("_")[0])
    assert load_example(name).main(["--selftest"]) == 0
    out = capsys.readouterr().out
    assert "FAILED" not in out
    assert "all checks passed" in out
