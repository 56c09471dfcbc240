"""nox sessions: ``python -m nox`` runs them all, in this order."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import nox

# The framework integrations' sessions live beside this file, in noxfiles/.
sys.path.insert(0, str(Path(__file__).parent))
import noxfiles.langchain  # noqa: E402, F401  # importing registers its sessions
import noxfiles.llama_index  # noqa: E402, F401
import noxfiles.openai_agents  # noqa: E402, F401
import noxfiles.soak  # noqa: E402, F401  # `nox -s soak`: not in the default sessions

nox.needs_version = ">=2024.3.2"
nox.options.sessions = [
    "unasync_check",
    "lint",
    "mypy",
    "tests",
    "examples",
    # Each framework's own tests, from its published sdist, against our integration.
    "langchain",
    "langchain_upstream",
    "llama_index",
    "openai_agents_upstream(store='sqlite')",
    "openai_agents_upstream(store='memory')",
    "openai_agents_upstream(store='redis')",
    "openai_agents_upstream(store='postgres')",
]
nox.options.reuse_existing_virtualenvs = True

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
ROOT = Path(__file__).parent

# pyenv machines: make python3.10 ... python3.13 answer (harmless elsewhere; nox skips
# interpreters a machine lacks, and fails on them when CI is set).
if "PYENV_VERSION" not in os.environ and shutil.which("pyenv"):
    os.environ["PYENV_VERSION"] = "3.11.7:3.10.13:3.12.1:3.13.0"


@nox.session
def unasync_check(session: nox.Session) -> None:
    """Fail if the generated _sync trees differ from a fresh generation."""
    session.install("unasync==0.6.0")
    session.run("python", "scripts/unasync.py", "--check")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check (the generated trees excluded)."""
    session.install("ruff>=0.8")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def mypy(session: nox.Session) -> None:
    """mypy --strict over both halves, the tests, examples, benchmarks and scripts."""
    session.install(
        ".[all,test,llama-index]",
        "mypy>=1.13",
        "types-cachetools",
        "django-stubs>=5.0",
        "hatchling",
        "nox",
    )
    session.run("mypy")


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The test suite on each Python, against the installed (non-editable) wheel."""
    session.install(".[all,test]")
    # The tests must import the installed wheel (whose _sync/ the build hook generated), not ./src.
    session.run(
        "python",
        "-c",
        "import agent_session._sync as s, sys; "
        "sys.exit(0 if 'site-packages' in s.__file__ else 'not the wheel: ' + s.__file__)",
    )
    # pytest's exit code 5 (no tests collected) fails the session like any other non-zero code.
    session.run("pytest", *session.posargs)


@nox.session
def examples(session: nox.Session) -> None:
    """Run every examples/*.py; each exits non-zero if what it shows went wrong."""
    # async_trio.py runs under trio; the *_app.py examples need their web frameworks.
    session.install(".[examples,openai-agents]", "trio>=0.25")
    scripts = sorted((ROOT / "examples").glob("*.py"))
    if not scripts:
        session.error("no examples found in examples/")
    for script in scripts:
        session.run("python", str(script))
