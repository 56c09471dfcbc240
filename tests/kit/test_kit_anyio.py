"""The conformance kit under anyio's pytest plugin, as a store author uses it.

Here, inside this repository's suite (anyio_mode = "auto", asyncio and trio from
tests/conftest.py): a store defined outside agent-session, in both flavours. And as a
separate project, ``anyio_project/``, that marks its tests and picks its own backends,
run in a pytest process of its own with pytest-asyncio switched off.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sniffio

from agent_session import AsyncInMemoryStore, AsyncSessionStore, InMemoryStore, SessionStore
from agent_session.testing import AsyncStoreContract, StoreContract

from .projects import CONTRACT_TESTS, run_project


class ThirdPartyStore(AsyncInMemoryStore):
    """A store of someone else's package (a thin subclass: the harness is the point)."""


class SyncThirdPartyStore(InMemoryStore):
    """Its blocking twin."""


class TestThirdPartyStore(AsyncStoreContract):
    @pytest.fixture(autouse=True)
    def _backend(self, anyio_backend: str) -> None:
        self.backend = anyio_backend

    async def make_store(self, **options: Any) -> AsyncSessionStore:
        # Each case runs on the loop its id names.
        assert sniffio.current_async_library() == self.backend
        return ThirdPartyStore(**options)


class TestSyncThirdPartyStore(StoreContract):
    def make_store(self, **options: Any) -> SessionStore:
        return SyncThirdPartyStore(**options)


def test_a_marked_project_runs_the_contract_on_each_backend(tmp_path: Path) -> None:
    report = run_project("anyio_project", "-p", "no:asyncio", tmp_path=tmp_path)
    assert report.returncode == 0, report.output[-4000:]
    assert report.failed == report.skipped == []
    for backend in ("asyncio", "trio"):
        cases = [case for case in report.passed if case.endswith(f"[{backend}]")]
        assert len(cases) == CONTRACT_TESTS, (backend, report.output[-4000:])
    assert len(report.passed) == 2 * CONTRACT_TESTS


def test_a_broken_store_fails_the_contract_on_each_backend(tmp_path: Path) -> None:
    # NoPrefixStore: list_sessions(prefix=...) ignores the prefix.
    report = run_project("anyio_project", "-p", "no:asyncio", tmp_path=tmp_path, broken=True)
    assert report.returncode == 1, report.output[-4000:]
    for backend in ("asyncio", "trio"):
        failed = {case.rsplit("::", 1)[-1] for case in report.failed}
        assert f"test_list_sessions[{backend}]" in failed, report.output[-4000:]
    assert 0 < len(report.failed) < CONTRACT_TESTS // 4
    assert len(report.passed) + len(report.failed) == 2 * CONTRACT_TESTS
