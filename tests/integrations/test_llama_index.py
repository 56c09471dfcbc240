"""The LlamaIndex chat store: llama-index-core's own types, its memory buffer, and the
answers of its ``SimpleChatStore`` for the same calls, on memory, SQLite, PostgreSQL
and Redis."""

from __future__ import annotations

import contextlib
import copy
import inspect
import random
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

pytest.importorskip("llama_index.core")

from llama_index.core.base.llms import types as llama_types  # noqa: E402
from llama_index.core.base.llms.types import (  # noqa: E402
    AudioBlock,
    CacheControl,
    CachePoint,
    ChatMessage,
    CitableBlock,
    CitationBlock,
    DocumentBlock,
    ImageBlock,
    MessageRole,
    TextBlock,
)
from llama_index.core.memory import ChatMemoryBuffer, Memory  # noqa: E402
from llama_index.core.storage.chat_store import BaseChatStore, SimpleChatStore  # noqa: E402
from llama_index.core.storage.chat_store.base_db import (  # noqa: E402
    AsyncDBChatStore,
    MessageStatus,
)
from llama_index.core.storage.chat_store.sql import SQLAlchemyChatStore  # noqa: E402
from postgres_helpers import drop_tables  # noqa: E402
from postgres_helpers import new_prefix as new_table_prefix  # noqa: E402
from redis_helpers import delete_prefix  # noqa: E402
from redis_helpers import new_prefix as new_key_prefix  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from agent_session import (  # noqa: E402
    AsyncSQLiteStore,
    InMemoryStore,
    InvalidSessionId,
    Message,
    SQLiteStore,
    VersionConflict,
)
from agent_session.integrations.llama_index import (  # noqa: E402
    ARCHIVED_LABEL,
    AgentSessionChatStore,
    AgentSessionMemoryStore,
    from_chat_message,
    to_chat_message,
)


def _newer(name: str, **fields: Any) -> list[Any]:
    """The block ``name`` if this llama-index-core has it (0.14.0 has no video, thinking
    or tool-call blocks), else none."""
    block = getattr(llama_types, name, None)
    return [] if block is None else [block(**fields)]


PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(32))

#: One message of every kind llama-index-core builds: roles, block types, kwargs.
MESSAGES = [
    ChatMessage(role="user", content="hi"),
    ChatMessage(role="user", content=""),
    ChatMessage(role="assistant", content=None),
    ChatMessage(role="system", content="Be terse. \u00e9\u4e2d\U0001f600"),
    ChatMessage(role="developer", content="rules"),
    ChatMessage(role="function", content="42", additional_kwargs={"name": "f"}),
    ChatMessage(role="tool", content="sunny", additional_kwargs={"tool_call_id": "c1"}),
    ChatMessage(role="chatbot", content="from Cohere"),
    ChatMessage(role="model", content="from Gemini"),
    ChatMessage(
        role="assistant",
        content="calling",
        additional_kwargs={
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{}"}}
            ],
            "nested": {"a": [1, 2.5, None, True, "x"]},
        },
    ),
    ChatMessage(
        role="user",
        blocks=[
            TextBlock(text="look"),
            ImageBlock(image=PNG),
            ImageBlock(url="https://example.test/a.png", detail="high"),
            ImageBlock(path=Path(__file__)),  # a file that exists when it is read back too
        ],
    ),
    ChatMessage(
        role="user",
        blocks=[
            AudioBlock(audio=b"RIFF0000WAVEfmt ", format="wav"),
            DocumentBlock(data=b"%PDF-1.4 a pdf", title="doc"),
            *_newer("VideoBlock", url="https://example.test/v.mp4", fps=24),
        ],
    ),
    ChatMessage(
        role="assistant",
        blocks=[
            *_newer("ThinkingBlock", content="hmm", additional_information={"signature": "s"}),
            *_newer("ToolCallBlock", tool_call_id="c2", tool_name="search", tool_kwargs={"q": 1}),
            *_newer("ToolCallBlock", tool_name="raw", tool_kwargs='{"q": 1}'),
            TextBlock(text="two"),
            TextBlock(text="texts"),
        ],
    ),
    ChatMessage(
        role="user",
        blocks=[
            CachePoint(cache_control=CacheControl(type="ephemeral", ttl="1h")),
            CitableBlock(title="t", source="s", content=[TextBlock(text="quoted")]),
            CitationBlock(
                cited_content=TextBlock(text="cited"),
                source="s",
                title="t",
                additional_location_info={"page": 3},
            ),
        ],
    ),
]

