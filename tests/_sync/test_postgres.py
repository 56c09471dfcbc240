# This file is generated from _async/test_postgres.py by scripts/unasync.py: do not edit.
"""What only the PostgreSQL store promises: tables, pools, isolation, faults.

asyncio only (psycopg's async connections need it); the refusal under trio is in
``tests/test_asyncio_only_drivers.py``, the tests with several processes in
``tests/test_postgres_durable.py``.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from postgres_helpers import (
    drop_tables,
    new_prefix,
    query,
    tables_of,
    terminate,
    with_search_path,
)
from psycopg import Connection
from psycopg_pool import ConnectionPool, PoolTimeout

from agent_session import (
    PostgresStore,
    BackendError,
    Conversation,
    Message,
    SerializationError,
    StoreClosed,
    VersionConflict,
    open_store,
)
from agent_session._backends.postgres import SCHEMA_VERSION
from agent_session._concurrency import Nursery, Result, sleep
from agent_session.testing import FakeClock

from .stalled_clock import LATE_WRITES, check_a_stalled_write


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def prefix(postgres_dsn: str) -> Iterator[str]:
    prefix = new_prefix()
    yield prefix
    drop_tables(postgres_dsn, prefix)


def _user(text: str) -> Message:
    return Message("user", text)


def test_tables_and_schema_version(postgres_dsn: str, prefix: str) -> None:
    with PostgresStore(postgres_dsn, table_prefix=prefix) as store:
        store.append("s", _user("x"))
        assert store.schema == "public"  # the default search_path's
    tables = query(
        postgres_dsn,
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE %s "
        "ORDER BY tablename",
        (prefix + "%",),
    )
    assert tables == [(prefix + "messages",), (prefix + "schema",), (prefix + "sessions",)]
    assert query(postgres_dsn, f'SELECT version FROM "{prefix}schema"') == [(SCHEMA_VERSION,)]
    stored = query(postgres_dsn, f'SELECT session_id, body, size FROM "{prefix}messages"')
    # The wire form: the message's id, its time, then the payload as given (29 bytes).
    [(session_id, body, size)] = stored
    assert (session_id, size) == ("s", 29)
    assert isinstance(body, str) and body.startswith('{"id":"')
    assert body.endswith(',"m":{"role":"user","content":"x"}}')


def test_data_survives_a_new_store(postgres_dsn: str, prefix: str) -> None:
    with PostgresStore(postgres_dsn, table_prefix=prefix) as store:
        store.save("s", Conversation().add_user("hello"), labels={"k": "v"})
        store.append("s", Message("assistant", "hi"))
    with PostgresStore(postgres_dsn, table_prefix=prefix) as store:
        assert [m.content for m in store.load("s")] == ["hello", "hi"]
        meta = store.get_metadata("s")
        assert meta.version == 2 and dict(meta.labels) == {"k": "v"}
        with pytest.raises(TypeError):
            meta.labels["k"] = "changed"  # type: ignore[index]  # read-only


def test_prefixes_and_schemas_isolate_stores(postgres_dsn: str, prefix: str) -> None:
    other_prefix = new_prefix()
    schema = f"t_{uuid.uuid4().hex[:10]}"
    try:
        with (
            PostgresStore(postgres_dsn, table_prefix=prefix) as one,
            PostgresStore(postgres_dsn, table_prefix=other_prefix) as two,
            PostgresStore(postgres_dsn, table_prefix=prefix, schema=schema) as three,
        ):
            one.append("s", _user("one"))
            assert not two.exists("s")
            assert not three.exists("s")  # same prefix, another schema
            three.append("s", _user("three"))
            assert [m.content for m in one.load("s")] == ["one"]
            assert two.list_sessions() == []
            assert two.clear() == 0
            assert one.exists("s") and three.exists("s")
    finally:
        drop_tables(postgres_dsn, other_prefix)
        query(postgres_dsn, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def fresh_schema(postgres_dsn: str) -> Iterator[str]:
    """A schema of this test's own, dropped (with its tables) afterwards."""
    schema = f"app_{uuid.uuid4().hex[:10]}"
    query(postgres_dsn, f'CREATE SCHEMA "{schema}"')
    yield schema
    query(postgres_dsn, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _names(prefix: str, schema: str) -> list[tuple[object, ...]]:
    return [(schema, prefix + table) for table in ("messages", "schema", "sessions")]


@pytest.mark.parametrize("given_as", ["dsn", "url", "pool"])
def test_without_schema_the_tables_go_to_the_search_paths_schema(
    postgres_dsn: str, prefix: str, fresh_schema: str, given_as: str
) -> None:
    # Issue 7, defect 14: they went to "public" whatever the DSN's search_path said.
    dsn = with_search_path(postgres_dsn, fresh_schema)
    if given_as == "pool":
        pool = ConnectionPool(
            postgres_dsn, kwargs={"options": f"-c search_path={fresh_schema}"}, open=False
        )
        pool.open()
        store = PostgresStore(pool, table_prefix=prefix)
    elif given_as == "url":
        opened = open_store(f"{dsn}&table_prefix={prefix}")
        assert isinstance(opened, PostgresStore)
        store = opened
    else:
        store = PostgresStore(dsn, table_prefix=prefix)
    try:
        assert store.schema is None and "schema=current_schema()" in repr(store)
        store.append("s", _user("x"))
        assert store.schema == fresh_schema  # resolved on the first call, and said
        assert f"schema={fresh_schema!r}" in repr(store)
        assert tables_of(postgres_dsn, prefix) == _names(prefix, fresh_schema)
    finally:
        store.close()
        if given_as == "pool":
            pool.close()
    # A store that names the schema sees the same session.
    with PostgresStore(postgres_dsn, schema=fresh_schema, table_prefix=prefix) as again:
        assert [m.content for m in again.load("s")] == ["x"]


def test_an_explicit_schema_beats_the_search_path(
    postgres_dsn: str, prefix: str, fresh_schema: str
) -> None:
    other = f"app_{uuid.uuid4().hex[:10]}"
    dsn = with_search_path(postgres_dsn, fresh_schema)
    try:
        with PostgresStore(dsn, schema=other, table_prefix=prefix) as store:
            assert store.schema == other
            store.append("s", _user("x"))
            assert store.schema == other
        assert tables_of(postgres_dsn, prefix) == _names(prefix, other)  # created for it
    finally:
        query(postgres_dsn, f'DROP SCHEMA IF EXISTS "{other}" CASCADE')


def test_a_search_path_naming_no_schema_is_a_clear_error(
    postgres_dsn: str, prefix: str
) -> None:
    missing = f"app_{uuid.uuid4().hex[:10]}"
    with PostgresStore(
        with_search_path(postgres_dsn, missing), table_prefix=prefix
    ) as store:
        with pytest.raises(BackendError, match="search_path") as info:
            store.append("s", _user("x"))
        message = str(info.value)
        assert missing in message and "schema=" in message and "CREATE SCHEMA" in message
        assert store.schema is None
        assert tables_of(postgres_dsn, prefix) == []  # nothing went to public instead
        try:
            query(postgres_dsn, f'CREATE SCHEMA "{missing}"')
            store.append("s", _user("x"))  # works once it exists, no new store
            assert store.schema == missing
            assert tables_of(postgres_dsn, prefix) == _names(prefix, missing)
        finally:
            query(postgres_dsn, f'DROP SCHEMA IF EXISTS "{missing}" CASCADE')


def test_callers_pool_is_used_and_not_closed(postgres_dsn: str, prefix: str) -> None:
    # The pool's connections are not in autocommit mode: the store must commit its writes.
    with ConnectionPool(postgres_dsn, min_size=1, max_size=2, open=False) as pool:
        with PostgresStore(pool, table_prefix=prefix) as store:
            store.append("s", _user("x"))
            store.save("t", Conversation().add_user("y"))
        assert not pool.closed
        with pool.connection() as conn:
            cursor = conn.execute(f'SELECT count(*) FROM "{prefix}messages"')
            assert cursor.fetchone() == (2,)
    # Seen from another connection: committed, not left in an open transaction.
    assert query(postgres_dsn, f'SELECT count(*) FROM "{prefix}sessions"') == [(2,)]


@pytest.mark.parametrize("threshold", [None, 5])
def test_statements_are_prepared_unless_switched_off(
    postgres_dsn: str, prefix: str, threshold: int | None
) -> None:
    # prepare_threshold=None is how one runs behind a PgBouncer in transaction mode.
    kwargs: dict[str, Any] = {"prepare_threshold": threshold, "autocommit": True}
    with ConnectionPool(
        postgres_dsn, min_size=1, max_size=1, kwargs=kwargs, open=False
    ) as pool:
        with PostgresStore(pool, table_prefix=prefix) as store:
            store.append("s", _user("x"))
            assert [m.content for m in store.load("s")] == ["x"]
        with pool.connection() as conn:
            cursor = conn.execute("SELECT count(*) FROM pg_prepared_statements")
            row = cursor.fetchone()
    assert row is not None
    assert (row[0] == 0) if threshold is None else (row[0] >= 2)


def test_newer_schema_is_refused(postgres_dsn: str, prefix: str) -> None:
    with PostgresStore(postgres_dsn, table_prefix=prefix) as store:
        store.exists("s")
    query(postgres_dsn, f'UPDATE "{prefix}schema" SET version = version + 1')
    with PostgresStore(postgres_dsn, table_prefix=prefix) as store:
        with pytest.raises(SerializationError, match="upgrade agent-session"):
            store.exists("s")


def test_many_tasks_opening_one_store_at_once(postgres_dsn: str, prefix: str) -> None:
    with PostgresStore(postgres_dsn, table_prefix=prefix) as store:
        with Nursery() as nursery:
            for number in range(10):
                nursery.start_soon(store.append, f"s{number}", _user("x"))
        assert len(store.list_sessions()) == 10
    assert query(postgres_dsn, f'SELECT version FROM "{prefix}schema"') == [(SCHEMA_VERSION,)]


def test_corrupted_rows_raise_serialization_error(postgres_dsn: str, prefix: str) -> None:
    with PostgresStore(postgres_dsn, table_prefix=prefix) as store:
        store.append("s", _user("x"))
        store.append("t", _user("x"))
        query(postgres_dsn, f'UPDATE "{prefix}messages" SET body = \'{{"role": "wizard"}}\'')
        with pytest.raises(SerializationError):
            store.load("s")
        query(postgres_dsn, f'UPDATE "{prefix}sessions" SET labels = \'{{"k": 1}}\'')
        with pytest.raises(SerializationError) as raised:
            store.get_metadata("t")
        assert raised.value.session_id == "t"  # issue 7, defect 13


def test_a_pop_that_cannot_decode_the_newest_message_keeps_it(
    postgres_dsn: str, prefix: str
) -> None:
    # Issue 7, defect 2: the message was deleted and the version bumped, then it failed.
    with PostgresStore(postgres_dsn, table_prefix=prefix) as store:
        store.append("s", _user("x"), _user("y"))
        query(postgres_dsn, f"UPDATE \"{prefix}messages\" SET body = 'not json' WHERE seq = 1")
        before = store.get_metadata("s")
        with pytest.raises(SerializationError) as raised:
            store.pop("s")
        assert raised.value.session_id == "s"
        assert store.get_metadata("s") == before
        bodies = query(postgres_dsn, f'SELECT body FROM "{prefix}messages" ORDER BY seq')
        assert [str(body).endswith('"m":{"role":"user","content":"x"}}') for (body,) in bodies] == [
            True,
            False,
        ]
        assert bodies[1] == ("not json",)
        store.append("s", _user("z"))  # the session goes on
        assert store.pop("s") == _user("z")


@pytest.mark.parametrize("sliding", [False, True])
def test_every_serialization_error_names_its_session(
    postgres_dsn: str, prefix: str, sliding: bool
) -> None:
    # Issue 7, defect 13: a corrupt row or labels column raises SerializationError
    # carrying the session's id, from every call that reads it. With sliding=True a
    # missing row ran load 50 times and then raised BackendError ("kept changing").
    with PostgresStore(
        postgres_dsn, table_prefix=prefix, sliding=sliding, default_ttl=60
    ) as store:
        store.append("body", _user("x"))
        store.append("labels", _user("x"))
        store.append("short", _user("a"), _user("b"), _user("c"))
        store.append("top", _user("a"), _user("b"))
        messages, sessions = f'"{prefix}messages"', f'"{prefix}sessions"'
        query(postgres_dsn, f"UPDATE {messages} SET body = 'not json' WHERE session_id = 'body'")
        query(postgres_dsn, f"UPDATE {sessions} SET labels = '[1]' WHERE id = 'labels'")
        query(postgres_dsn, f"DELETE FROM {messages} WHERE session_id = 'short' AND seq = 1")
        query(postgres_dsn, f"DELETE FROM {messages} WHERE session_id = 'top' AND seq = 1")
        calls: list[tuple[str, Callable[[], Result[object]]]] = [
            ("body", lambda: store.load("body")),
            ("body", lambda: store.load("body", last=1)),
            ("body", lambda: store.pop("body")),
            ("labels", lambda: store.get_metadata("labels")),
            ("labels", lambda: store.touch("labels")),
            ("labels", lambda: store.find_sessions()),
            ("short", lambda: store.load("short")),
            ("short", lambda: store.load("short", last=2)),
            ("body", lambda: store.load_with_metadata("body")),
            ("body", lambda: store.load_with_metadata("body", last=1)),
            ("labels", lambda: store.load_with_metadata("labels")),
            ("short", lambda: store.load_with_metadata("short")),
            ("short", lambda: store.load_with_metadata("short", last=2)),
            ("top", lambda: store.pop("top")),
        ]
        for session_id, call in calls:
            with pytest.raises(SerializationError) as raised:
                call()
            assert raised.value.session_id == session_id, (session_id, raised.value)
            assert repr(session_id) in str(raised.value)
        # What the damage did not reach still reads.
        assert [m.content for m in store.load("short", last=1)] == ["c"]


@pytest.mark.parametrize(
    "garbled", ["'{\"k\": 1}'", "'[1]'", "'\"text\"'", '\'{"k": {"n": "v"}}\'']
)
def test_a_write_to_a_session_with_garbled_labels_writes_nothing(
    postgres_dsn: str, prefix: str, garbled: str
) -> None:
    # A write that keeps the stored labels committed, then failed decoding them: the
    # caller saw SerializationError and a retry wrote a second time.
    clock = FakeClock()
    sessions, messages = f'"{prefix}sessions"', f'"{prefix}messages"'
    with PostgresStore(
        postgres_dsn, table_prefix=prefix, clock=clock, default_ttl=60
    ) as store:
        store.save("s", Conversation([_user("a")]), labels={"k": "v"})
        query(postgres_dsn, f"UPDATE {sessions} SET labels = {garbled} WHERE id = 's'")

        def stored() -> list[tuple[Any, ...]]:
            head = query(
                postgres_dsn,
                f"SELECT version, message_count, size_bytes, expires_at, updated_at, next_seq "
                f"FROM {sessions} WHERE id = 's'",
            )
            return head + query(postgres_dsn, f"SELECT seq, body FROM {messages} ORDER BY seq")

        before = stored()
        clock.advance(1)
        calls: list[Callable[[], Result[object]]] = [
            lambda: store.append("s", _user("b")),
            lambda: store.append("s", _user("b"), _user("c")),
            lambda: store.append("s", _user("b"), expected_version=1),
            lambda: store.append("s", _user("b"), _user("c"), expected_version=1),
            lambda: store.save("s", Conversation([_user("b")])),
            lambda: store.save("s", Conversation([_user("b")]), expected_version=1),
            lambda: store.touch("s"),
            lambda: store.touch("s", ttl=5),
        ]
        for call in calls:
            with pytest.raises(SerializationError) as raised:
                call()
            assert raised.value.session_id == "s"
            assert stored() == before  # nothing written
        with pytest.raises(VersionConflict):  # the version is checked as before
            store.append("s", _user("b"), expected_version=7)
        # New labels replace the garbled ones: that write works.
        meta = store.save("s", Conversation([_user("b")]), labels={"k": "w"})
        assert meta.version == 2 and dict(meta.labels) == {"k": "w"}
        # So does a write to the session once it expired (it starts anew, unlabelled).
        query(postgres_dsn, f"UPDATE {sessions} SET labels = {garbled} WHERE id = 's'")
        clock.advance(61)
        meta = store.append("s", _user("c"))
        assert meta.version == 1 and dict(meta.labels) == {}
        assert [m.content for m in store.load("s")] == ["c"]


def test_a_sliding_snapshot_read_is_of_one_moment(postgres_dsn: str, prefix: str) -> None:
    # The sliding read's UPDATE sees the newest session row, its join of the messages the
    # statement's snapshot: a write committed in between (here a pop and an append, which
    # leave the count as it was) must not pair the old messages with the new version.
    sessions, messages = f'"{prefix}sessions"', f'"{prefix}messages"'
    with PostgresStore(
        postgres_dsn, table_prefix=prefix, sliding=True, default_ttl=60
    ) as store:
        store.append("s", _user("a"), _user("b"))
        results: list[tuple[Conversation, Any]] = []

        def read() -> None:
            results.append(store.load_with_metadata("s"))

        with psycopg.connect(postgres_dsn) as writer:  # holds the row lock: the read waits
            writer.execute(f"SELECT 1 FROM {sessions} WHERE id = 's' FOR UPDATE")
            with Nursery() as nursery:
                nursery.start_soon(read)
                for _ in range(500):
                    waiting = query(
                        postgres_dsn,
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND query LIKE %s",
                        ("%WITH snap AS%",),
                    )
                    if waiting == [(1,)]:
                        break
                    sleep(0.01)
                assert waiting == [(1,)]
                writer.execute(f"UPDATE {sessions} SET version = version + 2 WHERE id = 's'")
                writer.execute(
                    f'UPDATE {messages} SET body = replace(body, \'"content":"b"\', '
                    "'\"content\":\"c\"') WHERE session_id = 's' AND seq = 1"
                )
                writer.commit()
        [(conversation, meta)] = results
        assert [m.content for m in conversation] == ["a", "c"]
        assert meta.version == 3 and meta == store.get_metadata("s")


def test_timestamps_are_floats_in_every_answer(postgres_dsn: str, prefix: str) -> None:
    # Issue 7, defect 13, beyond the contract: find_sessions, pop, and a new store.
    def clock() -> int:  # whole seconds, as an int
        return 1_700_000_000

    with PostgresStore(
        postgres_dsn, table_prefix=prefix, clock=clock, default_ttl=60
    ) as store:
        store.append("s", _user("a"), _user("b"))
        [meta] = (store.find_sessions()).items
        popped = store.pop("s")
        assert popped is not None and type(popped.created_at) is float
    with PostgresStore(postgres_dsn, table_prefix=prefix, clock=clock) as store:
        again = store.get_metadata("s")
        [message] = store.load("s")
    for stamps in (meta, again):
        assert all(
            type(t) is float for t in (stamps.created_at, stamps.updated_at, stamps.expires_at)
        )
    assert type(message.created_at) is float


def test_rows_missing_from_a_session_are_reported(postgres_dsn: str, prefix: str) -> None:
    with PostgresStore(postgres_dsn, table_prefix=prefix) as store:
        store.append("s", _user("a"), _user("b"))
        query(postgres_dsn, f'DELETE FROM "{prefix}messages" WHERE seq = 0')
        with pytest.raises(SerializationError, match="should hold 2 messages"):
            store.load("s")


def test_rows_outside_the_live_window_are_never_served(
    postgres_dsn: str, prefix: str
) -> None:
    # What a write racing a replacement can leave behind: a row below the session's window.
    with PostgresStore(postgres_dsn, table_prefix=prefix) as store:
        store.save("s", Conversation().add_user("old"))
        store.save("s", Conversation().add_user("new"))
        query(
            postgres_dsn,
            f'INSERT INTO "{prefix}messages" (session_id, seq, body, size) '
            'VALUES (\'s\', 0, \'{"role":"user","content":"stale"}\', 34)',
        )
        assert [m.content for m in store.load("s")] == ["new"]
        assert [m.content for m in store.load("s", last=5)] == ["new"]
        popped = store.pop("s")
        assert popped is not None and popped.content == "new"
        assert store.pop("s") is None
        store.append("s", _user("after"))
        assert [m.content for m in store.load("s")] == ["after"]
        store.save("s", Conversation().add_user("again"))
        assert [m.content for m in store.load("s")] == ["again"]
        assert store.delete("s")  # and removing the session removes every row
        assert query(postgres_dsn, f'SELECT count(*) FROM "{prefix}messages"') == [(0,)]


def test_unreachable_server_raises_backend_error(prefix: str) -> None:
    store = PostgresStore(
        "postgresql://postgres@127.0.0.1:1/test", table_prefix=prefix, connect_timeout=1
    )
    with store:
        with pytest.raises(BackendError, match="127.0.0.1:1") as info:
            store.exists("s")
        # libpq's own reason, at once: not a pool that waited for a connection in vain.
        assert isinstance(info.value.__cause__, psycopg.OperationalError)
        assert not isinstance(info.value.__cause__, PoolTimeout)
        with pytest.raises(BackendError):  # and again: the store keeps trying to open
            store.append("s", _user("x"))


def test_closing_while_the_first_call_opens_the_pool(postgres_dsn: str, prefix: str) -> None:
    # close marks the store closed at once, then waits for the opening call to finish
    # opening the pool, and closes it: the call ends with StoreClosed (or its answer).
    store = PostgresStore(postgres_dsn, table_prefix=prefix)
    outcomes: list[object] = []

    def call() -> None:
        try:
            outcomes.append(store.exists("s"))
        except StoreClosed:
            outcomes.append("closed")

    with Nursery() as nursery:
        nursery.start_soon(call)
        sleep(0.01)  # the call is connecting
        nursery.start_soon(store.close)
    assert outcomes in ([False], ["closed"])
    assert store._pool.closed  # not left open by the call that opened it
    with pytest.raises(StoreClosed):
        store.exists("s")
    store.close()  # and again: harmless


def test_killed_connections_are_replaced(postgres_dsn: str, prefix: str) -> None:
    # Kill only this store's connections (by application_name): other tests share the server.
    name = f"agent-session-{prefix}"
    options: dict[str, Any] = {"kwargs": {"application_name": name}, "min_size": 2}
    with PostgresStore(postgres_dsn, table_prefix=prefix, pool_kwargs=options) as store:
        store.append("s", _user("before"))
        assert terminate(postgres_dsn, name) >= 1
        assert store.exists("s")  # a read on a fresh connection
        assert terminate(postgres_dsn, name) >= 1
        store.append("s", _user("after"))  # and a write
        assert [m.content for m in store.load("s")] == ["before", "after"]


def test_a_read_runs_again_when_its_connection_dies(
    postgres_dsn: str, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"agent-session-{prefix}"
    options: dict[str, Any] = {
        "kwargs": {"application_name": name},
        "min_size": 1,
        "max_size": 1,
    }
    with PostgresStore(postgres_dsn, table_prefix=prefix, pool_kwargs=options) as store:
        store.append("s", _user("x"))
        # Let dead connections through the checkout check, as if the server dropped
        # them just after it.
        module = sys.modules[PostgresStore._checkout.__module__]
        monkeypatch.setattr(module, "connection_usable", lambda conn: True)
        assert terminate(postgres_dsn, name) == 1
        assert store.exists("s")  # failed once, ran again on a new connection
        assert terminate(postgres_dsn, name) == 1
        with pytest.raises(BackendError) as info:  # a write is not repeated
            store.append("s", _user("y"))
        assert isinstance(info.value.__cause__, psycopg.OperationalError)
        store.append("s", _user("z"))
        assert [m.content for m in store.load("s")] == ["x", "z"]


def test_open_store_url(postgres_dsn: str, prefix: str) -> None:
    with open_store(
        f"{postgres_dsn}?table_prefix={prefix}&default_ttl=30&connect_timeout=2"
    ) as store:
        assert isinstance(store, PostgresStore) and store.table_prefix == prefix
        assert (store.append("s", _user("x"))).expires_at is not None


def test_labels_with_nul_are_refused_up_front(postgres_dsn: str, prefix: str) -> None:
    with PostgresStore(postgres_dsn, table_prefix=prefix) as store:
        with pytest.raises(ValueError, match="NUL"):
            store.save("s", Conversation(), labels={"k": "a\x00b"})
        assert not store.exists("s")
        assert (store.find_sessions(labels={"k": "a\x00b"})).items == []


def test_bad_constructor_arguments(postgres_dsn: str) -> None:
    with pytest.raises(ValueError, match="table_prefix"):
        PostgresStore(postgres_dsn, table_prefix="bad-prefix")
    with pytest.raises(ValueError, match="schema"):
        PostgresStore(postgres_dsn, schema="")
    with pytest.raises(TypeError, match="table_prefix"):
        PostgresStore(postgres_dsn, table_prefix=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="connect_timeout"):
        PostgresStore(postgres_dsn, connect_timeout=0)
    with pytest.raises(ValueError, match="invalid PostgreSQL DSN"):
        PostgresStore("host=localhost nonsense")
    with pytest.raises(ValueError, match="open"):
        PostgresStore(postgres_dsn, pool_kwargs={"open": True})
    with pytest.raises(TypeError, match="DSN"):
        PostgresStore(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="DSN"):  # a connection is not a pool
        PostgresStore(Connection)  # type: ignore[arg-type]
    pool = ConnectionPool(postgres_dsn, open=False)
    with pytest.raises(ValueError, match="pool_kwargs"):
        PostgresStore(pool, pool_kwargs={"max_size": 3})


def test_repr_hides_the_password() -> None:
    store = PostgresStore("postgresql://user:s3cret@127.0.0.1:1/db", table_prefix="p_")
    assert "s3cret" not in repr(store)
    assert "127.0.0.1:1/db" in repr(store) and "p_" in repr(store)
    store.close()


@pytest.mark.parametrize("late_write", LATE_WRITES)
def test_a_write_that_read_the_clock_then_stalled_never_moves_time_back(
    postgres_dsn: str, prefix: str, late_write: str
) -> None:
    clock = FakeClock(1000.0)
    check_a_stalled_write(
        PostgresStore(
            postgres_dsn, table_prefix=prefix, clock=clock, default_ttl=1.5, sliding=True
        ),
        clock,
        late_write,
    )
