"""The conversation model: immutable :class:`Message` values in a mutable :class:`Conversation`."""

from __future__ import annotations

import itertools
import math
import os
import reprlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import FrozenInstanceError, dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Annotated, Any, Literal, overload

import msgspec

from ._errors import SerializationError

__all__ = [
    "ROLES",
    "Conversation",
    "ConversationBuilder",
    "Message",
    "Role",
    "ToolCall",
    "new_message_id",
    "stamp",
]

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
            raise SerializationError(f"malformed tool call {_short(data)}: {exc}") from exc


def _to_tool_call(value: ToolCall | Mapping[str, Any]) -> ToolCall:
    if isinstance(value, ToolCall):
        return value
    if isinstance(value, Mapping):
        return ToolCall.from_dict(value)
    raise TypeError(f"a tool call must be a ToolCall or a mapping, not {value!r}")


#: The payload keys :class:`Message` gives typed accessors to; everything else is kept
#: as given and read through :attr:`Message.extra`.
KNOWN_FIELDS = frozenset(("role", "content", "name", "tool_calls", "tool_call_id", "metadata"))
#: Roles ``from_dict`` accepts: the five of the SPEC and OpenAI's legacy ``function``.
PAYLOAD_ROLES: frozenset[str] = ROLES | {"function"}
#: How deep a payload may nest; deeper is refused before anything is stored.
MAX_DEPTH = 200
#: Content part types whose ``text`` :attr:`Message.text` joins.
_TEXT_PARTS = frozenset(("text", "input_text", "output_text"))
#: Item and block types that carry a tool's result (OpenAI Responses, Anthropic, LangChain).
_RESULT_TYPES = frozenset(
    (
        "function_call_output",
        "computer_call_output",
        "local_shell_call_output",
        "custom_tool_call_output",
        "mcp_approval_response",
        "tool_result",
        "tool",
    )
)


def _plain(value: object) -> object:
    # Read-only mappings (ours, a caller's MappingProxyType) encode as the objects they are.
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{_short(value)} of type {type(value).__name__} is not a JSON value")


_encode_json = msgspec.json.Encoder(enc_hook=_plain).encode
_decode_json = msgspec.json.decode


_reprs = reprlib.Repr()
_reprs.maxlevel, _reprs.maxstring, _reprs.maxother = 3, 80, 80


def _short(value: object) -> str:
    """A repr that stays short and never recurses far, however deep ``value`` nests."""
    try:
        return _reprs.repr(value)
    except ValueError:  # an int past sys.get_int_max_str_digits() has no repr
        return f"<{type(value).__name__} too large to show>"


def _check_json(value: object, where: str) -> None:
    """Raise ``TypeError``/``ValueError`` naming the first part of ``value`` JSON cannot hold.

    Iterative (no ``RecursionError`` however deep): non-str keys, non-finite floats,
    lone surrogates, objects that are not JSON, nesting past :data:`MAX_DEPTH`.
    """
    stack: list[tuple[object, str, int]] = [(value, where, 0)]
    while stack:
        item, at, depth = stack.pop()
        if item is None or isinstance(item, bool):
            continue
        if isinstance(item, str):
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    raise ValueError(
                        f"{at} holds {item!r:.80}, with a lone surrogate: not valid Unicode text"
                    ) from None
            continue
        if isinstance(item, int):
            continue
        if isinstance(item, float):
            if not math.isfinite(item):
                raise ValueError(f"{at} holds {item!r}, which JSON cannot represent")
            continue
        if depth >= MAX_DEPTH:
            raise ValueError(f"{at} nests deeper than {MAX_DEPTH} levels")
        # Paths name the first levels only: deep ones would cost memory for nothing.
        if isinstance(item, Mapping):
            for key, child in item.items():
                if not isinstance(key, str):
                    raise TypeError(f"{at} has a non-str key {_short(key)}; JSON keys are str")
                path = f"{at}[{_short(key)}]" if depth < 8 else at
                stack.append((key, path, depth + 1))
                stack.append((child, path, depth + 1))
        elif isinstance(item, (list, tuple)):
            for i, child in enumerate(item):
                stack.append((child, f"{at}[{i}]" if depth < 8 else at, depth + 1))
        else:
            raise TypeError(
                f"{at} holds {item!r:.80} of type {type(item).__name__}, not a JSON value"
            )


