"""Parsing of store URLs for ``open_store`` / ``open_async_store``."""

from __future__ import annotations

import pytest

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
