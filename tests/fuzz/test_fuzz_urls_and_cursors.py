"""Fuzzing store URLs and ``find_sessions`` cursors.

``parse_store_url`` takes any text and raises ``ValueError`` for what it cannot read
(``TypeError`` for what is not a str); ``open_store`` / ``open_async_store`` of a
``memory://``, ``cache://`` or ``sqlite://:memory:`` URL give a working store or raise
``ValueError``. PostgreSQL and Redis URLs are only parsed here: nothing connects
anywhere, and no SQLite file is created. A cursor that this library did not make
raises ``ValueError`` (``TypeError`` if it is not a str), and one of any position
pages exactly like the plain model of the keyset order (docs/errors-by-input.md).
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_session import (
    AsyncSessionStore,
    Conversation,
    InMemoryStore,
    SessionStore,
    SQLiteStore,
    open_async_store,
    open_store,
)
from agent_session._paging import decode_cursor, encode_cursor
from agent_session._urls import _SPECS, StoreURL, parse_store_url
from agent_session.testing import FakeClock

from .strategies import (
    FUZZ,
    binary_or_text,
    json_text,
    json_values,
    text_with_surrogates,
)

# The anyio_backend fixture is a plain string per test: no state for examples to share.
ASYNC_FUZZ = settings(
    FUZZ, suppress_health_check=[*FUZZ.suppress_health_check, HealthCheck.function_scoped_fixture]
)
#: The stores these tests open; the rest are only parsed.
OPENED = {"memory", "cache", "sqlite"}

# -- URLs ------------------------------------------------------------------------------------

_option_names = st.sampled_from(
    sorted({name for spec in _SPECS.values() for name in spec.options} | {"ttl", "colour", ""})
)
#: Option values as text: numbers in and out of range, NaN, non-ASCII digits, booleans
#: and not-quite booleans, percent escapes, empty.
_option_values = (
    st.sampled_from(
        [
            "",
            "0",
            "1",
            "-1",
            "2",
            "16",
            "1024",
            "3",
            "2147483648",
            "9223372036854775808",
            "1" + "0" * 40,
            "1" + "0" * 5000,
            "nan",
            "inf",
            "-inf",
            "1e999",
            "1e300",
            "5e-324",
            "0.5",
            "-0",
            "\u0661\u0662",
            " 7 ",
            "1_000",
            "true",
            "off",
            "YES",
            "maybe",
            "NORMAL",
            "full",
            "Extra",
            "%ff",
            "%00",
            "p:",
            "{x}",
        ]
    )
    | st.integers().map(str)
    | st.floats().map(repr)
    | st.text(max_size=8)
    | text_with_surrogates
)
_schemes = st.sampled_from(
    sorted(_SPECS) + ["MEMORY", "Sqlite", "ftp", "http", "", "memory+x", "c"]
)
_netlocs = st.sampled_from(
    ["", ":memory:", "h", "u@h:5432", "u:p@h", "[::1]:6379", "[", "h:abc", "h:99999", "%zz"]
) | st.text(max_size=8)
_paths = st.sampled_from(
    ["", "/", "/:memory:", ":memory:", "/x.db", "//abs/x.db", "/0", "/db"]
) | st.text(max_size=8)


def _quoted(text: str) -> str:
    return quote(text, safe="", errors="surrogatepass")  # a lone surrogate as %ED%A0%80


@st.composite
def store_urls(draw: st.DrawFn) -> str:
    """URLs built from parts most stores know, with options of every kind of value."""
    pairs = draw(
        st.lists(st.tuples(_option_names | st.text(max_size=6), _option_values), max_size=4)
    )
    encode = draw(st.sampled_from(["quote", "raw"]))
    if encode == "quote":
        query = "&".join(f"{_quoted(n)}={_quoted(v)}" for n, v in pairs)
    else:  # as typed: '&', '=', '%' and '+' as they come
        query = "&".join(f"{n}={v}" if draw(st.booleans()) else n for n, v in pairs)
    url = f"{draw(_schemes)}://{draw(_netlocs)}{draw(_paths)}"
    return f"{url}?{query}" if query or draw(st.booleans()) else url


def _checked(url: str) -> StoreURL | None:
    """The parsed URL, after checking what it holds; None if refused with ValueError."""
    try:
        parsed = parse_store_url(url)
    except ValueError:
        return None
    spec = _SPECS[urlsplit(url).scheme.lower()]
    assert parsed.kind == spec.kind
    for name, value in parsed.options.items():
        kind = spec.options.get(name)
        if name in spec.defaults and value == spec.defaults[name]:
            continue
        expected = {"bool": bool, int: int, float: float, str: str}[kind]
        assert type(value) is expected, (name, value)
    if spec.driver_parameters:
        # The driver keeps its own parameters, in order; ours are gone from its URL.
        given_ = parse_qsl(urlsplit(url).query, keep_blank_values=True)
        kept = parse_qsl(urlsplit(parsed.target).query, keep_blank_values=True)
        assert kept == [(n, v) for n, v in given_ if n not in spec.options]
    return parsed


def _can_open(parsed: StoreURL | None) -> bool:
    return (
        parsed is not None
        and parsed.kind in OPENED
        and (parsed.kind != "sqlite" or parsed.target == ":memory:")  # never a file
    )


@FUZZ
@given(url=st.text() | text_with_surrogates | store_urls())
def test_any_url_parses_or_raises_value_error(url: str) -> None:
    _checked(url)


@FUZZ
@given(url=json_values.filter(lambda v: not isinstance(v, str)) | st.binary(max_size=8))
def test_a_url_that_is_not_a_str_raises_type_error(url: Any) -> None:
    with pytest.raises(TypeError):
        parse_store_url(url)
    with pytest.raises(TypeError):
        open_store(url)


@FUZZ
@given(url=store_urls())
def test_a_memory_cache_or_sqlite_url_opens_a_working_store_or_raises_value_error(url: str) -> None:
    parsed = _checked(url)
    if not _can_open(parsed):
        return
    try:
        store = open_store(url)
    except ValueError:
        return
    with store:
        assert isinstance(store, SessionStore) and store.name == parsed.kind  # type: ignore[union-attr]
        assert not store.exists("nobody")
        assert store.find_sessions(limit=1).items == []


@ASYNC_FUZZ
@given(url=store_urls())
async def test_the_async_flavour_opens_the_same_urls(url: str) -> None:
    parsed = _checked(url)
    if not _can_open(parsed):
        return
    try:
        store = open_async_store(url)
    except ValueError:
        return
    try:
        assert isinstance(store, AsyncSessionStore) and store.name == parsed.kind  # type: ignore[union-attr]
        assert not await store.exists("nobody")
        assert (await store.find_sessions(limit=1)).items == []
    finally:
        await store.aclose()


def test_a_huge_stripes_option_is_refused() -> None:
    # stripes=2**26 would allocate 67 million stripes (minutes, gigabytes) before
    # failing; 2**40 fails at once with MemoryError, where ValueError is documented.
    with pytest.raises(ValueError, match="stripes"):
        open_store(f"memory://?stripes={2**40}")


# -- cursors ---------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


#: The two halves of a position, as JSON text: any value, JSON-like text, numbers out
#: of range, NaN, booleans, lone surrogate escapes, control characters.
_position_parts = (
    json_values.map(json.dumps)
    | json_text
    | st.sampled_from(
        [
            "1e999",
            "NaN",
            "-Infinity",
            "1" + "0" * 400,
            "true",
            '"\\ud800"',
            '"a\\udfff"',
            '"\\u0000"',
        ]
    )
)
cursors = (
    binary_or_text.map(lambda x: x if isinstance(x, str) else _b64(x))
    | json_text.map(lambda t: _b64(t.encode("utf-8", "surrogatepass")))
    | st.tuples(_position_parts, _position_parts).map(
        lambda p: _b64(f"[{p[0]},{p[1]}]".encode("utf-8", "surrogatepass"))
    )
    | st.builds(
        encode_cursor, st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8)
    ).map(lambda c: c[: len(c) // 2])  # a real cursor, cut
)


@FUZZ
@given(cursor=cursors)
def test_a_cursor_decodes_or_raises_value_error(cursor: str) -> None:
    try:
        updated_at, session_id = decode_cursor(cursor)
    except ValueError as exc:
        assert "cursor" in str(exc) and len(str(exc)) < 300
        return
    assert type(updated_at) is float and math.isfinite(updated_at)
    assert isinstance(session_id, str)
    session_id.encode("utf-8")  # a position a store can compare: no lone surrogate
    assert decode_cursor(encode_cursor(updated_at, session_id)) == (updated_at, session_id)


@FUZZ
@given(
    updated_at=st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**53), 2**53),
    session_id=st.text(),
)
def test_every_position_round_trips_through_a_cursor(updated_at: float, session_id: str) -> None:
    cursor = encode_cursor(updated_at, session_id)
    assert cursor.isascii()
    assert decode_cursor(cursor) == (float(updated_at), session_id)


def test_a_cursor_naming_a_lone_surrogate_is_a_value_error() -> None:
    # Regression: it decoded, then SQLiteStore.find_sessions raised UnicodeEncodeError
    # binding it; no store can hold such a session id.
    bad = _b64(b'[1700000000.0,"\\ud800"]')
    with pytest.raises(ValueError, match="invalid cursor"):
        decode_cursor(bad)
    with SQLiteStore(":memory:") as store, pytest.raises(ValueError, match="invalid cursor"):
        store.find_sessions(cursor=bad)


# -- find_sessions(cursor=...) against the model of keyset order ----------------------------

#: (session id, updated_at): ties in time, ids that sort by code point.
SESSIONS = [
    ("a", 100.0),
    ("b", 100.0),
    ("a b", 100.0),
    ("é", 50.5),
    ("z", 50.5),
    ("\U0001f600", 50.5),
    ("user/1", -3.0),
    ("x" * 40, 1e9),
]


@pytest.fixture(scope="module")
def stores() -> Iterator[list[SessionStore]]:
    clock = FakeClock(0.0)
    made: list[SessionStore] = [InMemoryStore(clock=clock), SQLiteStore(":memory:", clock=clock)]
    for store in made:
        for session_id, updated_at in SESSIONS:
            clock.set(updated_at)
            store.save(session_id, Conversation().add_user(session_id))
    yield made
    for store in made:
        store.close()


def _after(updated_at: float, session_id: str) -> list[str]:
    """The model: newest updated_at first, ties by id; what lies after the position."""
    order = sorted(SESSIONS, key=lambda s: (-s[1], s[0]))
    return [sid for sid, at in order if at < updated_at or (at == updated_at and sid > session_id)]


_positions = st.tuples(
    st.sampled_from([at for _, at in SESSIONS]) | st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([sid for sid, _ in SESSIONS]) | st.text(max_size=4),
)


@FUZZ
@given(position=_positions, limit=st.integers(1, 4))
def test_paging_from_any_position_follows_the_keyset_order(
    stores: list[SessionStore], position: tuple[float, str], limit: int
) -> None:
    expected = _after(*position)
    for store in stores:
        seen: list[str] = []
        cursor: str | None = encode_cursor(*position)
        while cursor is not None:
            page = store.find_sessions(limit=limit, cursor=cursor)
            assert len(page.items) <= limit
            seen += [meta.session_id for meta in page.items]
            cursor = page.next_cursor
            assert len(seen) <= len(SESSIONS), "paging does not end"
        assert seen == expected, store.name


@FUZZ
@given(cursor=cursors | st.text(max_size=10))
def test_find_sessions_with_any_cursor_pages_or_raises_value_error(
    stores: list[SessionStore], cursor: str
) -> None:
    answers: list[list[str] | None] = []
    for store in stores:
        try:
            page = store.find_sessions(limit=3, cursor=cursor)
        except ValueError as exc:
            assert "cursor" in str(exc)
            answers.append(None)
        else:
            answers.append([meta.session_id for meta in page.items])
    assert answers[0] == answers[1], "the stores disagree"
    if answers[0] is not None:
        assert answers[0] == _after(*decode_cursor(cursor))[:3]


@FUZZ
@given(cursor=json_values.filter(lambda v: v is not None and not isinstance(v, str)) | st.binary())
def test_a_cursor_that_is_not_a_str_raises_type_error(
    stores: list[SessionStore], cursor: Any
) -> None:
    for store in stores:
        with pytest.raises(TypeError, match="cursor"):
            store.find_sessions(cursor=cursor)
