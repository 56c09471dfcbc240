# This file is generated from _async/test_sqlite.py by scripts/unasync.py: do not edit.
"""What only the SQLite store promises: the file, its schema, its statements, faults.

The contract suite runs in ``test_contract_sqlite.py``; the tests with several
processes (sharing a file, kill -9, opening a fresh file at once) are hand-written, in
``tests/test_sqlite_processes.py``.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent_session import (
    SQLiteStore,
    BackendError,
    Conversation,
    Message,
    SerializationError,
    SessionExpired,
    SessionNotFound,
    StoreClosed,
    open_store,
)
from agent_session._backends.sqlite import HAS_RETURNING, SCHEMA_VERSION
from agent_session._concurrency import Nursery
from agent_session._serialization import decode_message, message_size
from agent_session.testing import FakeClock


def user(text: str) -> Message:
    return Message("user", text)


def raw(path: Path) -> sqlite3.Connection:
    """A connection of the test's own to the store's file, for looking behind its back."""
    return sqlite3.connect(path, isolation_level=None)


def exists(path: Path) -> bool:
    return path.exists()  # a plain function: blocking file calls stay out of async defs


def chmod_database(path: Path, mode: int) -> None:
    """chmod the database file and its WAL companions."""
    for companion in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if companion.exists():
            os.chmod(companion, mode)


class Watch:
    """The statements and virtual machine steps one store connection runs."""

    def __init__(self, store: SQLiteStore) -> None:
        conn = store._engine._conn
        assert conn is not None, "use the store once before watching it"
        self._conn = conn
        self.statements: list[str] = []
        self.steps = 0
        conn.set_trace_callback(self.statements.append)
        conn.set_progress_handler(self._step, 1)

    def _step(self) -> int:
        self.steps += 1
        return 0  # go on

    def reset(self) -> None:
        self.statements.clear()
        self.steps = 0

    def kinds(self) -> list[str]:
        """The statements run, by their first two words (``INSERT INTO`` etc.)."""
        return [" ".join(statement.split()[:2]).upper() for statement in self.statements]

    def stop(self) -> None:
        self._conn.set_trace_callback(None)
        self._conn.set_progress_handler(None, 1)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "sessions.db"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# -- the file ---------------------------------------------------------------------------


def test_data_survives_reopening_the_file(path: Path) -> None:
    with SQLiteStore(path) as store:
        store.save("s1", Conversation().add_user("hello"), labels={"k": "v"})
        store.append("s1", Message("assistant", "hi"))
        before = store.get_metadata("s1")
    with SQLiteStore(str(path)) as store:  # str or PathLike, same file
        assert [m.content for m in store.load("s1")] == ["hello", "hi"]
        assert store.get_metadata("s1") == before
        assert (store.find_sessions(labels={"k": "v"})).items == [before]


def test_the_file_is_in_wal_mode_with_its_schema_version(path: Path) -> None:
    with SQLiteStore(path) as store:
        store.append("s1", user("x"))
    db = raw(path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        assert {"sessions", "messages", "labels", "sessions_by_update"} <= tables
    finally:
        db.close()


def test_building_a_store_touches_nothing_until_first_use(path: Path) -> None:
    store = SQLiteStore(path)
    assert not exists(path)
    assert not store.exists("s1")
    assert exists(path)
    store.close()


def test_a_newer_schema_is_refused_and_left_alone(path: Path) -> None:
    db = raw(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with SQLiteStore(path) as store:
        for _ in range(2):  # every call, not only the first
            with pytest.raises(SerializationError, match="upgrade agent-session"):
                store.append("s1", user("x"))
    db = raw(path)
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
        assert db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
    finally:
        db.close()


def test_synchronous_mode_is_what_was_asked(path: Path) -> None:
    for mode, number in (("NORMAL", 1), ("FULL", 2), ("full", 2)):
        with SQLiteStore(path, synchronous=mode) as store:
            store.exists("s1")
            conn = store._engine._conn
            assert conn is not None
            assert conn.execute("PRAGMA synchronous").fetchone()[0] == number


# -- :memory: -----------------------------------------------------------------------------


def test_memory_database_is_private_to_its_store() -> None:
    with SQLiteStore(":memory:") as first, SQLiteStore(":memory:") as second:
        first.save("s1", Conversation().add_user("a"), labels={"k": "v"})
        first.append("s1", user("b"))
        assert [m.content for m in first.load("s1", last=1)] == ["b"]
        assert first.pop("s1") == user("b")
        assert (first.find_sessions(labels={"k": "v"})).items[0].message_count == 1
        assert not second.exists("s1")
        assert second.list_sessions() == []


# -- where each call runs ----------------------------------------------------------------


@pytest.mark.async_only  # the blocking store runs each call on its caller's thread
def test_the_async_flavour_runs_sqlite_in_worker_threads() -> None:
    """Each call runs off the event loop's thread, under asyncio and trio alike."""
    threads: set[int] = set()

    def clock() -> float:
        threads.add(threading.get_ident())  # the engine reads the clock inside each call
        return 1_700_000_000.0

    def append_some(store: SQLiteStore, task: int) -> None:
        for i in range(10):
            store.append("s", Message("user", str(i), name=f"t{task}"))

    with SQLiteStore(":memory:", clock=clock) as store:
        with Nursery() as nursery:
            for task in range(20):
                nursery.start_soon(append_some, store, task)
        messages = store.load("s")
        assert len(messages) == 20 * 10
        for task in range(20):
            mine = [m.content for m in messages if m.name == f"t{task}"]
            assert mine == [str(i) for i in range(10)]
    assert threads and threading.get_ident() not in threads


