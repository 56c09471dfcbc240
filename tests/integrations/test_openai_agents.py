"""``AgentSession``: the OpenAI Agents SDK's ``Session`` over every store.

Every item the SDK stores (``tests/fixtures/payloads/openai_agents_runner.json`` and
the Responses items) comes back exactly, one store message each, on memory, SQLite,
PostgreSQL and Redis; the SDK's ``SQLiteSession`` is the reference for what every
call returns; a multi-turn ``Runner.run`` with tool calls against a scripted model
reads back what it wrote, and a second run, through a new session object, continues
from it; the compaction snapshot replaces a suffix only if nothing was written since.
Hand-written (no generated twin): the SDK is async only. The SDK needs asyncio; the
adapter alone also runs under trio on the stores whose drivers allow it.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import anyio
import pytest

pytest.importorskip("agents")

from agents import (  # noqa: E402  # after the importorskip
    Agent,
    RunConfig,
    Runner,
    Tool,
    ToolOutputImage,
    ToolOutputText,
    function_tool,
)
from agents.items import TResponseInputItem  # noqa: E402
from agents.memory import Session, SessionSettings, SQLiteSession  # noqa: E402
from agents.testing import ScriptedModel  # noqa: E402
from openai.types.responses import (  # noqa: E402
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseReasoningItem,
)
from openai.types.responses.response_output_text import AnnotationURLCitation  # noqa: E402
from openai.types.responses.response_reasoning_item import Summary  # noqa: E402

from agent_session import (  # noqa: E402
    AsyncInMemoryStore,
    AsyncPostgresStore,
    AsyncRedisStore,
    AsyncSessionStore,
    AsyncSQLiteStore,
    InvalidSessionId,
    SerializationError,
    StoreClosed,
)
from agent_session.integrations.openai_agents import AgentSession  # noqa: E402
from agent_session.testing import FakeClock  # noqa: E402

FIXTURES = Path(__file__).parent.parent / "fixtures" / "payloads"
KINDS = ["memory", "sqlite", "postgres", "redis"]
# The async PostgreSQL and Redis drivers need asyncio; memory and SQLite run under both.
CASES = [
    *[pytest.param(kind, "asyncio", id=f"{kind}-asyncio") for kind in KINDS],
    *[pytest.param(kind, "trio", id=f"{kind}-trio") for kind in ("memory", "sqlite")],
]
ASYNCIO_CASES = [pytest.param(kind, "asyncio", id=kind) for kind in KINDS]
NO_TRACES = RunConfig(tracing_disabled=True)


def payloads(source: str) -> list[TResponseInputItem]:
    data = json.loads((FIXTURES / f"{source}.json").read_text(encoding="utf-8"))
    return [cast(TResponseInputItem, entry["payload"]) for entry in data["payloads"]]


def user(text: str) -> TResponseInputItem:
    return {"role": "user", "content": text}


@pytest.fixture
async def store(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[AsyncSessionStore]:
    made: AsyncSessionStore
    prefix = f"oa{uuid.uuid4().hex[:8]}"
    if kind == "memory":
        made = AsyncInMemoryStore()
    elif kind == "sqlite":
        made = AsyncSQLiteStore(tmp_path / "agents.db")
    elif kind == "redis":
        made = AsyncRedisStore(request.getfixturevalue("redis_url"), prefix=f"test:{prefix}:")
    else:
        made = AsyncPostgresStore(
            request.getfixturevalue("postgres_dsn"), table_prefix=prefix + "_"
        )
    try:
        yield made
    finally:
        await made.clear()
        await made.aclose()
        if kind == "postgres":
            from postgres_helpers import drop_tables

            drop_tables(request.getfixturevalue("postgres_dsn"), prefix + "_")


def test_it_is_an_sdk_session() -> None:
    session: Session = AgentSession("s", AsyncInMemoryStore())  # mypy checks the protocol
    assert isinstance(session, Session)  # and so does the SDK's runtime check
    assert session.session_id == "s"
    assert session.session_settings == SessionSettings()


@pytest.mark.parametrize(("kind", "anyio_backend"), CASES)
@pytest.mark.parametrize("source", ["openai_agents_runner", "openai_responses"])
async def test_every_sdk_item_comes_back_exactly(store: AsyncSessionStore, source: str) -> None:
    items = payloads(source)
    given = json.dumps(items)
    session = AgentSession("items", store)
    await session.add_items(items[:3])
    await session.add_items(items[3:])
    assert json.dumps(items) == given  # the caller's items are left as they were
    assert await session.get_items() == items
    assert await session.get_items(limit=3) == items[-3:]
    # One store message per item, the payload exactly the item, id and time beside it.
    conversation = await store.load("items")
    assert conversation.to_dicts() == items
    ids = [message.id for message in conversation]
    assert len(set(ids)) == len(items) and all(m.created_at for m in conversation)
    # What a call hands out is the caller's to change.
    cast(dict[str, Any], (await session.get_items())[0]).clear()
    assert await session.get_items() == items
    assert await session.pop_item() == items[-1]
    assert await session.get_items() == items[:-1]


@pytest.mark.parametrize(("kind", "anyio_backend"), CASES)
async def test_a_session_that_does_not_exist_is_empty(store: AsyncSessionStore) -> None:
    session = AgentSession("never-written", store)
    assert await session.get_items() == []
    assert await session.get_items(limit=5) == []
    assert await session.pop_item() is None
    await session.clear_session()
    await session.add_items([])
    assert not await store.exists("never-written")  # reading it created nothing


@pytest.mark.parametrize(("kind", "anyio_backend"), CASES)
async def test_limits_read_the_newest_items_oldest_first(store: AsyncSessionStore) -> None:
    items = [user(f"m{i}") for i in range(5)]
    await AgentSession("s", store).add_items(items)
    session = AgentSession("s", store)
    assert await session.get_items(limit=2) == items[-2:]
    assert await session.get_items(limit=99) == items
    assert await session.get_items(limit=0) == []
    assert await session.get_items(limit=-1) == items  # as SQLiteSession's SQL LIMIT -1
    limited = AgentSession("s", store, session_settings=SessionSettings(limit=2))
    assert await limited.get_items() == items[-2:]  # the settings' limit by default
    assert await limited.get_items(limit=4) == items[-4:]  # an explicit one wins
    as_dict = AgentSession("s", store, session_settings={"limit": 3})
    assert as_dict.session_settings == SessionSettings(limit=3)
    assert await as_dict.get_items() == items[-3:]


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # SQLiteSession runs on asyncio
async def test_every_call_answers_as_sqlite_session_does(tmp_path: Path) -> None:
    """A seeded random run of 300 calls; every answer compared with the SDK's own class."""
    rng = random.Random(8)
    reference = SQLiteSession("s", tmp_path / "reference.db")
    ours = AgentSession("s", AsyncSQLiteStore(tmp_path / "ours.db"))
    items = payloads("openai_agents_runner")
    try:
        for step in range(300):
            action = rng.choice(["add", "add", "get", "get", "pop", "clear"])
            if action == "add":
                batch = rng.sample(items, rng.randint(0, 4))
                await reference.add_items(batch)
                await ours.add_items(batch)
                continue
            if action == "get":
                limit = rng.choice([None, -1, 0, 1, 2, 5, 40])
                expected: Any = await reference.get_items(limit)
                actual: Any = await ours.get_items(limit)
            elif action == "pop":
                expected, actual = await reference.pop_item(), await ours.pop_item()
            else:
                await reference.clear_session()
                await ours.clear_session()
                expected, actual = await reference.get_items(), await ours.get_items()
            assert actual == expected, f"step {step}: {action}"
        assert await ours.get_items() == await reference.get_items()
    finally:
        reference.close()
        await ours.store.aclose()


