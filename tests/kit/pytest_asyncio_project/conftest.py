"""The project's shared fixtures, run by pytest-asyncio."""

from __future__ import annotations

from pathlib import Path

import pytest_asyncio

from .notebook_store import NotebookStore


# pytest_asyncio.fixture, not pytest.fixture: an async fixture that works in strict mode too.
@pytest_asyncio.fixture
async def notebook_path(tmp_path: Path) -> Path:
    """A notebook file with its tables in place, as the project's deploy step leaves it."""
    path = tmp_path / "notebook.db"
    async with NotebookStore(path) as store:
        await store.exists("warm-up")  # opens the file and creates the tables
    return path