# -- what each call runs ------------------------------------------------------------------


@pytest.mark.skipif(not HAS_RETURNING, reason="SQLite before 3.35 has no RETURNING")
def test_append_is_one_short_transaction_whatever_the_length(path: Path) -> None:
    with SQLiteStore(path) as store:
        store.save("short", Conversation([user(str(i)) for i in range(5)]))
        store.save("long", Conversation([user(str(i)) for i in range(2000)]))
        watch = Watch(store)
        steps = {}
        for session_id in ("short", "long"):
            watch.reset()
            store.append(session_id, user("new"))
            assert watch.kinds() == ["BEGIN IMMEDIATE", "UPDATE SESSIONS", "INSERT INTO", "COMMIT"]
            steps[session_id] = watch.steps
        watch.stop()
        assert steps["long"] == steps["short"]


def test_load_is_one_read_transaction_and_last_reads_only_those_rows(path: Path) -> None:
    # The session's row, then its bodies, in one snapshot: a join would repeat the row's
    # columns on every message row, which costs as much as the bodies on a long session.
    read = ["BEGIN", "SELECT EXPIRES_AT,", "SELECT CAST(BODY", "COMMIT"]
    with SQLiteStore(path) as store:
        store.save("short", Conversation([user(str(i)) for i in range(10)]))
        store.save("long", Conversation([user(str(i)) for i in range(2000)]))
        watch = Watch(store)
        steps = {}
        for session_id in ("short", "long"):
            watch.reset()
            loaded = store.load(session_id, last=3)
            assert len(loaded) == 3
            assert watch.kinds() == read
            steps[session_id] = watch.steps
        watch.reset()
        assert len(store.load("short")) == 10
        assert watch.kinds() == read
        watch.reset()
        assert len(store.load("short", last=0)) == 0
        assert watch.kinds() == ["BEGIN", "SELECT EXPIRES_AT,", "COMMIT"]
        watch.stop()
        assert steps["long"] == steps["short"]
        assert [m.content for m in store.load("long", last=3)] == ["1997", "1998", "1999"]


def test_load_with_metadata_is_one_read_transaction(path: Path) -> None:
    with SQLiteStore(path) as store:
        store.save("short", Conversation([user(str(i)) for i in range(10)]))
        store.save("long", Conversation([user(str(i)) for i in range(2000)]))
        watch = Watch(store)
        steps = {}
        for session_id in ("short", "long"):
            watch.reset()
            loaded, meta = store.load_with_metadata(session_id, last=3)
            assert len(loaded) == 3 and meta == store.get_metadata(session_id)
            assert watch.kinds()[:4] == ["BEGIN", "SELECT ID,", "SELECT CAST(BODY", "COMMIT"]
            steps[session_id] = watch.steps
        watch.stop()
        assert steps["long"] > 0
    with SQLiteStore(path, sliding=True, default_ttl=60) as store:
        store.append("s", user("a"))
        watch = Watch(store)
        _, meta = store.load_with_metadata("s")
        assert watch.kinds() == [
            "BEGIN IMMEDIATE",
            "SELECT ID,",
            "SELECT CAST(BODY",
            "UPDATE SESSIONS",
            "COMMIT",
        ]
        watch.stop()
        assert meta == store.get_metadata("s")


