"""The SQLite store across processes: concurrent appends, kill -9, concurrent first open.

Hand-written: the children are separate Python processes (``tests/durable_helpers.py``)
driving the blocking store. The rest of the SQLite-only tests are in
``tests/_async/test_sqlite.py``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from durable_checks import (
    check_concurrent_first_open,
    check_cross_process_appends,
    check_kill_keeps_acknowledged,
)

from agent_session import SQLiteStore
from agent_session._backends.sqlite import SCHEMA_VERSION


def url(path: Path) -> str:
    return f"sqlite:///{path}"  # path is absolute: sqlite:////abs/path.db


def test_four_processes_append_to_one_session(tmp_path: Path) -> None:
    """4 processes x 200 appends: exactly 800 messages, each process's in its order."""
    path = tmp_path / "shared.db"
    with SQLiteStore(path) as store:
        store.exists("warm")  # the children find the schema in place
        check_cross_process_appends(store, url(path), 4, 200)


def test_kill_9_loses_no_acknowledged_append(tmp_path: Path) -> None:
    """Every append a SIGKILLed child acknowledged is there; counters match the rows."""
    path = tmp_path / "durable.db"
    with SQLiteStore(path) as store:
        store.exists("warm")
        check_kill_keeps_acknowledged(store, url(path))
    db = sqlite3.connect(path)
    try:
        count, size = db.execute(
            "SELECT message_count, size_bytes FROM sessions WHERE id = 'durable'"
        ).fetchone()
        rows, total = db.execute(
            "SELECT count(*), sum(size) FROM messages WHERE session_id = 'durable'"
        ).fetchone()
        assert (count, size) == (rows, total)
    finally:
        db.close()


def test_processes_opening_a_fresh_file_at_once_all_succeed(tmp_path: Path) -> None:
    """Four processes open a file that does not exist yet at the same instant.

    Every one succeeds, and the schema is created once: its statements are plain
    CREATE TABLE/INDEX, so a second run of the migration would fail that process.
    """
    path = tmp_path / "fresh.db"
    reopen = SQLiteStore(path)
    try:
        check_concurrent_first_open(url(path), reopen, processes=4)
    finally:
        reopen.close()
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        names = [row[0] for row in db.execute("SELECT name FROM sqlite_master ORDER BY name")]
        assert names.count("sessions") == 1 and "labels_by_pair" in names
    finally:
        db.close()
