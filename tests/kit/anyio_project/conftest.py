"""The event loops this project's async tests run on: asyncio and trio.

Explicit params: anyio's default ``anyio_backend`` is asyncio alone.
"""

from __future__ import annotations

import pytest


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)
