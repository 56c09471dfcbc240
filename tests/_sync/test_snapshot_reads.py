# This file is generated from _async/test_snapshot_reads.py by scripts/unasync.py: do not edit.
"""``load_with_metadata`` of the durable stores is one snapshot, whatever else writes.

SQLite reads the session's row and its messages in one read transaction, PostgreSQL in
one statement: under appends from other tasks, threads and connections each answer is
of one moment (its newest message is the one whose append made its version) and none
gives up, as the base class's read-until-still default did under heavy writing. The
PostgreSQL tests run under asyncio only (psycopg's async needs it); SQLite's under
asyncio and trio.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg_pool
import pytest
from postgres_helpers import drop_tables, new_prefix

from agent_session import (
    PostgresStore,
    SessionStore,
    SQLiteStore,
    Conversation,
    Message,
    SessionMetadata,
)
from agent_session._concurrency import Nursery, sleep

READS = 60
WRITERS = 3
VERSIONS = 4  # distinct versions the reads must see: the writers got in between
DEADLINE = 60.0  # seconds: a loaded machine may hold the writers back for a while
assert psycopg_pool  # imported here: importing it on the event loop reads files (blockbuster)


def _user(text: str) -> Message:
    return Message("user", text)


def check_snapshots_under_appends(
    reader: SessionStore,
    writers: Sequence[SessionStore],
    monkeypatch: pytest.MonkeyPatch,
    last: int | None,
) -> None:
    """Read ``load_with_metadata`` while ``writers`` append; check every answer."""
    reader.save("s", Conversation([_user("seed")]))
    # The message each append added, by the message_count it returned: its position.
    positions: dict[str, int] = {"seed": 1}
    reads: list[tuple[list[Any], SessionMetadata]] = []
    done = False

    def no_retry_loop(session_id: str) -> Any:
        raise AssertionError("load_with_metadata used the base class's read-until-still")

    # The store's own snapshot, not the default that reads metadata, messages, metadata.
    monkeypatch.setattr(reader, "_get_metadata", no_retry_loop)

    def write(store: SessionStore, writer: int) -> None:
        number = 0
        while not done:
            text = f"{writer}-{number}"
            meta = store.append("s", _user(text))
            positions[text] = meta.message_count
            number += 1

    def read() -> None:
        # At least READS reads, and on until they have seen the writers get in between
        # (a busy machine can starve the writers for a while), within the deadline.
        nonlocal done
        versions: set[int] = set()
        deadline = time.monotonic() + DEADLINE
        try:
            while len(reads) < READS or len(versions) < VERSIONS:
                assert time.monotonic() < deadline, (len(reads), versions)
                conversation, meta = reader.load_with_metadata("s", last=last)
                reads.append(([m.content for m in conversation], meta))
                versions.add(meta.version)
                sleep(0)  # let the writers in (threads: give up the GIL)
        finally:
            done = True

    with Nursery() as nursery:
        for writer, store in enumerate(writers):
            nursery.start_soon(write, store, writer)
        nursery.start_soon(read)

    assert len(reads) >= READS
    for contents, meta in reads:
        count = meta.message_count
        assert meta.version == count  # one save of one message, then one-message appends
        assert len(contents) == (count if last is None else min(last, count))
        # Of one moment: the messages are the newest of the version the metadata has.
        assert [positions[text] for text in contents] == list(
            range(count - len(contents) + 1, count + 1)
        )
    # The writes did come in between the reads.
    assert len({meta.version for _, meta in reads}) >= VERSIONS


LASTS = [pytest.param(None, id="all"), pytest.param(3, id="last3")]
SLIDING = [pytest.param(False, id="fixed"), pytest.param(True, id="sliding")]


@pytest.mark.parametrize("last", LASTS)
@pytest.mark.parametrize("sliding", SLIDING)
def test_sqlite_snapshots_under_appends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, last: int | None, sliding: bool
) -> None:
    path = tmp_path / "sessions.db"
    options: dict[str, Any] = {"sliding": sliding, "default_ttl": 3600}
    # One writer shares the reader's connection; the others have their own, as
    # other processes would.
    with (
        SQLiteStore(path, **options) as reader,
        SQLiteStore(path, **options) as other,
        SQLiteStore(path, **options) as third,
    ):
        check_snapshots_under_appends(reader, [reader, other, third], monkeypatch, last)


class TestPostgres:
    @pytest.fixture
    def anyio_backend(self) -> str:
        return "asyncio"

    @pytest.fixture
    def prefix(self, postgres_dsn: str) -> Iterator[str]:
        prefix = new_prefix()
        yield prefix
        drop_tables(postgres_dsn, prefix)

    @pytest.mark.parametrize("last", LASTS)
    @pytest.mark.parametrize("sliding", SLIDING)
    def test_postgres_snapshots_under_appends(
        self,
        postgres_dsn: str,
        prefix: str,
        monkeypatch: pytest.MonkeyPatch,
        last: int | None,
        sliding: bool,
    ) -> None:
        options: dict[str, Any] = {"table_prefix": prefix, "sliding": sliding}
        options["default_ttl"] = 3600
        with (
            PostgresStore(postgres_dsn, **options) as reader,
            PostgresStore(postgres_dsn, **options) as other,
        ):
            writers = [reader, other] + [other] * (WRITERS - 2)
            check_snapshots_under_appends(reader, writers, monkeypatch, last)
