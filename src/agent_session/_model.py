"""The conversation model: immutable :class:`Message` values in a mutable :class:`Conversation`."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, overload

from ._errors import SerializationError

__all__ = ["ROLES", "Conversation", "ConversationBuilder", "Message", "Role", "ToolCall"]

Role = Literal["system", "developer", "user", "assistant", "tool"]
ROLES: frozenset[str] = frozenset(("system", "developer", "user", "assistant", "tool"))

#: A JSON value as stored in ``Message.metadata`` (containers frozen: tuples and mappings).
JSONValue = None | bool | int | float | str | Sequence[Any] | Mapping[str, Any]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _freeze_json(value: object, where: str) -> Any:
    """Deep-copy a JSON-compatible value into immutable containers, or raise ``TypeError``."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where} holds {value!r}, which JSON cannot represent")
        return value
    if isinstance(value, Mapping):
        frozen = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where} has a non-str key {key!r}; JSON keys are str")
            frozen[key] = _freeze_json(item, f"{where}[{key!r}]")
        return MappingProxyType(frozen)
    if isinstance(value, (list, tuple)):
        return tuple(_freeze_json(item, f"{where}[{i}]") for i, item in enumerate(value))
    raise TypeError(f"{where} holds {value!r} of type {type(value).__name__}, not a JSON value")


