"""nox sessions of the LangChain integration (``agent_session.integrations.langchain``).

Standalone: ``nox -f noxfiles/langchain.py``; from the main noxfile, importing this
module registers its sessions.

``langchain`` runs our tests of the integration with the oldest langchain-core the
extra allows and the newest one checked.

``langchain_upstream`` runs langchain-core's *own* chat-history tests against our
``AgentSessionChatMessageHistory`` on each store: it downloads the published
langchain-core sdist (pinned, hash checked), which ships its unit tests, and runs
them with the plugin ``tests/integrations/langchain_upstream/agent_session_substitute.py``,
which puts our class in place of ``InMemoryChatMessageHistory``, LangChain's
reference history, and leaves their conftests (the blockbuster detector) in force.
Their test files are never copied into this repository.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_DIR = ROOT / "tests" / "integrations" / "langchain_upstream"

#: The langchain-core release whose tests run, and its sdist's sha256 (from PyPI).
LANGCHAIN_CORE = "1.8.3"
#: The oldest release the ``langchain`` extra allows (``langchain-core>=0.3``).
OLDEST_LANGCHAIN_CORE = "0.3.0"
SDIST_SHA256 = "ce448f055dd2cf1db7def27d2b6c2902519369642e8b89d08255c7ca7abd6b36"
#: What those tests and their conftests import, pinned within langchain-core's own
#: test group (pytest>=9.0.3,<10, pytest-asyncio>=1.3,<2, pytest-mock>=3.10,<4,
#: syrupy>=5,<6, blockbuster>=1.5.18,<1.6).
TEST_DEPENDENCIES = [
    "pytest==9.2.0",
    "pytest-asyncio==1.5.0",
    "pytest-mock==3.17.0",
    "syrupy==5.5.3",  # their pytest options name its --snapshot-warn-unused
    "blockbuster==1.5.29",  # their conftest fails any blocking call on the event loop
]
#: langchain-core's tests of chat histories: the ones using its reference history.
UPSTREAM_TESTS = [
    "tests/unit_tests/chat_history/test_chat_history.py",
    "tests/unit_tests/runnables/test_history.py",
]
#: Store kinds the upstream tests run on (the plugin builds each one's URL).
STORES = ["memory", "sqlite", "postgresql", "redis"]


def _sdist(session: nox.Session, into: Path) -> Path:
    """Download and check the pinned sdist; return the extracted tree."""
    into.mkdir(parents=True, exist_ok=True)
    archive = into / f"langchain_core-{LANGCHAIN_CORE}.tar.gz"
    if not archive.exists():
        session.run(
            "python", "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
            f"langchain-core=={LANGCHAIN_CORE}", "--dest", str(into),
        )  # fmt: skip
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    if digest != SDIST_SHA256:
        session.error(f"{archive.name} has sha256 {digest}, expected {SDIST_SHA256}")
    tree = into / f"langchain_core-{LANGCHAIN_CORE}"
    shutil.rmtree(tree, ignore_errors=True)
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):  # refuses links and paths out of `into`
            tar.extractall(into, filter="data")
        else:  # pragma: no cover - Pythons before the filter backports
            tar.extractall(into)  # noqa: S202  # a hash-checked archive from PyPI
    missing = [test for test in UPSTREAM_TESTS if not (tree / test).is_file()]
    if missing:
        session.error(f"the langchain-core {LANGCHAIN_CORE} sdist lacks {missing}")
    # The tests must import the installed langchain-core, not the source beside them.
    shutil.rmtree(tree / "langchain_core")
    return tree


@nox.session
@nox.parametrize("langchain_core", [OLDEST_LANGCHAIN_CORE, LANGCHAIN_CORE])
def langchain(session: nox.Session, langchain_core: str) -> None:
    """tests/integrations/test_langchain.py with the oldest and the newest langchain-core."""
    session.install(
        f"{ROOT}[postgres,redis,test]", f"langchain-core=={langchain_core}", "blockbuster"
    )
    session.chdir(ROOT)
    # 0.3.0's own warnings (RemoveMessage is beta; its pydantic calls newer pydantic
    # deprecates) are not ours: silenced here, still errors on the newest release.
    quiet = [
        "-W", "ignore::langchain_core._api.beta_decorator.LangChainBetaWarning",
        "-W", "ignore::pydantic.warnings.PydanticDeprecatedSince211",
    ] if langchain_core == OLDEST_LANGCHAIN_CORE else []  # fmt: skip
    session.run(
        "pytest", "-p", "no:cacheprovider", *quiet, "tests/integrations/test_langchain.py",
        *session.posargs,
    )  # fmt: skip


@nox.session
@nox.parametrize("store", STORES)
def langchain_upstream(session: nox.Session, store: str) -> None:
    """langchain-core's own chat-history tests against AgentSessionChatMessageHistory."""
    session.install(
        f"{ROOT}[postgres,redis]", f"langchain-core=={LANGCHAIN_CORE}", *TEST_DEPENDENCIES
    )
    tree = _sdist(session, Path(session.create_tmp()) / "sdist")
    session.chdir(tree)
    env = {
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(PLUGIN_DIR), os.environ.get("PYTHONPATH")])
        ),
        "AGENT_SESSION_LANGCHAIN_STORE": store,
    }
    session.run(
        "python", "-m", "pytest", "-p", "agent_session_substitute", "-p", "no:cacheprovider",
        "-q", "-rfEs", *UPSTREAM_TESTS, *session.posargs, env=env,
    )  # fmt: skip
