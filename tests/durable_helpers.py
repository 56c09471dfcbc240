"""Child-process drivers for the cross-process and durability tests of durable stores.

Each test runs ``python tests/durable_helpers.py <job> <store-url> ...`` so that
the child is a real separate process (no fork of the test runner's state).
"""

from __future__ import annotations

import sys
import time

from agent_session import Message, open_store


def append_many(url: str, session_id: str, worker: str, count: int) -> None:
    """Append ``count`` messages tagged with ``worker``, as fast as possible."""
    with open_store(url) as store:
        for i in range(count):
            store.append(session_id, Message("user", f"{worker}:{i}"))


def append_forever(url: str, session_id: str) -> None:
    """Append until killed, printing the number of each acknowledged append."""
    with open_store(url) as store:
        i = 0
        while True:
            store.append(session_id, Message("user", str(i)))
            print(i, flush=True)  # printed only once append() has returned
            i += 1


def open_and_write(url: str, session_id: str, start_at: float) -> None:
    """Wait until ``start_at`` (epoch seconds), then open the store and write once."""
    time.sleep(max(0.0, start_at - time.time()))
    with open_store(url) as store:
        store.append(session_id, Message("user", "opened"))


if __name__ == "__main__":
    job, *args = sys.argv[1:]
    if job == "append_many":
        append_many(args[0], args[1], args[2], int(args[3]))
    elif job == "append_forever":
        append_forever(args[0], args[1])
    elif job == "open_and_write":
        open_and_write(args[0], args[1], float(args[2]))
    else:
        raise SystemExit(f"unknown job {job!r}")
