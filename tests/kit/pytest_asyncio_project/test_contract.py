"""The contract, with pytest-asyncio in auto mode (``asyncio_mode = auto``): subclass it,
say how to build the store, and that is all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent_session import AsyncSessionStore
from agent_session.testing import AsyncStoreContract

from .notebook_store import store_under_test


class TestNotebookStore(AsyncStoreContract):
    @pytest.fixture(autouse=True)
    def _notebook(self, notebook_path: Path) -> None:
        # make_store takes no fixtures: an autouse fixture hands it what it needs.
        self.path = notebook_path

    async def make_store(self, **options: Any) -> AsyncSessionStore:
        return store_under_test()(self.path, **options)
