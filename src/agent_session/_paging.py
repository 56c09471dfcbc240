"""Keyset cursors for :meth:`find_sessions`: newest ``updated_at`` first, ties by id."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterable, Mapping

from ._metadata import Page, SessionMetadata
from ._validation import check_labels, check_limit

__all__ = ["FindQuery", "decode_cursor", "encode_cursor", "page_of", "prefix_upper_bound"]


def encode_cursor(updated_at: float, session_id: str) -> str:
    """An opaque cursor pointing just after ``(updated_at, session_id)``."""
    raw = json.dumps([updated_at, session_id], separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """The position a cursor from :func:`encode_cursor` points after.

    :raises ValueError: if ``cursor`` was not made by this library
    """
    try:
        updated_at, session_id = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
        if not isinstance(session_id, str) or not math.isfinite(updated_at):
            raise ValueError
        session_id.encode("utf-8")  # a lone surrogate: no store holds, or can compare, it
        return float(updated_at), session_id
    except (ValueError, TypeError, AttributeError, UnicodeError, OverflowError, RecursionError):
        raise ValueError(
            f"invalid cursor {cursor!r:.80}: pass the next_cursor of a previous page"
        ) from None


class FindQuery:
    """The validated arguments of ``find_sessions``."""

    __slots__ = ("after", "cursor", "labels", "limit", "updated_after", "updated_before")

    def __init__(
        self,
        labels: Mapping[str, str] | None,
        updated_after: float | None,
        updated_before: float | None,
        limit: int,
        cursor: str | None,
    ) -> None:
        if labels is not None:
            labels = check_labels(labels)
        for name, value in (("updated_after", updated_after), ("updated_before", updated_before)):
            if value is not None and (
                not isinstance(value, (int, float)) or isinstance(value, bool)
            ):
                raise TypeError(f"{name} must be epoch seconds (a number) or None, not {value!r}")
            # NaN compares false in Python but above every number in PostgreSQL: refuse it
            # rather than let stores disagree.
            try:
                bad = value is not None and math.isnan(value)
            except OverflowError:  # an int past every float
                bad = True
            if bad:
                raise ValueError(f"{name} must be epoch seconds or None, not {value!r:.40}")
        checked = check_limit(limit)
        if checked is None:
            raise TypeError("limit must be a positive int")
        if cursor is not None and not isinstance(cursor, str):
            raise TypeError(f"cursor must be a str or None, not {cursor!r}")
        self.labels = dict(labels) if labels else {}
        self.updated_after = None if updated_after is None else float(updated_after)
        self.updated_before = None if updated_before is None else float(updated_before)
        self.limit = checked
        self.cursor = cursor
        self.after = None if cursor is None else decode_cursor(cursor)

    def matches(self, meta: SessionMetadata) -> bool:
        """True if ``meta`` passes the filters and lies after the cursor."""
        if self.updated_after is not None and not meta.updated_at > self.updated_after:
            return False
        if self.updated_before is not None and not meta.updated_at < self.updated_before:
            return False
        if self.after is not None:
            at, sid = self.after
            # Keyset order is (updated_at descending, session_id ascending).
            if not (meta.updated_at < at or (meta.updated_at == at and meta.session_id > sid)):
                return False
        labels = meta.labels
        return all(labels.get(k) == v for k, v in self.labels.items())


def page_of(query: FindQuery, candidates: Iterable[SessionMetadata]) -> Page:
    """Sort matching candidates newest first and cut one page (for scanning stores)."""
    found = sorted(
        (meta for meta in candidates if query.matches(meta)),
        key=lambda meta: (-meta.updated_at, meta.session_id),
    )
    items = found[: query.limit]
    more = len(found) > query.limit
    cursor = encode_cursor(items[-1].updated_at, items[-1].session_id) if more else None
    return Page(items, cursor)


def prefix_upper_bound(prefix: str) -> str | None:
    """The least string above every string starting with ``prefix`` (None: no bound)."""
    for i in range(len(prefix) - 1, -1, -1):
        code = ord(prefix[i])
        if code < 0x10FFFF:
            nxt = code + 1
            if 0xD800 <= nxt <= 0xDFFF:  # surrogates cannot be encoded: skip past them
                nxt = 0xE000
            return prefix[:i] + chr(nxt)
    return None
