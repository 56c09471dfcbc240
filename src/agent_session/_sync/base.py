# This file is generated from _async/base.py by scripts/unasync.py: do not edit.
"""The interface every store implements: :class:`SessionStore`, the front door.

Every public method is concrete and written once, here: the closed check, the
asyncio-only guard, argument validation (ids, TTLs, limits, labels, cursors, ints
every backend can hold) and the mapping of driver exceptions to
:class:`BackendError`. A store implements the protected hooks (``_save``,
``_append``, ``_load``, ...), which receive checked arguments only, so no backend is
touched before the arguments are known to be good, and no store has its own copy of
the rules. ``docs/adding-a-store.md`` walks through adding one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import Any, ClassVar, TypeVar

from .._concurrency import ensure_asyncio, run_to_completion
from .._errors import BackendError, StoreClosed, backend_failure
from .._metadata import Page, SessionMetadata
from .._model import Conversation, Message
from .._paging import FindQuery
from .._urls import StoreURL, URLSpec, register_url_spec
from .._validation import (
    DEFAULT,
    NO_LIMITS,
    Default,
    Limits,
    TTLArg,
    WriteArgs,
    check_append,
    check_expected_version,
    check_last,
    check_limit,
    check_prefix,
    check_save,
    check_session_id,
    resolve_ttl_arg,
)

__all__ = ["SessionStore"]

_Store = TypeVar("_Store", bound="SessionStore")

#: How often load_with_metadata's default reads again when a write came in between.
_SNAPSHOT_TRIES = 20


class SessionStore(ABC):
    """A store of conversations under session ids.

    Every store is safe to share between threads and tasks. Closing it (``close``,
    or leaving ``async with``) is harmless twice; any other call then raises
    :class:`StoreClosed`.
    """

    #: A short name of the kind of store, e.g. ``"memory"``, ``"sqlite"``.
    name: str = "store"
    #: The per-session limits every write is checked against (stores set their own).
    _limits: Limits = NO_LIMITS
    #: The driver exceptions that mean "the backend failed": raised as BackendError.
    _driver_errors: tuple[type[BaseException], ...] = ()
    #: What failed, in a BackendError's message (``"Redis"``, ``"SQLite (path)"``).
    _backend_name: str = "the backend"
    #: True where the driver runs on asyncio only (a clear error under trio).
    _asyncio_only: ClassVar[bool] = False
    _closed: bool = False
    #: True: every call goes through :meth:`_enter` (the store is closed, or its class
    #: is asyncio-only). One attribute of the instance, set by ``__new__``: the test
    #: that every call of the hot paths makes (class attributes, like the two above,
    #: cost ~100 ns more per call to look up through an instance on CPython 3.11).
    _guarded: bool = True
    #: The URL schemes and options that open this store (see ``_urls.py``); a class
    #: that sets it is registered when it is defined, and ``open_store`` finds it.
    url_spec: ClassVar[URLSpec | None] = None
    #: The registered stores of this half, by kind.
    _registry: ClassVar[dict[str, type[SessionStore]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        spec = cls.__dict__.get("url_spec")
        if spec is not None:
            register_url_spec(spec)
            SessionStore._registry[spec.kind] = cls

    @classmethod
    def _from_url(cls: type[_Store], url: StoreURL, options: dict[str, Any]) -> _Store:
        """The store a parsed URL names; keyword ``options`` override the URL's."""
        kwargs = {**url.options, **options}
        build: Any = cls  # the base takes no arguments; each registered store its own
        if cls.url_spec is not None and cls.url_spec.target is not None:
            return build(url.target, **kwargs)  # type: ignore[no-any-return]
        return build(**kwargs)  # type: ignore[no-any-return]

    def __new__(cls: type[_Store], *args: Any, **kwargs: Any) -> _Store:
        store = super().__new__(cls)
        store._guarded = cls._asyncio_only
        return store

    # -- the front door ----------------------------------------------------------------

    def _enter(self) -> None:
        """Refuse a call on a closed store, or on the wrong event loop library."""
        if self._asyncio_only:  # first: under trio, no call of such a store can work
            ensure_asyncio(type(self).__name__)
        if self._closed:
            raise StoreClosed(self.name)

    def save(
        self,
        session_id: str,
        conversation: Conversation,
        *,
        ttl: TTLArg = DEFAULT,
        expected_version: int | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> SessionMetadata:
        """Store a snapshot of ``conversation``, replacing what the session held.

        :param ttl: seconds or ``timedelta``; ``DEFAULT`` keeps the session's own TTL
            (the store's ``default_ttl`` for a new session); None: never expires
        :param expected_version: write only if the session is at this version
            (0: it must not exist yet)
        :param labels: replace the session's labels; None keeps them
        :raises InvalidSessionId: if ``session_id`` is not valid
        :raises VersionConflict: if ``expected_version`` does not match
        :raises CapacityExceeded: if a limit would be exceeded
        :raises BackendError: if the backend failed
        :return: the session's metadata after the write
        """
        if self._guarded:
            self._enter()
        args = check_save(session_id, conversation, ttl, expected_version, labels, self._limits)
        try:
            return self._save(session_id, args)
        except self._driver_errors as exc:
            raise backend_failure(self._backend_name, exc) from exc

    def append(
        self,
        session_id: str,
        *messages: Message,
        ttl: TTLArg = DEFAULT,
        expected_version: int | None = None,
    ) -> SessionMetadata:
        """Atomically add messages at the end, creating the session if needed.

        Concurrent appends never lose a message, and the cost does not grow with the
        session's length.

        :raises VersionConflict: if ``expected_version`` does not match
        :raises CapacityExceeded: if a limit would be exceeded
        :return: the session's metadata after the write
        """
        if self._guarded:
            self._enter()
        args = check_append(session_id, messages, ttl, expected_version, self._limits)
        try:
            return self._append(session_id, args)
        except self._driver_errors as exc:
            raise backend_failure(self._backend_name, exc) from exc

    def load(self, session_id: str, *, last: int | None = None) -> Conversation:
        """A new :class:`Conversation` holding the session's messages.

        :param last: only the newest ``last`` messages, oldest first
        :raises SessionNotFound: if there is no such session
        :raises SessionExpired: if its TTL ran out (a :class:`SessionNotFound`)
        """
        # The hot path of every store. The id check is a call, not an inline copy of its
        # common case: ~35 ns of a ~930 ns load (4%), for one copy of the rule.
        if self._guarded:
            self._enter()
        check_session_id(session_id)
        if last is not None:
            last = check_last(last)
        try:
            return self._load(session_id, last)
        except self._driver_errors as exc:
            raise backend_failure(self._backend_name, exc) from exc

    def load_with_metadata(
        self, session_id: str, *, last: int | None = None
    ) -> tuple[Conversation, SessionMetadata]:
        """The session's messages and its metadata, as of one moment.

        For a race-free rewrite of the history (compaction, editing a suffix): pass the
        metadata's ``version`` as ``expected_version`` to :meth:`save` or :meth:`pop`, and
        a concurrent write makes the rewrite raise :class:`VersionConflict` instead of
        being lost.

        :param last: only the newest ``last`` messages, oldest first
        :raises SessionNotFound: if there is no such session
        :raises SessionExpired: if its TTL ran out (a :class:`SessionNotFound`)
        """
        self._enter()
        check_session_id(session_id)
        if last is not None:
            last = check_last(last)
        try:
            return self._load_with_metadata(session_id, last)
        except self._driver_errors as exc:
            raise backend_failure(self._backend_name, exc) from exc

    def load_tail(self, session_id: str, last: int) -> Conversation:
        """The newest ``last`` messages, less any tool results at the start whose call
        the cut left out (so the tail can go to a model as it is): at most ``last``.

        :raises SessionNotFound: if there is no such session
        :raises SessionExpired: if its TTL ran out (a :class:`SessionNotFound`)
        """
        conversation = self.load(session_id, last=last)
        return conversation.without_cut_tool_results()

    def pop(self, session_id: str, *, expected_version: int | None = None) -> Message | None:
        """Atomically remove and return the newest message; None if the session is empty.

        Nothing is removed when the newest message cannot be decoded.

        :param expected_version: pop only if the session is at this version (see
            :meth:`load_with_metadata`)
        :raises SessionNotFound: if there is no such session
        :raises VersionConflict: if ``expected_version`` does not match; nothing removed
        """
        self._enter()
        check_session_id(session_id)
        if expected_version is not None:
            expected_version = check_expected_version(expected_version)
        try:
            return self._pop(session_id, expected_version)
        except self._driver_errors as exc:
            raise backend_failure(self._backend_name, exc) from exc

    def get_metadata(self, session_id: str) -> SessionMetadata:
        """The session's metadata.

        :raises SessionNotFound: if there is no such session
        :raises SessionExpired: if its TTL ran out
        """
        self._enter()
        check_session_id(session_id)
        try:
            return self._get_metadata(session_id)
        except self._driver_errors as exc:
            raise backend_failure(self._backend_name, exc) from exc

    def exists(self, session_id: str) -> bool:
        """True if the session exists and has not expired."""
        self._enter()
        check_session_id(session_id)
        try:
            return self._exists(session_id)
        except self._driver_errors as exc:
            raise backend_failure(self._backend_name, exc) from exc

    def delete(self, session_id: str) -> bool:
        """Remove the session; True if a live session was removed."""
        self._enter()
        check_session_id(session_id)
        try:
            return self._delete(session_id)
        except self._driver_errors as exc:
            raise backend_failure(self._backend_name, exc) from exc

    def list_sessions(
        self, *, prefix: str | None = None, limit: int | None = None
    ) -> list[str]:
        """Ids of the live sessions, sorted; optionally only those starting with ``prefix``."""
        self._enter()
        check_prefix(prefix)
        limit = check_limit(limit)
        try:
            return self._list_sessions(prefix, limit)
        except self._driver_errors as exc:
            raise backend_failure(self._backend_name, exc) from exc

    def iter_sessions(self, *, prefix: str | None = None) -> Iterator[str]:
        """Iterate over the ids of live sessions in sorted order, in constant memory."""
        self._enter()
        check_prefix(prefix)
        try:
            for session_id in self._iter_sessions(prefix):
                yield session_id
        except self._driver_errors as exc:
            raise backend_failure(self._backend_name, exc) from exc

    def touch(self, session_id: str, *, ttl: TTLArg = DEFAULT) -> SessionMetadata:
        """Restart the session's TTL (``DEFAULT``: its own duration); the version stays.

        :raises SessionNotFound: if there is no such session
        :raises SessionExpired: if its TTL already ran out
        """
        self._enter()
        check_session_id(session_id)
        ttl_arg = resolve_ttl_arg(ttl)
        try:
            return self._touch(session_id, ttl_arg)
        except self._driver_errors as exc:
            raise backend_failure(self._backend_name, exc) from exc

    def purge_expired(self) -> int:
        """Remove expired sessions; how many were removed."""
        self._enter()
        try:
            return self._purge_expired()
        except self._driver_errors as exc:
            raise backend_failure(self._backend_name, exc) from exc

    def clear(self) -> int:
        """Remove every session; how many live sessions were removed."""
        self._enter()
        try:
            return self._clear()
        except self._driver_errors as exc:
            raise backend_failure(self._backend_name, exc) from exc

    def find_sessions(
        self,
        *,
        labels: Mapping[str, str] | None = None,
        updated_after: float | None = None,
        updated_before: float | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page:
        """One page of live sessions' metadata, newest ``updated_at`` first.

        :param labels: only sessions having all these label pairs
        :param updated_after: only sessions with ``updated_at`` strictly after this
        :param updated_before: only sessions with ``updated_at`` strictly before this
        :param cursor: the ``next_cursor`` of the previous page
        :raises ValueError: on a cursor this library did not make
        """
        self._enter()
        query = FindQuery(labels, updated_after, updated_before, limit, cursor)
        try:
            return self._find_sessions(query)
        except self._driver_errors as exc:
            raise backend_failure(self._backend_name, exc) from exc

    def close(self) -> None:
        """Release the store's resources; closing twice is harmless.

        Calls that arrive afterwards raise :class:`StoreClosed`; calls in flight finish
        or raise :class:`StoreClosed` or :class:`BackendError`.
        """
        if self._closed:
            return
        self._closed = self._guarded = True
        try:
            # To its end even in a cancelled scope (``async with store`` left by a
            # cancellation): a second close() is a no-op, so this is the only chance.
            run_to_completion(self._aclose)
        except self._driver_errors as exc:
            raise backend_failure(self._backend_name, exc) from exc

    def __enter__(self: _Store) -> _Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"

    # -- the hooks a store implements (arguments already checked) ------------------------

    @abstractmethod
    def _save(self, session_id: str, args: WriteArgs) -> SessionMetadata:
        """Replace the session's messages with ``args.messages``."""

    @abstractmethod
    def _append(self, session_id: str, args: WriteArgs) -> SessionMetadata:
        """Add ``args.messages`` at the end, atomically."""

    @abstractmethod
    def _load(self, session_id: str, last: int | None) -> Conversation:
        """The session's messages (the newest ``last``, if given)."""

    def _load_with_metadata(
        self, session_id: str, last: int | None
    ) -> tuple[Conversation, SessionMetadata]:
        """Messages and metadata of one moment: read the metadata, the messages and the
        metadata again until no write came in between (stores that can read both at
        once override this)."""
        for _ in range(_SNAPSHOT_TRIES):
            before = self._get_metadata(session_id)
            conversation = self._load(session_id, last)
            after = self._get_metadata(session_id)
            # created_at too: a delete and as many new writes would repeat the version.
            if before.version == after.version and before.created_at == after.created_at:
                return conversation, after
        raise BackendError(
            f"session {session_id!r} changed under every one of {_SNAPSHOT_TRIES} reads: "
            "nothing was changed; retry when the writes slow down"
        )

    @abstractmethod
    def _pop(self, session_id: str, expected_version: int | None) -> Message | None:
        """Remove and return the newest message, never one that does not decode; only if
        the session is at ``expected_version`` (when not None)."""

    @abstractmethod
    def _get_metadata(self, session_id: str) -> SessionMetadata:
        """The session's metadata."""

    @abstractmethod
    def _exists(self, session_id: str) -> bool:
        """True if the session is live."""

    @abstractmethod
    def _delete(self, session_id: str) -> bool:
        """Remove the session; True if it was live."""

    @abstractmethod
    def _list_sessions(self, prefix: str | None, limit: int | None) -> list[str]:
        """Sorted ids of live sessions."""

    @abstractmethod
    def _iter_sessions(self, prefix: str | None) -> Iterator[str]:
        """Sorted ids of live sessions, a page at a time (an async generator)."""

    @abstractmethod
    def _touch(self, session_id: str, ttl: float | None | Default) -> SessionMetadata:
        """Restart the session's TTL."""

    @abstractmethod
    def _purge_expired(self) -> int:
        """Remove expired sessions."""

    @abstractmethod
    def _clear(self) -> int:
        """Remove every session of this store."""

    @abstractmethod
    def _find_sessions(self, query: FindQuery) -> Page:
        """One page of matching sessions' metadata."""

    @abstractmethod
    def _aclose(self) -> None:
        """Release resources (called once)."""