KINDS = ["memory", "sqlite", "postgres", "redis"]
Factory = Callable[[], AgentSessionChatStore]
MemoryFactory = Callable[[], AgentSessionMemoryStore]


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def backend(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A store URL on a fresh backend, or (memory) the one process-local store."""
    if kind == "memory":
        yield InMemoryStore()  # process-local: every adapter must share this object
    elif kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'chat.db'}"
    elif kind == "postgres":
        dsn, table_prefix = request.getfixturevalue("postgres_dsn"), new_table_prefix()
        yield f"{dsn}?table_prefix={table_prefix}"
        drop_tables(dsn, table_prefix)
    else:
        redis_url, key_prefix = request.getfixturevalue("redis_url"), new_key_prefix()
        yield f"{redis_url}?prefix={key_prefix}"
        delete_prefix(redis_url, key_prefix)


@pytest.fixture
def make(backend: Any) -> Iterator[Factory]:
    """Chat stores on one backend: each call a new object over the same data."""
    made: list[AgentSessionChatStore] = []

    def factory() -> AgentSessionChatStore:
        if isinstance(backend, str):
            made.append(AgentSessionChatStore.from_url(backend))
        else:
            made.append(AgentSessionChatStore(backend))
        return made[-1]

    yield factory
    for chat_store in made:
        chat_store.close()  # async tests aclose() their own; closing twice is harmless


@pytest.fixture
def make_memory(backend: Any) -> MemoryFactory:
    """Memory stores on one backend (all async: each test closes its own)."""

    def factory() -> AgentSessionMemoryStore:
        if isinstance(backend, str):
            return AgentSessionMemoryStore.from_url(backend)
        return AgentSessionMemoryStore(backend)

    return factory


@pytest.fixture
def anyio_backend() -> str:
    # LlamaIndex is asyncio code (ChatMemoryBuffer.aget uses asyncio.to_thread), and so
    # are the PostgreSQL and Redis async drivers; trio is tested below where it applies.
    return "asyncio"


# -- lossless round trips --------------------------------------------------------------


def test_every_kind_of_message_round_trips_equal(make: Factory) -> None:
    with make() as chat_store:
        chat_store.set_messages("all", MESSAGES)
        assert chat_store.get_messages("all") == MESSAGES
        for message in MESSAGES:
            chat_store.add_message("one-by-one", message)
        assert chat_store.get_messages("one-by-one") == MESSAGES
        assert [chat_store.delete_last_message("all") for _ in MESSAGES] == MESSAGES[::-1]


def test_the_stored_message_is_an_openai_chat_message_other_tools_read() -> None:
    store = InMemoryStore()
    chat_store = AgentSessionChatStore(store)
    chat_store.add_message("k", ChatMessage(role="user", content="hi"))
    chat_store.add_message("k", MESSAGES[10])  # text and images
    chat_store.add_message("k", ChatMessage(role="tool", content="ok"))
    plain, parts, tool = store.load("k")
    assert plain.to_dict() == {"role": "user", "content": "hi"}
    assert parts.role == "user" and parts.text == "look"
    assert isinstance(parts.content, tuple)
    assert [part["type"] for part in parts.content] == ["text", "image", "image", "image"]
    assert tool.is_tool_result


def test_a_role_openai_has_no_name_for_is_stored_as_assistant_and_read_back() -> None:
    stored = from_chat_message(ChatMessage(role=MessageRole.MODEL, content="x"))
    assert stored.role == "assistant"
    assert to_chat_message(stored).role is MessageRole.MODEL


def test_sessions_other_code_wrote_read_as_chat_messages() -> None:
    store = InMemoryStore()
    call = {"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{}"}}
    store.append(
        "k",
        Message("user", [{"type": "text", "text": "a"}, {"type": "image_url", "image_url": {}}]),
        Message("assistant", None, tool_calls=[call]),
        Message("tool", "sunny", tool_call_id="c1"),
        Message.from_dict({"type": "function_call", "call_id": "c2", "name": "w"}),
    )
    user, assistant, tool, item = AgentSessionChatStore(store).get_messages("k")
    assert (user.role, user.content) == (MessageRole.USER, "a")
    assert user.additional_kwargs["content"][1]["type"] == "image_url"  # kept, not dropped
    assert (assistant.blocks, assistant.additional_kwargs) == ([], {"tool_calls": [call]})
    assert (tool.role, tool.content, tool.additional_kwargs) == (
        MessageRole.TOOL,
        "sunny",
        {"tool_call_id": "c1"},
    )
    assert item.role is MessageRole.ASSISTANT and item.additional_kwargs["call_id"] == "c2"


# -- the same answers as SimpleChatStore -----------------------------------------------


def _script(seed: int, steps: int) -> list[tuple[str, tuple[Any, ...]]]:
    """A random but repeatable sequence of calls over every BaseChatStore method."""
    rng = random.Random(seed)
    keys = ["a", "b", "c"]
    roles = ["user", "assistant", "system", "tool", "model"]
    calls: list[tuple[str, tuple[Any, ...]]] = []
    for n in range(steps):
        key = rng.choice(keys)

        def message(n: int = n) -> ChatMessage:
            if rng.random() < 0.2:
                return ChatMessage(
                    role="user", blocks=[TextBlock(text=f"m{n}"), ImageBlock(image=PNG)]
                )
            return ChatMessage(role=rng.choice(roles), content=f"m{n}", additional_kwargs={"n": n})

        op = rng.choices(
            ["set", "get", "add", "add_at", "delete_all", "delete_at", "delete_last", "keys"],
            weights=[1, 2, 6, 2, 1, 3, 2, 1],
        )[0]
        if op == "set":
            calls.append(("set_messages", (key, [message() for _ in range(rng.randrange(4))])))
        elif op == "get":
            calls.append(("get_messages", (key,)))
        elif op == "add":
            calls.append(("add_message", (key, message())))
        elif op == "add_at":
            calls.append(("add_message", (key, message(), rng.randrange(-4, 7))))
        elif op == "delete_all":
            calls.append(("delete_messages", (key,)))
        elif op == "delete_at":
            calls.append(("delete_message", (key, rng.randrange(-7, 7))))
        elif op == "delete_last":
            calls.append(("delete_last_message", (key,)))
        else:
            calls.append(("get_keys", ()))
    return calls


def _answer(chat_store: BaseChatStore, method: str, args: tuple[Any, ...]) -> Any:
    try:
        result = getattr(chat_store, method)(*args)
    except IndexError:
        return IndexError
    return (
        sorted(result)
        if isinstance(result, list) and all(isinstance(k, str) for k in result)
        else result
    )


def _expected(reference: SimpleChatStore, method: str, args: tuple[Any, ...]) -> Any:
    """SimpleChatStore's answer, less the documented differences."""
    if method == "delete_last_message" and reference.store.get(args[0]) == []:
        return None  # SimpleChatStore raises IndexError (list.pop) where there is nothing
    return _answer(reference, method, args)


def _state(chat_store: BaseChatStore) -> dict[str, list[ChatMessage]]:
    return {key: chat_store.get_messages(key) for key in chat_store.get_keys()}


def test_every_method_answers_as_simple_chat_store_does(make: Factory) -> None:
    reference = SimpleChatStore()
    with make() as chat_store:
        for step, (method, args) in enumerate(_script(seed=8, steps=150)):
            expected = _expected(reference, method, args)
            actual = _answer(chat_store, method, args)
            assert actual == expected, f"step {step}: {method}{args}"
        assert _state(chat_store) == _state(reference)


async def test_every_async_method_answers_as_simple_chat_store_does(make: Factory) -> None:
    reference = SimpleChatStore()
    names = {"add_message": "async_add_message"}
    async with make() as chat_store:
        for step, (method, args) in enumerate(_script(seed=9, steps=100)):
            expected = _expected(reference, method, args)
            call = getattr(chat_store, names.get(method, "a" + method))
            try:
                actual = await call(*args)
                if method == "get_keys":
                    actual = sorted(actual)
            except IndexError:
                actual = IndexError
            assert actual == expected, f"step {step}: {method}{args}"
        assert {k: await chat_store.aget_messages(k) for k in await chat_store.aget_keys()} == (
            _state(reference)
        )


@pytest.mark.parametrize("anyio_backend", ["trio"])
@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_the_async_methods_work_under_trio_too(make: Factory) -> None:
    async with make() as chat_store:
        await chat_store.aset_messages("k", MESSAGES[:3])
        await chat_store.async_add_message("k", MESSAGES[3])
        await chat_store.async_add_message("k", MESSAGES[4], 0)
        assert await chat_store.adelete_message("k", 1) == MESSAGES[0]
        assert await chat_store.adelete_last_message("k") == MESSAGES[3]
        assert await chat_store.aget_messages("k") == [MESSAGES[4], *MESSAGES[1:3]]
        assert await chat_store.aget_keys() == ["k"]
        assert await chat_store.adelete_messages("k") == [MESSAGES[4], *MESSAGES[1:3]]


def test_missing_keys_answer_as_simple_chat_store_does(make: Factory) -> None:
    with make() as chat_store:
        assert chat_store.get_messages("nobody") == []
        assert chat_store.delete_messages("nobody") is None
        assert chat_store.delete_message("nobody", 0) is None
        assert chat_store.delete_last_message("nobody") is None
        chat_store.set_messages("empty", [])
        assert chat_store.get_keys() == ["empty"]  # an empty list keeps the key
        # The one documented difference: SimpleChatStore raises IndexError (list.pop).
        assert chat_store.delete_last_message("empty") is None
        with pytest.raises(IndexError):
            SimpleChatStore(store={"empty": []}).delete_last_message("empty")
        assert chat_store.delete_messages("empty") == []
        assert chat_store.get_keys() == []


# -- ChatMemoryBuffer ------------------------------------------------------------------


def test_one_memory_buffer_writes_and_another_reads(make: Factory) -> None:
    turns = [
        ChatMessage(role="user" if i % 2 == 0 else "assistant", content=f"t{i}") for i in range(6)
    ]
    writer_store, reader_store = make(), make()
    writer = ChatMemoryBuffer.from_defaults(chat_store=writer_store, chat_store_key="user-42")
    reader = ChatMemoryBuffer.from_defaults(chat_store=reader_store, chat_store_key="user-42")
    other = ChatMemoryBuffer.from_defaults(chat_store=reader_store, chat_store_key="user-7")
    for turn in turns:
        writer.put(turn)
    assert reader.get_all() == turns
    assert reader.get() == turns  # within the token limit: all of it
    assert other.get_all() == []
    # Trimmed to a token limit: as the buffer trims SimpleChatStore's answers.
    small = ChatMemoryBuffer.from_defaults(
        chat_store=reader_store, chat_store_key="user-42", token_limit=7
    )
    reference = ChatMemoryBuffer.from_defaults(chat_history=turns, token_limit=7)
    assert small.get() == reference.get() and 0 < len(small.get()) < len(turns)
    writer.set(turns[:2])
    assert reader.get_all() == turns[:2]
    writer.reset()
    assert reader.get_all() == [] and reader_store.get_keys() == []


def test_memory_buffer_from_defaults_with_history_stores_it(make: Factory) -> None:
    chat_store = make()
    ChatMemoryBuffer.from_defaults(
        chat_history=MESSAGES, chat_store=chat_store, chat_store_key="seeded"
    )
    assert make().get_messages("seeded") == MESSAGES


async def test_memory_buffer_async_methods(make: Factory) -> None:
    turns = [ChatMessage(role="user", content="q"), ChatMessage(role="assistant", content="a")]
    async with make() as writer_store, make() as reader_store:
        writer = ChatMemoryBuffer.from_defaults(chat_store=writer_store, chat_store_key="k")
        reader = ChatMemoryBuffer.from_defaults(chat_store=reader_store, chat_store_key="k")
        for turn in turns:
            await writer.aput(turn)
        assert await reader.aget_all() == turns
        assert await reader.aget() == turns  # in a worker thread, through the sync methods
        await writer.aset(turns[:1])
        assert await reader.aget_all() == turns[:1]
        await writer.areset()
        assert await reader.aget_all() == []


# -- concurrent writers ----------------------------------------------------------------


def test_delete_message_never_loses_a_concurrent_append(make: Factory) -> None:
    """Appenders in threads while another thread deletes by index: every appended
    message ends up either stored or returned by a delete, exactly once."""
    chat_store = make()
    chat_store.set_messages("k", [ChatMessage(content=f"seed{i}") for i in range(5)])
    writers, per_writer, deletes = 4, 15, 12
    deleted: list[ChatMessage] = []
    conflicts = 0
    errors: list[BaseException] = []

    def append(w: int) -> None:
        try:
            for i in range(per_writer):
                chat_store.add_message("k", ChatMessage(content=f"w{w}-{i}"))
        except BaseException as exc:  # re-raised below, in the test's thread
            errors.append(exc)

    def delete() -> None:
        nonlocal conflicts
        try:
            for _ in range(deletes):
                try:
                    removed = chat_store.delete_message("k", 1)
                except VersionConflict:
                    conflicts += 1  # nothing deleted: allowed under this much contention
                else:
                    assert removed is not None
                    deleted.append(removed)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(w,)) for w in range(writers)]
    threads.append(threading.Thread(target=delete))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads) and not errors, errors
    assert len(deleted) >= deletes // 2, f"only {len(deleted)} deletes, {conflicts} conflicts"
    every = [f"seed{i}" for i in range(5)]
    every += [f"w{w}-{i}" for w in range(writers) for i in range(per_writer)]
    left = [str(m.content) for m in chat_store.get_messages("k")]
    assert sorted(left + [str(m.content) for m in deleted]) == sorted(every)