def test_bodies_of_a_utf16_file_are_read_as_text(path: Path) -> None:
    # A file made UTF-16 before the store first touched it: CAST(body AS BLOB) would
    # hand the decoder UTF-16 bytes, so such a file's bodies are read as str.
    db = raw(path)
    db.execute("PRAGMA encoding = 'UTF-16le'")
    db.execute("CREATE TABLE t (x)")  # the encoding is fixed once the file has a table
    db.close()
    with SQLiteStore(path) as store:
        store.append("s", user("héllo"), user("wörld"))
        assert "CAST" not in store._engine._bodies[0]
        assert [m.content for m in store.load("s")] == ["héllo", "wörld"]
        assert [m.content for m in store.load("s", last=1)] == ["wörld"]
        conversation, meta = store.load_with_metadata("s")
        assert [m.content for m in conversation] == ["héllo", "wörld"]
        assert meta.message_count == 2


def test_a_body_that_is_not_utf8_raises_serialization_error(path: Path) -> None:
    with SQLiteStore(path) as store:
        store.append("s", user("a"))
    db = raw(path)
    db.execute("UPDATE messages SET body = CAST(X'7B22FF' AS TEXT) WHERE session_id = 's'")
    db.close()
    with SQLiteStore(path) as store:
        for call in (lambda: store.load("s"), lambda: store.load_with_metadata("s")):
            with pytest.raises(SerializationError) as raised:
                call()
            assert raised.value.session_id == "s"


def test_pop_deletes_only_the_newest_row_whatever_the_length(path: Path) -> None:
    with SQLiteStore(path) as store:
        store.save("short", Conversation([user(str(i)) for i in range(5)]))
        store.save("long", Conversation([user(str(i)) for i in range(2000)]))
        watch = Watch(store)
        steps = {}
        for session_id, newest in (("short", "4"), ("long", "1999")):
            watch.reset()
            assert store.pop(session_id) == user(newest)
            assert watch.kinds()[0] == "BEGIN IMMEDIATE" and watch.kinds()[-1] == "COMMIT"
            steps[session_id] = watch.steps
        watch.stop()
        assert steps["long"] == steps["short"]


def test_find_sessions_walks_an_index_not_the_table(path: Path) -> None:
    with SQLiteStore(path) as store:
        for i in range(3):
            store.save(f"rare{i}", Conversation([user("x")]), labels={"team": "rare"})
        watch = Watch(store)
        page = store.find_sessions(labels={"team": "rare"}, limit=2)
        few = watch.steps
        watch.reset()
        store.find_sessions(limit=2)
        unlabelled_few = watch.steps
        for i in range(500):
            store.append(f"other{i:03}", user("x"))
        store.save("common", Conversation(), labels={"team": "common"})
        watch.reset()
        assert store.find_sessions(labels={"team": "rare"}, limit=2) == page
        many = watch.steps
        watch.reset()
        newest = store.find_sessions(limit=2)
        unlabelled = watch.steps
        watch.stop()
        assert many == few  # 500 other sessions cost nothing
        assert unlabelled == unlabelled_few  # the walk stops after one page
        assert [m.session_id for m in newest.items] == ["common", "other499"]


def test_labelled_sessions_keep_their_find_order_through_every_write(
    path: Path, clock: FakeClock
) -> None:
    with SQLiteStore(path, clock=clock, default_ttl=100) as store:
        for name in ("a", "b", "c"):
            clock.advance(1)
            store.save(name, Conversation([user("x"), user("y")]), labels={"k": "v"})

        def order() -> list[str]:
            labelled = store.find_sessions(labels={"k": "v"})
            everything = store.find_sessions()
            ids = [m.session_id for m in labelled.items]
            assert ids == [m.session_id for m in everything.items if m.labels.get("k") == "v"]
            return ids

        assert order() == ["c", "b", "a"]
        clock.advance(1)
        store.append("a", user("z"))
        assert order() == ["a", "c", "b"]
        clock.advance(1)
        store.pop("b")
        assert order() == ["b", "a", "c"]
        clock.advance(1)
        store.touch("c")  # touch moves only the expiry
        assert order() == ["b", "a", "c"]
        clock.advance(1)
        store.save("c", Conversation())  # labels=None keeps them
        assert order() == ["c", "b", "a"]
        clock.advance(1)
        store.save("b", Conversation(), labels={"k": "other"})
        assert order() == ["c", "a"]
        clock.advance(200)  # all expired; a write starts "a" anew, without labels
        store.append("a", user("new"))
        assert order() == []
        assert store.purge_expired() == 2
    assert_consistent(path)


