"""Store URLs for ``open_store`` / ``open_async_store``: the registry of URL schemes.

Each store declares, next to its class, the URL schemes it answers and the options
its URL may carry (a :class:`URLSpec` as its ``url_spec``); defining the class
registers it. Parsing and opening loop over the registry and name no store.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple
from urllib.parse import SplitResult, parse_qsl, quote, urlencode, urlsplit, urlunsplit

__all__ = [
    "COMMON_OPTIONS",
    "StoreURL",
    "URLSpec",
    "driver_url",
    "parse_store_url",
    "register_url_spec",
]

#: Options every store's URL takes, and how each is read from text.
COMMON_OPTIONS: Mapping[str, Any] = {
    "default_ttl": float,
    "sliding": "bool",
    "max_messages": int,
    "max_message_bytes": int,
    "max_session_bytes": int,
}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class URLSpec(NamedTuple):
    """How a store is named by a URL.

    :param kind: the store's name (``"sqlite"``)
    :param schemes: the URL schemes it answers (``("postgresql", "postgres")``)
    :param options: query options it takes: name -> ``int``, ``float``, ``str`` or ``"bool"``
    :param target: builds the store's first argument (a path, a DSN) from the URL and the
        query parameters that are not options; None: the store takes none, and the URL
        no host or path
    :param driver_parameters: True: query parameters that are not options go to the
        driver (in the target); False: they are an error
    :param defaults: options given when the URL leaves them out
    """

    kind: str
    schemes: tuple[str, ...]
    options: Mapping[str, Any]
    target: Callable[[str, SplitResult, list[tuple[str, str]]], str] | None = None
    driver_parameters: bool = False
    defaults: Mapping[str, Any] = {}


class StoreURL(NamedTuple):
    """A parsed store URL: which store, its target (path, DSN, URL) and typed options."""

    kind: str
    target: str
    options: dict[str, Any]


_SPECS: dict[str, URLSpec] = {}  # by scheme


def register_url_spec(spec: URLSpec) -> None:
    """Make ``spec``'s schemes open its store (a later store may take a scheme over)."""
    for scheme in spec.schemes:
        _SPECS[scheme.lower()] = spec


def driver_url(url: str, parts: SplitResult, parameters: list[tuple[str, str]]) -> str:
    """The URL as the driver takes it: our options removed, its own parameters kept."""
    # %20, not +, for a space: libpq does not read + as one (issue 7, defect 14).
    return urlunsplit(parts._replace(query=urlencode(parameters, quote_via=quote)))


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
    spec = _SPECS.get(parts.scheme.lower())
    if spec is None:
        known = ", ".join(f"{scheme}://" for scheme in sorted(_SPECS))
        raise ValueError(
            f"unknown store URL scheme {parts.scheme!r} in {url!r}: use one of {known}"
        )
    options: dict[str, Any] = {}
    parameters: list[tuple[str, str]] = []
    for name, raw in parse_qsl(parts.query, keep_blank_values=True):
        if name in spec.options:
            options[name] = _convert(url, name, raw, spec.options[name])
        elif spec.driver_parameters:
            parameters.append((name, raw))
        else:
            raise ValueError(
                f"unknown option {name!r} in store URL {url!r}: use one of "
                f"{', '.join(sorted(spec.options))}"
            )
    if spec.target is None:
        if parts.netloc or parts.path not in ("", "/"):
            raise ValueError(
                f"store URL {url!r} takes no host or path: use {parts.scheme}://?option=value"
            )
        target = ""
    else:
        target = spec.target(url, parts, parameters)
    return StoreURL(spec.kind, target, {**spec.defaults, **options})
