"""Parsing of store URLs for ``open_store`` / ``open_async_store``."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

__all__ = ["StoreURL", "parse_store_url"]

_COMMON = {
    "default_ttl": float,
    "sliding": "bool",
    "max_messages": int,
    "max_message_bytes": int,
    "max_session_bytes": int,
}
_OPTIONS: dict[str, dict[str, Any]] = {
    "memory": {**_COMMON, "capacity": int, "stripes": int},
    "cache": {
        **{k: v for k, v in _COMMON.items() if k != "default_ttl"},
        "ttl": float,
        "capacity": int,
        "stripes": int,
    },
    "sqlite": {**_COMMON, "synchronous": str, "busy_timeout": float},
    "postgresql": {**_COMMON, "schema": str, "table_prefix": str, "connect_timeout": float},
    "redis": {**_COMMON, "prefix": str, "socket_timeout": float},
}
_SCHEMES = {
    "memory": "memory",
    "cache": "cache",
    "sqlite": "sqlite",
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "redis": "redis",
    "rediss": "redis",
    "unix": "redis",
}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class StoreURL:
    """A parsed store URL: which store, its target (path, DSN, URL) and options."""

    __slots__ = ("kind", "options", "target")

    def __init__(self, kind: str, target: str, options: dict[str, Any]) -> None:
        self.kind = kind
        self.target = target
        self.options = options


def _convert(url: str, name: str, raw: str, kind: Any) -> Any:
    try:
        if kind == "bool":
            lowered = raw.lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
            raise ValueError
        value = kind(raw)
    except ValueError:
        expected = {"bool": "true or false", int: "an int", float: "a number", str: "text"}[kind]
        raise ValueError(
            f"bad value {raw!r} for {name!r} in store URL {url!r}: expected {expected}"
        ) from None
    return value


def parse_store_url(url: str) -> StoreURL:
    """Split ``url`` into the store kind, its target and typed options.

    :raises ValueError: on an unknown scheme, an unknown option or a bad option value
    """
    if not isinstance(url, str):
        raise TypeError(f"a store URL must be a str, not {url!r}")
    parts = urlsplit(url)
    kind = _SCHEMES.get(parts.scheme.lower())
    if kind is None:
        raise ValueError(
            f"unknown store URL scheme {parts.scheme!r} in {url!r}: use memory://, cache://, "
            "sqlite:///path.db, postgresql://... or redis://..."
        )
    allowed = _OPTIONS[kind]
    options: dict[str, Any] = {}
    passthrough: list[tuple[str, str]] = []
    for name, raw in parse_qsl(parts.query, keep_blank_values=True):
        if name in allowed:
            options[name] = _convert(url, name, raw, allowed[name])
        elif kind in ("postgresql", "redis"):
            passthrough.append((name, raw))  # the driver's own parameters
        else:
            raise ValueError(
                f"unknown option {name!r} in store URL {url!r}: use one of "
                f"{', '.join(sorted(allowed))}"
            )
    target = ""  # memory:// and cache:// have none
    if kind == "sqlite":
        # As in SQLAlchemy: sqlite:///relative.db, sqlite:////absolute.db, sqlite://:memory:
        if parts.netloc == ":memory:" or parts.path in ("/:memory:", ":memory:"):
            target = ":memory:"
        elif parts.netloc:
            raise ValueError(
                f"store URL {url!r} names a host; use sqlite:///relative/path.db or "
                "sqlite:////absolute/path.db"
            )
        else:
            target = parts.path[1:] if parts.path.startswith("/") else parts.path
            if not target:
                raise ValueError(f"store URL {url!r} names no database file")
    elif kind in ("postgresql", "redis"):
        # %20, not +, for a space: libpq does not read + as one (issue 7, defect 14).
        target = urlunsplit(parts._replace(query=urlencode(passthrough, quote_via=quote)))
    elif parts.netloc or parts.path not in ("", "/"):
        raise ValueError(f"store URL {url!r} takes no host or path: use {kind}://?option=value")
    if kind == "cache" and "ttl" not in options:
        options["ttl"] = None
    return StoreURL(kind, target, options)