@pytest.mark.parametrize(("kind", "anyio_backend"), CASES)
async def test_pop_item_takes_the_newest_until_none(store: AsyncSessionStore) -> None:
    session = AgentSession("s", store)
    await session.add_items([user("a"), user("b")])
    assert await session.pop_item() == user("b")
    assert await session.pop_item() == user("a")
    assert await session.pop_item() is None
    assert await session.get_items() == []
    await session.add_items([user("c")])
    await session.clear_session()
    assert await session.get_items() == []
    assert not await store.exists("s")


@pytest.mark.parametrize(("kind", "anyio_backend"), CASES)
async def test_add_items_writes_all_or_nothing(store: AsyncSessionStore) -> None:
    session = AgentSession("s", store)
    await session.add_items([user("kept")])
    not_json = cast(TResponseInputItem, {"role": "user", "content": object()})
    with pytest.raises(SerializationError):
        await session.add_items([user("lost"), not_json])
    assert await session.get_items() == [user("kept")]


@pytest.mark.parametrize(("kind", "anyio_backend"), CASES)
async def test_concurrent_runs_lose_no_item(store: AsyncSessionStore) -> None:
    session = AgentSession("shared", store)

    async def turn(n: int) -> None:
        await session.add_items([user(f"q{n}"), {"role": "assistant", "content": f"a{n}"}])

    async with anyio.create_task_group() as tasks:
        for n in range(20):
            tasks.start_soon(turn, n)
    items = cast(list[dict[str, Any]], await session.get_items())
    assert len(items) == 40
    for question, reply in zip(items[::2], items[1::2], strict=True):  # answers follow questions
        assert reply == {"role": "assistant", "content": "a" + str(question["content"])[1:]}


