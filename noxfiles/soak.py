"""The load-and-fault run (issue 9): ``nox -s soak -- [--quick] [--faults] [...]``.

Not among the default sessions: it takes about a minute per run of the six stores and
needs the PostgreSQL server of ``--postgres`` (default
``postgresql://postgres@127.0.0.1:5432/test``, or ``AGENT_SESSION_POSTGRES_DSN``) and a
``redis-server`` binary on PATH (the run starts its own on a spare loopback port).
Standalone: ``nox -f noxfiles/soak.py``; from the main noxfile, importing this module
registers the session. docs/soak.md explains what it measures.
"""

from __future__ import annotations

from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent.parent


@nox.session
def soak(session: nox.Session) -> None:
    """Every store under load (and with --faults, faults): nothing acknowledged lost."""
    session.install(f"{ROOT}[all,test]")
    session.chdir(ROOT)
    session.run("python", "benchmarks/soak.py", *session.posargs)
