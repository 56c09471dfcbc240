# This file is generated from _async/layered.py by scripts/unasync.py: do not edit.
"""The contract's layered stores: a cache over the store a test class builds."""

from __future__ import annotations

from typing import Any, Protocol

from agent_session import CacheStore, LayeredStore, SessionStore


class StoreFactory(Protocol):
    def __call__(self, **options: Any) -> SessionStore: ...


def layered_over(factory: StoreFactory, **options: Any) -> SessionStore:
    """A cache over ``factory(**options)``, built from the options the contract passes.

    The durable layer gets every option but ``sliding``; the cache, every option but
    ``sliding`` and ``default_ttl``, which is its TTL. The layers do not slide
    themselves: the layered store touches them on load.
    """
    sliding = options.pop("sliding", False)
    cache_options = {k: v for k, v in options.items() if k != "default_ttl"}
    cache = CacheStore(options.get("default_ttl"), capacity=1000, **cache_options)
    durable = factory(**options)
    return LayeredStore(cache, durable, sliding=sliding, clock=options["clock"])