def test_an_edit_that_keeps_conflicting_gives_up_with_version_conflict(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = InMemoryStore()
    chat_store = AgentSessionChatStore(store, conflict_retries=2)
    chat_store.set_messages("k", MESSAGES[:3])
    load = store.load_with_metadata
    reads = 0

    def load_then_interfere(session_id: str, **kwargs: Any) -> Any:
        nonlocal reads
        snapshot = load(session_id, **kwargs)
        store.append(session_id, Message("user", "someone else"))  # between read and save
        reads += 1
        return snapshot

    monkeypatch.setattr(store, "load_with_metadata", load_then_interfere)
    with pytest.raises(VersionConflict):
        chat_store.delete_message("k", 0)
    monkeypatch.undo()
    assert reads == 3  # the first try and conflict_retries redos
    assert chat_store.get_messages("k")[:3] == MESSAGES[:3]  # nothing deleted
    assert len(chat_store.get_messages("k")) == 6  # and nothing of theirs lost


def _interfere(monkeypatch: pytest.MonkeyPatch, store: InMemoryStore, times: int) -> list[str]:
    """Make the next ``times`` reads of a rewrite race an append (after the read, before
    the save); the appended texts."""
    load = store.load_with_metadata
    appended: list[str] = []

    def load_then_interfere(session_id: str, **kwargs: Any) -> Any:
        snapshot = load(session_id, **kwargs)
        if len(appended) < times and kwargs.get("last") is None:
            appended.append(f"racing {len(appended)}")
            store.append(session_id, from_chat_message(ChatMessage(content=appended[-1])))
        return snapshot

    monkeypatch.setattr(store, "load_with_metadata", load_then_interfere)
    return appended


async def test_every_rewrite_redoes_itself_on_a_racing_append_and_loses_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = InMemoryStore()
    chat_store, memory_store = AgentSessionChatStore(store), AgentSessionMemoryStore(store)
    texts = [f"m{i}" for i in range(4)]

    def contents(key: str) -> list[str | None]:
        return [m.content for m in chat_store.get_messages(key)]

    edits: list[tuple[str, Callable[[str], Any], list[str]]] = [
        ("delete_message", lambda k: chat_store.delete_message(k, 1), ["m0", "m2", "m3"]),
        (
            "add_message idx",
            lambda k: chat_store.add_message(k, ChatMessage(content="x"), 0),
            ["x", *texts],
        ),
        ("adelete_message", lambda k: chat_store.adelete_message(k, 0), texts[1:]),
        (
            "async_add_message idx",
            lambda k: chat_store.async_add_message(k, ChatMessage(content="x"), 1),
            ["m0", "x", *texts[1:]],
        ),
        ("archive_oldest", lambda k: memory_store.archive_oldest_messages(k, 2), texts),
        ("delete_oldest", lambda k: memory_store.delete_oldest_messages(k, 2), texts[2:]),
    ]
    for name, edit, expected in edits:
        chat_store.set_messages(name, [ChatMessage(content=text) for text in texts])
        appended = _interfere(monkeypatch, store, times=2)
        result = edit(name)
        if hasattr(result, "__await__"):
            await result
        monkeypatch.undo()
        assert contents(name) == expected + appended, name  # the edit, and both appends


# -- construction, serialisation, errors -----------------------------------------------


def test_it_serialises_as_its_url_and_from_dict_reopens_the_same_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'chat.db'}"
    with AgentSessionChatStore.from_url(url, key_prefix="app:") as chat_store:
        chat_store.add_message("k", MESSAGES[0])
        data = chat_store.to_dict()
        assert data == {
            "url": url,
            "key_prefix": "app:",
            "conflict_retries": 16,
            "class_name": "AgentSessionChatStore",
        }
        buffer = ChatMemoryBuffer.from_defaults(chat_store=chat_store, chat_store_key="k")
        assert buffer.to_dict()["chat_store"] == data
        with AgentSessionChatStore.from_dict(data) as again:
            assert again.get_messages("k") == [MESSAGES[0]]
        with AgentSessionChatStore.from_json(chat_store.to_json()) as again:
            assert again.get_keys() == ["k"]


