"""Keyset cursors, ``FindQuery`` and ``page_of``: newest ``updated_at`` first, ties by id."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from agent_session import SessionMetadata
from agent_session._paging import FindQuery, decode_cursor, encode_cursor, page_of


def meta(session_id: str, updated: float, **labels: str) -> SessionMetadata:
    return SessionMetadata(session_id, 0.0, updated, None, 0, 0, 1, labels)


def query(
    labels: dict[str, str] | None = None,
    after: float | None = None,
    before: float | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> FindQuery:
    return FindQuery(labels, after, before, limit, cursor)


def ids(metas: list[SessionMetadata]) -> list[str]:
    return [m.session_id for m in metas]


# --- cursors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("updated_at", "session_id"),
    [
        (12.5, "s:ü"),
        (0.0, "a"),
        (1_732_500_000.123456, "user/42"),
        (1e-9, "x" * 512),
        (-5.0, "neg"),
        (1.0, '"quotes" and \\'),
        (3.0, "✈ \U0001f600"),
    ],
)
def test_cursor_round_trip(updated_at: float, session_id: str) -> None:
    cursor = encode_cursor(updated_at, session_id)
    assert isinstance(cursor, str) and cursor.isascii()
    assert decode_cursor(cursor) == (updated_at, session_id)


def _b64(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "!!!",
        "not a cursor",
        "é",
        encode_cursor(1.0, "x")[:-4],
        _b64([1.0]),
        _b64([1.0, "x", "extra"]),
        _b64([1.0, 2]),
        _b64(["1.0", "x"]),
        _b64([None, "x"]),
        _b64({"a": 1, "b": 2}),
        _b64("x"),
        _b64(5),
        base64.urlsafe_b64encode(b'[NaN, "x"]').decode(),
        base64.urlsafe_b64encode(b'[Infinity, "x"]').decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_bad_cursors(bad: str) -> None:
    with pytest.raises(ValueError, match="cursor") as info:
        decode_cursor(bad)
    assert "next_cursor" in str(info.value)  # says what to pass instead


def test_a_bad_cursor_fails_the_query() -> None:
    with pytest.raises(ValueError, match="cursor"):
        query(cursor="garbage")
    with pytest.raises(TypeError, match="cursor"):
        query(cursor=5)  # type: ignore[arg-type]


# --- FindQuery: validation -------------------------------------------------------------


def test_query_defaults() -> None:
    q = query()
    assert (q.labels, q.updated_after, q.updated_before, q.limit, q.cursor, q.after) == (
        {},
        None,
        None,
        100,
        None,
        None,
    )
    q = query({"k": "v"}, 1, 2, 5, encode_cursor(3.0, "s"))
    assert q.labels == {"k": "v"} and q.updated_after == 1.0 and q.updated_before == 2.0
    assert q.limit == 5 and q.after == (3.0, "s")


@pytest.mark.parametrize(
    ("kwargs", "error", "shown"),
    [
        ({"limit": 0}, ValueError, "0"),
        ({"limit": -1}, ValueError, "-1"),
        ({"limit": None}, TypeError, "limit"),
        ({"limit": True}, TypeError, "True"),
        ({"limit": 2.0}, TypeError, "2.0"),
        ({"labels": {"k": 1}}, TypeError, "1"),
        ({"labels": {1: "v"}}, TypeError, "1"),
        ({"labels": [("k", "v")]}, TypeError, "[('k', 'v')]"),
        ({"labels": {"k": "\ud800"}}, ValueError, "'\\ud800'"),
        ({"after": "yesterday"}, TypeError, "'yesterday'"),
        ({"after": True}, TypeError, "True"),
        ({"before": [1]}, TypeError, "[1]"),
        ({"after": float("nan")}, ValueError, "nan"),
        ({"before": float("nan")}, ValueError, "nan"),
    ],
)
def test_query_validation(kwargs: dict[str, Any], error: type[Exception], shown: str) -> None:
    with pytest.raises(error) as info:
        query(**kwargs)
    assert shown in str(info.value)


def test_query_copies_the_labels() -> None:
    labels = {"k": "v"}
    q = query(labels)
    labels["k"] = "changed"
    assert q.matches(meta("a", 1, k="v"))


# --- FindQuery: matching ---------------------------------------------------------------


def test_bounds_are_exclusive() -> None:
    q = query(after=1.0, before=3.0)
    assert [q.matches(meta("s", t)) for t in (0.5, 1.0, 1.5, 2.999, 3.0, 4.0)] == [
        False,
        False,
        True,
        True,
        False,
        False,
    ]
    assert query(after=1.0).matches(meta("s", 1e12))
    assert query(before=3.0).matches(meta("s", -1.0))
    assert query(before=float("inf")).matches(meta("s", 1e12))


def test_labels_must_all_match() -> None:
    q = query({"team": "a", "env": "prod"})
    assert q.matches(meta("s", 1, team="a", env="prod"))
    assert q.matches(meta("s", 1, team="a", env="prod", extra="x"))  # a superset matches
    assert not q.matches(meta("s", 1, team="a"))
    assert not q.matches(meta("s", 1, team="a", env="dev"))
    assert not q.matches(meta("s", 1, team="b", env="prod"))
    assert not q.matches(meta("s", 1))
    assert query({}).matches(meta("s", 1)) and query().matches(meta("s", 1, k="v"))
    assert not query({"k": ""}).matches(meta("s", 1))  # an empty value is still a value


def test_keyset_is_strictly_after_the_cursor() -> None:
    q = query(cursor=encode_cursor(5.0, "m"))
    assert not q.matches(meta("m", 5.0))  # the cursor's own item
    assert not q.matches(meta("a", 5.0))  # same time, earlier id: came before
    assert q.matches(meta("z", 5.0))  # same time, later id: comes after
    assert q.matches(meta("a", 4.0))  # older: comes after
    assert not q.matches(meta("z", 6.0))  # newer: came before


# --- page_of ---------------------------------------------------------------------------


def test_page_order_newest_first_ties_by_id() -> None:
    metas = [meta("b", 2), meta("a", 2), meta("c", 3), meta("d", 1), meta("aa", 2)]
    page = page_of(query(), metas)
    assert ids(page.items) == ["c", "a", "aa", "b", "d"]
    assert page.next_cursor is None


def test_page_filters_before_cutting() -> None:
    metas = [meta("b", 2), meta("a", 2), meta("c", 3, k="v"), meta("d", 1, k="v")]
    assert ids(page_of(query({"k": "v"}), metas).items) == ["c", "d"]
    assert ids(page_of(query(after=1, before=3), metas).items) == ["a", "b"]
    labelled = page_of(query({"k": "v"}, limit=1), metas)
    assert ids(labelled.items) == ["c"] and labelled.next_cursor is not None
    rest = page_of(query({"k": "v"}, limit=1, cursor=labelled.next_cursor), metas)
    assert ids(rest.items) == ["d"] and rest.next_cursor is None


def test_next_cursor_is_none_on_the_last_page() -> None:
    metas = [meta(f"s{i}", float(i)) for i in range(4)]
    exact = page_of(query(limit=4), metas)
    assert len(exact.items) == 4 and exact.next_cursor is None  # no empty page after a full one
    first = page_of(query(limit=3), metas)
    assert first.next_cursor is not None
    assert decode_cursor(first.next_cursor) == (1.0, "s1")  # points at the last item
    empty = page_of(query(), [])
    assert empty.items == [] and empty.next_cursor is None


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 50])
def test_paging_yields_every_item_exactly_once(limit: int) -> None:
    # Many ties in updated_at, so page boundaries fall inside runs of equal times.
    metas = [meta(f"s{i:02d}", float(i % 4), k="v" if i % 3 else "w") for i in range(40)]
    expected = ids(sorted(metas, key=lambda m: (-m.updated_at, m.session_id)))
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = page_of(query(limit=limit, cursor=cursor), reversed(metas))
        assert len(page.items) <= limit
        seen.extend(ids(page.items))
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
        assert pages <= 40, "paging does not end"
    assert seen == expected
    assert pages == -(-len(metas) // limit)


def test_writes_between_pages_are_not_returned_twice() -> None:
    metas = {m.session_id: m for m in (meta(f"s{i}", float(i)) for i in range(6))}
    first = page_of(query(limit=3), metas.values())
    assert ids(first.items) == ["s5", "s4", "s3"]
    metas["s4"] = meta("s4", 10.0)  # written again: moves to the front
    metas["s0"] = meta("s0", 11.0)  # not yet seen: moves to the front, past the cursor
    second = page_of(query(limit=3, cursor=first.next_cursor), metas.values())
    assert ids(second.items) == ["s2", "s1"]
