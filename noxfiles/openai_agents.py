"""nox sessions of the OpenAI Agents SDK integration (``agent_session.integrations.openai_agents``).

Standalone: ``nox -f noxfiles/openai_agents.py``; from the main noxfile, importing this
module registers its sessions.

``openai_agents_upstream`` runs the SDK's *own* session tests against our
``AgentSession``: it downloads the published openai-agents sdist from PyPI (pinned,
hash checked), which ships its ``tests/memory/``, and runs the test files there that
use ``SQLiteSession`` with the plugin ``tests/integrations/conftest_openai_agents_upstream.py``,
which puts an ``AgentSession`` with ``SQLiteSession``'s constructor in its place, over
the store the session's parameter names. Their test files are never copied into this
repository.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import tarfile
from pathlib import Path
from urllib.parse import urlsplit

import nox

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_DIR = ROOT / "tests" / "integrations"
PLUGIN = "conftest_openai_agents_upstream"

#: The openai-agents release whose tests run, and its sdist's sha256 (from PyPI).
OPENAI_AGENTS = "0.24.0"
SDIST_SHA256 = "4b4b285f4fed81fdf1b4ac426a9101658d9cd29b4fb1aaeee18f639b77e704e3"
#: What those test files need beyond the SDK: its pytest plugin for async tests, and
#: the `encrypt` extra and aiosqlite, which its compaction tests import or skip without.
TEST_DEPENDENCIES = [
    f"openai-agents[encrypt]=={OPENAI_AGENTS}",
    "pytest>=9.0.3,<10",
    "pytest-asyncio>=1.3,<2",
    "aiosqlite>=0.21.0",
]
UPSTREAM_DIR = "tests/memory"
#: Store kinds the upstream tests run on (the plugin's AGENT_SESSION_UPSTREAM_STORE).
STORES = ["sqlite", "memory", "redis", "postgres"]
SERVERS = {
    "redis": ("AGENT_SESSION_REDIS_URL", "redis://127.0.0.1:6379/15", 6379),
    "postgres": (
        "AGENT_SESSION_POSTGRES_DSN",
        "postgresql://postgres@127.0.0.1:5432/test",
        5432,
    ),
}

# Tests deselected by name, each because it reaches into SQLiteSession itself rather
# than the Session protocol: what they check has no meaning for another class.
#: They read or patch SQLiteSession's private attributes (its per-thread sqlite3
#: connections, their locks, its process-wide file locks, its `_insert_items`), or
#: write corrupt rows through them.
PRIVATE_ATTRIBUTES = [
    "test_session.py::test_sqlite_session_close_closes_worker_thread_connections",
    "test_session.py::test_sqlite_session_reaps_connections_from_exited_worker_threads",
    "test_session.py::test_sqlite_session_closes_retired_connections_before_the_next_allocation",
    "test_session.py::test_sqlite_session_keeps_connections_of_live_worker_threads",
    "test_session.py::test_sqlite_session_pop_item_skips_corrupt_most_recent",
    "test_session.py::test_sqlite_session_pop_item_returns_none_after_dropping_only_corrupt_rows",
    "test_session.py::test_sqlite_session_get_items_limit_skips_corrupt_newest_rows",
    "test_session.py::test_sqlite_session_get_items_session_settings_limit_skips_corrupt_rows",
    "test_session.py::test_sqlite_session_file_lock_is_shared_across_instances",
    "test_session.py::test_sqlite_session_rollback_failure_evicts_connection",
    "test_session.py::test_sqlite_session_close_retries_quarantined_connection",
    "test_session.py::test_sqlite_session_post_commit_cancellation_propagates_after_known_outcome",
    "test_openai_responses_compaction_session.py::TestOpenAIResponsesCompactionSession"
    "::test_settled_pop_failure_invalidates_response_chain",
    "test_openai_responses_compaction_session.py::TestOpenAIResponsesCompactionSession"
    "::test_settled_clear_failure_invalidates_response_chain",
    "test_compaction_suffix.py::test_cancelled_suffix_transaction_settles_before_newer_append[sqlite]",
]
#: They open SQLiteSession's database file with sqlite3 and use its tables
#: (`agent_sessions`, `agent_messages`): drop one, add a trigger, probe its write lock.
SQLITE_SESSION_TABLES = [
    "test_session.py::test_sqlite_session_failed_add_items_releases_write_lock",
    "test_session.py::test_sqlite_session_failed_clear_session_rolls_back",
    "test_session.py::test_sqlite_session_failed_pop_item_releases_write_lock",
    "test_compaction_suffix.py::test_suffix_transaction_rolls_back_failed_insert[sqlite]",
    "test_compaction_suffix.py::test_failed_encrypted_suffix_transaction_preserves_original_tokens[sqlite-",
]
#: It expects SQLiteSession's own error, `RuntimeError("SQLiteSession is closed")`; ours
#: raises agent_session's StoreClosed there (add_items([]) on a closed store), as the
#: behaviour it guards asks.
SQLITE_SESSION_ERRORS = [
    "test_session.py::test_sqlite_session_closed_rejects_empty_add_items",
]
DESELECTED = PRIVATE_ATTRIBUTES + SQLITE_SESSION_TABLES + SQLITE_SESSION_ERRORS


def _sdist(session: nox.Session, into: Path) -> Path:
    """Download and check the pinned sdist from PyPI; return the extracted tree."""
    into.mkdir(parents=True, exist_ok=True)
    archive = into / f"openai_agents-{OPENAI_AGENTS}.tar.gz"
    if not archive.exists():
        session.run(
            "python", "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
            f"openai-agents=={OPENAI_AGENTS}", "--dest", str(into),
        )  # fmt: skip
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    if digest != SDIST_SHA256:
        session.error(f"{archive.name} has sha256 {digest}, expected {SDIST_SHA256}")
    tree = into / f"openai_agents-{OPENAI_AGENTS}"
    shutil.rmtree(tree, ignore_errors=True)
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):  # refuses links and paths out of `into`
            tar.extractall(into, filter="data")
        else:  # pragma: no cover - Pythons before the filter backports
            tar.extractall(into)  # noqa: S202  # a hash-checked archive from PyPI
    if not (tree / UPSTREAM_DIR).is_dir():
        session.error(f"the openai-agents {OPENAI_AGENTS} sdist has no {UPSTREAM_DIR}/")
    # The SDK's source sits in src/, off sys.path: the tests import the installed SDK.
    return tree


def _session_tests(tree: Path) -> list[str]:
    """The upstream test files that name ``SQLiteSession``: the ones our class enters."""
    uses = re.compile(r"\bSQLiteSession\b")
    files = sorted((tree / UPSTREAM_DIR).glob("test_*.py"))
    return [str(f.relative_to(tree)) for f in files if uses.search(f.read_text("utf-8"))]


def _require_server(session: nox.Session, store: str) -> dict[str, str]:
    """The server's URL in the environment; skip (fail in CI) when it is not reachable."""
    if store not in SERVERS:
        return {}
    variable, default, port = SERVERS[store]
    url = os.environ.get(variable, default)
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or port), 2).close()
    except OSError as exc:
        message = f"{store} not reachable at {url} ({exc}): set {variable} or start it"
        if os.environ.get("CI") or os.environ.get("AGENT_SESSION_REQUIRE_SERVICES") == "1":
            session.error(message)
        session.skip(message)
    return {variable: url}


@nox.session
@nox.parametrize("store", STORES)
def openai_agents_upstream(session: nox.Session, store: str) -> None:
    """The OpenAI Agents SDK's own session tests (tests/memory/) against AgentSession."""
    env = _require_server(session, store)
    session.install(f"{ROOT}[all,test]", *TEST_DEPENDENCIES)
    tree = _sdist(session, Path(session.create_tmp()) / "sdist")
    tests = _session_tests(tree)
    if not tests:
        session.error(f"no file in {UPSTREAM_DIR}/ builds a SQLiteSession")
    session.log(f"running {', '.join(tests)}; deselected ({len(DESELECTED)} names):")
    for name in DESELECTED:
        session.log(f"  {name}")
    deselect = [arg for name in DESELECTED for arg in ("--deselect", f"{UPSTREAM_DIR}/{name}")]
    session.chdir(tree)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(PLUGIN_DIR), os.environ.get("PYTHONPATH")])
    )
    env["AGENT_SESSION_UPSTREAM_STORE"] = store
    session.run(
        "python", "-m", "pytest", "-p", PLUGIN, "-p", "no:cacheprovider", "-q", "-rfEs",
        *deselect, *tests, *session.posargs, env=env,
    )  # fmt: skip