def test_built_from_a_store_object_it_cannot_be_rebuilt_from_its_dict() -> None:
    chat_store = AgentSessionChatStore(InMemoryStore())
    assert chat_store.to_dict()["url"] is None
    with pytest.raises(ValueError, match="needs a store"):
        AgentSessionChatStore.from_dict(chat_store.to_dict())


def test_a_deep_copy_shares_the_store_and_does_not_close_it(tmp_path: Path) -> None:
    with AgentSessionChatStore.from_url(f"sqlite:///{tmp_path / 'c.db'}") as chat_store:
        clone = copy.deepcopy(chat_store)
        clone.add_message("k", MESSAGES[0])
        clone.close()
        assert chat_store.get_messages("k") == [MESSAGES[0]]


def test_key_prefix_keeps_apps_apart_on_one_store() -> None:
    store = InMemoryStore()
    one = AgentSessionChatStore(store, key_prefix="one:")
    two = AgentSessionChatStore(store, key_prefix="two:")
    one.add_message("k", MESSAGES[0])
    two.add_message("k", MESSAGES[1])
    store.append("unrelated", Message("user", "x"))
    assert (one.get_keys(), two.get_keys()) == (["k"], ["k"])
    assert one.get_messages("k") == [MESSAGES[0]] and store.exists("one:k")


