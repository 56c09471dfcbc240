"""The store this sample project ships, and a copy of it with a bug.

A thin subclass of ``AsyncInMemoryStore``: what the project shows is the test harness.
``store_under_test()`` picks the broken copy when ``KIT_BROKEN_STORE=1``, so that the
test running this project can show the contract catches the bug (a real project has no
such switch).
"""

from __future__ import annotations

import os

from agent_session import AsyncInMemoryStore


class ScratchStore(AsyncInMemoryStore):
    """Conversations on a scratch pad, in memory."""


class NoPrefixStore(ScratchStore):
    """Broken on purpose: ``list_sessions(prefix=...)`` ignores the prefix."""

    async def _list_sessions(self, prefix: str | None, limit: int | None) -> list[str]:
        return await super()._list_sessions(None, limit)


def store_under_test() -> type[ScratchStore]:
    return NoPrefixStore if os.environ.get("KIT_BROKEN_STORE") == "1" else ScratchStore