def assert_consistent(path: Path) -> None:
    """Each session row agrees with its message and label rows."""
    db = raw(path)
    try:
        for session_id, count, size, updated_at, labels in db.execute(
            "SELECT id, message_count, size_bytes, updated_at, labels FROM sessions"
        ).fetchall():
            bodies = [
                body
                for (body,) in db.execute(
                    "SELECT body FROM messages WHERE session_id = ? ORDER BY seq", (session_id,)
                )
            ]
            assert count == len(bodies), session_id
            assert size == sum(message_size(decode_message(body)) for body in bodies), session_id
            rows = db.execute(
                "SELECT key, value, updated_at FROM labels WHERE session_id = ?", (session_id,)
            ).fetchall()
            assert {k: v for k, v, _ in rows} == json.loads(labels), session_id
            assert all(at == updated_at for _, _, at in rows), session_id
        orphans = (
            db.execute(
                "SELECT count(*) FROM messages WHERE session_id NOT IN (SELECT id FROM sessions)"
            ).fetchone()[0]
            + db.execute(
                "SELECT count(*) FROM labels WHERE session_id NOT IN (SELECT id FROM sessions)"
            ).fetchone()[0]
        )
        assert orphans == 0
    finally:
        db.close()


def test_random_writes_keep_rows_and_counters_in_step(path: Path, clock: FakeClock) -> None:
    rng = random.Random(7)
    ids = ["s0", "s1", "s2", "s3"]
    with SQLiteStore(path, clock=clock) as store:
        for step in range(400):
            clock.advance(rng.choice([0.0, 0.5, 3.0]))
            session_id = rng.choice(ids)
            action = rng.randrange(7)
            try:
                if action == 0:
                    labels = rng.choice([None, {}, {"a": "1"}, {"a": "2", "b": "x"}])
                    size = rng.randrange(4)
                    conversation = Conversation([user(f"{step}.{i}") for i in range(size)])
                    store.save(session_id, conversation, labels=labels, ttl=5)
                elif action in (1, 2):
                    count = rng.randrange(1, 4)
                    store.append(session_id, *[user(f"{step}é{i}") for i in range(count)])
                elif action == 3:
                    store.pop(session_id)
                elif action == 4:
                    store.touch(session_id, ttl=rng.choice([1, 10]))
                elif action == 5:
                    store.delete(session_id)
                else:
                    store.purge_expired()
            except (SessionNotFound, SessionExpired):
                pass
        for session_id in store.list_sessions():
            meta = store.get_metadata(session_id)
            messages = list(store.load(session_id))
            assert meta.message_count == len(messages)
            assert meta.size_bytes == sum(message_size(m) for m in messages)
    assert_consistent(path)


# -- stored data that is not ours ---------------------------------------------------------


def test_a_corrupted_message_row_raises_serialization_error(path: Path) -> None:
    with SQLiteStore(path) as store:
        store.append("s1", user("fine"), user("also fine"))
    db = raw(path)
    db.execute('UPDATE messages SET body = \'{"role": "wizard"}\' WHERE seq = 1')
    db.close()
    with SQLiteStore(path) as store:
        with pytest.raises(SerializationError):
            store.load("s1")
        with pytest.raises(SerializationError):
            store.load("s1", last=1)
        with pytest.raises(SerializationError):
            store.load_with_metadata("s1")
        with pytest.raises(SerializationError):
            store.pop("s1")
        # The failed pop removed nothing; the good row still reads.
        assert (store.get_metadata("s1")).message_count == 2
        assert [m.content for m in store.load("s1", last=0)] == []


