"""Memory per stored session: the in-memory stores against the plain message dicts.

Builds the 20-message conversation of ``bench_codec.py`` (chat messages, content
parts, tool calls, a reasoning item) from plain dicts, as a framework hands them over,
and keeps N copies (distinct sessions, distinct objects, as N users would make them):

- ``plain dicts``: a dict of session id -> list of the payload dicts (``copy.deepcopy``
  of each, so nothing is shared between sessions): what a store keeping what it was
  handed would hold, and the SPEC's bound;
- ``InMemoryStore``, ``CacheStore``: ``save`` of a conversation built by
  ``Conversation.from_dicts`` of those dicts, per session.

Prints the bytes per session that ``tracemalloc`` sees allocated and kept, and the
ratio to the plain dicts (target: at most 1.0x).

Run: ``python benchmarks/bench_memory.py [--sessions N]``.
"""

from __future__ import annotations

import argparse
import copy
import gc
import sys
import tracemalloc
from collections.abc import Callable
from typing import Any

from bench_codec import conversation

from agent_session import CacheStore, Conversation, InMemoryStore


def kept_bytes(build: Callable[[], Any]) -> int:
    """Bytes allocated by ``build()`` and still alive while its result is."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = build()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del kept
    return after - before


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=2000)
    args = parser.parse_args(argv)
    sessions = args.sessions
    payloads = conversation().to_dicts()

    def plain() -> dict[str, list[dict[str, Any]]]:
        return {f"s{i}": [copy.deepcopy(p) for p in payloads] for i in range(sessions)}

    def stored(make_store: Callable[[], Any]) -> Callable[[], Any]:
        def build() -> Any:
            store = make_store()
            for i in range(sessions):
                store.save(f"s{i}", Conversation.from_dicts(payloads))
            return store

        return build

    rows = {
        "plain dicts (deep copies)": kept_bytes(plain),
        "InMemoryStore": kept_bytes(stored(InMemoryStore)),
        "CacheStore(ttl=3600)": kept_bytes(stored(lambda: CacheStore(3600, capacity=2 * sessions))),
    }
    floor = rows["plain dicts (deep copies)"]
    print(f"Python {sys.version.split()[0]}, {sessions} sessions of 20 messages, bytes per session")
    width = max(map(len, rows))
    for name, total in rows.items():
        print(f"{name:<{width}}  {total / sessions:9.0f}  {total / floor:5.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
