"""``AgentSessionChatMessageHistory``: LangChain's chat history over every store.

Every LangChain message type comes back ``==`` through the sync and the async methods
on memory, SQLite, PostgreSQL and Redis; both flavours of one history see the same
messages; the payload fixtures langchain-core made come back; a reader without
LangChain sees roles, text and tool calls. Hand-written (no generated twin): the
class has both flavours in one object.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

pytest.importorskip("langchain_core")

from langchain_core.messages import (  # noqa: E402  # after the importorskip
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    ChatMessageChunk,
    FunctionMessage,
    FunctionMessageChunk,
    HumanMessage,
    HumanMessageChunk,
    RemoveMessage,
    SystemMessage,
    SystemMessageChunk,
    ToolMessage,
    ToolMessageChunk,
    message_to_dict,
    messages_from_dict,
)
from langchain_core.messages.tool import (  # noqa: E402
    invalid_tool_call,
    tool_call,
    tool_call_chunk,
)

from agent_session import (  # noqa: E402
    AsyncInMemoryStore,
    Conversation,
    InMemoryStore,
    InvalidSessionId,
    Message,
    SerializationError,
    StoreClosed,
    ToolCall,
    open_async_store,
    open_store,
)
from agent_session.integrations.langchain import (  # noqa: E402
    AgentSessionChatMessageHistory,
    message_from_langchain,
    message_to_langchain,
)
from agent_session.testing import FakeClock  # noqa: E402

FIXTURES = Path(__file__).parent.parent / "fixtures" / "payloads" / "langchain.json"
KINDS = ["memory", "sqlite", "postgres", "redis"]
# The async PostgreSQL and Redis drivers need asyncio; memory and SQLite run under both.
ASYNC_CASES = [
    *[pytest.param(kind, "asyncio", id=f"{kind}-asyncio") for kind in KINDS],
    *[pytest.param(kind, "trio", id=f"{kind}-trio") for kind in ("memory", "sqlite")],
]


def every_message() -> list[BaseMessage]:
    """One of each message type, with every field set somewhere."""
    return [
        SystemMessage("Be terse.", id="sys-1", name="policy", additional_kwargs={"k": [1, 2]}),
        SystemMessage("Dev rules.", additional_kwargs={"__openai_role__": "developer"}),
        HumanMessage(
            [
                {"type": "text", "text": "What is this? ☀️"},
                {"type": "image", "url": "https://example.com/cat.png"},
                "a plain string part",
            ],
            id="hum-1",
            name="alice",
            response_metadata={"source": "web"},
        ),
        AIMessage(
            "Let me check.",
            id="ai-1",
            name="bot",
            tool_calls=[tool_call(name="get_weather", args={"city": "Paris"}, id="call-1")],
            invalid_tool_calls=[
                invalid_tool_call(name="search", args="{not json", id="call-2", error="bad")
            ],
            usage_metadata={
                "input_tokens": 20,
                "output_tokens": 5,
                "total_tokens": 25,
                "input_token_details": {"cache_read": 10},
                "output_token_details": {"reasoning": 2},
            },
            response_metadata={"model_name": "gpt-x", "finish_reason": "tool_calls"},
            additional_kwargs={"refusal": None, "big": 2**70, "ratio": 0.1},
        ),
        # A tool call without an id: the store's model wants one, so the envelope holds it.
        AIMessage("", tool_calls=[tool_call(name="f", args={}, id=None)]),
        ToolMessage(
            "21 °C",
            tool_call_id="call-1",
            artifact={"raw": [21.0, "C"]},
            status="success",
            name="get_weather",
        ),
        ToolMessage([{"type": "text", "text": "no such city"}], tool_call_id="c", status="error"),
        FunctionMessage(content='{"temp": 21}', name="get_weather"),
        ChatMessage(content="Hello from a user role.", role="user"),
        ChatMessage(content="Order, order.", role="moderator"),  # not a chat role: the envelope
        HumanMessage("my own fields", role="judge", metadata={"k": "v"}),  # extra fields
        AIMessageChunk(
            content="partial",
            id="chunk-1",
            tool_call_chunks=[tool_call_chunk(name="f", args='{"a": 1}', id="c3", index=0)],
            chunk_position="last",
        ),
        HumanMessageChunk(content="hu"),
        SystemMessageChunk(content="sy"),
        ToolMessageChunk(content="to", tool_call_id="c4"),
        FunctionMessageChunk(content="fu", name="g"),
        ChatMessageChunk(content="ch", role="assistant"),
        RemoveMessage(id="ai-1"),
    ]


def fixture_messages() -> list[BaseMessage]:
    data = json.loads(FIXTURES.read_text(encoding="utf-8"))
    return messages_from_dict([entry["payload"] for entry in data["payloads"]])


def same(actual: list[BaseMessage], expected: list[BaseMessage]) -> None:
    assert actual == expected
    assert [type(m) for m in actual] == [type(m) for m in expected]


@pytest.fixture
def url(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store URL of ``kind`` with a table or key prefix of this test's own."""
    run = uuid.uuid4().hex[:10]
    if kind == "memory":
        yield "memory://"
    elif kind == "sqlite":
        yield f"sqlite:///{tmp_path}/history.db"
    elif kind == "postgres":
        from postgres_helpers import drop_tables

        dsn = request.getfixturevalue("postgres_dsn")
        prefix = f"lc_{run}_"
        try:
            yield f"{dsn}{'&' if '?' in dsn else '?'}table_prefix={prefix}"
        finally:
            drop_tables(dsn, prefix)
    else:
        from redis_helpers import delete_prefix

        base = request.getfixturevalue("redis_url")
        prefix = f"test:lc{run}:"
        try:
            yield f"{base}{'&' if '?' in base else '?'}prefix={prefix}"
        finally:
            delete_prefix(base, prefix)


