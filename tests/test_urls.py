"""Parsing of store URLs for ``open_store`` / ``open_async_store``."""

from __future__ import annotations

import pytest

from agent_session import open_store
from agent_session._urls import parse_store_url


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


def test_driver_parameters_keep_their_spaces() -> None:
    # Issue 7, defect 14: urlencode wrote "+" for a space, which libpq does not decode.
    parsed = parse_store_url("postgresql://u@h/db?options=-c%20search_path%3Dapp&table_prefix=t_")
    assert parsed.target == "postgresql://u@h/db?options=-c%20search_path%3Dapp"


def test_an_unknown_redis_url_parameter_is_refused_when_the_store_opens(redis_url: str) -> None:
    # Issue 7, defect 15: it opened fine, then the first call raised TypeError.
    for bad in ("cluster=true", "colour=blue"):
        with pytest.raises(ValueError, match=bad.split("=")[0]):
            open_store(f"{redis_url}?{bad}")
    with open_store(f"{redis_url}?socket_keepalive=true&client_name=me&prefix=t:u:") as store:
        assert not store.exists("nobody")