def _check_known(data: Mapping[str, Any], where: str) -> None:
    """Raise ``TypeError``/``ValueError`` if a known field of a payload has the wrong type."""
    role = data.get("role")
    if role is not None:
        _check_str(role, f"{where}.role")
        if role not in PAYLOAD_ROLES:
            raise ValueError(
                f"unknown message role {role!r}; use one of {', '.join(sorted(ROLES))}"
            )
    content = data.get("content")
    if not (content is None or isinstance(content, (str, list, tuple))):
        raise TypeError(
            f"{where}.content must be a str, None or a list of parts, not {_short(content)}"
        )
    for key in ("name", "tool_call_id"):
        _check_str(data.get(key), f"{where}.{key}", optional=True)
    calls = data.get("tool_calls")
    if calls is not None:
        if not isinstance(calls, (list, tuple)):
            raise TypeError(f"{where}.tool_calls must be a list of objects, not {_short(calls)}")
        for call in calls:
            _check_call(call, f"{where}.tool_calls")
    metadata = data.get("metadata")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise TypeError(f"{where}.metadata must be a mapping, not {_short(metadata)}")


def _check_call(call: object, where: str) -> None:
    """A chat-completions tool call: an object with a str ``id``; its ``function``, if
    any, an object with a str ``name`` and a str ``arguments`` (when given)."""
    if not isinstance(call, Mapping) or not isinstance(call.get("id"), str):
        raise TypeError(f"{where} holds {_short(call)}, not a tool call with a str id")
    function = call.get("function")
    if function is None:
        return
    if (
        not isinstance(function, Mapping)
        or not isinstance(function.get("name"), str)
        or not isinstance(function.get("arguments", ""), str)
    ):
        raise TypeError(
            f"{where} holds {_short(call)}: its function needs a str name and str arguments"
        )


class _View:
    """The typed fields of a payload, parsed once and frozen (cached on the message)."""

    __slots__ = ("content", "extra", "metadata", "name", "role", "tool_call_id", "tool_calls")

    def __init__(self, data: dict[str, Any]) -> None:
        self.role: str | None = data.get("role")
        content = data.get("content")
        self.content: str | tuple[Any, ...] | None = (
            _freeze_json(content, "content") if isinstance(content, list) else content
        )
        self.name: str | None = data.get("name")
        self.tool_call_id: str | None = data.get("tool_call_id")
        self.tool_calls = tuple(
            call for call in map(_typed_call, data.get("tool_calls") or ()) if call is not None
        )
        metadata = data.get("metadata")
        self.metadata: Mapping[str, Any] = (
            _freeze_json(metadata, "metadata") if metadata else _EMPTY
        )
        extra = {key: value for key, value in data.items() if key not in KNOWN_FIELDS}
        self.extra: Mapping[str, Any] = _freeze_json(extra, "payload") if extra else _EMPTY


def _typed_call(data: Mapping[str, Any]) -> ToolCall | None:
    """A chat-completions or LangChain tool call as a :class:`ToolCall`; None otherwise."""
    function = data.get("function")
    name = function.get("name") if isinstance(function, Mapping) else data.get("name")
    arguments = function.get("arguments", "{}") if isinstance(function, Mapping) else None
    if arguments is None and isinstance(data.get("args"), Mapping):
        arguments = _encode_json(data["args"]).decode()  # LangChain keeps a dict
    call_id = data.get("id")
    if isinstance(call_id, str) and isinstance(name, str) and isinstance(arguments, str):
        return ToolCall(call_id, name, arguments)
    return None


_StructMeta: Any = type(msgspec.Struct)
#: The Struct's own construction: fields positionally, no checks (rows and stamps).
_struct_call: Callable[..., Any] = _StructMeta.__call__
#: A stored message id: 1 to 512 characters (printable, checked beside).
_MessageId = Annotated[str, msgspec.Meta(min_length=1, max_length=512)]


