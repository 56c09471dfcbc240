"""The ``agent-session`` commands (click), and the exit codes of what goes wrong."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import IO, NoReturn

import click
import platformdirs
from rich.console import Console

from .. import __version__
from .._errors import (
    BackendError,
    InvalidSessionId,
    SessionError,
    SessionExpired,
    SessionNotFound,
)
from .._metadata import SessionMetadata
from .._model import Conversation
from .._sync.base import SessionStore
from .._sync.open import open_store
from .._sync.sqlite import SQLiteStore
from .._urls import parse_store_url
from . import _render
from ._progress import Meter, progress_wanted
from ._transfer import (
    BadLine,
    Conflict,
    OnConflict,
    Stop,
    Tally,
    export_line,
    graceful_stop,
    parse_line,
    read_session,
    write_session,
)

__all__ = ["EXIT", "cli", "run"]

#: Exit codes (docs/cli.md): 1 a failure the message explains, 2 bad usage or store
#: URL, 3 the backend failed or is unreachable, 4 no such session, 130 interrupted.
EXIT = {"error": 1, "usage": 2, "backend": 3, "not_found": 4, "interrupted": 130}

DEFAULT_DB = platformdirs.user_data_path("agent-session", appauthor=False) / "sessions.db"
ENV_URL = "AGENT_SESSION_URL"
_PAGE = 500


class Failure(Exception):
    """An expected failure: its message goes to stderr, the process exits with ``exit_code``."""

    def __init__(self, message: str, code: str = "error") -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = EXIT[code]


def _err() -> Console:
    return Console(stderr=True, highlight=False)


def _out() -> Console:
    return Console(highlight=False)


def _note(message: str) -> None:
    click.echo(f"agent-session: {message}", err=True)


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _write(text: str) -> None:
    """``text`` on stdout as UTF-8, whatever the locale (JSON, ids, tab-separated rows)."""
    stdout = sys.stdout.buffer
    stdout.write(text.encode("utf-8", "surrogateescape"))
    stdout.flush()


# -- the store -----------------------------------------------------------------------------


class Context:
    """What every command shares: the store URL (None: the default file)."""

    def __init__(self, url: str | None, progress: bool | None) -> None:
        self.url = url
        self.progress = progress

    @property
    def shown_url(self) -> str:
        return _render.redact(self.url) if self.url else f"{DEFAULT_DB} (the default store)"

    @contextmanager
    def store(self) -> Iterator[SessionStore]:
        with open_cli_store(self.url) as store:
            yield store


@contextmanager
def open_cli_store(url: str | None) -> Iterator[SessionStore]:
    """The store ``url`` names (None: the default SQLite file, its folder made).

    :raises Failure: exit 2 for a URL that names no store, or whose extra is missing
    """
    where = DEFAULT_DB.as_posix() if url is None else _render.redact(url)
    try:
        with _errors(where):
            if url is None:
                DEFAULT_DB.parent.mkdir(parents=True, exist_ok=True)
                store: SessionStore = SQLiteStore(DEFAULT_DB)
            else:
                store = open_store(url)
    except Failure as exc:
        if exc.exit_code == EXIT["usage"] and url is not None:
            exc.message = f"bad store URL: {exc.message}"
        raise
    except ImportError as exc:  # the store's driver extra
        raise Failure(str(exc), "usage") from None
    except OSError as exc:
        raise Failure(f"cannot create the folder of {where}: {exc.strerror}") from None
    try:
        yield store
    finally:
        try:
            store.close()
        except SessionError:  # closing a store whose server went away: nothing to keep
            pass


def _not_found(exc: SessionNotFound, where: str) -> Failure:
    if isinstance(exc, SessionExpired):
        message = (
            f"session {exc.session_id!r} expired at {_render.when(exc.expired_at)}; "
            "`agent-session purge` removes expired sessions"
        )
    else:
        message = (
            f"no session {exc.session_id!r} in {where}: `agent-session ls` lists the "
            "sessions (and --store names another store)"
        )
    return Failure(message, "not_found")


@contextmanager
def _errors(where: str) -> Iterator[None]:
    """The library's errors as messages and exit codes, never tracebacks."""
    try:
        yield
    except SessionNotFound as exc:
        raise _not_found(exc, where) from None
    except InvalidSessionId as exc:
        raise Failure(str(exc), "usage") from None
    except BackendError as exc:
        raise Failure(f"{exc} (store: {where})", "backend") from None
    except SessionError as exc:
        raise Failure(str(exc)) from None
    except (ValueError, TypeError) as exc:  # an argument the library refused: bad usage
        raise Failure(str(exc), "usage") from None


