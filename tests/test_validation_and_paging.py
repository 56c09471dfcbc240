"""Input checks, cursors and store URLs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from agent_session import DEFAULT, InvalidSessionId, SessionMetadata
from agent_session._paging import FindQuery, decode_cursor, encode_cursor, page_of
from agent_session._urls import parse_store_url
from agent_session._validation import check_session_id, check_ttl


@pytest.mark.parametrize("good", ["a", "x" * 512, "ünïcode ✈", "with spaces", "a:b/c"])
def test_valid_session_ids(good: str) -> None:
    assert check_session_id(good) == good


@pytest.mark.parametrize("bad", ["", "x" * 513, "\x00", "a\x1fb", "\x7f", "\x85", "a\nb", 5, None])
def test_invalid_session_ids(bad: object) -> None:
    with pytest.raises(InvalidSessionId) as info:
        check_session_id(bad)
    assert isinstance(info.value, ValueError)
    assert repr(bad)[:20].strip("'") in str(info.value) or bad == "x" * 513


def test_ttls() -> None:
    assert check_ttl(5) == 5.0
    assert check_ttl(timedelta(minutes=2)) == 120.0
    assert check_ttl(None) is None
    for bad in [0, -1, float("nan"), float("inf")]:
        with pytest.raises(ValueError, match="ttl"):
            check_ttl(bad)
    for wrong in ["5", True]:
        with pytest.raises(TypeError):
            check_ttl(wrong)
    assert repr(DEFAULT) == "DEFAULT"


def test_cursors() -> None:
    assert decode_cursor(encode_cursor(12.5, "s:ü")) == (12.5, "s:ü")
    for bad in ["", "!!!", encode_cursor(1.0, "x")[:-4]]:
        with pytest.raises(ValueError, match="cursor"):
            decode_cursor(bad)


def meta(session_id: str, updated: float, **labels: str) -> SessionMetadata:
    return SessionMetadata(session_id, 0.0, updated, None, 0, 0, 1, labels)


def test_page_of_orders_filters_and_pages() -> None:
    metas = [meta("b", 2), meta("a", 2), meta("c", 3, k="v"), meta("d", 1, k="v")]
    first = page_of(FindQuery(None, None, None, 2, None), metas)
    assert [m.session_id for m in first.items] == ["c", "a"]
    second = page_of(FindQuery(None, None, None, 2, first.next_cursor), metas)
    assert [m.session_id for m in second.items] == ["b", "d"] and second.next_cursor is None
    labelled = page_of(FindQuery({"k": "v"}, None, None, 10, None), metas)
    assert [m.session_id for m in labelled.items] == ["c", "d"]
    window = page_of(FindQuery(None, 1, 3, 10, None), metas)
    assert [m.session_id for m in window.items] == ["a", "b"]
    with pytest.raises(ValueError):
        FindQuery(None, None, None, 0, None)
    with pytest.raises(TypeError):
        FindQuery({"k": 1}, None, None, 10, None)  # type: ignore[dict-item]


def test_store_urls() -> None:
    assert parse_store_url("memory://?capacity=5").options == {"capacity": 5}
    cache = parse_store_url("cache://?ttl=300&capacity=10")
    assert cache.kind == "cache" and cache.options == {"ttl": 300.0, "capacity": 10}
    assert parse_store_url("sqlite:///rel/path.db").target == "rel/path.db"
    assert parse_store_url("sqlite:////abs/path.db").target == "/abs/path.db"
    assert parse_store_url("sqlite://:memory:").target == ":memory:"
    pg = parse_store_url("postgresql://u@h/db?sslmode=disable&table_prefix=x_")
    assert pg.target == "postgresql://u@h/db?sslmode=disable"
    assert pg.options == {"table_prefix": "x_"}
    assert parse_store_url("rediss://h:6380/0?prefix=p:").options == {"prefix": "p:"}
    for bad, match in [
        ("ftp://x", "scheme"),
        ("memory://?colour=blue", "colour"),
        ("cache://?ttl=soon", "soon"),
        ("memory://?sliding=maybe", "maybe"),
        ("sqlite://host/x.db", "host"),
    ]:
        with pytest.raises(ValueError, match=match):
            parse_store_url(bad)