async def test_a_url_opens_a_store_the_session_closes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'url.db'}"
    async with AgentSession("s", url) as session:
        await session.add_items([user("hello")])
        assert isinstance(session.store, AsyncSQLiteStore)
    with pytest.raises(StoreClosed):
        await session.get_items()
    with pytest.raises(StoreClosed):
        await session.add_items([])  # no items, but still a write to a closed store
    async with AgentSession("s", url) as again:  # the file kept it
        assert await again.get_items() == [user("hello")]
    # A store of the caller's is the caller's to close.
    store = AsyncInMemoryStore()
    await AgentSession("s", store).aclose()
    await AgentSession("s", store).add_items([user("still open")])
    await store.aclose()


def test_bad_arguments_are_refused_when_the_session_is_made() -> None:
    store = AsyncInMemoryStore()
    with pytest.raises(InvalidSessionId):
        AgentSession("", store)
    with pytest.raises(InvalidSessionId):
        AgentSession("bad\x00id", store)
    with pytest.raises(TypeError, match="AsyncSessionStore or a store URL"):
        AgentSession("s", cast(Any, 42))
    with pytest.raises(ValueError, match="scheme"):
        AgentSession("s", "nosuch://x")
    with pytest.raises(ValueError):
        AgentSession("s", store, ttl=-1)
    with pytest.raises(TypeError, match="limitt"):
        AgentSession("s", store, session_settings={"limitt": 1})  # the SDK's own check


async def test_ttl_makes_a_quiet_session_expire() -> None:
    clock = FakeClock()
    store = AsyncInMemoryStore(clock=clock)
    session = AgentSession("s", store, ttl=10)
    await session.add_items([user("old")])
    assert (await store.get_metadata("s")).expires_at == clock() + 10
    clock.advance(11)
    assert await session.get_items() == []
    assert await session.pop_item() is None
    await session.add_items([user("new")])  # a write after expiry starts afresh
    assert await session.get_items() == [user("new")]


# -- a real Runner against a scripted model ---------------------------------------------