async def test_an_async_store_alone_serves_the_async_methods(tmp_path: Path) -> None:
    async with AsyncSQLiteStore(tmp_path / "a.db") as store:
        chat_store = AgentSessionChatStore(async_store=store)
        await chat_store.async_add_message("k", MESSAGES[0])
        assert await chat_store.aget_messages("k") == [MESSAGES[0]]
        with pytest.raises(RuntimeError, match="needs a sync store.*from_url"):
            chat_store.get_messages("k")
    with SQLiteStore(tmp_path / "a.db") as sync_store:
        assert AgentSessionChatStore(sync_store).get_messages("k") == [MESSAGES[0]]


def test_bad_arguments_raise_clear_errors() -> None:
    chat_store = AgentSessionChatStore(InMemoryStore())
    with pytest.raises(InvalidSessionId):
        chat_store.add_message("", MESSAGES[0])
    with pytest.raises(TypeError, match="not 42"):
        chat_store.get_messages(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="ChatMessage objects, not 'hi'"):
        chat_store.add_message("k", "hi")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="index must be an int, not '1'"):
        chat_store.delete_message("k", "1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cannot be stored as JSON"):
        chat_store.add_message("k", ChatMessage(content="x", additional_kwargs={"o": object()}))
    assert chat_store.get_keys() == []  # nothing written by any of them
    with pytest.raises(ValueError, match="needs a store"):
        AgentSessionChatStore()
    with pytest.raises(ValueError, match="not both"):
        AgentSessionChatStore(InMemoryStore(), url="memory://")
    with pytest.raises(TypeError, match="SessionStore"):
        AgentSessionChatStore(SimpleChatStore())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown store URL scheme"):
        AgentSessionChatStore.from_url("nope://x")


