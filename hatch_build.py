"""Hatch build hook: generate ``agent_session/_sync`` into every wheel.

The wheel never takes the tree's ``_sync`` (pyproject excludes it): it gets a
fresh generation from ``_async`` by ``scripts/unasync.py``, the same code that
writes the tree and checks it. Editable installs use the committed copy.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class UnasyncBuildHook(BuildHookInterface[Any]):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        self._scratch: str | None = None
        if self.target_name != "wheel" or version == "editable":
            return
        root = Path(self.root)
        spec = importlib.util.spec_from_file_location(
            "agent_session_unasync", root / "scripts" / "unasync.py"
        )
        if spec is None or spec.loader is None:
            raise RuntimeError("cannot load scripts/unasync.py")
        generator = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(generator)
        self._scratch = tempfile.mkdtemp(prefix="agent-session-sync-")
        out = Path(self._scratch) / "_sync"
        generator.generate(root / "src" / "agent_session" / "_async", out)
        build_data["force_include"][str(out)] = "agent_session/_sync"

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