@pytest.mark.parametrize(
    "change",
    [
        "DELETE FROM messages WHERE session_id = 's1' AND seq = 1",
        "INSERT INTO messages (session_id, seq, body, size) "
        "SELECT session_id, seq + 10, body, size FROM messages WHERE session_id = 's1'",
        "UPDATE sessions SET message_count = 5 WHERE id = 's1'",
    ],
)
def test_a_count_that_disagrees_with_the_rows_raises_serialization_error(
    path: Path, change: str
) -> None:
    # Issue 7, defect 6: rows removed or added behind the store's back were served as is.
    with SQLiteStore(path) as store:
        store.append("s1", user("a"), user("b"), user("c"))
        store.append("s2", user("other"))
    db = raw(path)
    db.execute(change)
    db.commit()
    db.close()
    with SQLiteStore(path) as store:
        with pytest.raises(SerializationError, match="s1") as info:
            store.load("s1")
        assert info.value.session_id == "s1"
        with pytest.raises(SerializationError, match="s1") as info:
            store.load_with_metadata("s1")
        assert info.value.session_id == "s1"
        assert [m.content for m in store.load("s2")] == ["other"]


@pytest.mark.parametrize(
    ("column", "value"),
    [("version", "'abc'"), ("message_count", "-1"), ("created_at", "'soon'"), ("labels", "5")],
)
def test_corrupted_session_rows_raise_serialization_error(
    path: Path, column: str, value: str
) -> None:
    # Issue 7, defect 6: version='abc' came back as is; other damage raised TypeError.
    with SQLiteStore(path) as store:
        store.append("bad", user("x"))
        store.append("good", user("y"))
    db = raw(path)
    db.execute(f"UPDATE sessions SET {column} = {value} WHERE id = 'bad'")
    db.close()
    with SQLiteStore(path) as store:
        calls: list[Callable[[], Any]] = [
            lambda: store.get_metadata("bad"),
            lambda: store.load_with_metadata("bad"),
            lambda: store.touch("bad"),
            lambda: store.append("bad", user("z")),
            lambda: store.save("bad", Conversation()),
        ]
        if column != "labels":  # pop reads no labels: it works on
            calls.append(lambda: store.pop("bad"))
        for call in calls:
            with pytest.raises(SerializationError) as raised:
                call()
            assert raised.value.session_id == "bad"
        assert [m.text for m in store.load("good")] == ["y"]  # the others still read


@pytest.mark.parametrize(
    ("column", "value"), [("expires_at", "'soon'"), ("size_bytes", "'big'"), ("size_bytes", "1.5")]
)
def test_a_corrupted_row_raises_serialization_error_on_load(
    path: Path, column: str, value: str
) -> None:
    # A text expiry raised TypeError from the comparison with the clock.
    with SQLiteStore(path) as store:
        store.append("bad", user("x"))
    db = raw(path)
    db.execute(f"UPDATE sessions SET {column} = {value} WHERE id = 'bad'")
    db.close()
    with SQLiteStore(path) as store:
        for call in (lambda: store.load("bad"), lambda: store.load_with_metadata("bad")):
            with pytest.raises(SerializationError) as raised:
                call()
            assert raised.value.session_id == "bad"


def test_corrupted_labels_raise_serialization_error(path: Path) -> None:
    with SQLiteStore(path) as store:
        store.save("s1", Conversation(), labels={"k": "v"})
    db = raw(path)
    db.execute("UPDATE sessions SET labels = '[1, 2' WHERE id = 's1'")
    db.close()
    with SQLiteStore(path) as store:
        with pytest.raises(SerializationError):
            store.get_metadata("s1")


# -- faults ---------------------------------------------------------------------------------


def unusable_paths(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    yield "a directory", tmp_path
    yield "a missing directory", tmp_path / "missing" / "s.db"
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not an SQLite database, not at all" * 100)
    yield "not a database", garbage


def test_an_unusable_file_raises_backend_error_from_sqlite(tmp_path: Path) -> None:
    for what, bad in unusable_paths(tmp_path):
        with SQLiteStore(bad) as store:
            with pytest.raises(BackendError) as info:
                store.exists("s1")
            assert isinstance(info.value.__cause__, sqlite3.Error), what
            with pytest.raises(BackendError) as info:
                store.append("s1", user("x"))
            assert isinstance(info.value.__cause__, sqlite3.Error), what


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may write a read-only file"
)
def test_a_read_only_file_raises_backend_error_on_write(path: Path) -> None:
    with SQLiteStore(path) as store:
        store.append("s1", user("x"))
    chmod_database(path, 0o444)
    try:
        with SQLiteStore(path) as store:
            with pytest.raises(BackendError) as info:
                store.append("s1", user("y"))
            assert isinstance(info.value.__cause__, sqlite3.Error)
    finally:
        chmod_database(path, 0o644)


