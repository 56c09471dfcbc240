# This file is generated from _async/sqlite.py by scripts/unasync.py: do not edit.
"""``SQLiteStore``: the embedded default, one SQLite file (or ``:memory:``)."""

from __future__ import annotations

import math
import os
import sqlite3
import time
from collections.abc import Iterator
from datetime import timedelta

from .._backends.sqlite import SYNCHRONOUS_MODES, SQLiteEngine, sqlite_path, sqlite_url_target
from .._concurrency import run_blocking
from .._metadata import Page, SessionMetadata
from .._model import Conversation, Message
from .._paging import FindQuery
from .._urls import COMMON_OPTIONS, URLSpec
from .._validation import Clock, Default, Limits, WriteArgs, check_clock, check_ttl
from .base import SessionStore

__all__ = ["SQLiteStore"]


class SQLiteStore(SessionStore):
    """Sessions in a SQLite file: durable, shared by the processes that open it.

    WAL mode; one transaction per call; one row per message, so ``append`` never
    rewrites the session and ``load(last=N)`` reads N rows; schema versioned, created
    and migrated (forward only) when the store first touches the file. Durability
    is explicit: with ``synchronous="NORMAL"`` (the default) a write that returned
    survives a kill of the process but not a power cut or an OS crash; ``"FULL"``
    survives those too, at the price of an fsync per write. Several processes may
    share one file: writers queue for up to ``busy_timeout`` seconds.

    The store holds one sqlite3 connection behind a lock; the async flavour runs
    each call in a worker thread (one hop per call), so it never blocks the event
    loop and works under asyncio and trio alike. ``":memory:"`` gives a private,
    process-local database that lives as long as the store.

    :param path: the database file (str or path-like), or ``":memory:"``
    :param default_ttl: seconds or ``timedelta`` a new session lives after its
        last write; None: forever
    :param sliding: True: a ``load`` restarts the TTL too
    :param clock: a zero-argument callable returning epoch seconds; every
        timestamp and expiry decision uses it
    :param max_messages: at most this many messages per session
    :param max_message_bytes: at most this many bytes per message (wire form)
    :param max_session_bytes: at most this many bytes per session (wire form)
    :param synchronous: SQLite's durability mode, ``"NORMAL"`` or ``"FULL"``
        (``"OFF"`` and ``"EXTRA"`` are passed through too; ``"OFF"`` is not durable)
    :param busy_timeout: seconds to wait for another connection's write lock
        before a call fails with :class:`BackendError` (0: do not wait)
    :raises TypeError: on an argument of the wrong type (``path``, ``clock``, ...)
    :raises ValueError: on a bad TTL, limit, ``synchronous`` or ``busy_timeout``

    A database whose schema is newer than this version of agent-session knows is
    refused: every call raises :class:`SerializationError` ("upgrade
    agent-session"). SQLite errors (a locked database past ``busy_timeout``, an
    unusable file) raise :class:`BackendError` with the sqlite3 exception as
    ``__cause__``; a stored message that is not valid wire format raises
    :class:`SerializationError`.
    """

    name = "sqlite"
    url_spec = URLSpec(
        "sqlite",
        ("sqlite",),
        {**COMMON_OPTIONS, "synchronous": str, "busy_timeout": float},
        target=sqlite_url_target,
    )

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        default_ttl: float | timedelta | None = None,
        sliding: bool = False,
        clock: Clock = time.time,
        max_messages: int | None = None,
        max_message_bytes: int | None = None,
        max_session_bytes: int | None = None,
        synchronous: str = "NORMAL",
        busy_timeout: float = 5.0,
    ) -> None:
        if not isinstance(synchronous, str):
            raise TypeError(f"synchronous must be a str such as 'NORMAL', not {synchronous!r}")
        if synchronous.upper() not in SYNCHRONOUS_MODES:
            raise ValueError(
                f"synchronous must be one of {', '.join(SYNCHRONOUS_MODES)}, not {synchronous!r}"
            )
        if not isinstance(sliding, bool):
            raise TypeError(f"sliding must be a bool, not {sliding!r}")
        if not isinstance(busy_timeout, (int, float)) or isinstance(busy_timeout, bool):
            raise TypeError(f"busy_timeout must be seconds (a number), not {busy_timeout!r}")
        if not math.isfinite(busy_timeout) or busy_timeout < 0:
            raise ValueError(
                f"busy_timeout must be a finite number of seconds >= 0, not {busy_timeout!r}"
            )
        self._limits = Limits(max_messages, max_message_bytes, max_session_bytes)
        self._driver_errors = (sqlite3.Error,)
        checked_path = sqlite_path(path)
        self._backend_name = f"SQLite ({checked_path})"
        self._engine = SQLiteEngine(
            checked_path,
            default_ttl=check_ttl(default_ttl, "default_ttl"),
            sliding=sliding,
            clock=check_clock(clock),
            limits=self._limits,
            synchronous=synchronous.upper(),
            busy_timeout=float(busy_timeout),
        )

    @property
    def path(self) -> str:
        """The database file, or ``":memory:"``."""
        return self._engine.path

    def _save(self, session_id: str, args: WriteArgs) -> SessionMetadata:
        return run_blocking(
            self._engine.save,
            session_id,
            args.messages,
            args.size,
            args.ttl,
            args.expected_version,
            args.labels,
        )

    def _append(self, session_id: str, args: WriteArgs) -> SessionMetadata:
        return run_blocking(
            self._engine.append,
            session_id,
            args.messages,
            args.size,
            args.ttl,
            args.expected_version,
        )

    def _load(self, session_id: str, last: int | None) -> Conversation:
        return run_blocking(self._engine.load, session_id, last)

    def _load_with_metadata(
        self, session_id: str, last: int | None
    ) -> tuple[Conversation, SessionMetadata]:
        # One read transaction: a snapshot, whatever other threads or processes write.
        return run_blocking(self._engine.load_with_metadata, session_id, last)

    def _pop(self, session_id: str, expected_version: int | None) -> Message | None:
        return run_blocking(self._engine.pop, session_id, expected_version)

    def _get_metadata(self, session_id: str) -> SessionMetadata:
        return run_blocking(self._engine.get_metadata, session_id)

    def _exists(self, session_id: str) -> bool:
        return run_blocking(self._engine.exists, session_id)

    def _delete(self, session_id: str) -> bool:
        return run_blocking(self._engine.delete, session_id)

    def _list_sessions(self, prefix: str | None, limit: int | None) -> list[str]:
        return run_blocking(self._engine.list_sessions, prefix, limit)

    def _iter_sessions(self, prefix: str | None) -> Iterator[str]:
        after: str | None = None
        while True:
            page = run_blocking(self._engine.iter_page, prefix, after)
            for session_id in page:
                yield session_id
            if not page:
                return
            after = page[-1]

    def _touch(self, session_id: str, ttl: float | None | Default) -> SessionMetadata:
        return run_blocking(self._engine.touch, session_id, ttl)

    def _purge_expired(self) -> int:
        return run_blocking(self._engine.purge_expired)

    def _clear(self) -> int:
        return run_blocking(self._engine.clear)

    def _find_sessions(self, query: FindQuery) -> Page:
        return run_blocking(self._engine.find_sessions, query)

    def _aclose(self) -> None:
        run_blocking(self._engine.close)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} path={self.path!r}>"