# -- every message type, every store --------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_every_type_round_trips_sync(url: str) -> None:
    expected = every_message()
    with AgentSessionChatMessageHistory("bulk", url) as history:
        assert history.messages == []
        history.add_messages(expected)
        same(history.messages, expected)
        with AgentSessionChatMessageHistory("one-by-one", url) as single:
            for message in expected:
                single.add_message(message)
            same(single.messages, expected)
            single.clear()
            assert single.messages == []
            single.clear()  # a missing session: nothing to do
    # Another history object (another store) reads what this one wrote.
    with AgentSessionChatMessageHistory("bulk", url) as again:
        same(again.messages, expected if url != "memory://" else [])
        again.clear()


@pytest.mark.parametrize(("kind", "anyio_backend"), ASYNC_CASES)
async def test_every_type_round_trips_async(url: str) -> None:
    expected = every_message()
    async with AgentSessionChatMessageHistory("bulk", url) as history:
        assert await history.aget_messages() == []
        await history.aadd_messages(expected)
        same(await history.aget_messages(), expected)
        await history.aadd_messages([])  # nothing to write
        for message in expected:
            await history.aadd_messages([message])
        same(await history.aget_messages(), expected + expected)
        await history.aclear()
        assert await history.aget_messages() == []


@pytest.mark.parametrize(("kind", "anyio_backend"), ASYNC_CASES)
async def test_sync_and_async_methods_agree(url: str) -> None:
    first, second = every_message()[:9], every_message()[9:]
    async with AgentSessionChatMessageHistory("both", url) as history:
        history.add_messages(first)
        same(await history.aget_messages(), first)
        await history.aadd_messages(second)
        same(history.messages, first + second)
        same(await history.aget_messages(), history.messages)
        history.clear()
        assert await history.aget_messages() == []
        await history.aadd_messages(first)
        await history.aclear()
        assert history.messages == []


@pytest.mark.parametrize("kind", KINDS)
def test_langchain_core_fixtures_round_trip(url: str) -> None:
    """The messages langchain-core 1.8.3 made (tests/fixtures/payloads/langchain.json)."""
    expected = fixture_messages()
    assert len(expected) == 15
    with AgentSessionChatMessageHistory("fixtures", url) as history:
        history.add_messages(expected)
        same(history.messages, expected)
    # What is stored is LangChain's own serialization, with a role in front.
    for message in expected:
        data = message_to_dict(message)["data"]
        payload = message_from_langchain(message).to_dict()
        if "content" not in payload:  # the envelope
            assert payload["data"] == data
        else:
            if message.type != "chat":
                payload.pop("role", None)
            assert payload == data


@pytest.mark.parametrize(("kind", "anyio_backend"), ASYNC_CASES)
async def test_bare_message_to_dict_payloads_are_read(url: str) -> None:
    """Sessions holding LangChain's ``message_to_dict`` dicts as they are (stored by
    other code) read as the same messages."""
    expected = fixture_messages()
    sync = open_store(url)
    # memory: no async twin (it would be another, empty store); the sync one serves both.
    paired = None if url == "memory://" else open_async_store(url)
    try:
        sync.save("bare", Conversation([Message.from_dict(message_to_dict(m)) for m in expected]))
        history = AgentSessionChatMessageHistory("bare", sync, async_store=paired)
        same(await history.aget_messages(), expected)
        same(history.messages, expected)
        await history.aclose()  # the stores are the caller's: still open
        assert sync.exists("bare")
    finally:
        sync.close()
        if paired is not None:
            await paired.aclose()


