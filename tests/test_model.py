"""Message, ToolCall and Conversation: immutability, the OpenAI shape, builders."""

from __future__ import annotations

import dataclasses

import pytest

from agent_session import Conversation, Message, SerializationError, ToolCall


def test_message_is_frozen_and_slotted() -> None:
    message = Message("user", "hi")
    with pytest.raises(dataclasses.FrozenInstanceError):
        message.content = "changed"  # type: ignore[misc]
    assert not hasattr(message, "__dict__")


@pytest.mark.parametrize("role", ["system", "developer", "user", "assistant", "tool"])
def test_every_role(role: str) -> None:
    assert Message(role, "x").role == role  # type: ignore[arg-type]


def test_bad_fields_are_named() -> None:
    with pytest.raises(ValueError, match="'wizard'"):
        Message("wizard", "x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="42"):
        Message("user", 42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Message("user", "x", metadata={"s": {1, 2}})
    with pytest.raises(ValueError):
        Message("user", "x", metadata={"f": float("nan")})
    with pytest.raises(TypeError):
        Message("user", "x", metadata={1: "non-str key"})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        Message("assistant", None, tool_calls="not calls")  # type: ignore[arg-type]


def test_metadata_is_a_frozen_deep_copy() -> None:
    original = {"tags": ["a"], "nested": {"k": 1}}
    message = Message("user", "x", metadata=original)
    original["tags"].append("b")  # type: ignore[attr-defined]
    original["nested"]["k"] = 2  # type: ignore[index]
    assert message.metadata["tags"] == ("a",)
    assert message.metadata["nested"]["k"] == 1
    with pytest.raises(TypeError):
        message.metadata["new"] = 1  # type: ignore[index]


def test_openai_shape_round_trip() -> None:
    call = ToolCall("call_1", "lookup", '{"q": "x"}')
    message = Message("assistant", None, tool_calls=(call,), name="bot", metadata={"m": [1]})
    data = message.to_dict()
    assert data == {
        "role": "assistant",
        "content": None,
        "name": "bot",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "lookup", "arguments": '{"q": "x"}'},
            }
        ],
        "metadata": {"m": [1]},
    }
    assert Message.from_dict(data) == message
    assert Message("user", "hé").to_dict() == {"role": "user", "content": "hé"}
    tool = Message("tool", "42", tool_call_id="call_1")
    assert tool.to_dict() == {"role": "tool", "content": "42", "tool_call_id": "call_1"}
    flat = Message.from_dict(
        {"role": "assistant", "tool_calls": [{"id": "c", "name": "f", "arguments": "{}"}]}
    )
    assert flat.tool_calls == (ToolCall("c", "f", "{}"),)


@pytest.mark.parametrize(
    "bad",
    [
        {"role": "wizard", "content": "x"},
        {"content": "no role"},
        ["not", "a", "mapping"],
        {"role": "assistant", "tool_calls": [{"type": "function"}]},
        {"role": "user", "content": 5},
    ],
)
def test_from_dict_rejects_malformed_input(bad: object) -> None:
    with pytest.raises(SerializationError):
        Message.from_dict(bad)  # type: ignore[arg-type]


def test_builder_and_add_methods() -> None:
    built = (
        Conversation.builder()
        .system("s")
        .developer("d")
        .user("u")
        .assistant(None, tool_calls=[ToolCall("c1", "f")])
        .tool("r", tool_call_id="c1")
        .add(Message("assistant", "done"))
        .build()
    )
    assert [m.role for m in built] == [
        "system",
        "developer",
        "user",
        "assistant",
        "tool",
        "assistant",
    ]
    conversation = Conversation().add_system("s").add_user("u").add_assistant("a")
    conversation.add_tool("r", tool_call_id="c1")
    assert len(conversation) == 4 and conversation[3].tool_call_id == "c1"
    with pytest.raises(TypeError):
        conversation.add("not a message")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Conversation(["not a message"])  # type: ignore[list-item]


def test_builder_build_returns_independent_copies() -> None:
    builder = Conversation.builder().user("a")
    first = builder.build()
    builder.user("b")
    assert len(first) == 1 and len(builder.build()) == 2


def test_messages_is_a_read_only_live_view() -> None:
    conversation = Conversation().add_user("a")
    view = conversation.messages
    conversation.add_user("b")
    assert len(view) == 2 and view[-1].content == "b"
    assert not hasattr(view, "append")
    with pytest.raises(TypeError):
        view[0] = Message("user", "x")  # type: ignore[index]


def test_equality_copy_and_dicts() -> None:
    conversation = Conversation().add_user("a").add_assistant("b")
    copy = conversation.copy()
    assert copy == conversation and copy is not conversation
    copy.add_user("c")
    assert copy != conversation and len(conversation) == 2
    assert Conversation.from_dicts(conversation.to_dicts()) == conversation
    with pytest.raises(TypeError):
        hash(conversation)