class _MessageMeta(_StructMeta):  # type: ignore[misc]  # msgspec's metaclass is untyped
    """``Message(...)`` runs the checking constructor; the decoder bypasses it."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return _build(cls, *args, **kwargs)


class Message(
    msgspec.Struct,
    metaclass=_MessageMeta,
    gc=False,
    forbid_unknown_fields=True,
    omit_defaults=True,
):
    """One message or item of a conversation; immutable, so stores share it without copying.

    A message holds a *payload*: the JSON object a framework handed over (an OpenAI
    chat message, a Responses item, an Anthropic message, a LangChain message dict...),
    kept whole as compact JSON, so :meth:`to_dict` gives back exactly what
    :meth:`from_dict` was given, every field and part included. Typed, read-only
    accessors (``role``, ``content``, ``name``, ``tool_calls``, ``tool_call_id``,
    ``metadata``, ``type``, ``text``, ``extra``) read the known fields from it. Beside
    the payload, never inside it: the message's ``id`` and ``created_at``, which every
    store sets when it first writes a message that has none.

    :param role: ``"system"``, ``"developer"``, ``"user"``, ``"assistant"`` or ``"tool"``;
        None for a role-less item (give its ``type`` and fields as keywords)
    :param content: a str, None, or a sequence of content parts (JSON objects)
    :param name: an optional participant name
    :param tool_calls: the calls an assistant message requests
    :param tool_call_id: for a ``"tool"`` message, the id of the call it answers
    :param metadata: JSON-compatible data of your own; stored, never sent to a model
    :param id: the message's id; None lets the store generate a time-sortable one
    :param created_at: when it was first stored (epoch seconds); None lets the store set it
    :param fields: more payload fields, kept as given (``type="function_call"``, ...)
    :raises ValueError: on an unknown role or a value JSON cannot hold
    :raises TypeError: on a field of the wrong type
    """

    # The fields are a stored row of wire format 2 (docs/wire-format.md), in its order,
    # so the parser builds loaded messages in C and the encoder writes rows, with no
    # Python code run per message. ``Message(...)`` goes through _MessageMeta to the
    # checking constructor (_build) instead.
    _id: _MessageId | None = msgspec.field(name="id")
    _created_at: float | None = msgspec.field(name="at")
    _raw: msgspec.Raw = msgspec.field(name="m")  # the payload as compact JSON: the truth
    # The typed fields, parsed on first use (a row never holds it: omitted while None,
    # and declared None so that no row can fill it).
    _view: None = msgspec.field(default=None, name="~view")

    if TYPE_CHECKING:  # what mypy should see instead of the fields' __init__

        def __init__(
            self,
            role: Role | None = None,
            content: str | Sequence[Any] | None = None,
            *,
            name: str | None = None,
            tool_calls: Iterable[ToolCall | Mapping[str, Any]] = (),
            tool_call_id: str | None = None,
            metadata: Mapping[str, Any] | None = None,
            id: str | None = None,  # noqa: A002
            created_at: float | None = None,
            **fields: Any,
        ) -> None: ...

    # -- construction without re-checking --------------------------------------------

    @staticmethod
    def _from_raw(
        raw: msgspec.Raw | bytes,
        id: str | None,  # noqa: A002
        created_at: float | None,
    ) -> Message:
        # Without re-checking: the caller has checked (or made) the payload.
        if type(raw) is bytes:
            raw = msgspec.Raw(raw)
        message: Message = _struct_call(Message, id, created_at, raw)
        return message

    def _stamped(self, id: str, created_at: float) -> Message:  # noqa: A002
        """This payload with an id and creation time (a new object; the raw JSON is shared)."""
        return Message._from_raw(self._raw, id, created_at)

    def with_id(self, id: str | None) -> Message:  # noqa: A002
        """A copy of this message with another ``id`` (None: let the store generate one).

        :raises TypeError: if ``id`` is not a str or None
        :raises ValueError: if ``id`` is empty or longer than 512 characters
        """
        _check_stamp(id, None)
        return Message._from_raw(self._raw, id, self._created_at)

    # -- immutability -----------------------------------------------------------------

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}: a Message is immutable")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}: a Message is immutable")

    def __reduce__(self) -> tuple[Any, tuple[bytes, str | None, float | None]]:
        return (Message._restore, (bytes(self._raw), self._id, self._created_at))

    @staticmethod
    def _restore(raw: bytes, id: str | None, created_at: float | None) -> Message:  # noqa: A002
        message = Message.from_dict(_decode_json(raw))  # re-checked: pickles can be forged
        return Message._from_raw(message._raw, id, created_at)

    def __copy__(self) -> Message:
        return self

    def __deepcopy__(self, memo: object) -> Message:
        return self

    # -- the payload -------------------------------------------------------------------

    def _fields(self) -> _View:
        view: _View | None = self._view
        if view is None:  # the first typed read
            view = _View(_decode_json(self._raw))
            _set_view(self, view)
        return view

    @property
    def id(self) -> str | None:  # noqa: A003
        """The message's id in its store (None until a store wrote it, unless given)."""
        return self._id

    @property
    def created_at(self) -> float | None:
        """When a store first wrote it (epoch seconds, the store's clock); None before."""
        return self._created_at

    @property
    def role(self) -> str | None:
        """The payload's ``role``; None for a role-less item."""
        return self._fields().role

    @property
    def content(self) -> str | tuple[Any, ...] | None:
        """The payload's ``content``: a str, None, or a tuple of read-only parts."""
        return self._fields().content

    @property
    def name(self) -> str | None:
        """The payload's ``name``."""
        return self._fields().name

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        """The payload's ``tool_calls`` that have an id, a name and arguments, typed."""
        return self._fields().tool_calls

    @property
    def tool_call_id(self) -> str | None:
        """The payload's ``tool_call_id``."""
        return self._fields().tool_call_id

    @property
    def metadata(self) -> Mapping[str, Any]:
        """The payload's ``metadata`` (read-only; empty when there is none)."""
        return self._fields().metadata

    @property
    def extra(self) -> Mapping[str, Any]:
        """Every payload field beyond the typed ones (``type``, ``id``...), read-only."""
        return self._fields().extra

    @property
    def type(self) -> str | None:  # noqa: A003
        """The payload's ``type`` (Responses items, LangChain dicts); None when absent."""
        kind = self._fields().extra.get("type")
        return kind if isinstance(kind, str) else None

    @property
    def text(self) -> str:
        """The words: ``content`` when it is a str, else its text parts joined ("" if none)."""
        content = self.content
        if isinstance(content, str):
            return content
        if not content:
            return ""
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, Mapping) and part.get("type") in _TEXT_PARTS:
                text = part.get("text")
                if isinstance(text, str):
                    texts.append(text)
        return "".join(texts)

    @property
    def is_tool_result(self) -> bool:
        """True for a tool's answer: a ``tool`` message, a ``*_call_output`` item, a
        LangChain tool message, or a message whose content is only ``tool_result`` blocks.
        """
        view = self._fields()
        if view.role in ("tool", "function") or self.type in _RESULT_TYPES:
            return True
        content = view.content
        return (
            isinstance(content, tuple)
            and bool(content)
            and all(isinstance(p, Mapping) and p.get("type") == "tool_result" for p in content)
        )

    def to_dict(self) -> dict[str, Any]:
        """The payload exactly as given: a new dict each call (changing it changes nothing here).

        For messages built with the constructor: the OpenAI chat-message shape, ``role``
        and ``content`` always present, ``metadata`` only when non-empty.
        """
        result: dict[str, Any] = _decode_json(self._raw)
        return result

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        id: str | None = None,  # noqa: A002
        created_at: float | None = None,
    ) -> Message:
        """Keep any JSON object as a message payload (a chat message, an item, a block...).

        :param id: the message's id (beside the payload; never read from it)
        :param created_at: when it was first stored, if known
        :raises SerializationError: if ``data`` is not a JSON object, a known field has the
            wrong type, or a value cannot be held in JSON
        """
        if not isinstance(data, Mapping):
            raise SerializationError(f"a message must be a JSON object, not {_short(data)}")
        if not data:
            raise SerializationError("an empty JSON object is not a message")
        try:
            _check_known(data, "message")
            _check_json(data, "message")
            _check_stamp(id, created_at)
            raw = _encode_json(data)
        except (TypeError, ValueError, OverflowError, RecursionError) as exc:
            raise SerializationError(f"malformed message {_short(data)}: {exc}") from exc
        return cls._from_raw(raw, id, None if created_at is None else float(created_at))

    # -- value semantics ---------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        """Equal payloads: ``id`` and ``created_at`` are where it is stored, not what it says."""
        if not isinstance(other, Message):
            return NotImplemented
        return self._raw == other._raw or self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash((self.role, self.type, self.text))

    def __repr__(self) -> str:
        stamp = "" if self._id is None else f", id={self._id!r}"
        return f"Message({bytes(self._raw).decode()!r:.300}{stamp})"

    def __rich_repr__(self) -> list[tuple[str, Any]]:  # rich would show the Struct's fields
        shown = [("payload", self.to_dict())]
        return shown if self._id is None else [*shown, ("id", self._id)]


