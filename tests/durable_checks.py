"""Cross-process checks shared by the SQLite, PostgreSQL and Redis test modules."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from agent_session import SessionStore
from agent_session._serialization import message_size

HELPER = str(Path(__file__).with_name("durable_helpers.py"))


def _child(*args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, HELPER, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def check_cross_process_appends(
    store: SessionStore, url: str, processes: int = 4, per_process: int = 200
) -> None:
    """``processes`` x ``per_process`` appends to one session leave exactly that many."""
    children = [
        _child("append_many", url, "shared", f"w{n}", str(per_process)) for n in range(processes)
    ]
    for child in children:
        _out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
    messages = store.load("shared")
    assert len(messages) == processes * per_process
    meta = store.get_metadata("shared")
    assert meta.message_count == processes * per_process
    assert meta.version == processes * per_process
    for n in range(processes):
        mine = [m.text for m in messages if m.text.startswith(f"w{n}:")]
        assert mine == [f"w{n}:{i}" for i in range(per_process)]


def _settled(store: SessionStore, session_id: str) -> tuple[list[Any], Any]:
    """The messages and metadata of one moment.

    A killed client's last COMMIT may still be on its way to a server (PostgreSQL goes on
    with a transaction until it notices the client is gone), so a load and a metadata read
    straddling it would disagree without anything being wrong. Read until the version is the
    same before and after the load, bounded at 5 s.
    """
    deadline = time.monotonic() + 5
    while True:
        before = store.get_metadata(session_id)
        messages = store.load(session_id)
        after = store.get_metadata(session_id)
        if before.version == after.version or time.monotonic() > deadline:
            return list(messages), after
        time.sleep(0.1)


def check_kill_keeps_acknowledged(store: SessionStore, url: str, at_least: int = 50) -> None:
    """SIGKILL a child mid-append; every append it acknowledged is there afterwards."""
    child = _child("append_forever", url, "durable")
    acknowledged = -1
    deadline = time.monotonic() + 60
    assert child.stdout is not None
    while acknowledged < at_least and time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        acknowledged = int(line)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    # Read the rest through the same buffered file: readline() may have read ahead, and
    # communicate() would read the pipe behind that buffer's back, losing those lines.
    # The child is dead, so both reads end at EOF.
    out = child.stdout.read()
    err = child.stderr.read() if child.stderr is not None else ""
    child.stdout.close()
    if child.stderr is not None:
        child.stderr.close()
    assert acknowledged >= at_least, err
    # The child went on appending until the signal landed: count what it printed since.
    for line in out.splitlines():
        acknowledged = max(acknowledged, int(line))
    messages, meta = _settled(store, "durable")
    contents = [m.content for m in messages]
    # Every acknowledged append is there, in order; at most the one in flight is extra.
    assert contents[: acknowledged + 1] == [str(i) for i in range(acknowledged + 1)]
    assert len(contents) in (acknowledged + 1, acknowledged + 2), (len(contents), acknowledged)
    assert meta.message_count == len(messages)
    assert meta.size_bytes == sum(message_size(m) for m in messages)


def check_concurrent_first_open(
    store_factory_url: str, reopen: SessionStore, processes: int = 2
) -> None:
    """Processes opening a fresh database at the same instant all succeed."""
    start_at = time.time() + 1.0
    children = [
        _child("open_and_write", store_factory_url, "opened", repr(start_at))
        for _ in range(processes)
    ]
    for child in children:
        _out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
    assert len(reopen.load("opened")) == processes
