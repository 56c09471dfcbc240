"""The store this sample project ships, and a copy of it with a bug.

A thin subclass of ``AsyncSQLiteStore``: what the project shows is the test harness.
``store_under_test()`` picks the broken copy when ``KIT_BROKEN_STORE=1``, so that the
test running this project can show the contract catches the bug (a real project has no
such switch).
"""

from __future__ import annotations

import os

from agent_session import AsyncSQLiteStore, Conversation


class NotebookStore(AsyncSQLiteStore):
    """Conversations in a notebook file."""


class OldestFirstStore(NotebookStore):
    """Broken on purpose: ``load(last=N)`` gives the oldest N messages, not the newest."""

    async def _load(self, session_id: str, last: int | None) -> Conversation:
        conversation = await super()._load(session_id, None)
        return conversation if last is None else Conversation(list(conversation)[:last])


def store_under_test() -> type[NotebookStore]:
    return OldestFirstStore if os.environ.get("KIT_BROKEN_STORE") == "1" else NotebookStore
