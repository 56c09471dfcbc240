"""Message, ToolCall and Conversation: immutability, the OpenAI shape, builders."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from collections.abc import Mapping
from typing import Any

import pytest

from agent_session import Conversation, Message, SerializationError, ToolCall
from agent_session._serialization import encode_message, message_size

ROLES = ["system", "developer", "user", "assistant", "tool"]

CALL = ToolCall("call_1", "lookup", '{"q": "x"}')
CALL_DICT: dict[str, Any] = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "lookup", "arguments": '{"q": "x"}'},
}


# --- Message: immutability -------------------------------------------------------------


def test_message_is_frozen() -> None:
    message = Message("user", "hi")
    for field in ("role", "content", "name", "tool_calls", "tool_call_id", "metadata"):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(message, field, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        del message.content
    assert message.content == "hi"


def test_message_is_slotted() -> None:
    message = Message("user", "hi")
    assert not hasattr(message, "__dict__")
    assert "__slots__" in Message.__dict__
    with pytest.raises((AttributeError, TypeError)):
        message.other = 1


def test_tool_call_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        CALL.name = "other"  # type: ignore[misc]


# --- Message: validation ---------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_every_role(role: str) -> None:
    message = Message(role, "x")  # type: ignore[arg-type]
    assert message.role == role
    assert Message.from_dict(message.to_dict()) == message


@pytest.mark.parametrize("role", ["wizard", "User", "", "function"])
def test_unknown_role_is_a_value_error_naming_it(role: str) -> None:
    with pytest.raises(ValueError, match=repr(role)) as info:
        Message(role, "x")  # type: ignore[arg-type]
    assert "assistant" in str(info.value)  # says which roles would do


@pytest.mark.parametrize(
    ("fields", "shown"),
    [
        ({"role": 5}, "5"),
        ({"role": ["user"]}, "['user']"),
        ({"role": "user", "content": 42}, "42"),
        ({"role": "user", "content": b"bytes"}, "b'bytes'"),
        ({"role": "user", "name": 3.5}, "3.5"),
        ({"role": "tool", "content": "x", "tool_call_id": 7}, "7"),
        ({"role": "user", "metadata": [1, 2]}, "[1, 2]"),
        ({"role": "assistant", "tool_calls": "not calls"}, "'not calls'"),
        ({"role": "assistant", "tool_calls": None}, "None"),
        ({"role": "assistant", "tool_calls": [17]}, "17"),
    ],
)
def test_wrong_field_types_are_type_errors_naming_the_value(
    fields: dict[str, Any], shown: str
) -> None:
    with pytest.raises(TypeError) as info:
        Message(**fields)
    assert shown in str(info.value)


@pytest.mark.parametrize(
    ("fields", "shown"),
    [
        ({"id": 1, "name": "f"}, "1"),
        ({"id": "c", "name": None}, "None"),
        ({"id": "c", "name": "f", "arguments": {"a": 1}}, "{'a': 1}"),
    ],
)
def test_tool_call_field_types(fields: dict[str, Any], shown: str) -> None:
    with pytest.raises(TypeError) as info:
        ToolCall(**fields)
    assert shown in str(info.value)


def test_tool_calls_from_tool_calls_or_openai_dicts() -> None:
    # The constructor takes any iterable of ToolCall or dicts; the field is typed as the tuple
    # it becomes, hence the ignores.
    from_objects = Message("assistant", None, tool_calls=[CALL])
    from_dicts = Message("assistant", None, tool_calls=[CALL_DICT])
    flat = {"id": "call_1", "name": "lookup", "arguments": '{"q": "x"}'}
    from_flat = Message("assistant", None, tool_calls=(flat,))
    from_generator = Message(
        "assistant",
        None,
        tool_calls=(c for c in [CALL_DICT]),
    )
    for message in (from_objects, from_dicts, from_flat, from_generator):
        assert message.tool_calls == (CALL,)
        assert isinstance(message.tool_calls, tuple)
    no_arguments = {"id": "c", "name": "f"}
    assert Message("assistant", None, tool_calls=(no_arguments,)).tool_calls == (
        ToolCall("c", "f", "{}"),
    )


def test_metadata_is_deep_frozen() -> None:
    message = Message("user", "x", metadata={"tags": ["a", {"deep": [1]}], "nested": {"k": 1}})
    metadata = message.metadata
    assert isinstance(metadata, Mapping)
    with pytest.raises(TypeError):
        metadata["new"] = 1  # type: ignore[index]
    with pytest.raises(TypeError):
        metadata["nested"]["k"] = 2
    with pytest.raises(TypeError):
        del metadata["nested"]  # type: ignore[attr-defined]
    tags = metadata["tags"]
    assert tags == ("a", {"deep": (1,)})
    assert not hasattr(tags, "append")
    with pytest.raises(TypeError):
        tags[1]["deep"] = []


def test_metadata_is_a_copy_of_the_callers_dict() -> None:
    original: dict[str, Any] = {"tags": ["a"], "nested": {"k": 1}, "top": "t"}
    message = Message("user", "x", metadata=original)
    original["tags"].append("b")
    original["nested"]["k"] = 2
    original["top"] = "changed"
    original["added"] = True
    assert message.to_dict()["metadata"] == {"tags": ["a"], "nested": {"k": 1}, "top": "t"}


def test_to_dict_returns_fresh_plain_containers() -> None:
    message = Message("user", "x", metadata={"tags": ["a"], "nested": {"k": 1}})
    data = message.to_dict()
    assert type(data["metadata"]) is dict and type(data["metadata"]["tags"]) is list
    data["metadata"]["tags"].append("b")
    data["metadata"]["nested"]["k"] = 2
    assert message.to_dict()["metadata"] == {"tags": ["a"], "nested": {"k": 1}}


@pytest.mark.parametrize(
    ("metadata", "error", "shown"),
    [
        ({"s": {1, 2}}, TypeError, "{1, 2}"),
        ({"deep": [{"s": frozenset()}]}, TypeError, "frozenset()"),
        ({"b": b"bytes"}, TypeError, "b'bytes'"),
        ({"o": object}, TypeError, "object"),
        ({1: "non-str key"}, TypeError, "1"),
        ({"nested": {None: 1}}, TypeError, "None"),
        ({"f": float("nan")}, ValueError, "nan"),
        ({"f": [float("inf")]}, ValueError, "inf"),
        ({"f": float("-inf")}, ValueError, "-inf"),
    ],
)
def test_non_json_metadata_is_rejected(
    metadata: dict[Any, Any], error: type[Exception], shown: str
) -> None:
    with pytest.raises(error) as info:
        Message("user", "x", metadata=metadata)
    assert shown in str(info.value)


def test_json_metadata_values_are_accepted() -> None:
    metadata: dict[str, Any] = {
        "none": None,
        "bools": [True, False],
        "int": -(2**70),  # beyond 64 bits: JSON and Python keep it whole
        "float": 0.1,
        "str": "é✈",
        "tuple": (1, 2),
        "empty": {},
        "list": [],
    }
    message = Message("user", "x", metadata=metadata)
    assert message.to_dict()["metadata"] == {**metadata, "tuple": [1, 2]}


# --- Message: equality, hashing, copies ------------------------------------------------


def test_hash_and_equality() -> None:
    a = Message("assistant", "x", name="n", tool_calls=(CALL,), metadata={"k": [1]})
    b = Message(
        "assistant",
        "x",
        name="n",
        tool_calls=(CALL_DICT,),
        metadata={"k": (1,)},
    )
    assert a == b and hash(a) == hash(b)
    assert len({a, b}) == 1
    assert a != Message("assistant", "x", name="n", tool_calls=(CALL,), metadata={"k": [2]})
    assert a != Message("assistant", "y", name="n", tool_calls=(CALL,), metadata={"k": [1]})
    assert Message("user", "x") != Message("system", "x")
    assert Message("user", None) != Message("user", "")
    assert Message("user", "x") != "x"


def test_size_is_the_payloads_and_ids_do_not_affect_equality() -> None:
    message = Message("user", "short")
    assert message_size(message) == len(b'{"role":"user","content":"short"}')
    stamped = message.with_id("m1")
    assert stamped == message and stamped.id == "m1" and message.id is None
    assert message_size(stamped) == message_size(message)
    assert len(encode_message(stamped)) > message_size(message)  # the stored form adds them


def test_message_copies_and_pickles_by_value() -> None:
    message = Message("tool", "42", tool_call_id="c", metadata={"k": {"v": [1]}})
    for clone in (
        copy.copy(message),
        copy.deepcopy(message),
        pickle.loads(pickle.dumps(message)),
    ):
        assert clone == message


# --- Message: the OpenAI shape ---------------------------------------------------------


def test_to_dict_openai_shape() -> None:
    message = Message("assistant", None, tool_calls=(CALL,), name="bot", metadata={"m": [1]})
    assert message.to_dict() == {
        "role": "assistant",
        "content": None,
        "name": "bot",
        "tool_calls": [CALL_DICT],
        "metadata": {"m": [1]},
    }
    assert CALL.to_dict() == CALL_DICT


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (Message("user", "hé"), {"role": "user", "content": "hé"}),
        (Message("assistant"), {"role": "assistant", "content": None}),
        (Message("user", "x", metadata={}), {"role": "user", "content": "x"}),
        (
            Message("tool", "42", tool_call_id="call_1"),
            {"role": "tool", "content": "42", "tool_call_id": "call_1"},
        ),
        (Message("user", "x", name="ann"), {"role": "user", "content": "x", "name": "ann"}),
        (Message("assistant", "x", tool_calls=()), {"role": "assistant", "content": "x"}),
    ],
)
def test_to_dict_omits_empty_optional_fields(message: Message, expected: dict[str, Any]) -> None:
    assert message.to_dict() == expected


@pytest.mark.parametrize(
    "message",
    [
        Message("system", "Be brief."),
        Message("developer", "Use tools."),
        Message("user", "héllo ✈ 日本語 \U0001f600", name="ünï"),
        Message("user", ""),
        Message("assistant", None, tool_calls=(CALL, ToolCall("call_2", "ß", '{"a":"ü"}'))),
        Message("assistant", "text and calls", tool_calls=(CALL,)),
        Message("tool", '{"result": 1}', tool_call_id="call_1", name="lookup"),
        Message("user", "x", metadata={"k": [1, 2.5, None, True, {"n": "é"}], "e": {}}),
    ],
)
def test_dict_round_trip_of_every_field(message: Message) -> None:
    data = message.to_dict()
    back = Message.from_dict(data)
    assert back == message
    for field in ("role", "content", "name", "tool_calls", "tool_call_id", "metadata"):
        assert getattr(back, field) == getattr(message, field), field
    assert back.to_dict() == data


def test_from_dict_takes_any_mapping_and_keeps_every_key() -> None:
    from types import MappingProxyType

    data = MappingProxyType({"role": "assistant", "content": "x", "refusal": None})
    message = Message.from_dict(data)
    assert message.to_dict() == dict(data)
    assert message != Message("assistant", "x")  # the refusal key is part of it
    assert message.extra == {"refusal": None}
    assert Message.from_dict({"role": "user"}).to_dict() == {"role": "user"}
    for kept in (
        {"content": "no role"},
        {"role": None, "content": "x"},
        {"role": "user", "content": [{"type": "text", "text": "parts"}]},
        {"role": "assistant", "content": None, "tool_calls": None},
        {"role": "function", "name": "f", "content": "legacy"},
    ):
        assert Message.from_dict(kept).to_dict() == kept


@pytest.mark.parametrize(
    "bad",
    [
        {"role": "wizard", "content": "x"},
        {"role": ["user"], "content": "x"},
        {},
        ["not", "a", "mapping"],
        "a string",
        None,
        42,
        {"role": "user", "content": 5},
        {"role": "user", "name": 1},
        {"role": "user", "metadata": [1]},
        {"role": "user", "metadata": {"f": float("nan")}},
        {"role": "assistant", "tool_calls": [{"type": "function"}]},
        {"role": "assistant", "tool_calls": [{"id": "c", "function": {"arguments": "{}"}}]},
        {"role": "assistant", "tool_calls": [{"id": "c", "function": "lookup"}]},
        {"role": "assistant", "tool_calls": [{"id": 1, "function": {"name": "f"}}]},
        {
            "role": "assistant",
            "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": 1}}],
        },
        {"role": "assistant", "tool_calls": ["call"]},
        {"role": "assistant", "tool_calls": 5},
    ],
)
def test_from_dict_rejects_malformed_input(bad: object) -> None:
    with pytest.raises(SerializationError):
        Message.from_dict(bad)  # type: ignore[arg-type]


def test_from_dict_unknown_role_names_it() -> None:
    with pytest.raises(SerializationError, match="wizard"):
        Message.from_dict({"role": "wizard", "content": "x"})


@pytest.mark.parametrize("bad", [{"type": "function"}, [], "call", {"id": "c", "function": 3}])
def test_tool_call_from_dict_rejects_malformed_input(bad: object) -> None:
    with pytest.raises(SerializationError):
        ToolCall.from_dict(bad)  # type: ignore[arg-type]


# --- Conversation ----------------------------------------------------------------------


def test_builder_covers_every_kind_of_message() -> None:
    built = (
        Conversation.builder()
        .system("s")
        .developer("d")
        .user("u", name="ann")
        .assistant(None, tool_calls=[CALL, CALL_DICT | {"id": "call_2"}])
        .tool("r1", tool_call_id="call_1")
        .tool("r2", tool_call_id="call_2")
        .assistant("done", metadata={"model": "m"})
        .add(Message("user", "thanks"))
        .build()
    )
    assert isinstance(built, Conversation)
    assert list(built) == [
        Message("system", "s"),
        Message("developer", "d"),
        Message("user", "u", name="ann"),
        Message("assistant", None, tool_calls=(CALL, ToolCall("call_2", "lookup", '{"q": "x"}'))),
        Message("tool", "r1", tool_call_id="call_1"),
        Message("tool", "r2", tool_call_id="call_2"),
        Message("assistant", "done", metadata={"model": "m"}),
        Message("user", "thanks"),
    ]


def test_builder_build_returns_a_copy() -> None:
    builder = Conversation.builder().user("a")
    first = builder.build()
    builder.user("b")
    second = builder.build()
    assert [m.content for m in first] == ["a"]
    assert [m.content for m in second] == ["a", "b"]
    first.add_user("only in first")
    assert len(builder.build()) == 2 and len(second) == 2
    assert builder.build() is not builder.build()


def test_builder_rejects_bad_input() -> None:
    with pytest.raises(TypeError):
        Conversation.builder().add("not a message")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="5"):
        Conversation.builder().tool("x", tool_call_id=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="17"):
        Conversation.builder().assistant(None, tool_calls=[17])  # type: ignore[list-item]


def test_add_methods() -> None:
    conversation = Conversation()
    assert conversation.add_system("s") is conversation  # chains
    conversation.add_developer("d").add_user("u").add_assistant("a")
    conversation.add_assistant(tool_calls=[CALL_DICT])
    conversation.add_tool("r", tool_call_id="call_1", metadata={"ms": 3})
    conversation.add(Message("user", "last"))
    assert [m.role for m in conversation] == [
        "system",
        "developer",
        "user",
        "assistant",
        "assistant",
        "tool",
        "user",
    ]
    assert conversation[4] == Message("assistant", None, tool_calls=(CALL,))
    assert conversation[5] == Message("tool", "r", tool_call_id="call_1", metadata={"ms": 3})


@pytest.mark.parametrize("bad", ["text", {"role": "user", "content": "x"}, None, CALL])
def test_add_non_message_is_a_type_error(bad: object) -> None:
    conversation = Conversation().add_user("a")
    with pytest.raises(TypeError):
        conversation.add(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Conversation([Message("user", "a"), bad])  # type: ignore[list-item]
    assert len(conversation) == 1


def test_messages_is_a_read_only_live_view() -> None:
    conversation = Conversation().add_user("a")
    view = conversation.messages
    conversation.add_user("b")
    assert len(view) == 2 and view[-1].content == "b"
    assert [m.content for m in view] == ["a", "b"]
    assert Message("user", "a") in view and view.index(Message("user", "b")) == 1
    assert tuple(view[0:1]) == (Message("user", "a"),)
    assert not hasattr(view, "append") and not hasattr(view, "extend")
    with pytest.raises(TypeError):
        view[0] = Message("user", "x")  # type: ignore[index]
    with pytest.raises(TypeError):
        del view[0]  # type: ignore[attr-defined]
    sliced = view[:]
    assert not hasattr(sliced, "append")
    assert len(conversation) == 2


def test_len_iter_and_index() -> None:
    conversation = Conversation(Message("user", str(i)) for i in range(3))
    assert len(conversation) == 3 and len(Conversation()) == 0
    assert [m.content for m in conversation] == ["0", "1", "2"]
    assert conversation[0].content == "0" and conversation[-1].content == "2"
    with pytest.raises(IndexError):
        conversation[3]


def test_equality() -> None:
    a = Conversation().add_user("a").add_assistant("b")
    assert a == Conversation([Message("user", "a"), Message("assistant", "b")])
    assert a != Conversation().add_user("a")
    assert a != Conversation().add_assistant("b").add_user("a")
    assert Conversation() == Conversation()
    assert a != list(a)


def test_copy_is_independent_both_ways() -> None:
    conversation = Conversation().add_user("a").add_assistant("b")
    clone = conversation.copy()
    assert clone == conversation and clone is not conversation
    clone.add_user("c")
    assert len(conversation) == 2
    conversation.add_user("d")
    assert [m.content for m in clone] == ["a", "b", "c"]
    assert [m.content for m in conversation] == ["a", "b", "d"]


def test_conversation_is_unhashable() -> None:
    with pytest.raises(TypeError):
        hash(Conversation())


def test_dicts_round_trip() -> None:
    conversation = (
        Conversation.builder()
        .system("s")
        .user("ü ✈", name="n")
        .assistant(None, tool_calls=[CALL])
        .tool("r", tool_call_id="call_1")
        .assistant("ok", metadata={"k": [1]})
        .build()
    )
    dicts = conversation.to_dicts()
    assert dicts[2] == {"role": "assistant", "content": None, "tool_calls": [CALL_DICT]}
    back = Conversation.from_dicts(dicts)
    assert back == conversation
    back.add_user("more")
    assert len(conversation) == 5  # a new, independent object
    assert Conversation.from_dicts(iter(dicts)) == conversation
    assert Conversation.from_dicts([]) == Conversation()


def test_from_dicts_rejects_malformed_input() -> None:
    with pytest.raises(SerializationError):
        Conversation.from_dicts([{"role": "user", "content": "x"}, {"role": "wizard"}])
    with pytest.raises(SerializationError):
        Conversation.from_dicts(["not a dict"])  # type: ignore[list-item]


# --- Message: payloads of any framework (format 2) -------------------------------------


def test_role_less_items_and_every_field_are_kept() -> None:
    item = {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": "Think."}],
        "encrypted_content": "gAAAAB",
    }
    message = Message.from_dict(item)
    assert message.to_dict() == item
    assert (message.role, message.type, message.content, message.text) == (
        None,
        "reasoning",
        None,
        "",
    )
    assert set(message.extra) == set(item) and message.extra["encrypted_content"] == "gAAAAB"
    assert message.extra["summary"][0]["text"] == "Think."  # read-only copies of the parts
    with pytest.raises(TypeError):
        message.extra["id"] = "other"  # type: ignore[index]
    built = Message(type="function_call", call_id="c", name="f", arguments="{}")
    assert built.to_dict() == {
        "type": "function_call",
        "call_id": "c",
        "name": "f",
        "arguments": "{}",
    }


def test_content_parts_are_read_only_and_text_joins_their_words() -> None:
    message = Message(
        "user",
        [
            {"type": "input_text", "text": "Hello "},
            {"type": "image_url", "image_url": {"url": "u"}},
        ],
    )
    parts = message.content
    assert isinstance(parts, tuple) and parts[1]["image_url"]["url"] == "u"
    with pytest.raises(TypeError):
        parts[0]["text"] = "changed"
    assert message.text == "Hello "
    langchain = Message.from_dict(
        {"role": "assistant", "content": ["a", {"type": "text", "text": "b"}]}
    )
    assert langchain.text == "ab"


@pytest.mark.parametrize(
    ("payload", "result"),
    [
        ({"role": "tool", "content": "1", "tool_call_id": "c"}, True),
        ({"type": "function_call_output", "call_id": "c", "output": "1"}, True),
        ({"type": "tool", "data": {"content": "1", "tool_call_id": "c"}}, True),
        ({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t"}]}, True),
        (
            {"role": "user", "content": [{"type": "tool_result"}, {"type": "text", "text": "x"}]},
            False,
        ),
        ({"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}, False),
        ({"role": "assistant", "content": "x"}, False),
    ],
)
def test_tool_results_are_recognised(payload: dict[str, Any], result: bool) -> None:
    assert Message.from_dict(payload).is_tool_result is result


def test_conversation_drops_the_tool_results_a_tail_cut_off() -> None:
    conversation = Conversation.from_dicts(
        [
            {"role": "tool", "content": "1", "tool_call_id": "c"},
            {"type": "function_call_output", "call_id": "d", "output": "2"},
            {"role": "assistant", "content": "ok"},
            {"role": "tool", "content": "3", "tool_call_id": "e"},
        ]
    )
    assert [m.text for m in conversation.without_cut_tool_results()] == ["ok", "3"]
    assert len(conversation) == 4  # a new object: this one is untouched


@pytest.mark.parametrize(
    "bad",
    [
        {
            "role": "user",
            "metadata": {"deep": __import__("functools").reduce(lambda a, _: [a], range(5000), 0)},
        },
        {"role": "user", "content": "lone \ud800 surrogate"},
        {"role": "user", "metadata": {1: "non-str key"}},
        {"role": "user", "metadata": {"f": float("inf")}},
        {"role": "user", "metadata": {"o": object()}},
    ],
    ids=["nested-5000", "surrogate", "int-key", "inf", "object"],
)
def test_from_dict_refuses_what_json_cannot_hold_with_serialization_error(bad: Any) -> None:
    with pytest.raises(SerializationError):
        Message.from_dict(bad)


def test_numbers_of_any_size_are_kept_whole() -> None:
    payload = {"role": "user", "content": "x", "metadata": {"big": 10**400, "neg": -(2**100)}}
    assert Message.from_dict(payload).to_dict() == payload


def test_ids_and_times_sit_beside_the_payload() -> None:
    message = Message("user", "hi", id="m-1", created_at=5)
    assert (message.id, message.created_at) == ("m-1", 5.0)
    assert message.to_dict() == {"role": "user", "content": "hi"}
    assert message == Message("user", "hi")  # equal payloads, whatever their ids
    for bad_id in ("", "x" * 513, "line\nbreak"):
        with pytest.raises(ValueError):
            message.with_id(bad_id)
    with pytest.raises(TypeError):
        Message("user", "hi", id=5)  # type: ignore[arg-type]
    clone = pickle.loads(pickle.dumps(message))
    assert (clone, clone.id, clone.created_at) == (message, "m-1", 5.0)