# -- what a reader without LangChain sees --------------------------------------------


def test_stored_messages_read_well_without_langchain() -> None:
    store = InMemoryStore()
    history = AgentSessionChatMessageHistory("s", store)
    history.add_messages(every_message())
    stored = list(store.load("s"))
    roles = [m.role for m in stored]
    assert roles == [
        "system",
        "developer",
        "user",
        "assistant",
        "assistant",
        "tool",
        "tool",
        "function",
        "user",
        None,  # ChatMessage(role="moderator"): no chat role fits
        "user",
        "assistant",
        "user",
        "system",
        "tool",
        "function",
        "assistant",
        None,  # RemoveMessage
    ]
    assert stored[0].text == "Be terse." and stored[0].name == "policy"
    assert stored[2].text == "What is this? ☀️a plain string part"
    assert stored[3].tool_calls == (ToolCall("call-1", "get_weather", '{"city":"Paris"}'),)
    assert stored[5].tool_call_id == "call-1" and stored[5].is_tool_result
    assert stored[5].text == "21 °C"
    assert stored[9].type == "chat" and stored[9].to_dict()["data"]["role"] == "moderator"
    assert stored[4].to_dict()["data"]["tool_calls"][0]["id"] is None
    # LangChain's own fields stay where LangChain puts them.
    assert stored[3].extra["usage_metadata"]["total_tokens"] == 25
    assert stored[3].extra["additional_kwargs"]["big"] == 2**70
    assert stored[3].extra["id"] == "ai-1"  # LangChain's id; the store's id is its own
    assert stored[3].id is not None and stored[3].id != "ai-1"


def test_openai_chat_messages_written_by_others_are_read() -> None:
    store = InMemoryStore()
    conversation = (
        Conversation.builder()
        .system("Be terse.")
        .user("Weather in Paris?")
        .assistant(None, tool_calls=[ToolCall("call-9", "get_weather", '{"city": "Paris"}')])
        .build()
    )
    conversation.add_tool("21 °C", tool_call_id="call-9")
    store.save("openai", conversation)
    messages = AgentSessionChatMessageHistory("openai", store).messages
    assert [type(m) for m in messages] == [SystemMessage, HumanMessage, AIMessage, ToolMessage]
    assert messages[1].content == "Weather in Paris?"
    ai = messages[2]
    assert isinstance(ai, AIMessage)
    assert ai.tool_calls == [tool_call(name="get_weather", args={"city": "Paris"}, id="call-9")]
    assert isinstance(messages[3], ToolMessage) and messages[3].tool_call_id == "call-9"