# -- Memory and its AsyncDBChatStore ---------------------------------------------------


#: Memory.from_defaults takes any AsyncDBChatStore from llama-index-core 0.14.24 on.
takes_our_store = pytest.mark.skipif(
    "chat_store" not in inspect.signature(Memory.from_defaults).parameters,
    reason="this llama-index-core's Memory takes only its SQLAlchemyChatStore (0.14.24+ needed)",
)


@contextlib.asynccontextmanager
async def sql_chat_store() -> AsyncIterator[SQLAlchemyChatStore]:
    """LlamaIndex's own AsyncDBChatStore (SQLite in memory): the reference."""
    engine = create_async_engine("sqlite+aiosqlite:///:memory:")
    try:
        yield SQLAlchemyChatStore(table_name="reference", async_engine=engine)
    finally:
        await engine.dispose()


def _memory_script(seed: int, steps: int) -> list[tuple[str, tuple[Any, ...]]]:
    """Random calls over every AsyncDBChatStore method but those whose meaning differs
    (``delete_message`` takes a row id there; archived ``add_message`` orders by time)."""
    rng = random.Random(seed)
    statuses: list[MessageStatus | None] = [MessageStatus.ACTIVE, MessageStatus.ARCHIVED, None]
    calls: list[tuple[str, tuple[Any, ...]]] = []
    for n in range(steps):
        key = rng.choice(["a", "b"])
        status = rng.choice(statuses)
        fresh = [
            ChatMessage(role=rng.choice(["user", "assistant"]), content=f"m{n}.{i}")
            for i in range(3)
        ]
        op = rng.choices(
            ["get", "count", "add", "add_many", "set", "delete", "oldest", "archive", "keys"],
            weights=[3, 2, 6, 2, 1, 1, 1, 3, 1],
        )[0]
        if op == "get":
            limit = rng.choice([None, 0, 1, 3])
            offset = rng.choice([None, 0, 1, 2])
            calls.append(("get_messages", (key, status, limit, offset)))
        elif op == "count":
            calls.append(("count_messages", (key, status)))
        elif op == "add":
            calls.append(("add_message", (key, fresh[0])))
        elif op == "add_many":
            calls.append(("add_messages", (key, fresh[: rng.randrange(1, 4)])))
        elif op == "set":
            chosen = rng.choice([MessageStatus.ACTIVE, MessageStatus.ARCHIVED])
            calls.append(("set_messages", (key, fresh[: rng.randrange(4)], chosen)))
        elif op == "delete":
            calls.append(("delete_messages", (key, status)))
        elif op == "oldest":
            calls.append(("delete_oldest_messages", (key, rng.randrange(4))))
        elif op == "archive":
            calls.append(("archive_oldest_messages", (key, rng.randrange(4))))
        else:
            calls.append(("get_keys", ()))
    return calls


