"""What only the SQLite store promises: files, schema, processes, durability, faults."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from durable_checks import (
    check_concurrent_first_open,
    check_cross_process_appends,
    check_kill_keeps_acknowledged,
)

from agent_session import (
    BackendError,
    Conversation,
    Message,
    SerializationError,
    SQLiteStore,
    open_store,
)
from agent_session._sqlite_engine import SCHEMA_VERSION


def url(path: Path) -> str:
    return f"sqlite:///{path}"  # path is absolute: sqlite:////abs/path.db


def test_data_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with SQLiteStore(path) as store:
        store.save("s1", Conversation().add_user("hello"), labels={"k": "v"})
        store.append("s1", Message("assistant", "hi"))
    with SQLiteStore(path) as store:
        assert [m.content for m in store.load("s1")] == ["hello", "hi"]
        meta = store.get_metadata("s1")
        assert meta.version == 2 and dict(meta.labels) == {"k": "v"}


def test_wal_mode_and_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with SQLiteStore(path) as store:
        store.append("s1", Message("user", "x"))
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with SQLiteStore(path) as store:
        with pytest.raises(SerializationError, match="upgrade agent-session"):
            store.exists("s1")


def test_corrupted_message_raises_serialization_error(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with SQLiteStore(path) as store:
        store.append("s1", Message("user", "x"))
    db = sqlite3.connect(path)
    db.execute('UPDATE messages SET body = \'{"role": "wizard"}\'')
    db.commit()
    db.close()
    with SQLiteStore(path) as store:
        with pytest.raises(SerializationError):
            store.load("s1")


def test_unusable_path_raises_backend_error(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path) as store:  # a directory, not a file
        with pytest.raises(BackendError) as info:
            store.exists("s1")
        assert isinstance(info.value.__cause__, sqlite3.Error)


def test_bad_constructor_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="synchronous"):
        SQLiteStore(tmp_path / "s.db", synchronous="SOMETIMES")
    with pytest.raises(TypeError):
        SQLiteStore(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        SQLiteStore(tmp_path / "s.db", default_ttl=-1)


def test_open_store_urls(tmp_path: Path) -> None:
    with open_store(url(tmp_path / "u.db") + "?default_ttl=60&synchronous=FULL") as store:
        assert isinstance(store, SQLiteStore)
        assert store.append("s", Message("user", "x")).expires_at is not None
    with open_store("sqlite://:memory:") as store:
        assert isinstance(store, SQLiteStore) and store.path == ":memory:"


def test_four_processes_append_to_one_session(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    with SQLiteStore(path) as store:
        store.clear()
        check_cross_process_appends(store, url(path))


def test_kill_9_loses_no_acknowledged_append(tmp_path: Path) -> None:
    path = tmp_path / "durable.db"
    with SQLiteStore(path) as store:
        store.exists("warm")  # create the schema first
    with SQLiteStore(path) as store:
        check_kill_keeps_acknowledged(store, url(path))


def test_two_processes_open_a_fresh_file_at_once(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    with SQLiteStore(path) as reopen:
        check_concurrent_first_open(url(path), reopen)
        db = sqlite3.connect(path)
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        db.close()
