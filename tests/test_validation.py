"""Checks of caller input, done before any backend is touched; the ``DEFAULT`` marker."""

from __future__ import annotations

from collections import OrderedDict
from datetime import timedelta
from types import MappingProxyType
from typing import Any

import pytest

import agent_session
from agent_session import CapacityExceeded, InvalidSessionId, Message, SessionError
from agent_session._serialization import message_size
from agent_session._validation import (
    DEFAULT,
    MAX_SESSION_ID_LENGTH,
    Default,
    Limits,
    check_expected_version,
    check_labels,
    check_last,
    check_prefix,
    check_session_id,
    check_ttl,
)

# --- session ids -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "good",
    [
        "a",
        "x" * 512,
        "ünïcode ✈ 日本 \U0001f600",
        "with spaces",
        " leading and trailing ",
        "a:b/c?d#e%f",
        "\u2028",  # a line separator is not a control character
        "é" * 512,  # 512 characters, more bytes
    ],
)
def test_valid_session_ids(good: str) -> None:
    assert check_session_id(good) is good


def test_the_limit_is_512() -> None:
    assert MAX_SESSION_ID_LENGTH == 512


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "x" * 513,
        "é" * 513,
        "\x00",
        "a\x00b",
        "\x1f",
        "a\x1fb",
        "\x7f",
        "\x85",
        "\x9f",
        "\n",
        "a\nb",
        "tab\t",
        "\r",
        "lone \ud800 surrogate",
    ],
)
def test_invalid_session_ids(bad: str) -> None:
    with pytest.raises(InvalidSessionId) as info:
        check_session_id(bad)
    error = info.value
    assert isinstance(error, ValueError) and isinstance(error, SessionError)
    assert repr(bad)[:40] in str(error)  # names the value (long ones cut short)
    assert "512" in str(error)  # and says what would do
    assert error.value == bad


@pytest.mark.parametrize("bad", [5, None, b"bytes", ["a"], 1.5, object()])
def test_session_ids_must_be_str(bad: object) -> None:
    with pytest.raises(InvalidSessionId) as info:
        check_session_id(bad)
    assert isinstance(info.value, ValueError)
    assert repr(bad) in str(info.value)
    assert type(bad).__name__ in str(info.value)
    assert info.value.value is bad
    assert info.value.session_id is None  # not a str, so not a session id


def test_a_str_subclass_is_a_str() -> None:
    class Tag(str):
        pass

    assert check_session_id(Tag("t")) == "t"


# --- TTLs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ttl", "seconds"),
    [
        (1, 1.0),
        (5, 5.0),
        (0.001, 0.001),
        (2.5, 2.5),
        (10**9, 1e9),
        (timedelta(minutes=2), 120.0),
        (timedelta(microseconds=1), 1e-6),
        (timedelta(days=1), 86400.0),
    ],
)
def test_positive_ttls(ttl: float | timedelta, seconds: float) -> None:
    result = check_ttl(ttl)
    assert result == seconds and type(result) is float


def test_none_means_no_expiry() -> None:
    assert check_ttl(None) is None


@pytest.mark.parametrize(
    "bad",
    [0, 0.0, -1, -0.5, float("nan"), float("inf"), float("-inf"), timedelta(0), timedelta(-1)],
    ids=repr,
)
def test_bad_ttl_values(bad: object) -> None:
    with pytest.raises(ValueError, match="ttl") as info:
        check_ttl(bad)
    assert repr(bad) in str(info.value)


@pytest.mark.parametrize("bad", [True, False, "5", b"5", [5], DEFAULT, object()], ids=repr)
def test_bad_ttl_types(bad: object) -> None:
    with pytest.raises(TypeError, match="ttl") as info:
        check_ttl(bad)
    assert repr(bad) in str(info.value)


def test_ttl_errors_name_the_argument() -> None:
    with pytest.raises(ValueError, match="default_ttl"):
        check_ttl(-1, "default_ttl")


# --- limits ----------------------------------------------------------------------------


def test_no_limits_by_default() -> None:
    limits = Limits()
    assert not limits.active
    assert (limits.max_messages, limits.max_message_bytes, limits.max_session_bytes) == (
        None,
        None,
        None,
    )
    huge = Message("user", "x" * 100_000)
    limits.check("s", [huge] * 3, 10**9, 10**12)


@pytest.mark.parametrize("field", ["max_messages", "max_message_bytes", "max_session_bytes"])
def test_any_limit_makes_them_active(field: str) -> None:
    limits = Limits(**{field: 1})
    assert limits.active and getattr(limits, field) == 1