def _thaw_json(value: Any) -> Any:
    """The inverse of :func:`_freeze_json`: plain dicts and lists, ready for ``json``."""
    if isinstance(value, Mapping):
        return {key: _thaw_json(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [_thaw_json(item) for item in value]
    return value


def _check_str(value: object, what: str, *, optional: bool = False) -> None:
    if isinstance(value, str) or (optional and value is None):
        return
    kind = "a str or None" if optional else "a str"
    raise TypeError(f"{what} must be {kind}, not {value!r} of type {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One function call requested by an assistant message.

    :param id: the call's id, echoed by the answering tool message's ``tool_call_id``
    :param name: the function's name
    :param arguments: the arguments as a JSON string, exactly as the model produced them
    """

    id: str
    name: str
    arguments: str = "{}"

    def __post_init__(self) -> None:
        _check_str(self.id, "ToolCall.id")
        _check_str(self.name, "ToolCall.name")
        _check_str(self.arguments, "ToolCall.arguments")

    def to_dict(self) -> dict[str, Any]:
        """The OpenAI shape: ``{"id", "type": "function", "function": {"name", "arguments"}}``."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ToolCall:
        """Parse the OpenAI shape (a flat ``{"id", "name", "arguments"}`` is accepted too).

        :raises SerializationError: if ``data`` is not a tool call
        """
        try:
            function = data.get("function", data)
            return cls(data["id"], function["name"], function.get("arguments", "{}"))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise SerializationError(f"malformed tool call {data!r:.200}: {exc}") from exc


def _to_tool_call(value: ToolCall | Mapping[str, Any]) -> ToolCall:
    if isinstance(value, ToolCall):
        return value
    if isinstance(value, Mapping):
        return ToolCall.from_dict(value)
    raise TypeError(f"a tool call must be a ToolCall or a mapping, not {value!r}")


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message; immutable, so stores can share it without copying.

    :param role: ``"system"``, ``"developer"``, ``"user"``, ``"assistant"`` or ``"tool"``
    :param content: the text, or None (an assistant message that only calls tools)
    :param name: an optional participant name
    :param tool_calls: the calls an assistant message requests
    :param tool_call_id: for a ``"tool"`` message, the id of the call it answers
    :param metadata: JSON-compatible data of your own; stored, never sent to a model
    :raises ValueError: on an unknown role or a non-finite float in ``metadata``
    :raises TypeError: on a field of the wrong type
    """

    role: Role
    content: str | None = None
    name: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    # Cached byte size of the serialized form; computed once, on first need.
    _size: int = field(default=-1, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # A str check first: an unhashable role would fail the set lookup with an error
        # that does not name it.
        _check_str(self.role, "Message.role")
        if self.role not in ROLES:
            raise ValueError(
                f"unknown message role {self.role!r}; use one of {', '.join(sorted(ROLES))}"
            )
        _check_str(self.content, "Message.content", optional=True)
        _check_str(self.name, "Message.name", optional=True)
        _check_str(self.tool_call_id, "Message.tool_call_id", optional=True)
        calls = self.tool_calls
        if not isinstance(calls, tuple) or not all(isinstance(c, ToolCall) for c in calls):
            if isinstance(calls, (str, bytes, Mapping)) or not isinstance(calls, Iterable):
                raise TypeError(f"Message.tool_calls must be a sequence, not {calls!r}")
            object.__setattr__(self, "tool_calls", tuple(_to_tool_call(c) for c in calls))
        if self.metadata is not _EMPTY:
            if not isinstance(self.metadata, Mapping):
                raise TypeError(f"Message.metadata must be a mapping, not {self.metadata!r}")
            object.__setattr__(self, "metadata", _freeze_json(self.metadata, "Message.metadata"))

    def __hash__(self) -> int:
        return hash((self.role, self.content, self.name, self.tool_calls, self.tool_call_id))

    def __reduce__(self) -> tuple[Any, tuple[dict[str, Any]]]:
        # Read-only mappings cannot be pickled: go through the plain OpenAI shape.
        return (Message.from_dict, (self.to_dict(),))

    def to_dict(self) -> dict[str, Any]:
        """The OpenAI chat-message shape, omitting empty optional fields.

        ``role`` and ``content`` are always present; ``metadata`` only when non-empty.
        """
        data: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.name is not None:
            data["name"] = self.name
        if self.tool_calls:
            data["tool_calls"] = [call.to_dict() for call in self.tool_calls]
        if self.tool_call_id is not None:
            data["tool_call_id"] = self.tool_call_id
        if self.metadata:
            data["metadata"] = _thaw_json(self.metadata)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Message:
        """Parse the OpenAI chat-message shape.

        :raises SerializationError: on an unknown role or a malformed message
        """
        if not isinstance(data, Mapping):
            raise SerializationError(f"a message must be a JSON object, not {data!r:.200}")
        try:
            return cls(
                role=data["role"],
                content=data.get("content"),
                name=data.get("name"),
                tool_calls=tuple(_to_tool_call(c) for c in data.get("tool_calls") or ()),
                tool_call_id=data.get("tool_call_id"),
                metadata=data.get("metadata") or _EMPTY,
            )
        except SerializationError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise SerializationError(f"malformed message {data!r:.200}: {exc}") from exc


class MessagesView(Sequence[Message]):
    """A read-only, live view of a conversation's messages."""

    __slots__ = ("_items",)

    def __init__(self, items: list[Message]) -> None:
        self._items = items

    @overload
    def __getitem__(self, index: int) -> Message: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Message]: ...
    def __getitem__(self, index: int | slice) -> Message | Sequence[Message]:
        if isinstance(index, slice):
            return tuple(self._items[index])
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Message]:
        return iter(self._items)

    def __repr__(self) -> str:
        return f"MessagesView({self._items!r})"


class Conversation:
    """An ordered, mutable list of :class:`Message` objects.

    Stores keep snapshots: mutating a conversation after ``save`` changes nothing
    stored, and every ``load`` returns a new object.
    """

    # _sized: (n, bytes) = the wire size of the first n messages, kept so that saving
    # a conversation again costs O(new messages), not O(all). Messages are only ever
    # appended, so the prefix never changes; one tuple, so threads see it whole.
    __slots__ = ("__weakref__", "_messages", "_sized")

    def __init__(self, messages: Iterable[Message] = ()) -> None:
        items = list(messages)
        for message in items:
            if not isinstance(message, Message):
                raise TypeError(f"a Conversation holds Message objects, not {message!r}")
        self._messages = items
        self._sized = (0, 0)

    @classmethod
    def _adopt(cls, messages: list[Message], size_bytes: int = -1) -> Conversation:
        # Stores build conversations from messages they already validated: no re-check.
        conversation = cls.__new__(cls)
        conversation._messages = messages
        conversation._sized = (0, 0) if size_bytes < 0 else (len(messages), size_bytes)
        return conversation

    @staticmethod
    def builder() -> ConversationBuilder:
        """Start a fluent builder: ``Conversation.builder().system(..).user(..).build()``."""
        return ConversationBuilder()

    @property
    def messages(self) -> Sequence[Message]:
        """The messages, oldest first, as a read-only live view."""
        return MessagesView(self._messages)

    def add(self, message: Message) -> Conversation:
        """Append one message; returns ``self`` so calls can chain.

        :raises TypeError: if ``message`` is not a :class:`Message`
        """
        if not isinstance(message, Message):
            raise TypeError(f"add() takes a Message, not {message!r}")
        self._messages.append(message)
        return self

    def add_system(self, content: str, **fields: Any) -> Conversation:
        """Append a system message."""
        return self.add(Message("system", content, **fields))

    def add_developer(self, content: str, **fields: Any) -> Conversation:
        """Append a developer message."""
        return self.add(Message("developer", content, **fields))

    def add_user(self, content: str, **fields: Any) -> Conversation:
        """Append a user message."""
        return self.add(Message("user", content, **fields))

    def add_assistant(
        self,
        content: str | None = None,
        *,
        tool_calls: Iterable[ToolCall | Mapping[str, Any]] = (),
        **fields: Any,
    ) -> Conversation:
        """Append an assistant message, optionally requesting tool calls."""
        calls = tuple(_to_tool_call(call) for call in tool_calls)
        return self.add(Message("assistant", content, tool_calls=calls, **fields))

    def add_tool(self, content: str, *, tool_call_id: str, **fields: Any) -> Conversation:
        """Append a tool result answering the call ``tool_call_id``."""
        return self.add(Message("tool", content, tool_call_id=tool_call_id, **fields))

    def copy(self) -> Conversation:
        """A new conversation holding the same (immutable) messages."""
        copy = Conversation._adopt(list(self._messages))
        copy._sized = self._sized
        return copy

    def to_dicts(self) -> list[dict[str, Any]]:
        """The messages as OpenAI chat-message dicts, ready to send to a model."""
        return [message.to_dict() for message in self._messages]

    @classmethod
    def from_dicts(cls, dicts: Iterable[Mapping[str, Any]]) -> Conversation:
        """Build a conversation from OpenAI chat-message dicts.

        :raises SerializationError: on an unknown role or a malformed message
        """
        return cls._adopt([Message.from_dict(d) for d in dicts])

    def __len__(self) -> int:
        return len(self._messages)

    def __iter__(self) -> Iterator[Message]:
        return iter(self._messages)

    def __getitem__(self, index: int) -> Message:
        return self._messages[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Conversation):
            return self._messages == other._messages
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, so unhashable like list

    def __repr__(self) -> str:
        return f"Conversation({self._messages!r})"


class ConversationBuilder:
    """Fluent construction of a :class:`Conversation`."""

    __slots__ = ("_conversation",)

    def __init__(self) -> None:
        self._conversation = Conversation()

    def system(self, content: str, **fields: Any) -> ConversationBuilder:
        self._conversation.add_system(content, **fields)
        return self

    def developer(self, content: str, **fields: Any) -> ConversationBuilder:
        self._conversation.add_developer(content, **fields)
        return self

    def user(self, content: str, **fields: Any) -> ConversationBuilder:
        self._conversation.add_user(content, **fields)
        return self

    def assistant(
        self,
        content: str | None = None,
        *,
        tool_calls: Iterable[ToolCall | Mapping[str, Any]] = (),
        **fields: Any,
    ) -> ConversationBuilder:
        self._conversation.add_assistant(content, tool_calls=tool_calls, **fields)
        return self

    def tool(self, content: str, *, tool_call_id: str, **fields: Any) -> ConversationBuilder:
        self._conversation.add_tool(content, tool_call_id=tool_call_id, **fields)
        return self

    def add(self, message: Message) -> ConversationBuilder:
        self._conversation.add(message)
        return self

    def build(self) -> Conversation:
        """The conversation built so far (a copy: the builder can go on)."""
        return self._conversation.copy()


def as_messages(value: object) -> tuple[Message, ...]:
    """Validate what a caller passed as messages; a tuple of Message or ``TypeError``."""
    if isinstance(value, Conversation):
        return tuple(value._messages)
    raise TypeError(f"expected a Conversation, not {value!r:.80} of type {type(value).__name__}")
