"""Generate the sync half from the async source, or check that it is up to date.

    python scripts/unasync.py           # regenerate src/agent_session/_sync and tests/_sync
    python scripts/unasync.py --check   # exit 1, naming each file, if they differ

One generator feeds the tree, the wheel (``hatch_build.py``) and the check. It
runs ``unasync`` 0.6.0 and then applies :data:`RENAMES`, our own names, as
whole-word text replacements, so docstrings, f-strings and reprs come out the
same on every Python version.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

# Run as a script, this file's folder is on sys.path and `import unasync` would
# import this very file: drop it first.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

try:
    unasync: Any = importlib.import_module("unasync")  # after the sys.path fix above
except ImportError:
    sys.exit("scripts/unasync.py needs unasync: pip install unasync==0.6.0 (or: python -m nox)")

ROOT = _HERE.parent

#: THE table: our async names and their sync twins, applied by unasync and then as
#: whole-word text replacements (docstrings, f-strings, reprs, comments too).
#: To add one: a line ``"AsyncX": "X",`` (or ``"aname": "name",``), then run
#: ``python scripts/unasync.py`` and commit the regenerated ``_sync/`` files with it.
#: - keys are bare identifiers: dotted names never match, so import the bare name;
#: - map a name to itself to protect it (a third-party ``AsyncX`` that must stay);
#: - an entry that matches nothing in any async source (src or tests) is an error,
#:   so add driver names (psycopg ``AsyncCursor``, a ``redis.asyncio`` ``Redis as
#:   AsyncRedis`` alias, ``AsyncPipeline``) when the code first uses them;
#: - any ``Async[A-Z]...`` name missing here is an error (unasync would invent ``SyncX``).
RENAMES: dict[str, str] = {
    # module paths: the sync twin must import the sync half (``from agent_session._async...``)
    "_async": "_sync",
    # stores: any AsyncXStore becomes XStore without an entry here (see _STORE below)
    "AsyncStoreContract": "StoreContract",
    "open_async_store": "open_store",
    "aclose": "close",
    # _concurrency shims
    "AsyncNursery": "Nursery",
    "asleep": "sleep",
    "AsyncLock": "Lock",
    "AsyncResult": "Result",
    "arun_blocking": "run_blocking",
    "arun_to_completion": "run_to_completion",
    "aensure_asyncio": "ensure_asyncio",
    # optional drivers
    "aredis_driver": "redis_driver",
    "apostgres_driver": "postgres_driver",
    "AsyncConnectionPool": "ConnectionPool",
    "AsyncConnection": "Connection",
}

# unasync's own renames (unasync._ASYNC_TO_SYNC): allowed to appear on the async side.
_BUILTIN = {
    "AsyncIterable",
    "AsyncIterator",
    "AsyncGenerator",
    "StopAsyncIteration",
}

#: Entries exempt from the "matches nothing" check: structural, needed the moment
#: anyone writes an absolute import of the async half.
_MAY_BE_UNUSED = {"_async"}

TREES = [
    (ROOT / "src" / "agent_session" / "_async", ROOT / "src" / "agent_session" / "_sync"),
    (ROOT / "tests" / "_async", ROOT / "tests" / "_sync"),
]

#: Store classes need no entry: ``AsyncXStore`` becomes ``XStore``, so a new store
#: touches no file of the generator.
_STORE = re.compile(r"\bAsync([A-Z]\w*Store)\b")

_HEADER = "# This file is generated from _async/{name} by scripts/unasync.py: do not edit.\n"
_ASYNC_NAME = re.compile(r"\bAsync[A-Z]\w*")
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


class GenerationError(Exception):
    """The table or the sources would generate wrong code."""


def _sources(src: Path) -> list[Path]:
    return sorted(p for p in src.rglob("*.py") if "__pycache__" not in p.parts)


def _check_table() -> None:
    """Reject entries that cannot work: dotted keys, or a value that is another key."""
    for key, value in RENAMES.items():
        if not _IDENTIFIER.fullmatch(key) or not _IDENTIFIER.fullmatch(value):
            raise GenerationError(
                f"RENAMES entry {key!r}: {value!r}: both sides must be bare identifiers "
                "(dotted names never match; import the bare name)"
            )
        if value != key and value in RENAMES:
            raise GenerationError(
                f"RENAMES entry {key!r}: {value!r}: {value!r} is itself a key, so it would "
                "be renamed twice"
            )


def _table(files: list[Path]) -> dict[str, str]:
    """RENAMES plus every ``AsyncXStore`` -> ``XStore`` named in ``files``."""
    table = dict(RENAMES)
    for path in files:
        for match in _STORE.finditer(path.read_text(encoding="utf-8")):
            table.setdefault(match.group(0), match.group(1))
    return table


def _word(table: dict[str, str]) -> re.Pattern[str]:
    return re.compile(
        r"\b(" + "|".join(re.escape(k) for k in sorted(table, key=len, reverse=True)) + r")\b"
    )


def _unknown_async_names(source: Path, text: str, table: dict[str, str]) -> list[str]:
    """``Async[A-Z]`` names in ``text`` that neither the table nor unasync translate."""
    found = []
    for lineno, line in enumerate(text.splitlines(), 1):
        for name in _ASYNC_NAME.findall(line):
            if name not in table and name not in _BUILTIN:
                found.append(f"{source}:{lineno}: {name}")
    return found


def generate(src: Path, dst: Path, used: set[str] | None = None) -> list[Path]:
    """Write the sync twin of every file under ``src`` into ``dst`` (emptied first).

    :param used: collects the RENAMES keys that matched something
    :raises GenerationError: on an ``Async[A-Z]`` name the table does not know
    :return: the files written
    """
    _check_table()
    src, dst = src.resolve(), dst.resolve()  # unasync 0.6.0 overwrites the source on relative paths
    files = _sources(src)
    table = _table(files)
    word = _word(table)
    # Unknown names first, in the source: unasync would already have made them ``SyncX``.
    unknown = [
        n for p in files for n in _unknown_async_names(p, p.read_text(encoding="utf-8"), table)
    ]
    if unknown:
        raise GenerationError(
            "no sync name for:\n  " + "\n  ".join(unknown) + "\nadd each to RENAMES in "
            "scripts/unasync.py (map it to itself to keep it)"
        )
    if dst.exists():
        shutil.rmtree(dst)  # no orphans: a removed source leaves nothing behind
    rule = unasync.Rule(str(src) + os.sep, str(dst) + os.sep, additional_replacements=table)
    unasync.unasync_files([str(p) for p in files], [rule])
    written = []
    for source in files:
        target = dst / source.relative_to(src)
        if used is not None:
            used.update(m.group(1) for m in word.finditer(source.read_text(encoding="utf-8")))
        text = word.sub(lambda m: table[m.group(1)], target.read_text(encoding="utf-8"))
        leftover = _unknown_async_names(target, text, table)
        if leftover:  # belt and braces: the source check above should have caught it
            raise GenerationError("untranslated: " + ", ".join(leftover))
        rel = source.relative_to(src).as_posix()
        target.write_text(_HEADER.format(name=rel) + text, encoding="utf-8")
        written.append(target)
    return written


def generate_all(into: Path | None = None) -> None:
    """Generate every tree (into a scratch root ``into`` instead of the tree, for checks).

    Writing the tree, everything is generated and checked in a scratch dir first, so a
    failure leaves the committed ``_sync/`` trees untouched.
    """
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) if into is None else into
        used: set[str] = set()
        for src, dst in TREES:
            if src.exists():
                generate(src, root / dst.relative_to(ROOT), used)
        unused = sorted(set(RENAMES) - used - _MAY_BE_UNUSED)
        if unused:
            raise GenerationError(
                f"RENAMES entries match nothing in the async sources: {', '.join(unused)}; "
                "remove them from scripts/unasync.py"
            )
        if into is not None:
            return
        for _src, dst in TREES:
            if dst.exists():
                shutil.rmtree(dst)
            fresh = root / dst.relative_to(ROOT)
            if fresh.exists():
                shutil.copytree(fresh, dst)


def check() -> int:
    """Compare the committed sync trees with a fresh generation; 0 if equal."""
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as scratch:
        fresh_root = Path(scratch)
        generate_all(into=fresh_root)
        for _src, dst in TREES:
            fresh = fresh_root / dst.relative_to(ROOT)
            want = {p.relative_to(fresh) for p in _sources(fresh)} if fresh.exists() else set()
            have = {p.relative_to(dst) for p in _sources(dst)} if dst.exists() else set()
            for rel in sorted(want - have):
                problems.append(f"missing: {dst / rel}")
            for rel in sorted(have - want):
                problems.append(f"orphan (no async source): {dst / rel}")
            for rel in sorted(want & have):
                new = (fresh / rel).read_text(encoding="utf-8")
                old = (dst / rel).read_text(encoding="utf-8")
                if new != old:
                    diff = difflib.unified_diff(
                        old.splitlines(keepends=True),
                        new.splitlines(keepends=True),
                        f"{dst / rel} (committed)",
                        f"{dst / rel} (generated)",
                    )
                    problems.append(f"differs: {dst / rel}\n{''.join(diff)}")
    if problems:
        print("\n".join(problems))
        print(
            f"\n{len(problems)} generated file(s) out of date. Fix: python scripts/unasync.py "
            "(never edit _sync/ by hand), then commit."
        )
        return 1
    print("unasync check: the sync trees match the async sources")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    try:
        if args.check:
            return check()
        generate_all()
    except GenerationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("generated: " + ", ".join(str(dst.relative_to(ROOT)) for _, dst in TREES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
