"""What the commands print for a person: tables, conversations, times; and their JSON."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from .._metadata import SessionMetadata
from .._model import Conversation, Message
from .._serialization import encode_message

__all__ = [
    "clean",
    "conversation_view",
    "metadata_json",
    "redact",
    "sessions_table",
    "sessions_tsv",
    "show_json",
    "when",
]

# C0 and C1 controls (but newline and tab) and the bidirectional overrides: stored text
# is the caller's data, and must not move the cursor or recolour the terminal.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
#: A part or item shown as JSON is cut here (the whole is in ``show --json``).
_MAX_JSON = 400
_DATA_URL = re.compile(r"data:([^;,]*)(;base64)?,(.*)", re.DOTALL)


def clean(text: str) -> str:
    """``text`` with control characters written as escapes (``\\x1b``), safe to print."""
    return _UNSAFE.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def redact(url: str) -> str:
    """``url`` without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def when(epoch: float | None, never: str = "never") -> str:
    """Local time to the second, as a person reads it."""
    if epoch is None:
        return never
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def _labels_text(labels: Mapping[str, str]) -> str:
    return ", ".join(f"{clean(k)}={clean(v)}" for k, v in sorted(labels.items()))


def metadata_json(meta: SessionMetadata) -> dict[str, Any]:
    """The metadata as ``ls --json`` and ``show --json`` give it."""
    return {
        "session_id": meta.session_id,
        "message_count": meta.message_count,
        "size_bytes": meta.size_bytes,
        "version": meta.version,
        "created_at": meta.created_at,
        "updated_at": meta.updated_at,
        "expires_at": meta.expires_at,
        "labels": dict(sorted(meta.labels.items())),
    }