async def _keys_with_messages(store: AsyncDBChatStore) -> list[str]:
    # Ours keeps a key whose messages were all deleted; SQL has no rows left to list.
    return sorted([key for key in await store.get_keys() if await store.count_messages(key, None)])


async def test_every_memory_store_method_answers_as_sqlalchemy_chat_store_does(
    make_memory: MemoryFactory,
) -> None:
    async with sql_chat_store() as reference, make_memory() as ours:
        for step, (method, args) in enumerate(_memory_script(seed=12, steps=150)):
            if method == "get_keys":
                assert await _keys_with_messages(ours) == await _keys_with_messages(reference)
                continue
            expected = await getattr(reference, method)(*args)
            actual = await getattr(ours, method)(*args)
            assert actual == expected, f"step {step}: {method}{args}"
        for key in await reference.get_keys():
            assert await ours.get_messages(key, None) == await reference.get_messages(key, None)


@takes_our_store
async def test_memory_archives_as_with_llama_index_sql_store_and_another_reads(
    make_memory: MemoryFactory,
) -> None:
    async with sql_chat_store() as reference, make_memory() as ours, make_memory() as theirs:
        options: dict[str, Any] = {"session_id": "user-42", "token_limit": 60}
        ours_memory = Memory.from_defaults(chat_store=ours, token_flush_size=20, **options)
        reference_memory = Memory.from_defaults(
            chat_store=reference, token_flush_size=20, **options
        )
        reader = Memory.from_defaults(chat_store=theirs, **options)
        for i in range(14):
            turn = ChatMessage(
                role="user" if i % 2 == 0 else "assistant",
                content=f"message {i} " + "word " * (i % 4),
            )
            await ours_memory.aput(turn)
            await reference_memory.aput(turn)
            assert await ours_memory.aget() == await reference_memory.aget(), f"turn {i}"
            for status in (MessageStatus.ACTIVE, MessageStatus.ARCHIVED, None):
                expected = await reference_memory.aget_all(status)
                assert await ours_memory.aget_all(status) == expected, f"turn {i}, {status}"
                assert await reader.aget_all(status) == expected  # another store object
        assert await ours.count_messages("user-42", MessageStatus.ARCHIVED) > 0  # it archived
        await ours_memory.aput_messages(MESSAGES)
        assert (await reader.aget_all(None))[-len(MESSAGES) :] == MESSAGES
        await ours_memory.aset(MESSAGES[:2])
        assert await reader.aget_all(None) == MESSAGES[:2]
        await ours_memory.areset()
        assert await reader.aget_all(None) == []


