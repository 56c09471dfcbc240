"""The conformance kit in a project that tests with pytest-asyncio, not anyio's plugin.

``pytest_asyncio_project/`` is such a project (its own pytest.ini, conftest and tests,
over a store of its own); each test here runs it in a pytest process of its own with
``-p no:anyio``, so nothing can come from anyio's plugin, and reads the JUnit report:
every contract test must really run, once, and pass, and a store with a bug must fail.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .projects import CONTRACT_TESTS, Report, run_project

pytest.importorskip("pytest_asyncio")

PROJECT = "pytest_asyncio_project"
NO_ANYIO = ("-p", "no:anyio")


def show(report: Report) -> str:
    return report.output[-4000:]


def mode(report: Report) -> str | None:
    """The mode pytest-asyncio's header line reports: "mode=Mode.AUTO" or "mode=auto"."""
    found = re.search(r"^asyncio: mode=(?:Mode\.)?(\w+)", report.output, re.MULTILINE)
    return found[1].lower() if found else None


def test_auto_mode_runs_the_whole_contract(tmp_path: Path) -> None:
    report = run_project(PROJECT, *NO_ANYIO, tmp_path=tmp_path)
    assert report.returncode == 0, show(report)
    assert mode(report) == "auto", show(report)
    # Both files (the plain subclass, and the one declared for strict mode) run everything.
    assert len(report.passed) == 2 * CONTRACT_TESTS, show(report)
    assert report.failed == report.skipped == []
    # Once each, unparametrised: no "[trio]" case quietly running on asyncio.
    assert not [case for case in report.passed if "[" in case]
    assert len(set(report.passed)) == len(report.passed)


def test_strict_mode_runs_the_whole_contract(tmp_path: Path) -> None:
    # pytest-asyncio's default mode: the module is marked and declares the store fixture.
    args = (*NO_ANYIO, "-o", "asyncio_mode=strict", "test_contract_strict.py")
    report = run_project(PROJECT, *args, tmp_path=tmp_path)
    assert report.returncode == 0, show(report)
    assert mode(report) == "strict", show(report)
    assert len(report.passed) == CONTRACT_TESTS, show(report)
    assert report.failed == report.skipped == []


def test_a_broken_store_fails_the_contract(tmp_path: Path) -> None:
    # OldestFirstStore: load(last=N) gives the oldest N messages.
    report = run_project(PROJECT, *NO_ANYIO, "test_contract.py", tmp_path=tmp_path, broken=True)
    assert report.returncode == 1, show(report)
    assert {"test_load_last", "test_load_tail_never_starts_with_a_cut_tool_result"} <= (
        report.names(report.failed)
    ), show(report)
    # The rest still pass: the failures are the bug's, not the harness's.
    assert 0 < len(report.failed) < CONTRACT_TESTS // 4, show(report)
    assert len(report.passed) + len(report.failed) == CONTRACT_TESTS
    assert "load_last" in report.output  # pytest's summary names the failed test