@pytest.mark.parametrize("field", ["max_messages", "max_message_bytes", "max_session_bytes"])
@pytest.mark.parametrize(
    ("value", "error"),
    [(0, ValueError), (-1, ValueError), (True, TypeError), (1.5, TypeError), ("3", TypeError)],
)
def test_bad_limits(field: str, value: object, error: type[Exception]) -> None:
    kwargs: dict[str, Any] = {field: value}
    with pytest.raises(error, match=field) as info:
        Limits(**kwargs)
    assert repr(value) in str(info.value)


def test_max_message_bytes() -> None:
    message = Message("user", "é" * 10)
    size = message_size(message)
    Limits(max_message_bytes=size).check("s", [message], 1, size)  # at the limit: fine
    with pytest.raises(CapacityExceeded) as info:
        Limits(max_message_bytes=size - 1).check("s", [Message("user", "ok"), message], 2, 0)
    assert info.value.session_id == "s"
    assert str(size) in str(info.value) and f"max_message_bytes={size - 1}" in str(info.value)


def test_max_messages() -> None:
    Limits(max_messages=3).check("s", [], 3, 0)
    with pytest.raises(CapacityExceeded, match="max_messages=3") as info:
        Limits(max_messages=3).check("s", [], 4, 0)
    assert info.value.session_id == "s" and "4" in str(info.value)
    assert "raise the limit" in str(info.value)


def test_max_session_bytes() -> None:
    Limits(max_session_bytes=100).check("s", [], 1, 100)
    with pytest.raises(CapacityExceeded, match="max_session_bytes=100") as info:
        Limits(max_session_bytes=100).check("s", [], 1, 101)
    assert info.value.session_id == "s" and "101" in str(info.value)


# --- other arguments -------------------------------------------------------------------


@pytest.mark.parametrize("good", [None, 0, 1, 10**12])
def test_expected_version_ok(good: int | None) -> None:
    assert check_expected_version(good) == good


@pytest.mark.parametrize("bad", [-1, True, False, 1.0, "1", [1]], ids=repr)
def test_expected_version_bad(bad: object) -> None:
    with pytest.raises((TypeError, ValueError), match="expected_version") as info:
        check_expected_version(bad)
    assert repr(bad) in str(info.value)


@pytest.mark.parametrize("good", [None, 0, 1, 1000])
def test_last_ok(good: int | None) -> None:
    assert check_last(good) == good


@pytest.mark.parametrize("bad", [-1, True, 2.0, "3"], ids=repr)
def test_last_bad(bad: object) -> None:
    with pytest.raises((TypeError, ValueError), match="last") as info:
        check_last(bad)
    assert repr(bad) in str(info.value)


@pytest.mark.parametrize("good", [None, "", "user:", "ü✈"])
def test_prefix_ok(good: str | None) -> None:
    assert check_prefix(good) == good


@pytest.mark.parametrize(
    ("bad", "error"),
    [(5, TypeError), (b"p", TypeError), (["p"], TypeError), ("\udc00", ValueError)],
)
def test_prefix_bad(bad: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="prefix") as info:
        check_prefix(bad)
    assert repr(bad) in str(info.value)


def test_labels_are_a_read_only_copy() -> None:
    original = {"team": "a", "ü": "✈"}
    checked = check_labels(original)
    assert checked == original
    original["team"] = "b"
    assert checked["team"] == "a"
    with pytest.raises(TypeError):
        checked["new"] = "x"  # type: ignore[index]
    assert check_labels(OrderedDict(k="v")) == {"k": "v"}
    assert check_labels(MappingProxyType({"k": "v"})) == {"k": "v"}
    assert check_labels({}) == {}


@pytest.mark.parametrize(
    ("bad", "error", "shown"),
    [
        (None, TypeError, "None"),
        ([("k", "v")], TypeError, "[('k', 'v')]"),
        ("k=v", TypeError, "'k=v'"),
        ({"k": 1}, TypeError, "1"),
        ({"k": None}, TypeError, "None"),
        ({1: "v"}, TypeError, "1"),
        ({"k": "\ud800"}, ValueError, "'\\ud800'"),
        ({"\udfff": "v"}, ValueError, "'\\udfff'"),
    ],
)
def test_bad_labels(bad: Any, error: type[Exception], shown: str) -> None:
    with pytest.raises(error, match="labels") as info:
        check_labels(bad)
    assert shown in str(info.value)


# --- DEFAULT ---------------------------------------------------------------------------


def test_default_marker() -> None:
    assert repr(DEFAULT) == "DEFAULT"
    assert agent_session.DEFAULT is DEFAULT
    assert isinstance(DEFAULT, Default)
    assert Default("DEFAULT") is DEFAULT  # a singleton: compare with `is`
