"""The ``agent-session`` command line (``python -m agent_session``): see ``docs/cli.md``.

It needs the ``cli`` extra (click, rich, platformdirs): ``pip install
'agent-session[cli]'``. ``import agent_session`` never imports this package, so the
library itself works without them.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]

#: The packages of the ``cli`` extra.
_EXTRA = ("click", "rich", "platformdirs")


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``agent-session`` with ``argv`` (default: the process's arguments).

    :return: the exit code (``docs/cli.md`` lists them)
    """
    try:
        from ._app import run
    except ImportError as exc:
        missing = (exc.name or "").partition(".")[0]
        if missing not in _EXTRA:
            raise
        print(
            f"agent-session: the command line needs {missing}: pip install 'agent-session[cli]'",
            file=sys.stderr,
        )
        return 2
    return run(argv)
