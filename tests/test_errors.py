"""The error tree of SPEC section 3, what each error carries, and the front door's
mapping of driver errors to :class:`BackendError`."""

from __future__ import annotations

import pytest

from agent_session import (
    BackendError,
    CapacityExceeded,
    Conversation,
    InMemoryStore,
    InvalidSessionId,
    SerializationError,
    SessionError,
    SessionExpired,
    SessionNotFound,
    StoreClosed,
    VersionConflict,
)

# --- the tree --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        SessionNotFound,
        SessionExpired,
        InvalidSessionId,
        VersionConflict,
        CapacityExceeded,
        SerializationError,
        BackendError,
        StoreClosed,
    ],
)
def test_every_error_is_a_session_error(error: type[Exception]) -> None:
    assert issubclass(error, SessionError)


def test_the_tree() -> None:
    assert issubclass(SessionError, Exception)
    assert issubclass(SessionNotFound, LookupError)
    assert issubclass(SessionExpired, SessionNotFound)
    assert issubclass(SessionExpired, LookupError)
    assert issubclass(InvalidSessionId, ValueError)
    # Direct children of SessionError, as drawn in SPEC section 3.
    for error in (
        SessionNotFound,
        InvalidSessionId,
        VersionConflict,
        CapacityExceeded,
        SerializationError,
        BackendError,
        StoreClosed,
    ):
        assert error.__mro__[1] is SessionError, error
    # Only the mixins the SPEC asks for: nobody catching ValueError gets a VersionConflict.
    for error in (VersionConflict, CapacityExceeded, SerializationError, BackendError, StoreClosed):
        assert not issubclass(error, (LookupError, ValueError)), error
    assert not issubclass(SessionNotFound, ValueError)
    assert not issubclass(InvalidSessionId, LookupError)


def test_catching_the_builtin_catches_ours() -> None:
    with pytest.raises(LookupError):
        raise SessionExpired("s", 1.0)
    with pytest.raises(ValueError):
        raise InvalidSessionId("", "it is empty")


# --- what each carries -----------------------------------------------------------------


def test_session_not_found() -> None:
    error = SessionNotFound("chat-1")
    assert error.session_id == "chat-1"
    assert "'chat-1'" in str(error) and "save or append" in str(error)
    assert str(SessionNotFound("s", "custom text")) == "custom text"


def test_session_expired() -> None:
    error = SessionExpired("chat-1", 1234.5)
    assert error.session_id == "chat-1" and error.expired_at == 1234.5
    assert "'chat-1'" in str(error) and "expired" in str(error) and "1234.500" in str(error)
    assert "ttl" in str(error)  # says what to do


def test_invalid_session_id() -> None:
    error = InvalidSessionId("bad\x00", "it contains a control character")
    assert error.session_id == "bad\x00" and error.value == "bad\x00"
    assert "'bad\\x00'" in str(error) and "control character" in str(error)
    assert "non-empty str" in str(error)
    not_str = InvalidSessionId(42, "it is a int, not a str")
    assert not_str.session_id is None and not_str.value == 42 and "42" in str(not_str)
    long = InvalidSessionId("x" * 1000, "too long")
    assert len(str(long)) < 300  # the value is shown, cut short


def test_version_conflict() -> None:
    error = VersionConflict("s", 2, 3)
    assert (error.session_id, error.expected, error.actual) == ("s", 2, 3)
    assert "'s'" in str(error) and "2" in str(error) and "3" in str(error)
    assert "retry" in str(error)


def test_capacity_exceeded() -> None:
    error = CapacityExceeded("store is full: raise capacity", session_id="s")
    assert error.session_id == "s" and str(error) == "store is full: raise capacity"
    assert CapacityExceeded("full").session_id is None


def test_store_closed() -> None:
    error = StoreClosed("InMemoryStore")
    assert error.store_name == "InMemoryStore" and error.session_id is None
    assert "InMemoryStore" in str(error) and "open a new store" in str(error)


def test_plain_errors_take_an_optional_session_id() -> None:
    assert SerializationError("bad data", session_id="s").session_id == "s"
    assert BackendError("down").session_id is None
    assert str(SessionError("text")) == "text"


# --- the front door maps driver errors -------------------------------------------------


class DriverError(Exception):
    pass


class DriverTimeout(DriverError):
    pass


class FailingStore(InMemoryStore):
    """A store whose backend fails every load with ``error``."""

    _driver_errors = (DriverError, OSError)
    _backend_name = "Flaky at 10.0.0.1"

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error

    def _load(self, session_id: str, last: int | None) -> Conversation:
        raise self.error


def test_listed_driver_errors_become_backend_errors() -> None:
    original = DriverTimeout("read timed out")
    with pytest.raises(BackendError) as info:
        FailingStore(original).load("s")
    error = info.value
    assert error.__cause__ is original
    assert "Flaky at 10.0.0.1" in str(error) and "DriverTimeout" in str(error)
    assert "read timed out" in str(error) and "retry" in str(error)
    with pytest.raises(BackendError) as os_info:
        FailingStore(ConnectionRefusedError("nope")).load("s")
    assert isinstance(os_info.value.__cause__, ConnectionRefusedError)


@pytest.mark.parametrize(
    "error",
    [KeyError("k"), TypeError("t"), ValueError("v"), VersionConflict("s", 1, 2), BackendError("x")],
)
def test_unlisted_errors_and_our_own_pass_through(error: Exception) -> None:
    with pytest.raises(type(error)) as info:
        FailingStore(error).load("s")
    assert info.value is error
    assert info.value.__cause__ is None  # not wrapped


def test_base_exceptions_are_not_backend_failures() -> None:
    with pytest.raises(KeyboardInterrupt):
        FailingStore(KeyboardInterrupt()).load("s")


def test_bad_arguments_are_refused_before_the_backend_is_called() -> None:
    store = FailingStore(DriverError("must not be reached"))
    with pytest.raises(InvalidSessionId):
        store.load("")
    with pytest.raises(ValueError, match="last"):
        store.load("s", last=-1)
