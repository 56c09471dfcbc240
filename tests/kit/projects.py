"""Run one of the kit's sample projects in its own pytest process and read its report."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from agent_session.testing import AsyncStoreContract

HERE = Path(__file__).parent

# How many tests the async contract holds: each sample project must run all of them.
CONTRACT_TESTS = sum(1 for name in dir(AsyncStoreContract) if name.startswith("test_"))


@dataclass
class Report:
    """What the project's pytest did, from its JUnit XML report, by test id."""

    returncode: int
    output: str
    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # failures and errors
    skipped: list[str] = field(default_factory=list)

    def names(self, outcome: list[str]) -> set[str]:
        """The test names in ``outcome``, without their class or parameters."""
        return {case.rsplit("::", 1)[-1].split("[")[0] for case in outcome}


def run_project(
    project: str, *args: str, tmp_path: Path, broken: bool = False, timeout: float = 180
) -> Report:
    """``python -m pytest ARGS`` in ``tests/kit/<project>`` (its own pytest.ini and conftest).

    :param broken: set ``KIT_BROKEN_STORE=1``: the project then tests a store with a bug
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["KIT_BROKEN_STORE"] = "1" if broken else "0"
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # leave no __pycache__ in the source tree
    xml = tmp_path / f"{project}-report.xml"
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args]
    command += [f"--junitxml={xml}", f"--basetemp={tmp_path / 'basetemp'}"]
    done = subprocess.run(
        command,
        cwd=HERE / project,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    report = Report(done.returncode, done.stdout + done.stderr)
    if not xml.exists():
        return report  # pytest stopped before running anything: the caller shows output
    for case in ET.parse(xml).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        if case.find("failure") is not None or case.find("error") is not None:
            report.failed.append(name)
        elif case.find("skipped") is not None:
            report.skipped.append(name)
        else:
            report.passed.append(name)
    return report
