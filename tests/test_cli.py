"""The ``agent-session`` command line, driven as a user drives it: in a subprocess.

Every test runs ``python -m agent_session ...`` (the installed package) against SQLite
files in ``tmp_path``, PostgreSQL tables of a prefix of its own, or Redis keys of a
prefix of its own, and bounds each child in time.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from postgres_helpers import drop_tables
from postgres_helpers import new_prefix as new_table_prefix
from redis_helpers import free_port
from redis_helpers import new_prefix as new_key_prefix

import agent_session
from agent_session import Conversation, Message, open_store

#: No child may take longer than this.
TIMEOUT = 60.0
#: The memory bound of `copy` (peak RSS of the child process): at most this many MB for
#: 10,000 sessions (~46 MB of messages; measured: ~34 MB, as for 100 sessions), and at
#: most this much more than a copy of 100 sessions, which holding the data would break.
COPY_RSS_LIMIT_MB = 64
COPY_RSS_GROWTH_LIMIT_MB = 8
BIG = 10_000


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "AGENT_SESSION_URL"}
    env["XDG_DATA_HOME"] = str(tmp_path / "data")  # the default store, kept in the test's dir
    env.update(extra)
    return env


def cli(
    tmp_path: Path,
    *args: str,
    input: bytes | None = None,  # noqa: A002  # as subprocess names it
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run the command line to the end, in ``tmp_path``; stdout and stderr captured."""
    return subprocess.run(
        [sys.executable, "-m", "agent_session", *args],
        input=input,
        capture_output=True,
        cwd=tmp_path,
        env=env or _env(tmp_path),
        timeout=TIMEOUT,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[bytes]) -> str:
    assert result.returncode == 0, result.stderr.decode()
    assert b"Traceback" not in result.stderr
    return result.stdout.decode()


def failed(result: subprocess.CompletedProcess[bytes], code: int) -> str:
    """The error message of a run that must end with ``code`` and no traceback."""
    stderr = result.stderr.decode()
    assert result.returncode == code, (result.returncode, stderr)
    assert "Traceback" not in stderr
    return stderr


