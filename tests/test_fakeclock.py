"""FakeClock: the clock the contract suite moves by hand."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from agent_session import Conversation, InMemoryStore
from agent_session.testing import FakeClock


def test_starts_at_a_fixed_time_and_moves_only_when_told() -> None:
    clock = FakeClock()
    assert clock() == 1_700_000_000.0 and isinstance(clock(), float)
    assert clock() == clock()
    assert clock.advance(2.5) == 1_700_000_002.5 == clock()
    assert clock.advance(-0.5) == 1_700_000_002.0
    clock.set(5)
    assert clock() == 5.0 and isinstance(clock(), float)
    assert FakeClock(10)() == 10.0
    assert repr(FakeClock(3.0)) == "FakeClock(3.0)"


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_refuses_non_finite_times(bad: float) -> None:
    clock = FakeClock()
    with pytest.raises(ValueError, match="finite"):
        clock.advance(bad)
    with pytest.raises(ValueError, match="finite"):
        clock.set(bad)
    with pytest.raises(ValueError, match="finite"):
        FakeClock(bad)
    assert clock() == 1_700_000_000.0


@pytest.mark.parametrize("bad", ["10", None, True])
def test_refuses_non_numbers(bad: Any) -> None:
    clock = FakeClock()
    with pytest.raises(TypeError, match=repr(bad)):
        clock.advance(bad)
    with pytest.raises(TypeError, match=repr(bad)):
        clock.set(bad)
    assert clock() == 1_700_000_000.0


def test_drives_a_stores_expiry() -> None:
    clock = FakeClock()
    with InMemoryStore(default_ttl=10, clock=clock) as store:
        meta = store.save("s1", Conversation().add_user("hi"))
        assert meta.created_at == clock() and meta.expires_at == clock() + 10
        clock.advance(9.999)
        assert store.exists("s1")
        clock.advance(0.001)
        assert not store.exists("s1")


def test_importing_fakeclock_needs_no_pytest() -> None:
    # agent_session.testing loads the contract classes (and pytest) only when asked.
    code = (
        "import sys; from agent_session.testing import FakeClock; FakeClock()(); "
        "assert 'pytest' not in sys.modules, 'pytest imported'; "
        "assert 'agent_session._async.testing' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_contract_classes_are_exported() -> None:
    from agent_session import testing

    assert testing.AsyncStoreContract.__name__ == "AsyncStoreContract"
    assert testing.StoreContract.__name__ == "StoreContract"
    assert len(testing.sample_conversation()) > 0
    with pytest.raises(AttributeError):
        testing.NoSuchThing  # noqa: B018  # the attribute access is the test


def test_pytest_rewrites_the_asserts_of_every_contract_module(
    pytestconfig: pytest.Config,
) -> None:
    # A failing contract test must show its values, not a bare AssertionError.
    if pytestconfig.getoption("assertmode") != "rewrite":
        pytest.skip("pytest runs with --assert=plain")
    from agent_session import testing

    testing.AsyncStoreContract, testing.StoreContract  # noqa: B018  # imports both halves
    for half in ("_async", "_sync"):
        modules = [
            name
            for name in sys.modules
            if name == f"agent_session.{half}.testing"
            or name.startswith(f"agent_session.{half}.contract.")
        ]
        assert len(modules) > 1, modules  # testing.py and the modules of contract/
        for name in modules:
            assert type(sys.modules[name].__loader__).__name__ == "AssertionRewritingHook", name
