# This file is generated from _async/test_contract_sqlite.py by scripts/unasync.py: do not edit.
"""The store contract, run against SQLite (a file, ``:memory:``, the path for SQLite
before 3.35) and a cache over it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent_session import SessionStore, SQLiteStore
from agent_session.testing import StoreContract

from .layered import layered_over


class TestSQLiteFileStore(StoreContract):
    @pytest.fixture(autouse=True)
    def _directory(self, tmp_path: Path) -> None:
        self.directory = tmp_path

    def make_store(self, **options: Any) -> SessionStore:
        return SQLiteStore(self.directory / "sessions.db", **options)


class TestSQLiteMemoryStore(StoreContract):
    def make_store(self, **options: Any) -> SessionStore:
        return SQLiteStore(":memory:", **options)


class TestSQLiteWithoutReturning(TestSQLiteFileStore):
    """The path for SQLite libraries older than 3.35 (no ``UPDATE ... RETURNING``)."""

    def make_store(self, **options: Any) -> SessionStore:
        store = SQLiteStore(self.directory / "sessions.db", **options)
        store._engine._returning = False
        return store


class TestLayeredOverSQLite(TestSQLiteFileStore):
    def make_store(self, **options: Any) -> SessionStore:
        return layered_over(super().make_store, **options)