def sample_sessions() -> dict[str, Conversation]:
    """Conversations with what a store must keep: parts, tool calls, items, odd text."""
    chat = Conversation.builder().system("You are terse.").user("Weather in Paris?").build()
    chat.add(
        Message(
            "assistant",
            None,
            tool_calls=[
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        )
    )
    chat.add_tool('{"celsius": 21}', tool_call_id="call_1")
    chat.add_assistant("21 °C, sunny.", metadata={"model": "m-1"})
    parts = Conversation().add(
        Message(
            "user",
            [
                {"type": "text", "text": "What is in this picture?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 3000}},
            ],
        )
    )
    parts.add(Message.from_dict({"type": "reasoning", "id": "rs_1", "summary": []}))
    parts.add(Message.from_dict({"type": "function_call", "call_id": "c9", "name": "zoom"}))
    odd = Conversation().add_user(
        "line\u2028separator, tab\t, \x1b[31mred\x1b[0m, ünï, 🦜, big 12345678901234567890123"
    )
    return {"chat/1": chat, "chat/2": parts, "odd id ü": odd, "empty": Conversation()}


def seed(url: str, *, ttl_session: bool = False) -> None:
    """The sample sessions, with labels; optionally one more with a TTL of an hour."""
    with open_store(url) as store:
        for n, (session_id, conversation) in enumerate(sample_sessions().items()):
            labels = {"team": "a" if n % 2 else "b", "n": str(n)} if session_id != "empty" else {}
            store.save(session_id, conversation, labels=labels)
        if ttl_session:
            store.save("ttl", Conversation().add_user("soon gone"), ttl=3600)


def exported(tmp_path: Path, url: str) -> list[bytes]:
    result = cli(tmp_path, "--store", url, "export")
    ok(result)
    return result.stdout.splitlines(keepends=True)


# -- the stores of the three backends ------------------------------------------------------------


def _postgres_urls(dsn: str) -> Generator[tuple[str, str], None, None]:
    """Two stores' URLs, tables of their own; dropped when the generator closes."""
    prefixes = [new_table_prefix(), new_table_prefix()]
    try:
        yield f"{dsn}?table_prefix={prefixes[0]}", f"{dsn}?table_prefix={prefixes[1]}"
    finally:
        for prefix in prefixes:
            drop_tables(dsn, prefix)


def _redis_urls(url: str) -> Generator[tuple[str, str], None, None]:
    """Two stores' URLs, key prefixes of their own; cleared when the generator closes."""
    urls = [f"{url}?prefix={new_key_prefix()}" for _ in range(2)]
    try:
        yield urls[0], urls[1]
    finally:
        for each in urls:
            with open_store(each) as store:
                store.clear()


@pytest.fixture(params=["sqlite", "postgres", "redis"])
def two_stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two empty stores of one backend, removed afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/a.db", f"sqlite:///{tmp_path}/b.db"
    elif request.param == "postgres":
        yield from _postgres_urls(request.getfixturevalue("postgres_dsn"))
    else:
        yield from _redis_urls(request.getfixturevalue("redis_url"))


# -- export, import, copy ----------------------------------------------------------------------


def test_export_then_import_round_trips_byte_identical_sessions(
    tmp_path: Path, two_stores: tuple[str, str]
) -> None:
    source, target = two_stores
    seed(source)
    first = exported(tmp_path, source)
    assert len(first) == len(sample_sessions())
    (tmp_path / "out.jsonl").write_bytes(b"".join(first))
    result = cli(tmp_path, "--store", target, "import", "out.jsonl")
    ok(result)
    assert b"imported 4 sessions" in result.stderr
    assert exported(tmp_path, target) == first  # byte for byte, line for line
    # What a line holds: the session, its labels, its messages in the wire format.
    line = json.loads(first[0])
    assert line["session_id"] == "chat/1"
    assert line["metadata"] == {"labels": {"n": "0", "team": "b"}}
    assert line["messages"][0]["m"] == {"role": "system", "content": "You are terse."}
    assert set(line["messages"][0]) == {"id", "at", "m"}
    with open_store(target) as store:
        assert store.load("chat/1") == sample_sessions()["chat/1"]
        assert dict(store.get_metadata("chat/2").labels) == {"team": "a", "n": "1"}


def test_copy_between_backends_keeps_every_session_byte_identical(
    tmp_path: Path, postgres_dsn: str, redis_url: str
) -> None:
    sqlite_a, sqlite_b = f"sqlite:///{tmp_path}/a.db", f"sqlite:///{tmp_path}/b.db"
    seed(sqlite_a)
    first = exported(tmp_path, sqlite_a)
    pg = _postgres_urls(postgres_dsn)
    rd = _redis_urls(redis_url)
    try:
        postgres, _ = next(pg)
        redis_store, _ = next(rd)
        hops = [(sqlite_a, postgres), (postgres, redis_store), (redis_store, sqlite_b)]
        for src, dst in hops:
            result = cli(tmp_path, "copy", src, dst)
            ok(result)
            assert b"copied 4 sessions" in result.stderr
            assert exported(tmp_path, dst) == first, (src, dst)
    finally:
        pg.close()
        rd.close()


def test_a_ttl_goes_out_as_seconds_left_and_comes_back(tmp_path: Path) -> None:
    source, target = f"sqlite:///{tmp_path}/a.db", f"sqlite:///{tmp_path}/b.db"
    seed(source, ttl_session=True)
    lines = [json.loads(line) for line in exported(tmp_path, source)]
    ttl_line = next(line for line in lines if line["session_id"] == "ttl")
    assert 3500 < ttl_line["metadata"]["ttl"] <= 3600
    assert all("ttl" not in line["metadata"] for line in lines if line is not ttl_line)
    (tmp_path / "out.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    ok(cli(tmp_path, "--store", target, "import", "out.jsonl"))
    with open_store(target) as store:
        expires_at = store.get_metadata("ttl").expires_at
        assert expires_at is not None and 3400 < expires_at - time.time() <= 3600
        assert store.get_metadata("chat/1").expires_at is None


def test_import_on_conflict_fail_skip_and_overwrite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/a.db"
    seed(url)
    lines = exported(tmp_path, url)
    with open_store(url) as store:
        store.save("chat/2", Conversation().add_user("changed"), labels={"kept": "yes"})
        store.delete("chat/1")
    (tmp_path / "out.jsonl").write_bytes(b"".join(lines))

    # fail (the default): stops at the first session that exists, having written those before.
    message = failed(cli(tmp_path, "--store", url, "import", "out.jsonl"), 1)
    assert "'chat/2' already exists" in message and "--on-conflict" in message
    assert "imported 1 session before that" in message
    with open_store(url) as store:
        assert len(store.load("chat/1")) == 5  # written before the conflict
        assert store.load("chat/2")[0].content == "changed"  # left alone

    result = cli(tmp_path, "--store", url, "import", "--on-conflict", "skip", "out.jsonl")
    ok(result)
    assert b"imported 0 sessions, skipped 4 that already existed" in result.stderr
    with open_store(url) as store:
        assert store.load("chat/2")[0].content == "changed"

    ok(cli(tmp_path, "--store", url, "import", "--on-conflict", "overwrite", "out.jsonl"))
    assert exported(tmp_path, url) == lines  # messages and labels replaced


def test_import_reads_stdin_and_names_the_bad_line(tmp_path: Path) -> None:
    source, target = f"sqlite:///{tmp_path}/a.db", f"sqlite:///{tmp_path}/b.db"
    seed(source)
    lines = exported(tmp_path, source)
    bad = [lines[0], b"\n", b'{"session_id": "x", "messages": [{"role": 5}]}\n', lines[1]]
    message = failed(cli(tmp_path, "--store", target, "import", "-", input=b"".join(bad)), 1)
    assert message.startswith("agent-session: error: line 3: ")
    assert "imported 1 session before that" in message
    with open_store(target) as store:
        assert store.list_sessions() == ["chat/1"]
    message = failed(cli(tmp_path, "--store", target, "import", "-", input=b"[1, 2]\n"), 1)
    assert "line 1: not an exported session" in message
    failed(cli(tmp_path, "--store", target, "import", "missing.jsonl"), 1)


def test_export_of_given_ids_and_to_a_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/a.db"
    seed(url)
    ok(cli(tmp_path, "--store", url, "export", "-o", "two.jsonl", "empty", "chat/1"))
    lines = (tmp_path / "two.jsonl").read_bytes().splitlines()
    assert [json.loads(line)["session_id"] for line in lines] == ["empty", "chat/1"]
    message = failed(cli(tmp_path, "--store", url, "export", "chat/1", "nope"), 4)
    assert "no session 'nope'" in message
    prefixed = cli(tmp_path, "--store", url, "export", "--prefix", "chat/")
    assert [json.loads(line)["session_id"] for line in ok(prefixed).splitlines()] == [
        "chat/1",
        "chat/2",
    ]


def _make_source(path: Path, count: int) -> str:
    """A SQLite store of ``count`` sessions of 5 messages, ~4.6 KB of payload each."""
    url = f"sqlite:///{path}"
    text = "x" * 900
    with open_store(url) as store:
        for n in range(count):
            conversation = (
                Conversation.builder()
                .system("sys")
                .user(f"{text} {n}")
                .assistant(text)
                .user(text)
                .assistant(text)
                .build()
            )
            store.save(f"s{n:05d}", conversation, labels={"n": str(n % 7)})
    return url


@pytest.fixture(scope="module")
def big_source(tmp_path_factory: pytest.TempPathFactory) -> str:
    """10,000 sessions (50,000 messages, ~46 MB of payload) in a SQLite file."""
    return _make_source(tmp_path_factory.mktemp("big") / "big.db", BIG)


#: Runs the command line as its only child and prints that child's peak RSS (the
#: ``RUSAGE_CHILDREN`` high-water mark) on its last line of stdout. The child must be
#: forked from a small process: Linux counts the memory a child had before its exec in
#: its peak, so a child forked from pytest itself would report pytest's size.
_MEASURE = """
import resource, subprocess, sys
code = subprocess.call([sys.executable, "-m", "agent_session", *sys.argv[1:]])
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(code)
"""


def _peak_rss_mb(tmp_path: Path, *args: str) -> tuple[float, bytes]:
    """Run the command line; the peak RSS of that child (MB), and its stderr."""
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, *args],
        capture_output=True,
        cwd=tmp_path,
        env=_env(tmp_path),
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    # Linux reports ru_maxrss in KiB (macOS in bytes).
    scale = 1 if sys.platform == "darwin" else 1024
    return int(result.stdout.splitlines()[-1]) * scale / 1e6, result.stderr


def test_copy_of_ten_thousand_sessions_runs_in_constant_memory(
    tmp_path: Path, big_source: str
) -> None:
    small = _make_source(tmp_path / "small.db", 100)
    small_rss, _ = _peak_rss_mb(tmp_path, "copy", small, f"sqlite:///{tmp_path}/small-copy.db")
    started = time.monotonic()
    big_rss, stderr = _peak_rss_mb(tmp_path, "copy", big_source, f"sqlite:///{tmp_path}/copy.db")
    elapsed = time.monotonic() - started
    assert b"copied 10000 sessions" in stderr
    print(
        f"copy peak RSS: 100 sessions {small_rss:.1f} MB, {BIG} {big_rss:.1f} MB, {elapsed:.1f} s"
    )
    assert big_rss < COPY_RSS_LIMIT_MB
    assert big_rss - small_rss < COPY_RSS_GROWTH_LIMIT_MB
    with open_store(f"sqlite:///{tmp_path}/copy.db") as copy, open_store(big_source) as src:
        assert sum(1 for _ in copy.iter_sessions()) == BIG
        assert copy.load("s09999") == src.load("s09999")
        assert dict(copy.get_metadata("s00009").labels) == {"n": "2"}


# -- on a terminal: the progress bar, Ctrl-C -----------------------------------------------------


class Terminal:
    """A child whose stdin, stdout and stderr are a pseudo-terminal; what it wrote."""

    def __init__(self, tmp_path: Path, args: Sequence[str]) -> None:
        master, slave = pty.openpty()
        env = _env(tmp_path, TERM="xterm-256color", COLUMNS="120")
        env.pop("NO_COLOR", None)
        self.child = subprocess.Popen(
            [sys.executable, "-m", "agent_session", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=tmp_path,
            env=env,
            close_fds=True,
        )
        os.close(slave)
        self._master = master
        self.output = b""

    def read_until(self, done: Any, timeout: float = TIMEOUT) -> None:
        """Read until ``done(output)`` or the child exits (its last output read too)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not done(self.output):
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if ready:
                try:
                    data = os.read(self._master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    return
                if not data:
                    return
                self.output += data

    def wait(self) -> int:
        self.read_until(lambda _output: False)  # to the end of what it writes
        try:
            return self.child.wait(timeout=TIMEOUT)
        finally:
            os.close(self._master)


def test_a_terminal_shows_the_progress_bar_and_a_pipe_does_not(tmp_path: Path) -> None:
    url = _make_source(tmp_path / "src.db", 300)
    terminal = Terminal(tmp_path, ["--store", url, "export", "-o", "out.jsonl"])
    assert terminal.wait() == 0
    screen = terminal.output.decode("utf-8", "replace")
    assert "━" in screen  # rich's bar
    assert "300/300" in screen and "100%" in screen
    assert "exported 300 sessions" in screen
    assert len((tmp_path / "out.jsonl").read_bytes().splitlines()) == 300

    piped = cli(tmp_path, "--store", url, "export", "-o", "piped.jsonl")
    ok(piped)
    assert piped.stderr == b"agent-session: exported 300 sessions\n"  # no bar, no escapes
    terminal = Terminal(tmp_path, ["--no-progress", "--store", url, "export", "-o", "q.jsonl"])
    assert terminal.wait() == 0
    assert "━" not in terminal.output.decode("utf-8", "replace")


def test_ctrl_c_stops_between_sessions_with_an_exact_count(tmp_path: Path, big_source: str) -> None:
    target = f"sqlite:///{tmp_path}/copy.db"
    terminal = Terminal(tmp_path, ["copy", big_source, target])
    started = re.compile(rb"\b([1-9]\d*)/10000\b")
    terminal.read_until(lambda output: started.search(output) is not None)
    assert started.search(terminal.output), terminal.output[-500:]
    terminal.child.send_signal(signal.SIGINT)
    assert terminal.wait() == 130
    screen = terminal.output.decode("utf-8", "replace")
    assert "Traceback" not in screen
    found = re.search(r"interrupted \(SIGINT\): copied (\d+) sessions, each one whole", screen)
    assert found, screen[-500:]
    copied = int(found.group(1))
    assert 0 < copied < BIG
    with open_store(target) as copy, open_store(big_source) as src:
        ids = list(copy.iter_sessions())
        assert len(ids) == copied  # the count is exact: nothing more, nothing less
        assert ids == [f"s{n:05d}" for n in range(copied)]
        assert copy.load(ids[-1]) == src.load(ids[-1])  # the last one whole


# -- ls, show, rm, purge, stats, migrate ---------------------------------------------------------


def test_ls_filters_and_its_json_parses(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/a.db"
    seed(url, ttl_session=True)
    rows = [line.split("\t") for line in ok(cli(tmp_path, "--store", url, "ls")).splitlines()]
    assert [row[0] for row in rows] == ["chat/1", "chat/2", "empty", "odd id ü", "ttl"]
    assert rows[0][1] == "5" and rows[0][3] == "-" and rows[0][4] == "n=0, team=b"
    assert rows[4][3] != "-"  # the TTL session's expiry
    listed = json.loads(ok(cli(tmp_path, "--store", url, "ls", "--json")))
    assert [item["session_id"] for item in listed] == [row[0] for row in rows]
    first = listed[0]
    assert first["message_count"] == 5 and first["labels"] == {"n": "0", "team": "b"}
    assert first["expires_at"] is None and listed[4]["expires_at"] > time.time()
    assert set(first) == {
        "session_id",
        "message_count",
        "size_bytes",
        "version",
        "created_at",
        "updated_at",
        "expires_at",
        "labels",
    }

    def ids(*args: str) -> list[str]:
        items = json.loads(ok(cli(tmp_path, "--store", url, "ls", "--json", *args)))
        return [item["session_id"] for item in items]

    assert ids("--prefix", "chat/") == ["chat/1", "chat/2"]
    assert ids("--limit", "2") == ["chat/1", "chat/2"]
    assert ids("--label", "team=b") == ["chat/1", "odd id ü"]
    assert ids("--label", "team=b", "--label", "n=2") == ["odd id ü"]
    assert ids("--label", "team=b", "--prefix", "chat") == ["chat/1"]
    assert ids("--label", "team=b", "--limit", "1") == ["chat/1"]
    assert ids("--label", "team=zzz") == []
    failed(cli(tmp_path, "--store", url, "ls", "--label", "novalue"), 2)


def test_show_prints_the_conversation_for_a_person_and_as_json(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/a.db"
    seed(url)
    text = ok(cli(tmp_path, "--store", url, "show", "chat/1"))
    for expected in (
        "session",
        "chat/1",
        "n=0, team=b",
        "system",
        "You are terse.",
        "user",
        "Weather in Paris?",
        'call get_weather({"city":"Paris"})',
        "call_1",
        "tool for call_1",
        '{"celsius": 21}',
        "21 °C, sunny.",
        'metadata {"model":"m-1"}',
    ):
        assert expected in text, expected
    parts = ok(cli(tmp_path, "--store", url, "show", "chat/2"))
    assert "What is in this picture?" in parts
    assert "[image_url] data:image/png;base64,... (3000 characters)" in parts
    assert "reasoning" in parts and "function_call (zoom)" in parts
    odd = ok(cli(tmp_path, "--store", url, "show", "odd id ü"))
    assert "\x1b" not in odd and "\\x1b[31mred" in odd  # stored escapes cannot reach the tty

    shown = json.loads(ok(cli(tmp_path, "--store", url, "show", "--json", "chat/1")))
    assert shown["session_id"] == "chat/1"
    assert shown["metadata"]["message_count"] == 5
    payloads = [row["m"] for row in shown["messages"]]
    assert payloads == sample_sessions()["chat/1"].to_dicts()


def test_rm_purge_and_stats(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/a.db"
    seed(url)
    with open_store(url) as store:
        store.save("brief", Conversation().add_user("gone soon"), ttl=0.05)
    stats = json.loads(ok(cli(tmp_path, "--store", url, "stats", "--json")))
    assert stats["sessions"] in (4, 5)  # "brief" may have expired already
    time.sleep(0.1)
    stats = json.loads(ok(cli(tmp_path, "--store", url, "stats", "--json")))
    assert stats == {
        "store": "sqlite",
        "sessions": 4,
        "messages": 9,
        "bytes": stats["bytes"],
        "with_labels": 3,
        "with_ttl": 0,
    }
    with open_store(url) as store:
        assert stats["bytes"] == sum(
            store.get_metadata(s).size_bytes for s in store.iter_sessions()
        )
    assert "sessions  4" in ok(cli(tmp_path, "--store", url, "stats"))
    assert ok(cli(tmp_path, "--store", url, "purge")) == "purged 1 expired session\n"
    assert ok(cli(tmp_path, "--store", url, "purge")) == "purged 0 expired sessions\n"

    assert ok(cli(tmp_path, "--store", url, "rm", "chat/1", "empty")) == "removed 2 sessions\n"
    result = cli(tmp_path, "--store", url, "rm", "chat/2", "chat/1")
    assert "no session 'chat/1'" in failed(result, 4)
    assert result.stdout == b"removed 1 session\n"  # the others were still removed
    ok(cli(tmp_path, "--store", url, "rm", "-f", "chat/1"))
    with open_store(url) as store:
        assert store.list_sessions() == ["odd id ü"]


def test_migrate_prints_the_schema_version(
    tmp_path: Path, postgres_dsn: str, redis_url: str
) -> None:
    output = ok(cli(tmp_path, "--store", f"sqlite:///{tmp_path}/new.db", "migrate"))
    assert output == f"sqlite schema version 1 ({tmp_path}/new.db)\n"
    assert (tmp_path / "new.db").exists()
    for postgres, _ in _postgres_urls(postgres_dsn):
        output = ok(cli(tmp_path, "--store", postgres, "migrate"))
        prefix = postgres.rpartition("=")[2]
        assert output == f"postgres schema version 1 (tables public.{prefix}*)\n"
    for redis_store, _ in _redis_urls(redis_url):
        assert (
            ok(cli(tmp_path, "--store", redis_store, "migrate")) == "redis: no schema to migrate\n"
        )


# -- where the store comes from; what goes wrong ---------------------------------------------------


def test_the_store_is_the_option_else_the_environment_else_the_default(tmp_path: Path) -> None:
    default = tmp_path / "data" / "agent-session" / "sessions.db"
    help_text = ok(cli(tmp_path, "--help"))
    assert str(default) in help_text and "AGENT_SESSION_URL" in help_text
    assert ok(cli(tmp_path, "ls")) == ""
    assert default.exists()  # made, folder and all, on first use

    env_url = f"sqlite:///{tmp_path}/env.db"
    seed(env_url)
    env = _env(tmp_path, AGENT_SESSION_URL=env_url)
    assert len(ok(cli(tmp_path, "ls", env=env)).splitlines()) == 4
    other = f"sqlite:///{tmp_path}/other.db"
    assert ok(cli(tmp_path, "--store", other, "ls", env=env)) == ""  # the option wins


def test_expected_errors_have_exit_codes_and_no_traceback(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/a.db"
    seed(url)
    message = failed(cli(tmp_path, "--store", "nosuch://x", "ls"), 2)
    assert message.startswith("agent-session: error: bad store URL: unknown store URL scheme")
    assert "bad value 'soon'" in failed(
        cli(tmp_path, "--store", f"{url}?default_ttl=soon", "ls"), 2
    )
    failed(cli(tmp_path, "--store", url, "nosuchcommand"), 2)
    failed(cli(tmp_path, "--store", url, "show", "x" * 600), 2)  # not a session id
    failed(cli(tmp_path, "copy", url, url), 2)

    closed_port = free_port()
    for unreachable in (
        f"redis://127.0.0.1:{closed_port}/0",
        f"postgresql://postgres@127.0.0.1:{closed_port}/test?connect_timeout=2",
    ):
        message = failed(cli(tmp_path, "--store", unreachable, "ls"), 3)
        assert "check that the backend is up" in message
        failed(cli(tmp_path, "copy", url, unreachable), 3)
    failed(cli(tmp_path, "--store", f"sqlite:///{tmp_path}/no/such/dir/x.db", "ls"), 3)

    message = failed(cli(tmp_path, "--store", url, "show", "nope"), 4)
    assert "no session 'nope'" in message and "agent-session ls" in message
    with open_store(url) as store:
        store.save("brief", Conversation().add_user("gone soon"), ttl=0.05)
    time.sleep(0.1)
    assert "purge" in failed(cli(tmp_path, "--store", url, "show", "brief"), 4)


def test_a_closed_pipe_ends_export_quietly(tmp_path: Path) -> None:
    url = _make_source(tmp_path / "src.db", 2000)
    child = subprocess.Popen(
        [sys.executable, "-m", "agent_session", "--store", url, "export"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env=_env(tmp_path),
    )
    assert child.stdout is not None and child.stderr is not None
    assert json.loads(child.stdout.readline())["session_id"] == "s00000"
    child.stdout.close()  # as `| head -1` does
    with child.stderr:
        stderr = child.stderr.read()
    assert child.wait(timeout=TIMEOUT) == 1
    assert b"Traceback" not in stderr and b"Exception ignored" not in stderr


def test_the_library_imports_without_the_cli_extra(tmp_path: Path) -> None:
    code = "import sys, agent_session; sys.exit('click' in sys.modules or 'rich' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=TIMEOUT).returncode == 0
    # Without rich installed (hidden here), the command says which extra to install.
    code = (
        "import sys; sys.modules['rich'] = None; "
        "from agent_session.cli import main; sys.exit(main(['ls']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, timeout=TIMEOUT, env=_env(tmp_path)
    )
    assert result.returncode == 2
    assert b"pip install 'agent-session[cli]'" in result.stderr
    assert b"Traceback" not in result.stderr


def test_the_agent_session_script_is_installed(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("agent-session")
    result = subprocess.run(
        [str(script), "--version"], capture_output=True, timeout=TIMEOUT, env=_env(tmp_path)
    )
    assert ok(result) == f"agent-session, version {agent_session.__version__}\n"