def _build(
    cls: type[Message],
    role: Role | None = None,
    content: str | Sequence[Any] | None = None,
    *,
    name: str | None = None,
    tool_calls: Iterable[ToolCall | Mapping[str, Any]] = (),
    tool_call_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    id: str | None = None,  # noqa: A002  # the SPEC's name for it
    created_at: float | None = None,
    **fields: Any,
) -> Message:
    """``Message(...)``: check every argument, then build the payload once."""
    if role is not None:
        _check_str(role, "Message.role")
        if role not in ROLES:
            raise ValueError(
                f"unknown message role {role!r}; use one of {', '.join(sorted(ROLES))}"
            )
    if isinstance(content, (str, bytes, Mapping)) or content is None:
        _check_str(content, "Message.content", optional=True)
    elif isinstance(content, Sequence):
        content = list(content)
    else:
        raise TypeError(
            f"Message.content must be a str, None or a sequence of parts, not {_short(content)}"
        )
    _check_str(name, "Message.name", optional=True)
    _check_str(tool_call_id, "Message.tool_call_id", optional=True)
    if isinstance(tool_calls, (str, bytes, Mapping)) or not isinstance(tool_calls, Iterable):
        raise TypeError(f"Message.tool_calls must be a sequence, not {_short(tool_calls)}")
    calls = [_to_tool_call(call).to_dict() for call in tool_calls]
    if metadata is not None and not isinstance(metadata, Mapping):
        raise TypeError(f"Message.metadata must be a mapping, not {_short(metadata)}")
    payload: dict[str, Any] = {}
    if role is not None:
        payload["role"] = role
        payload["content"] = content
    elif content is not None:
        payload["content"] = content
    if name is not None:
        payload["name"] = name
    if calls:
        payload["tool_calls"] = calls
    if tool_call_id is not None:
        payload["tool_call_id"] = tool_call_id
    for key in fields:
        if key in KNOWN_FIELDS:  # pragma: no cover - Python already refuses duplicates
            raise TypeError(f"Message got {key!r} twice")
    payload.update(fields)
    if metadata:
        payload["metadata"] = metadata
    if not payload:
        raise ValueError("a Message needs a role, content or payload fields")
    _check_json(payload, "Message")
    _check_stamp(id, created_at)
    raw = msgspec.Raw(_encode_json(payload))
    at = None if created_at is None else float(created_at)
    message: Message = _struct_call(cls, id, at, raw)
    return message