def _label_pairs(values: Sequence[str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for value in values:
        key, sep, label = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{value!r} is not KEY=VALUE", param_hint="--label")
        labels[key] = label
    return labels


# -- the group ------------------------------------------------------------------------------

_HELP = f"""Look into, move and tidy the sessions of an agent-session store.

\b
The store is --store URL, else ${ENV_URL}, else the default: a SQLite file
in your data directory, here:
  {DEFAULT_DB}
\b
URLs: memory://, sqlite:///relative.db, sqlite:////absolute.db,
postgresql://user@host/db?table_prefix=..., redis://host:6379/0?prefix=...

\b
Exit codes: 0 done; 1 failed (the message says why); 2 bad usage or store URL;
3 the store's backend failed or is unreachable; 4 no such session; 130 interrupted.
"""


@click.group(help=_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--store",
    "url",
    metavar="URL",
    envvar=ENV_URL,
    show_envvar=True,
    help="The store to use (default: the SQLite file above).",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show progress bars of export, import and copy (default: if stderr is a terminal).",
)
@click.version_option(__version__, "-V", "--version", prog_name="agent-session")
@click.pass_context
def cli(ctx: click.Context, url: str | None, progress: bool | None) -> None:
    ctx.obj = Context(url or None, progress)


pass_context = click.make_pass_decorator(Context)


# -- ls, show, rm, purge, stats -----------------------------------------------------------------


def _listed(
    store: SessionStore, prefix: str | None, labels: dict[str, str], limit: int | None
) -> Iterator[SessionMetadata]:
    """The sessions ``ls`` shows, sorted by id."""
    if not labels:
        count = 0
        for session_id in store.iter_sessions(prefix=prefix):
            if limit is not None and count >= limit:
                return
            try:
                meta = store.get_metadata(session_id)
            except SessionNotFound:  # removed or expired since it was listed
                continue
            count += 1
            yield meta
        return
    # By label: the store's index finds them (newest first); sorted by id here like the rest.
    found: list[SessionMetadata] = []
    cursor: str | None = None
    while True:
        page = store.find_sessions(labels=labels, limit=_PAGE, cursor=cursor)
        found.extend(m for m in page.items if prefix is None or m.session_id.startswith(prefix))
        cursor = page.next_cursor
        if cursor is None:
            break
    found.sort(key=lambda m: m.session_id)
    yield from found[:limit]


@cli.command("ls", short_help="List sessions: messages, updated, expiry, labels.")
@click.option("--prefix", help="Only sessions whose id starts with this.")
@click.option(
    "--label",
    "labels",
    multiple=True,
    metavar="KEY=VALUE",
    help="Only sessions with this label (repeat: all of them).",
)
@click.option("--limit", type=click.IntRange(min=1), help="At most this many sessions.")
@click.option("--json", "as_json", is_flag=True, help="A JSON array of session metadata.")
@pass_context
def ls_command(
    ctx: Context, prefix: str | None, labels: tuple[str, ...], limit: int | None, as_json: bool
) -> None:
    """List sessions, sorted by id: messages, last update, expiry, labels.

    On a terminal, a table; piped, one tab-separated line per session (id, messages,
    updated, expires, labels) with no header.
    """
    wanted = _label_pairs(labels)
    out = _out()
    with ctx.store() as store, _errors(ctx.shown_url):
        rows = _listed(store, prefix, wanted, limit)
        if as_json:
            # Streamed: one element per line, so a large store never sits in memory.
            _write("[")
            for n, meta in enumerate(rows):
                _write(("\n" if n == 0 else ",\n") + _dumps(_render.metadata_json(meta)))
            _write("\n]\n")
        elif out.is_terminal:
            table = _render.sessions_table(rows)
            if table.row_count:
                out.print(table)
            else:
                _note(f"no sessions in {ctx.shown_url}")
        else:
            for meta in rows:
                _write(_render.sessions_tsv(meta) + "\n")


@cli.command("show", short_help="Show one conversation.")
@click.argument("session_id")
@click.option("--json", "as_json", is_flag=True, help="Metadata and stored messages as JSON.")
@pass_context
def show_command(ctx: Context, session_id: str, as_json: bool) -> None:
    """Show one conversation: roles, text, content parts and tool calls."""
    with ctx.store() as store, _errors(ctx.shown_url):
        meta, conversation = _consistent_show(store, session_id)
    if as_json:
        _write(_render.show_json(meta, conversation) + "\n")
    else:
        _out().print(_render.conversation_view(meta, conversation))


def _consistent_show(store: SessionStore, session_id: str) -> tuple[SessionMetadata, Conversation]:
    """Messages and the metadata of the same version (read again if a write came between)."""
    for _ in range(5):
        before = store.get_metadata(session_id)
        conversation = store.load(session_id)
        after = store.get_metadata(session_id)
        if before.version == after.version:
            break
    return after, conversation


@cli.command("rm")
@click.argument("session_ids", nargs=-1, required=True, metavar="ID...")
@click.option("-f", "--force", is_flag=True, help="No error for ids that do not exist.")
@pass_context
def rm_command(ctx: Context, session_ids: tuple[str, ...], force: bool) -> None:
    """Remove sessions."""
    missing: list[str] = []
    removed = 0
    with ctx.store() as store, _errors(ctx.shown_url):
        for session_id in session_ids:
            if store.delete(session_id):
                removed += 1
            else:
                missing.append(session_id)
    click.echo(f"removed {removed} session{'s' if removed != 1 else ''}")
    if missing and not force:
        shown = ", ".join(repr(m) for m in missing)
        raise Failure(f"no session {shown} in {ctx.shown_url} (-f ignores them)", "not_found")


@cli.command("purge")
@pass_context
def purge_command(ctx: Context) -> None:
    """Remove the sessions whose TTL ran out."""
    with ctx.store() as store, _errors(ctx.shown_url):
        purged = store.purge_expired()
    click.echo(f"purged {purged} expired session{'s' if purged != 1 else ''}")


@cli.command("stats")
@click.option("--json", "as_json", is_flag=True, help="The numbers as a JSON object.")
@pass_context
def stats_command(ctx: Context, as_json: bool) -> None:
    """Count the live sessions, their messages and their bytes."""
    sessions = messages = size = labelled = expiring = 0
    with ctx.store() as store, _errors(ctx.shown_url):
        cursor: str | None = None
        while True:
            page = store.find_sessions(limit=_PAGE, cursor=cursor)
            for meta in page.items:
                sessions += 1
                messages += meta.message_count
                size += meta.size_bytes
                labelled += bool(meta.labels)
                expiring += meta.expires_at is not None
            cursor = page.next_cursor
            if cursor is None:
                break
        name = store.name
    numbers = {
        "store": name,
        "sessions": sessions,
        "messages": messages,
        "bytes": size,
        "with_labels": labelled,
        "with_ttl": expiring,
    }
    if as_json:
        _write(_dumps(numbers) + "\n")
        return
    click.echo(f"store     {name}: {ctx.shown_url}")
    click.echo(f"sessions  {sessions}  ({labelled} with labels, {expiring} with a TTL)")
    click.echo(f"messages  {messages}")
    click.echo(f"bytes     {size}  (message payloads)")


# -- export, import, copy ------------------------------------------------------------------------


def _count(store: SessionStore, prefix: str | None) -> int:
    return sum(1 for _ in store.iter_sessions(prefix=prefix))


def _summary(verb: str, tally: Tally) -> str:
    n = tally.written
    text = f"{verb} {n} session{'s' if n != 1 else ''}"
    if tally.skipped:
        text += f", skipped {tally.skipped} that already existed"
    return text


@contextmanager
def _tallied(verb: str, tally: Tally) -> Iterator[Stop]:
    """Stop cleanly on Ctrl-C, and say what was done whenever the operation ends early.

    Yields the :class:`Stop` the loop checks before each session; an interruption is
    exit code 130, and any failure's message ends with the count of what was written.
    """
    with graceful_stop() as stop:
        try:
            yield stop
        except Failure as exc:
            exc.message = f"{exc.message}; {_summary(verb, tally)} before that"
            raise
        except KeyboardInterrupt:  # a second Ctrl-C: the session in flight was rolled back
            failure = Failure(f"interrupted at once; {_summary(verb, tally)} before that")
            failure.exit_code = EXIT["interrupted"]
            raise failure from None
    if stop.requested:
        failure = Failure(
            f"interrupted ({stop.signal_name}): {_summary(verb, tally)}, each one whole; "
            "stopped between sessions"
        )
        failure.exit_code = EXIT["interrupted"]
        raise failure


@contextmanager
def _output(path: str | None) -> Iterator[tuple[IO[bytes], bool]]:
    """The binary stream to write, and whether it is a terminal."""
    if path is None or path == "-":
        stream = sys.stdout.buffer
        yield stream, stream.isatty()
        stream.flush()
        return
    try:
        handle = open(path, "wb")  # noqa: SIM115  # closed by the with below
    except OSError as exc:
        raise Failure(f"cannot write {path}: {exc.strerror}") from None
    with handle:
        yield handle, False


@cli.command("export", short_help="Export sessions to JSON Lines.")
@click.argument("session_ids", nargs=-1, metavar="[ID...]")
@click.option("-o", "--output", metavar="FILE", help="Write to FILE instead of stdout.")
@click.option("--prefix", help="Without ids: only sessions whose id starts with this.")
@pass_context
def export_command(
    ctx: Context, session_ids: tuple[str, ...], output: str | None, prefix: str | None
) -> None:
    """Export sessions (all, or the given ids) as JSON Lines, one session per line.

    Each line is {"session_id", "metadata": {"labels", "ttl"?}, "messages": [...]}, the
    messages in the library's wire format (docs/cli.md); `import` reads it back.
    """
    tally = Tally()
    err = _err()
    with ctx.store() as store, _output(output) as (stream, tty):
        # No bar over the data itself, when stdout is the terminal too.
        shown = progress_wanted(err, ctx.progress) and not tty
        with _tallied("exported", tally) as stop, _errors(ctx.shown_url):
            if session_ids:
                total: int | None = len(session_ids)
                ids: Iterator[str] = iter(session_ids)
            else:
                total = _count(store, prefix) if shown else None
                ids = store.iter_sessions(prefix=prefix)
            with Meter(err, "exporting", total, shown) as meter:
                for session_id in ids:
                    if stop.requested:
                        break
                    snapshot = read_session(store, session_id)
                    if snapshot is not None:
                        stream.write(export_line(snapshot))
                        tally.written += 1
                    elif session_ids:
                        tally.missing.append(session_id)
                    meter.advance()
            stream.flush()
    _note(_summary("exported", tally))
    if tally.missing:
        shown_ids = ", ".join(repr(m) for m in tally.missing)
        raise Failure(f"no session {shown_ids} in {ctx.shown_url}", "not_found")


def _lines(handle: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """Numbered non-blank lines; only ``\\n`` ends one (JSON may hold U+2028 as it is)."""
    for number, line in enumerate(handle, 1):
        line = line.rstrip(b"\r\n")
        if line.strip():
            yield number, line


def _line_count(path: str) -> int | None:
    try:
        with open(path, "rb") as handle:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    except OSError:
        return None


_ON_CONFLICT = click.option(
    "--on-conflict",
    type=click.Choice(["skip", "overwrite", "fail"]),
    default="fail",
    show_default=True,
    help="For a session that already exists: keep it, replace it, or stop (exit code 1).",
)


@cli.command("import", short_help="Import sessions from JSON Lines.")
@click.argument("file", metavar="FILE")
@_ON_CONFLICT
@pass_context
def import_command(ctx: Context, file: str, on_conflict: OnConflict) -> None:
    """Import sessions from FILE, JSON Lines written by `export` ('-': stdin).

    Each session is written with one save: whole or not at all. A session without a
    "ttl" gets none; one with a ttl lives that many seconds from now.
    """
    tally = Tally()
    err = _err()
    shown = progress_wanted(err, ctx.progress)
    if file == "-":
        handle: IO[bytes] = sys.stdin.buffer
        total = None
    else:
        try:
            handle = open(file, "rb")  # noqa: SIM115  # closed by the with below
        except OSError as exc:
            raise Failure(f"cannot read {file}: {exc.strerror}") from None
        total = _line_count(file) if shown else None
    with handle, ctx.store() as store:
        with (
            _tallied("imported", tally) as stop,
            _errors(ctx.shown_url),
            Meter(err, "importing", total, shown) as meter,
        ):
            for number, line in _lines(handle):
                if stop.requested:
                    break
                try:
                    snapshot = parse_line(line, number)
                    written = write_session(store, snapshot, on_conflict)
                except (BadLine, Conflict) as exc:
                    raise Failure(str(exc)) from None
                except (ValueError, TypeError) as exc:  # an id or labels the store refuses
                    raise Failure(f"line {number}: {exc}") from None
                tally.written += written
                tally.skipped += not written
                meter.advance()
    _note(_summary("imported", tally))


@cli.command("copy", short_help="Copy every session from one store to another.")
@click.argument("src_url", metavar="SRC_URL")
@click.argument("dst_url", metavar="DST_URL")
@click.option("--prefix", help="Only sessions whose id starts with this.")
@_ON_CONFLICT
@pass_context
def copy_command(
    ctx: Context, src_url: str, dst_url: str, prefix: str | None, on_conflict: OnConflict
) -> None:
    """Copy every session of SRC_URL to DST_URL, streaming (constant memory).

    The sessions are read one at a time as the source lists them, and each is written
    to the destination with one save. --store plays no part.
    """
    if src_url == dst_url:
        raise Failure("SRC_URL and DST_URL are the same store", "usage")
    tally = Tally()
    err = _err()
    shown = progress_wanted(err, ctx.progress)
    src_where, dst_where = _render.redact(src_url), _render.redact(dst_url)
    with open_cli_store(src_url) as src, open_cli_store(dst_url) as dst:
        with _tallied("copied", tally) as stop:
            with _errors(src_where):
                total = _count(src, prefix) if shown else None
                ids = src.iter_sessions(prefix=prefix)
            with Meter(err, "copying", total, shown) as meter:
                while not stop.requested:
                    with _errors(src_where):
                        session_id = next(ids, None)
                        if session_id is None:
                            break
                        snapshot = read_session(src, session_id)
                    if snapshot is not None:
                        try:
                            with _errors(dst_where):
                                written = write_session(dst, snapshot, on_conflict)
                        except Conflict as exc:
                            raise Failure(str(exc)) from None
                        tally.written += written
                        tally.skipped += not written
                    meter.advance()
    _note(_summary("copied", tally))


# -- migrate -------------------------------------------------------------------------------------


def _schema_version(store: SessionStore, url: str | None) -> str:
    """What ``migrate`` reports once the store has set up its tables."""
    if isinstance(store, SQLiteStore):
        if store.path == ":memory:":
            return "sqlite (in memory): schema created"
        conn = sqlite3.connect(store.path)
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        finally:
            conn.close()
        return f"sqlite schema version {version} ({store.path})"
    if store.name == "postgres" and url is not None:
        return _postgres_version(store, url)
    return f"{store.name}: no schema to migrate"


def _postgres_version(store: SessionStore, url: str) -> str:
    import psycopg

    from .._backends.postgres import PostgresSQL

    schema: str | None = getattr(store, "schema", None)
    prefix: str = getattr(store, "table_prefix", "")
    if schema is None:
        return "postgres: schema created"
    sql = PostgresSQL(schema, prefix)
    try:
        with psycopg.connect(parse_store_url(url).target, autocommit=True) as conn:
            row = conn.execute(sql.read_version.encode()).fetchone()
    except psycopg.Error as exc:
        raise Failure(f"cannot read the schema version: {exc}", "backend") from None
    version = None if row is None else row[0]
    return f"postgres schema version {version} (tables {schema}.{prefix}*)"


@cli.command("migrate", short_help="Create or migrate the schema; print its version.")
@pass_context
def migrate_command(ctx: Context) -> None:
    """Create or migrate the store's schema, and print its version.

    Stores create their tables and apply forward migrations when first used: this
    uses the store once, and reports the schema version it is at.
    """
    with ctx.store() as store, _errors(ctx.shown_url):
        store.list_sessions(limit=1)  # the first call creates or migrates the tables
        click.echo(_schema_version(store, ctx.url))


# -- running -------------------------------------------------------------------------------------


def _quiet_broken_pipe() -> NoReturn:
    # The reader went away (`| head`): no traceback, and none from the flush at exit.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    raise SystemExit(EXIT["error"])


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command line; the exit code."""
    try:
        result = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="agent-session",
            standalone_mode=False,
        )
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except Failure as exc:
        kind = "" if exc.exit_code == EXIT["interrupted"] else "error: "
        click.echo(f"agent-session: {kind}{exc.message}", err=True)
        return exc.exit_code
    except click.ClickException as exc:  # usage errors: click's message, exit code 2
        exc.show()
        return exc.exit_code
    except (KeyboardInterrupt, click.exceptions.Abort):
        _note("interrupted")
        return EXIT["interrupted"]
    except BrokenPipeError:
        _quiet_broken_pipe()
    return result if isinstance(result, int) else 0
