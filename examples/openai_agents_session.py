"""Keep OpenAI Agents SDK conversations in agent-session: ``AgentSession`` is the SDK's
``Session``, over any store (here the embedded default, a SQLite file in a temporary
folder). A real ``Runner`` runs an agent with a tool against a fake model (a ``Model``
subclass that answers from a script: no network, no API key); every item the SDK
stores is one message in the store, exactly as the SDK gave it, and a second run,
after the store was closed and opened again, continues from it.

Run: ``pip install 'agent-session[openai-agents]'``, then
``python examples/openai_agents_session.py``.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

from agents import Agent, ModelResponse, RunConfig, Runner, Usage, function_tool
from agents.models.interface import Model
from openai.types.responses import (
    ResponseFunctionToolCall,
    ResponseOutputItem,
    ResponseOutputMessage,
    ResponseOutputText,
)

from agent_session import AsyncSQLiteStore
from agent_session.integrations.openai_agents import AgentSession


def answer(item_id: str, text: str) -> ResponseOutputMessage:
    """An assistant message as the Responses API returns it."""
    part = ResponseOutputText(type="output_text", text=text, annotations=[])
    return ResponseOutputMessage(
        type="message", id=item_id, role="assistant", status="completed", content=[part]
    )


class ScriptedModel(Model):
    """A fake model: each call returns the next turn of its script, and keeps its input."""

    def __init__(self, script: list[list[ResponseOutputItem]]) -> None:
        self.script = script
        self.inputs: list[Any] = []

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        self.inputs.append(kwargs["input"] if "input" in kwargs else args[1])
        return ModelResponse(output=self.script.pop(0), usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("this example uses Runner.run only")


@function_tool
def get_weather(city: str) -> str:
    """Return the current weather of a city.

    Args:
        city: The city's name.
    """
    return {"Paris": "sunny, 21 °C"}.get(city, "unknown")


def check(ok: bool, what: str) -> bool:
    print(("ok      " if ok else "FAILED  ") + what)
    return ok


def describe(item: dict[str, Any]) -> str:
    kind = item.get("type") or "message"
    what = item.get("content") or item.get("arguments") or item.get("output") or ""
    if isinstance(what, list):
        what = " ".join(str(part.get("text", "")) for part in what)
    return f"{kind:<22} {item.get('role', item.get('name', '')):<10} {what}"


async def main_async() -> bool:
    good = True
    config = RunConfig(tracing_disabled=True)  # traces would go to OpenAI's servers
    model = ScriptedModel(
        [
            [ResponseFunctionToolCall(type="function_call", id="fc_1", call_id="call_1",
                                      name="get_weather", arguments='{"city": "Paris"}')],
            [answer("msg_1", "It is sunny in Paris, 21 °C.")],
            [answer("msg_2", "Tomorrow: sunny again, I expect.")],
        ]
    )  # fmt: skip
    agent = Agent(name="weather", instructions="Answer briefly.", model=model, tools=[get_weather])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "agents.db"
        async with AsyncSQLiteStore(path) as store:
            session = AgentSession("user-42", store)
            result = await Runner.run(
                agent, "Weather in Paris?", session=session, run_config=config
            )
            print(f"run 1 said: {result.final_output!r}")
            items = await session.get_items()
            print("        stored items:")
            for item in items:
                print("         ", describe(dict(item)))
            good &= check(items == result.to_input_list(), "the store holds the run's input list")
            stored = await store.load("user-42")
            good &= check(
                stored.to_dicts() == items and all(m.id and m.created_at for m in stored),
                f"one message per item ({len(stored)}), each with its id and time",
            )
        # A new process would do this: open the same file, make a session with the same id.
        async with AsyncSQLiteStore(path) as store:
            session = AgentSession("user-42", store)
            result = await Runner.run(agent, "And tomorrow?", session=session, run_config=config)
            print(f"run 2 said: {result.final_output!r}")
            sent = model.inputs[-1]
            good &= check(sent[: len(items)] == items, "run 2 sent the model the stored history")
            good &= check(len(await session.get_items()) == len(items) + 2, "and added 2 items")
            latest = await session.get_items(limit=1)
            good &= check(await session.pop_item() == latest[0], "pop_item takes the last answer")
            await session.clear_session()
            good &= check(not await store.exists("user-42"), "clear_session removes the session")
    return good


def main() -> int:
    good = asyncio.run(main_async())
    print("all good" if good else "something went wrong")
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