def test_an_item_langchain_cannot_read_names_the_session() -> None:
    store = InMemoryStore()
    item = {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"}
    store.append("items", Message.from_dict(item))
    history = AgentSessionChatMessageHistory("items", store)
    with pytest.raises(SerializationError, match="'items'.*function_call") as info:
        history.messages  # noqa: B018  # the property read is the call under test
    assert info.value.session_id == "items"
    with pytest.raises(SerializationError, match="no role and no LangChain type"):
        message_to_langchain(Message.from_dict(item))


# -- writes, TTL, closing ----------------------------------------------------------


def test_a_message_json_cannot_hold_writes_nothing() -> None:
    store = InMemoryStore()
    history = AgentSessionChatMessageHistory("s", store)
    history.add_messages([HumanMessage("kept")])
    bad = AIMessage("x", additional_kwargs={"when": object()})
    with pytest.raises(SerializationError, match="object"):
        history.add_messages([HumanMessage("not written"), bad])
    assert history.messages == [HumanMessage("kept")]


def test_bad_arguments_are_refused_before_anything_is_written() -> None:
    class Custom(BaseMessage):
        type: str = "custom"

    store = InMemoryStore()
    history = AgentSessionChatMessageHistory("s", store)
    with pytest.raises(TypeError, match="'custom'"):
        history.add_messages([HumanMessage("not written"), Custom(content="x")])
    with pytest.raises(TypeError, match="sequence of LangChain messages"):
        history.add_messages(HumanMessage("one, not a list"))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="BaseMessage"):
        history.add_messages([{"role": "user", "content": "a dict"}])  # type: ignore[list-item]
    assert not store.exists("s")
    with pytest.raises(InvalidSessionId):
        AgentSessionChatMessageHistory("", store)
    with pytest.raises(ValueError, match="unknown store URL scheme 'nosuch'"):
        AgentSessionChatMessageHistory("s", "nosuch://x")
    with pytest.raises(TypeError, match="store must be"):
        AgentSessionChatMessageHistory("s", 42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not both"):
        AgentSessionChatMessageHistory("s", "memory://", async_store=AsyncInMemoryStore())
    with pytest.raises(TypeError, match="async_store must be"):
        AgentSessionChatMessageHistory("s", store, async_store=store)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ttl"):
        AgentSessionChatMessageHistory("s", store, ttl=-1)


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_an_async_store_alone_serves_the_async_methods() -> None:
    store = AsyncInMemoryStore()
    history = AgentSessionChatMessageHistory("s", store)
    await history.aadd_messages([HumanMessage("hi")])
    assert await history.aget_messages() == [HumanMessage("hi")]
    with pytest.raises(TypeError, match="AsyncSessionStore alone: use the async methods"):
        history.messages  # noqa: B018
    await history.aclose()  # not ours to close
    assert await store.exists("s")


def test_setting_messages_replaces_the_conversation() -> None:
    history = AgentSessionChatMessageHistory("s", InMemoryStore())
    history.add_messages(every_message())
    history.messages = [HumanMessage("only this")]
    assert history.messages == [HumanMessage("only this")]


def test_ttl_applies_to_every_write() -> None:
    clock = FakeClock()
    store = InMemoryStore(clock=clock)
    history = AgentSessionChatMessageHistory("s", store, ttl=10)
    history.add_messages([HumanMessage("hi")])
    assert store.get_metadata("s").expires_at == clock.now + 10
    clock.advance(11)
    assert history.messages == []  # expired: an empty history
    history.add_messages([HumanMessage("anew")])
    assert history.messages == [HumanMessage("anew")]


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_closing_closes_only_what_the_history_opened(tmp_path: Path) -> None:
    store = InMemoryStore()
    with AgentSessionChatMessageHistory("s", store) as history:
        history.add_messages([HumanMessage("hi")])
    assert store.exists("s")  # yours: still open
    url = f"sqlite:///{tmp_path}/h.db"
    history = AgentSessionChatMessageHistory("s", url)
    history.add_messages([HumanMessage("hi")])
    assert await history.aget_messages() == [HumanMessage("hi")]
    await history.aclose()
    await history.aclose()  # harmless twice
    with pytest.raises(StoreClosed):
        history.messages  # noqa: B018
    with pytest.raises(StoreClosed):
        await history.aget_messages()


@pytest.mark.parametrize(("kind", "anyio_backend"), [(kind, "asyncio") for kind in KINDS])
async def test_concurrent_writers_lose_no_message(url: str) -> None:
    async with AgentSessionChatMessageHistory("busy", url) as history:

        async def write(n: int) -> None:
            await history.aadd_messages([HumanMessage(f"q{n}"), AIMessage(f"a{n}")])

        async with anyio.create_task_group() as tasks:
            for n in range(20):
                tasks.start_soon(write, n)
        messages = await history.aget_messages()
    assert len(messages) == 40
    # Each add_messages is one atomic append: a question is always followed by its answer.
    for question, answer in zip(messages[::2], messages[1::2], strict=True):
        assert str(answer.content) == "a" + str(question.content)[1:]


# -- RunnableWithMessageHistory ------------------------------------------------------


# langchain-core 1.x deprecates it (0.3: "pending"); the warning says so, in either class.
@pytest.mark.filterwarnings("ignore:RunnableWithMessageHistory is deprecated")
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # LangChain's runnables need asyncio
async def test_runnable_with_message_history_keeps_the_conversation(tmp_path: Path) -> None:
    from langchain_core.runnables import RunnableLambda
    from langchain_core.runnables.history import RunnableWithMessageHistory

    url = f"sqlite:///{tmp_path}/h.db"
    histories: list[AgentSessionChatMessageHistory] = []

    def get_history(session_id: str) -> AgentSessionChatMessageHistory:
        histories.append(AgentSessionChatMessageHistory(session_id, url))
        return histories[-1]

    def echo(messages: list[BaseMessage]) -> str:
        return f"{len(messages)} messages so far"

    chain = RunnableWithMessageHistory(RunnableLambda(echo), get_history)
    config: Any = {"configurable": {"session_id": "chat"}}
    assert chain.invoke([HumanMessage("one")], config) == "1 messages so far"
    assert await chain.ainvoke([HumanMessage("two")], config) == "3 messages so far"
    with AgentSessionChatMessageHistory("chat", url) as reader:
        assert reader.messages == [
            HumanMessage("one"),
            AIMessage("1 messages so far"),
            HumanMessage("two"),
            AIMessage("3 messages so far"),
        ]
    for history in histories:
        await history.aclose()