@takes_our_store
@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_memory_sync_methods_work_from_sync_code(make_memory: MemoryFactory) -> None:
    # Memory's sync methods run the async ones on a new event loop each time.
    memory_store = make_memory()
    memory = Memory.from_defaults(session_id="k", chat_store=memory_store, token_limit=1000)
    memory.put(MESSAGES[0])
    memory.put_messages(MESSAGES[1:3])
    assert memory.get_all() == MESSAGES[:3] and memory.get() == MESSAGES[:3]
    memory.reset()
    assert memory.get_all() == []
    anyio.run(memory_store.aclose)


async def test_memory_store_keeps_the_archive_count_in_a_label_beside_the_messages() -> None:
    store = InMemoryStore()
    memory_store = AgentSessionMemoryStore(store, key_prefix="li:")
    await memory_store.set_messages("k", MESSAGES[:4])
    assert await memory_store.archive_oldest_messages("k", 3) == MESSAGES[:3]
    assert store.get_metadata("li:k").labels == {ARCHIVED_LABEL: "3"}
    await memory_store.add_message("k", MESSAGES[5], MessageStatus.ARCHIVED)
    # Archived ones added go after the archived ones, before the active ones.
    assert await memory_store.get_messages("k", None) == [*MESSAGES[:3], MESSAGES[5], MESSAGES[3]]
    # delete_message takes a position among all of the key's messages.
    assert await memory_store.delete_message("k", 1) == MESSAGES[1]
    assert await memory_store.delete_message("k", 9) is None
    assert await memory_store.count_messages("k", MessageStatus.ARCHIVED) == 3
    # The chat store reads the same session: all of it, archived or not.
    everything = [MESSAGES[0], MESSAGES[2], MESSAGES[5], MESSAGES[3]]
    assert AgentSessionChatStore(store, key_prefix="li:").get_messages("k") == everything
    assert await memory_store.get_keys() == ["k"]


async def test_memory_store_archiving_never_loses_a_concurrent_append(tmp_path: Path) -> None:
    async with AgentSessionMemoryStore.from_url(f"sqlite:///{tmp_path / 'm.db'}") as first:
        second = AgentSessionMemoryStore.from_url(f"sqlite:///{tmp_path / 'm.db'}")
        appended = [ChatMessage(content=f"a{i}") for i in range(30)]
        archived: list[ChatMessage] = []

        async def append() -> None:
            for message in appended:
                await second.add_message("k", message)

        async def archive() -> None:
            for _ in range(20):
                archived.extend(await first.archive_oldest_messages("k", 1))

        async with anyio.create_task_group() as group:
            group.start_soon(append)
            group.start_soon(archive)
        assert await first.get_messages("k", None) == appended  # all there, in order
        assert await first.get_messages("k", MessageStatus.ARCHIVED) == archived
        await second.aclose()


async def test_memory_store_bad_arguments_raise_clear_errors() -> None:
    memory_store = AgentSessionMemoryStore(InMemoryStore())
    with pytest.raises(TypeError, match="status must be a MessageStatus, not 'active'"):
        await memory_store.add_message("k", MESSAGES[0], "active")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n must be >= 0, not -1"):
        await memory_store.archive_oldest_messages("k", -1)
    with pytest.raises(InvalidSessionId):
        await memory_store.add_messages("", [MESSAGES[0]])
    assert await memory_store.get_keys() == []