def test_the_store_works_again_once_the_file_is_usable(tmp_path: Path) -> None:
    path = tmp_path / "later" / "s.db"
    with SQLiteStore(path) as store:
        with pytest.raises(BackendError):
            store.append("s1", user("x"))
        path.parent.mkdir()
        store.append("s1", user("x"))
        assert [m.content for m in store.load("s1")] == ["x"]


def test_a_write_locked_elsewhere_waits_then_raises_backend_error(path: Path) -> None:
    with SQLiteStore(path, busy_timeout=0.05) as store:
        store.append("s1", user("x"))
        other = raw(path)
        other.execute("BEGIN IMMEDIATE")  # another connection holds the write lock
        try:
            with pytest.raises(BackendError, match="locked") as info:
                store.append("s1", user("y"))
            assert isinstance(info.value.__cause__, sqlite3.OperationalError)
            # Readers are not blocked by a writer in WAL mode.
            assert (store.get_metadata("s1")).message_count == 1
        finally:
            other.execute("ROLLBACK")
            other.close()
        store.append("s1", user("y"))  # the lock is gone: writes work again
        assert [m.content for m in store.load("s1")] == ["x", "y"]


# -- constructor, closing, URLs -------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"synchronous": "SOMETIMES"}, ValueError, "synchronous"),
        ({"synchronous": 1}, TypeError, "synchronous"),
        ({"busy_timeout": -1}, ValueError, "busy_timeout"),
        ({"busy_timeout": float("nan")}, ValueError, "busy_timeout"),
        ({"busy_timeout": "5"}, TypeError, "busy_timeout"),
        ({"busy_timeout": True}, TypeError, "busy_timeout"),
        ({"default_ttl": -1}, ValueError, "default_ttl"),
        ({"sliding": "yes"}, TypeError, "sliding"),
        ({"clock": 5}, TypeError, "clock"),
        ({"max_messages": 0}, ValueError, "max_messages"),
    ],
)
def test_bad_options_are_refused(
    path: Path, options: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        SQLiteStore(path, **options)
    assert not exists(path)


@pytest.mark.parametrize(
    ("bad", "error"), [(42, TypeError), (None, TypeError), (b"s.db", TypeError), ("", ValueError)]
)
def test_bad_paths_are_refused(bad: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="path"):
        SQLiteStore(bad)


def test_busy_timeout_zero_is_allowed(path: Path) -> None:
    with SQLiteStore(path, busy_timeout=0) as store:
        store.append("s1", user("x"))


def test_closing_closes_the_connection_and_the_store(path: Path) -> None:
    store = SQLiteStore(path)
    store.append("s1", user("x"))
    conn = store._engine._conn
    assert conn is not None
    store.close()
    store.close()  # harmless
    with pytest.raises(sqlite3.ProgrammingError):
        conn.execute("SELECT 1")  # really closed
    with pytest.raises(StoreClosed):
        store.load("s1")
    with pytest.raises(StoreClosed):
        for _session_id in store.iter_sessions():
            pass
    never_used = SQLiteStore(path)
    never_used.close()
    with pytest.raises(StoreClosed):
        never_used.exists("s1")
    with SQLiteStore(path) as reopened:  # the data outlives the store
        assert [m.content for m in reopened.load("s1")] == ["x"]


def test_iter_sessions_pages_through_many_ids(path: Path) -> None:
    ids = sorted(f"s{i:04}" for i in range(1203))
    with SQLiteStore(path) as store:
        for session_id in ids:
            store.append(session_id, user("x"))
        seen = [session_id for session_id in store.iter_sessions()]
        assert seen == ids
        assert [s for s in store.iter_sessions(prefix="s10")] == ids[1000:1100]


def test_open_async_store_builds_sqlite_stores(path: Path) -> None:
    url = f"sqlite:///{path}?default_ttl=60&synchronous=FULL&busy_timeout=1.5"
    with open_store(url) as store:
        assert isinstance(store, SQLiteStore) and store.path == str(path)
        assert (store.append("s", user("x"))).expires_at is not None
    with open_store("sqlite://:memory:") as store:
        assert isinstance(store, SQLiteStore) and store.path == ":memory:"
        assert repr(store) == f"<{type(store).__name__} path=':memory:'>"
