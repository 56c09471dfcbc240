"""The contract under anyio's pytest plugin: mark the module, subclass the contract, say
how to build the store. Every test runs once per ``anyio_backend`` (see conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest
import sniffio

from agent_session import AsyncSessionStore
from agent_session.testing import AsyncStoreContract

from .scratch_store import store_under_test

pytestmark = pytest.mark.anyio


class TestScratchStore(AsyncStoreContract):
    @pytest.fixture(autouse=True)
    def _backend(self, anyio_backend: str) -> None:
        self.backend = anyio_backend

    async def make_store(self, **options: Any) -> AsyncSessionStore:
        # Each case runs on the loop its id names: "[trio]" really is trio.
        running = sniffio.current_async_library()
        assert running == self.backend, f"{self.backend} case running under {running}"
        return store_under_test()(**options)