# The cache slot's member descriptor: setting through it skips Message.__setattr__.
_set_view: Callable[[Message, _View], None] = Message.__dict__["_view"].__set__


def _check_stamp(id: object, created_at: object) -> None:  # noqa: A002
    if id is not None:
        if not isinstance(id, str):
            raise TypeError(f"a message id must be a str or None, not {_short(id)}")
        if not 0 < len(id) <= 512 or not id.isprintable():
            raise ValueError(f"a message id must be 1 to 512 printable characters: {_short(id)}")
    if created_at is not None and (
        isinstance(created_at, bool)
        or not isinstance(created_at, (int, float))
        or not _is_finite(created_at)
    ):
        raise TypeError(f"created_at must be epoch seconds or None, not {_short(created_at)}")


def _is_finite(number: float) -> bool:
    try:
        return math.isfinite(number)
    except OverflowError:  # an int past every float (10**400): not a time
        return False


# -- ids -----------------------------------------------------------------------------------

_NODE = int.from_bytes(os.urandom(5), "big")
_COUNTER = itertools.count(int.from_bytes(os.urandom(3), "big"))


# The time and node part of the ids of the last millisecond stamped, as an int with a
# leading 1 bit, so that hex() of it plus a counter always has 31 digits: its last 30
# are the id. One int operation and hex() cost half of formatting strings.
_HEAD: tuple[int, int] = (-1, 0)