def sessions_table(rows: Iterable[SessionMetadata]) -> Table:
    """``ls`` on a terminal."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("SESSION", overflow="fold")
    table.add_column("MESSAGES", justify="right")
    table.add_column("UPDATED", no_wrap=True)
    table.add_column("EXPIRES", no_wrap=True)
    table.add_column("LABELS", overflow="fold")
    for meta in rows:
        table.add_row(
            Text(clean(meta.session_id)),
            str(meta.message_count),
            when(meta.updated_at),
            when(meta.expires_at),
            Text(_labels_text(meta.labels)),
        )
    return table


def sessions_tsv(meta: SessionMetadata) -> str:
    """``ls`` piped: one tab-separated line per session, no header (``cut -f1``: the ids)."""
    fields = [
        meta.session_id,
        str(meta.message_count),
        when(meta.updated_at),
        when(meta.expires_at, "-"),
        _labels_text(meta.labels) or "-",
    ]
    return "\t".join(clean(f).replace("\t", " ") for f in fields)


def show_json(meta: SessionMetadata, conversation: Conversation) -> str:
    """``show --json``: the metadata and the messages as stored rows (the wire format)."""
    rows = [json.loads(encode_message(message)) for message in conversation]
    document = {"session_id": meta.session_id, "metadata": metadata_json(meta), "messages": rows}
    return json.dumps(document, ensure_ascii=False, indent=2)


# -- show ------------------------------------------------------------------------------------


def _short_json(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if len(text) > _MAX_JSON:
        text = f"{text[:_MAX_JSON]}... ({len(text) - _MAX_JSON} more characters; see --json)"
    return clean(text)


def _url(url: object) -> str:
    if not isinstance(url, str):
        return _short_json(url)
    match = _DATA_URL.match(url)
    if match:  # an inline image: its type and size, not a screen of base64
        return f"data:{match.group(1)}{match.group(2) or ''},... ({len(match.group(3))} characters)"
    return clean(url if len(url) <= _MAX_JSON else url[:_MAX_JSON] + "...")


def _part(part: object) -> Text:
    """One content part: its words, or its type and a short form of the rest."""
    if isinstance(part, str):
        return Text(clean(part))
    if not isinstance(part, Mapping):
        return Text(_short_json(part), style="dim")
    kind = part.get("type")
    rest = {k: v for k, v in part.items() if k != "type"}
    text = part.get("text")
    if kind in ("text", "input_text", "output_text") and isinstance(text, str):
        if len(rest) == 1:
            return Text(clean(text))
        extra = {k: v for k, v in rest.items() if k != "text"}
        return Text.assemble(clean(text), ("\n", ""), (_short_json(extra), "dim"))
    label = Text(f"[{clean(str(kind))}] ", style="bold magenta")
    if kind in ("image_url", "input_image"):
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, Mapping) else image
        if url is not None:
            return label.append(_url(url))
    if kind == "refusal" and isinstance(part.get("refusal"), str):
        return label.append(clean(part["refusal"]))
    words = text if isinstance(text, str) else part.get("thinking")
    if isinstance(words, str):  # Anthropic thinking, summaries...: parts that carry words
        return label.append(clean(words))
    return label.append(_short_json(rest), style="dim")


def _body(message: Message) -> list[RenderableType]:
    parts: list[RenderableType] = []
    content = message.content
    if isinstance(content, str):
        if content:
            parts.append(Text(clean(content)))
    elif content is not None:
        parts.extend(_part(part) for part in content)
    for call in message.tool_calls:
        parts.append(
            Text.assemble(
                ("call ", "yellow"),
                (clean(call.name), "bold yellow"),
                f"({clean(call.arguments)})",
                (f"  id {clean(call.id)}", "dim"),
            )
        )
    payload = message.to_dict()
    if message.role is None:  # a role-less item: its words if it has any, else its fields
        words = message.text
        if words:
            parts.append(Text(clean(words)))
        else:
            rest = {k: v for k, v in payload.items() if k != "type"}
            parts.append(Text(_short_json(rest), style="dim"))
    else:
        shown = {"role", "content", "name", "tool_calls", "tool_call_id", "metadata"}
        extra = {k: v for k, v in payload.items() if k not in shown}
        if extra:
            parts.append(Text(_short_json(extra), style="dim"))
    if message.metadata:
        parts.append(Text("metadata " + _short_json(dict(message.metadata)), style="dim"))
    return parts


_ROLE_STYLE = {
    "system": "bold cyan",
    "developer": "bold cyan",
    "user": "bold green",
    "assistant": "bold blue",
    "tool": "bold yellow",
}


def _title(message: Message) -> Text:
    role = message.role
    head = Text(
        clean(role or str(message.type or "item")), style=_ROLE_STYLE.get(role or "", "bold")
    )
    if message.name:
        head.append(f" ({clean(message.name)})")
    if message.tool_call_id:
        head.append(f" for {clean(message.tool_call_id)}", style="yellow")
    if message.created_at is not None:
        head.append(f"  {when(message.created_at)}", style="dim")
    return head


def conversation_view(meta: SessionMetadata, conversation: Conversation) -> RenderableType:
    """``show``: a header, then each message under a rule naming its role."""
    header = Table.grid(padding=(0, 2))
    header.add_column(style="bold")
    header.add_column()
    header.add_row("session", Text(clean(meta.session_id)))
    header.add_row(
        "messages",
        f"{meta.message_count} ({meta.size_bytes} bytes), version {meta.version}",
    )
    header.add_row("updated", when(meta.updated_at))
    header.add_row("created", when(meta.created_at))
    header.add_row("expires", when(meta.expires_at))
    if meta.labels:
        header.add_row("labels", Text(_labels_text(meta.labels)))
    items: list[RenderableType] = [header]
    for message in conversation:
        items.append(Rule(_title(message), align="left", style="dim"))
        items.extend(Padding(part, (0, 0, 0, 2), expand=False) for part in _body(message))
    return Group(*items)


def print_lines(console: Console, lines: Iterable[str]) -> None:
    """Plain lines, no markup or highlighting."""
    for line in lines:
        console.print(line, markup=False, highlight=False, soft_wrap=True)
