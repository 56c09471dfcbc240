"""The contract, with pytest-asyncio in strict mode (its default): mark the module, and
declare the ``store`` fixture with ``pytest_asyncio.fixture``, since strict mode leaves
alone an async fixture declared with plain ``pytest.fixture``, as the contract's is.
This file passes in auto mode too."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from agent_session import AsyncSessionStore
from agent_session.testing import AsyncStoreContract, FakeClock

from .notebook_store import store_under_test

pytestmark = pytest.mark.asyncio


class TestNotebookStoreStrict(AsyncStoreContract):
    @pytest.fixture(autouse=True)
    def _notebook(self, notebook_path: Path) -> None:
        self.path = notebook_path

    async def make_store(self, **options: Any) -> AsyncSessionStore:
        return store_under_test()(self.path, **options)

    # mypy sees the contract's fixture as an object, not a method: hence the ignore.
    @pytest_asyncio.fixture
    async def store(  # type: ignore[override]
        self, clock: FakeClock
    ) -> AsyncIterator[AsyncSessionStore]:
        # The contract's own fixture, word for word, declared for strict mode.
        store = await self.fresh_store(clock=clock)
        try:
            yield store
        finally:
            await store.aclose()