PNG_1PX = (  # a 1x1 PNG
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
WEATHER = {"Paris": "sunny, 21 °C", "Tokyo": "rain, 18 °C", "Oslo": "snow, -3 °C"}


def get_weather(city: str) -> str:
    """Return the current weather of a city.

    Args:
        city: The city's name.
    """
    return WEATHER[city]


def get_chart(city: str) -> list[ToolOutputText | ToolOutputImage]:
    """Return a temperature chart of a city, as a caption and an image.

    Args:
        city: The city's name.
    """
    return [
        ToolOutputText(text=f"{city}, next 24 h"),
        ToolOutputImage(image_url=f"data:image/png;base64,{PNG_1PX}", detail="low"),
    ]


def get_alerts(city: str) -> str:
    """Return the weather alerts of a city.

    Args:
        city: The city's name.
    """
    raise RuntimeError(f"alert service down for {city}")


def call(item_id: str, call_id: str, city: str, tool: str = "get_weather") -> Any:
    return ResponseFunctionToolCall(
        type="function_call",
        id=item_id,
        call_id=call_id,
        name=tool,
        arguments=json.dumps({"city": city}),
        status="completed",
    )


def answer(item_id: str, text: str, annotations: list[Any] | None = None) -> Any:
    content = ResponseOutputText(type="output_text", text=text, annotations=annotations or [])
    return ResponseOutputMessage(
        type="message", id=item_id, status="completed", role="assistant", content=[content]
    )


def weather_model() -> ScriptedModel:
    """The model turns behind openai_agents_runner.json: 2 runs of 2 turns, 5 tool calls."""
    first = "Paris: sunny, 21 °C. Tokyo: rain, 18 °C [1]."
    citation = AnnotationURLCitation(
        type="url_citation",
        start_index=first.index("[1]"),
        end_index=first.index("[1]") + 3,
        title="Forecast",
        url="https://example.com/forecast",
    )
    reasoning = ResponseReasoningItem(
        type="reasoning",
        id="rs_fx0301",
        summary=[Summary(type="summary_text", text="Look up both cities.")],
        encrypted_content="gAAAAABfx-agents-reasoning",
    )
    return ScriptedModel(
        [
            [
                reasoning,
                call("fc_fx0301", "call_fx0301", "Paris"),
                call("fc_fx0302", "call_fx0302", "Tokyo"),
            ],
            [answer("msg_fx0301", first, [citation])],
            [
                call("fc_fx0303", "call_fx0303", "Oslo"),
                call("fc_fx0304", "call_fx0304", "Oslo", "get_chart"),
                call("fc_fx0305", "call_fx0305", "Oslo", "get_alerts"),
            ],
            [answer("msg_fx0302", "Oslo: snow, -3 °C; chart attached; alerts unavailable.")],
        ]
    )


def weather_agent(model: ScriptedModel) -> Agent[Any]:
    tools: list[Tool] = [function_tool(f) for f in (get_weather, get_chart, get_alerts)]
    return Agent(name="weather", instructions="Answer with the weather.", model=model, tools=tools)


@pytest.mark.parametrize(("kind", "anyio_backend"), ASYNCIO_CASES)
async def test_a_runner_reads_back_exactly_what_it_wrote(
    kind: str, store: AsyncSessionStore, tmp_path: Path
) -> None:
    model = weather_model()
    agent = weather_agent(model)
    first = AgentSession("weather", store)
    await Runner.run(agent, "Weather in Paris and Tokyo?", session=first, run_config=NO_TRACES)
    after_first = await first.get_items()
    assert [item.get("type") for item in after_first] == [
        None, "reasoning", "function_call", "function_call",
        "function_call_output", "function_call_output", "message",
    ]  # fmt: skip
    # The second run, through a new session object (a new store, for the SQLite file),
    # starts from the stored history.
    if kind == "sqlite":
        store = AsyncSQLiteStore(tmp_path / "agents.db")
    second = AgentSession("weather", store)
    result = await Runner.run(agent, "And in Oslo?", session=second, run_config=NO_TRACES)
    assert model.remaining_steps == 0
    third_call = model.calls[2].input
    assert isinstance(third_call, list) and third_call[: len(after_first)] == after_first
    stored = await second.get_items()
    # Exactly what the SDK's own SQLiteSession stored for the same run (the fixture).
    assert stored == payloads("openai_agents_runner")
    assert stored[: len(after_first)] == after_first
    assert all(item in stored for item in result.to_input_list())
    assert len(await store.load("weather")) == len(stored)  # one message per item
    if kind == "sqlite":
        await store.aclose()


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_the_reference_sqlite_session_stores_the_same(tmp_path: Path) -> None:
    """The fixture is what SQLiteSession stores for this script: the comparison is fair."""
    agent = weather_agent(weather_model())
    reference = SQLiteSession("weather", tmp_path / "reference.db")
    try:
        await Runner.run(
            agent, "Weather in Paris and Tokyo?", session=reference, run_config=NO_TRACES
        )
        await Runner.run(agent, "And in Oslo?", session=reference, run_config=NO_TRACES)
        assert await reference.get_items() == payloads("openai_agents_runner")
    finally:
        reference.close()


# -- the compaction snapshot (the SDK's hook for atomic compaction) ---------------------


@pytest.mark.parametrize(("kind", "anyio_backend"), CASES)
async def test_a_compaction_replaces_the_suffix_it_read(store: AsyncSessionStore) -> None:
    items = [user(f"m{i}") for i in range(5)]
    session = AgentSession("s", store)
    await session.add_items(items)
    before = [message.id for message in await store.load("s")]
    snapshot = await session._get_compaction_snapshot(3)
    assert snapshot is not None
    assert snapshot.items == items[-3:] and not snapshot.complete
    summary = cast(TResponseInputItem, {"type": "compaction", "encrypted_content": "sum"})
    assert await snapshot.replace_suffix(1, [summary]) is True
    assert await session.get_items() == items[:3] + [summary]
    assert [m.id for m in await store.load("s")][:3] == before[:3]  # the rest kept their ids
    whole = await session._get_compaction_snapshot(10)
    assert whole is not None and whole.complete and len(whole.items) == 4


@pytest.mark.parametrize(("kind", "anyio_backend"), CASES)
async def test_a_compaction_after_a_concurrent_write_changes_nothing(
    store: AsyncSessionStore,
) -> None:
    session = AgentSession("s", store)
    await session.add_items([user("a"), user("b")])
    snapshot = await session._get_compaction_snapshot(2)
    assert snapshot is not None
    await AgentSession("s", store).add_items([user("appended meanwhile")])
    summary = cast(TResponseInputItem, {"type": "compaction", "encrypted_content": "sum"})
    assert await snapshot.replace_suffix(0, [summary]) is False
    assert await session.get_items() == [user("a"), user("b"), user("appended meanwhile")]
    # A snapshot of a session that does not exist replaces nothing.
    empty = await AgentSession("none", store)._get_compaction_snapshot(2)
    assert empty is not None and empty.items == [] and empty.complete
    assert await empty.replace_suffix(0, [summary]) is False
    assert not await store.exists("none")


@pytest.mark.parametrize(("kind", "anyio_backend"), CASES)
async def test_a_compaction_prunes_the_expired_prefix(store: AsyncSessionStore) -> None:
    session = AgentSession("s", store)
    await session.add_items(
        [user("old 1"), user("old 2"), user("live"), user("old 3"), user("new")]
    )

    def expired(item: TResponseInputItem) -> bool:
        return str(item.get("content", "")).startswith("old")

    snapshot = await session._get_compaction_snapshot(1, prune_prefix=expired)
    assert snapshot is not None
    summary = cast(TResponseInputItem, {"type": "compaction", "encrypted_content": "sum"})
    assert await snapshot.replace_suffix(0, [summary]) is True
    # The oldest items it accepts go, up to the first it refuses: "old 3" stays.
    assert await session.get_items() == [user("live"), user("old 3"), summary]


async def test_a_subclass_that_changes_items_gets_no_snapshot() -> None:
    class Redacting(AgentSession):
        async def get_items(self, limit: int | None = None) -> list[TResponseInputItem]:
            return [user("[redacted]") for _ in await super().get_items(limit)]

    session = Redacting("s", AsyncInMemoryStore())
    await session.add_items([user("secret")])
    assert await session._get_compaction_snapshot(5) is None  # it would bypass the redaction
    assert await AgentSession("s", session.store)._get_compaction_snapshot(5) is not None