def _id_head(now: float) -> int:
    """The id bits of ``now`` (milliseconds) and of this process's node, counter zero."""
    global _HEAD
    ms = int(now * 1000)
    cached, head = _HEAD
    if ms != cached:
        head = (1 << 120) | (min(max(ms, 0), 0xFFFFFFFFFFFF) << 72) | (_NODE << 32)
        _HEAD = (ms, head)
    return head


def new_message_id(now: float) -> str:
    """A unique id that sorts by ``now``: 12 hex digits of milliseconds, 10 of this
    process's random node, 8 of a counter (ids made in one millisecond by one process
    keep their order)."""
    return hex(_id_head(now) | (next(_COUNTER) & 0xFFFFFFFF))[3:]


def stamp(messages: Sequence[Message], now: float, start: int = 0) -> list[Message]:
    """A new list of the messages, each without an id or creation time given both (``now``).

    On every write path: the id's time and node part is formatted once per call.

    :param start: the first ``start`` messages are known to be stamped already
    """
    result = list(messages[:start]) if start else []
    append = result.append
    head = 0
    for message in messages[start:] if start else messages:
        if message._id is None or message._created_at is None:
            if not head:
                head = _id_head(now)
            message_id = message._id
            if message_id is None:
                message_id = hex(head | (next(_COUNTER) & 0xFFFFFFFF))[3:]
            created_at = message._created_at
            message = _struct_call(  # Message._from_raw, inlined: the write path
                Message, message_id, now if created_at is None else created_at, message._raw
            )
        append(message)
    return result


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
    # _stamped: the first n messages are known to carry an id and a creation time (a
    # load from an in-memory store), so saving it again stamps only what was added.
    __slots__ = ("__weakref__", "_messages", "_sized", "_stamped")

    def __init__(self, messages: Iterable[Message] = ()) -> None:
        items = list(messages)
        for message in items:
            if not isinstance(message, Message):
                raise TypeError(f"a Conversation holds Message objects, not {message!r}")
        self._messages = items
        self._sized = (0, 0)
        self._stamped = 0

    @classmethod
    def _adopt(cls, messages: list[Message], size_bytes: int = -1) -> Conversation:
        # Stores build conversations from messages they already validated: no re-check.
        conversation = cls.__new__(cls)
        conversation._messages = messages
        conversation._sized = (0, 0) if size_bytes < 0 else (len(messages), size_bytes)
        conversation._stamped = 0
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
        copy._stamped = self._stamped
        return copy

    def without_cut_tool_results(self) -> Conversation:
        """This conversation less the tool results at its start (a new object).

        A tail read (``load(..., last=N)``) can start just after a tool call, with its
        result; most model APIs refuse a result whose call they did not see. The
        messages dropped are those :attr:`Message.is_tool_result` calls results.
        """
        messages = self._messages
        start = 0
        while start < len(messages) and messages[start].is_tool_result:
            start += 1
        return Conversation._adopt(messages[start:])

    def to_dicts(self) -> list[dict[str, Any]]:
        """The payloads, as given (OpenAI chat-message dicts for chat messages)."""
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
    raise TypeError(f"expected a Conversation, not {_short(value)} of type {type(value).__name__}")
