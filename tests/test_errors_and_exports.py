"""The error tree and the public names."""

from __future__ import annotations

import subprocess
import sys

import pytest

import agent_session
from agent_session import (
    BackendError,
    CapacityExceeded,
    InvalidSessionId,
    SerializationError,
    SessionError,
    SessionExpired,
    SessionNotFound,
    StoreClosed,
    VersionConflict,
)
from agent_session._errors import map_backend_errors


def test_error_tree() -> None:
    for error in (
        SessionNotFound,
        InvalidSessionId,
        VersionConflict,
        CapacityExceeded,
        SerializationError,
        BackendError,
        StoreClosed,
    ):
        assert issubclass(error, SessionError)
    assert issubclass(SessionNotFound, LookupError)
    assert issubclass(SessionExpired, SessionNotFound)
    assert issubclass(InvalidSessionId, ValueError)


def test_errors_carry_what_went_wrong() -> None:
    conflict = VersionConflict("s", 2, 3)
    assert (conflict.session_id, conflict.expected, conflict.actual) == ("s", 2, 3)
    assert "retry" in str(conflict)
    expired = SessionExpired("s", 10.0)
    assert expired.session_id == "s" and "expired" in str(expired)
    assert "'bad\\x00'" in str(InvalidSessionId("bad\x00", "it contains a control character"))


def test_map_backend_errors() -> None:
    with pytest.raises(BackendError) as info:
        with map_backend_errors("Thing", (OSError,)):
            raise ConnectionRefusedError("nope")
    assert isinstance(info.value.__cause__, ConnectionRefusedError)
    with pytest.raises(VersionConflict):
        with map_backend_errors("Thing", (Exception,)):
            raise VersionConflict("s", 1, 2)
    with pytest.raises(KeyError):
        with map_backend_errors("Thing", (OSError,)):
            raise KeyError("not a backend failure")


def test_public_names() -> None:
    assert agent_session.__all__ == sorted(agent_session.__all__)
    for name in agent_session.__all__:
        value = getattr(agent_session, name)
        if isinstance(value, type):
            assert value.__module__ == "agent_session", name


def test_import_without_drivers() -> None:
    code = (
        "import sys; sys.modules['psycopg'] = None; sys.modules['psycopg_pool'] = None; "
        "sys.modules['redis'] = None\n"
        "import agent_session\n"
        "agent_session.SQLiteStore(':memory:').close()\n"
        "try:\n    agent_session.RedisStore('redis://localhost')\n"
        "except ImportError as e:\n    assert 'agent-session[redis]' in str(e), e\n"
        "else:\n    raise SystemExit('no ImportError')\n"
        "try:\n    agent_session.PostgresStore('postgresql://x')\n"
        "except ImportError as e:\n    assert 'agent-session[postgres]' in str(e), e\n"
        "else:\n    raise SystemExit('no ImportError')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
