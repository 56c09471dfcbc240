"""The errors agent-session raises.

Every error derives from :class:`SessionError`::

    SessionError
    ├── SessionNotFound (also LookupError)
    │   └── SessionExpired
    ├── InvalidSessionId (also ValueError)
    ├── VersionConflict
    ├── CapacityExceeded
    ├── SerializationError
    ├── BackendError      (the driver's exception is its __cause__)
    └── StoreClosed

Each carries ``session_id`` where one applies, and its message says what to do.
"""

from __future__ import annotations

__all__ = [
    "BackendError",
    "backend_failure",
    "CapacityExceeded",
    "InvalidSessionId",
    "SerializationError",
    "SessionError",
    "SessionExpired",
    "SessionNotFound",
    "StoreClosed",
    "VersionConflict",
]


class SessionError(Exception):
    """Base class of every error raised by agent-session."""

    def __init__(self, message: str, *, session_id: str | None = None) -> None:
        super().__init__(message)
        self.session_id = session_id


class SessionNotFound(SessionError, LookupError):
    """No session is stored under this id."""

    def __init__(self, session_id: str, message: str | None = None) -> None:
        super().__init__(
            message or f"session {session_id!r} does not exist: save or append to create it",
            session_id=session_id,
        )


class SessionExpired(SessionNotFound):
    """The session's TTL has run out; it is invisible until removed or written anew."""

    def __init__(self, session_id: str, expired_at: float) -> None:
        super().__init__(
            session_id,
            f"session {session_id!r} expired at {expired_at:.3f}: save or append to "
            "start it anew, or pass a longer ttl",
        )
        self.expired_at = expired_at


class InvalidSessionId(SessionError, ValueError):
    """The session id is not a non-empty str of at most 512 characters without controls."""

    def __init__(self, session_id: object, reason: str) -> None:
        shown = session_id if isinstance(session_id, str) else None
        super().__init__(
            f"invalid session id {session_id!r:.80}: {reason}; use a non-empty str of "
            "at most 512 characters with no control characters",
            session_id=shown,
        )
        self.value = session_id


class VersionConflict(SessionError):
    """``expected_version`` did not match the session's current version; nothing was written."""

    def __init__(self, session_id: str, expected: int, actual: int) -> None:
        super().__init__(
            f"session {session_id!r} is at version {actual}, not the expected {expected}: "
            "load it again, reapply your change and retry",
            session_id=session_id,
        )
        self.expected = expected
        self.actual = actual


class CapacityExceeded(SessionError):
    """A configured limit (sessions, messages, bytes) would be exceeded; nothing was written."""

    def __init__(self, message: str, *, session_id: str | None = None) -> None:
        super().__init__(message, session_id=session_id)


class SerializationError(SessionError):
    """Data could not be encoded to, or decoded from, the JSON wire format."""


class BackendError(SessionError):
    """The backend failed or is unreachable; the driver's exception is ``__cause__``."""


class StoreClosed(SessionError):
    """The store has been closed; open a new one."""

    def __init__(self, store_name: str) -> None:
        super().__init__(f"this {store_name} store is closed: open a new store to go on")
        self.store_name = store_name


def backend_failure(what: str, exc: BaseException) -> BackendError:
    """The :class:`BackendError` for the driver exception ``exc`` (raise it ``from exc``)."""
    return BackendError(
        f"{what} failed: {type(exc).__name__}: {exc}; the call had no effect unless the "
        "backend applied it before failing; check that the backend is up and retry"
    )
