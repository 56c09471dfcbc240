"""Load and faults: every store under mixed load, then everything it acknowledged audited.

For each store, 8 threads on the blocking store and 200 asyncio tasks on the async one
run a mix of operations (mostly ``append``; ``load``, ``load(last=20)``, a rewrite
``save`` and a ``pop``, both with ``expected_version`` from ``load_with_metadata``,
``get_metadata``, ``list_sessions``, ``find_sessions``) on a bounded set of sessions,
for a fixed time. Every message carries a unique token (writer/sequence). A writer
records each append the store acknowledged; a pop records the message it removed; a
save only ever writes back the whole conversation it read (a rewrite that keeps every
message), so any message the audit does not find was lost. At the end everything is
read back through a fresh store object: each acknowledged, not popped message must be
there exactly once, in its session, in its writer's order.

An append or pop that raised :class:`BackendError` may or may not have been applied
(the connection broke before the answer came back): such a message is "unknown" and
may be found 0 or 1 times, never twice. Stores never retry a write, so nothing is
ever applied twice.

With ``--faults``, during the load of:

- ``redis``: the run's private ``redis-server`` (a spare loopback port, ``appendonly
  yes``, ``appendfsync always``, so every acknowledged write is on disk before the
  answer) is stopped with SIGTERM and started again on the same port, twice;
- ``postgres``: every second, ``pg_terminate_backend`` ends every backend whose
  ``application_name`` is the run's own (its pools'; no other's);
- ``sqlite``: a child process appends to the same file and the same sessions, and is
  killed with SIGKILL and started again, over and over; its acknowledged appends come
  back over a pipe and are audited too.

Run: ``python benchmarks/soak.py [--quick] [--seconds S] [--faults] [--stores a,b]
[--postgres DSN]`` (or ``nox -s soak -- --faults``). Exit status 0: nothing lost and
no unexpected error; 1 otherwise. Everything it starts (threads, processes, the Redis
server, PostgreSQL tables under a unique prefix, a temporary directory) is stopped or
removed at the end, also on Ctrl-C. docs/soak.md explains the tables.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import functools
import itertools
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from array import array
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from agent_session import (
    AsyncCacheStore,
    AsyncInMemoryStore,
    AsyncLayeredStore,
    AsyncPostgresStore,
    AsyncRedisStore,
    AsyncSessionStore,
    AsyncSQLiteStore,
    BackendError,
    CacheStore,
    InMemoryStore,
    LayeredStore,
    Message,
    PostgresStore,
    RedisStore,
    SessionError,
    SessionNotFound,
    SessionStore,
    SQLiteStore,
    VersionConflict,
)

now = time.monotonic  # CLOCK_MONOTONIC: one clock for this process and its children

#: Store calls, as recorded (a rewrite or a pop is a load_with_metadata, then the write).
OPS = ("append", "load", "load_last", "load_meta", "save", "pop", "get_metadata", "list", "find")
APPEND, LOAD, LOAD_LAST, LOAD_META, SAVE, POP, GET_METADATA, LIST, FIND = range(len(OPS))
#: What a worker does next, and how often (appends dominate, as in a chat).
ACTIONS = (APPEND, LOAD, LOAD_LAST, SAVE, POP, GET_METADATA, LIST, FIND)
WEIGHTS = (50, 8, 10, 4, 4, 12, 6, 6)
#: A call's outcome: answered; an expected refusal; BackendError; anything else (a failure).
OK, EXPECTED, BACKEND, OTHER = range(4)
#: A message's state in its writer's ledger.
ATTEMPTED, ACKED = 1, 2

THREADS = 8
TASKS = 200
SLOTS = 32  # sessions written at once, per space
CAP = 256  # a session this long is retired and its slot moves on: loads stay bounded
LAST = 20
MAX_APPENDS = 300_000  # per store: bounds the memory the in-process stores may use
STORES = ("memory", "cache", "sqlite", "postgres", "redis", "layered")
DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"
#: What AsyncSessionStore's default load_with_metadata raises when every re-read saw a write.
GAVE_UP = "changed under every one of"
SNAPSHOT_GAVE_UP = "BackendError: snapshot gave up"


class LogTally(logging.Handler):
    """Counts the warnings the libraries log (psycopg_pool's discarded connections, a
    LayeredStore's failed copies) instead of letting them flood the terminal."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        self.counts[f"{record.name}: {text.split(':')[0].split(' <')[0][:60]}"] += 1


# -- the ledger -------------------------------------------------------------------------


def session_id(prefix: str, slot: int, generation: int) -> str:
    return f"{prefix}s{slot:02d}g{generation}"


def message(writer: str, seq: int) -> Message:
    return Message("user", f"soak {writer}/{seq} and what about the hotel?")


def token_of(item: Message) -> tuple[str, int] | None:
    """(writer, sequence) of a message this run wrote; None for any other."""
    content = item.content
    if not isinstance(content, str) or not content.startswith("soak "):
        return None
    writer, _, seq = content.split(" ", 2)[1].partition("/")
    return (writer, int(seq)) if seq.isdigit() else None


class Space:
    """A set of session ids that one store's objects share; slots move on when full."""

    def __init__(self, name: str, prefix: str) -> None:
        self.name, self.prefix = name, prefix
        self.generations = [0] * SLOTS
        self._lock = threading.Lock()

    def pick(self, rng: random.Random) -> tuple[int, int, str]:
        slot = rng.randrange(SLOTS)
        generation = self.generations[slot]
        return slot, generation, session_id(self.prefix, slot, generation)

    def retire(self, slot: int, generation: int) -> None:
        with self._lock:
            if self.generations[slot] == generation:
                self.generations[slot] = generation + 1


class Writer:
    """One writer's messages: session, state and acknowledgement time, by sequence."""

    __slots__ = ("acked_at", "id", "sessions", "space", "status")

    def __init__(self, writer_id: str, space: Space) -> None:
        self.id, self.space = writer_id, space
        self.sessions: list[str] = []
        self.status = bytearray()
        self.acked_at = array("d")

    def reserve(self, session: str, count: int) -> int:
        first = len(self.status)
        self.sessions.extend([session] * count)
        self.status.extend(bytes([ATTEMPTED]) * count)
        self.acked_at.extend([0.0] * count)
        return first

    def ack(self, first: int, count: int, when: float) -> None:
        for seq in range(first, first + count):
            self.status[seq] = ACKED
            self.acked_at[seq] = when


class Recorder:
    """One worker's calls: start, end, kind and outcome of each; errors by type."""

    def __init__(self) -> None:
        self.starts, self.ends = array("d"), array("d")
        self.ops, self.outcomes = bytearray(), bytearray()
        self.errors: Counter[str] = Counter()
        self.failures: list[tuple[float, str]] = []  # (when, type) of BACKEND and OTHER
        self.samples: dict[str, str] = {}

    def add(self, op: int, start: float, end: float, exc: BaseException | None) -> None:
        self.starts.append(start)
        self.ends.append(end)
        self.ops.append(op)
        if exc is None:
            self.outcomes.append(OK)
            return
        name = type(exc).__name__
        if isinstance(exc, BackendError):
            if exc.__cause__ is None and GAVE_UP in str(exc):
                # load_with_metadata's documented answer to a write storm: nothing read,
                # nothing changed, "retry". Not the backend failing: counted on its own.
                name = SNAPSHOT_GAVE_UP
            else:  # by the driver's exception: a refused connection, a killed backend...
                name = f"BackendError({type(exc.__cause__).__name__})"
        self.errors[name] += 1
        if (
            isinstance(exc, VersionConflict)
            or type(exc) is SessionNotFound
            or name == SNAPSHOT_GAVE_UP
        ):
            self.outcomes.append(EXPECTED)  # a stale expected_version; a slot not written yet
            return
        self.outcomes.append(BACKEND if name.startswith("BackendError(") else OTHER)
        self.failures.append((end, name))
        self.samples.setdefault(name, f"{OPS[op]}: {exc!r:.300}")


@dataclass
class Run:
    """What the workers of one store share."""

    labels: dict[str, str]
    stop: threading.Event = field(default_factory=threading.Event)
    appends: Iterator[int] = field(default_factory=itertools.count)  # shared by all
    writers: dict[str, Writer] = field(default_factory=dict)
    popped: set[tuple[str, int]] = field(default_factory=set)
    maybe_popped: set[tuple[str, int]] = field(default_factory=set)
    anomalies: Counter[str] = field(default_factory=Counter)
    anomaly_samples: list[str] = field(default_factory=list)

    def anomaly(self, kind: str, detail: str) -> None:
        self.anomalies[kind] += 1
        if len(self.anomaly_samples) < 10:
            self.anomaly_samples.append(f"{kind}: {detail}")

    def check_read(self, messages: Sequence[Message], sid: str) -> None:
        """A read must never show a message twice or a writer's messages out of order."""
        seen: set[tuple[str, int]] = set()
        last: dict[str, int] = {}
        for item in messages:
            token = token_of(item)
            if token is None:
                self.anomaly("foreign message read", f"{sid}: {item!r:.100}")
                continue
            if token in seen:
                self.anomaly("message read twice", f"{sid}: {token}")
            seen.add(token)
            if last.get(token[0], -1) >= token[1]:
                self.anomaly("read out of writer order", f"{sid}: {token}")
            last[token[0]] = token[1]


# -- the workload -----------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    op: int
    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


Workload = Generator[Call, Any, None]


def workload(run: Run, writer: Writer, rng: random.Random) -> Workload:
    """The operations of one worker, as calls for a driver (sync or async) to make.

    The driver throws a call's exception back in here; the ones this catches are
    counted by the driver, and an append or pop that raised BackendError is unknown.
    """
    space = writer.space
    while not run.stop.is_set():
        slot, generation, sid = space.pick(rng)
        action = rng.choices(ACTIONS, WEIGHTS)[0]
        try:
            if action == APPEND:
                count = 1 if rng.random() < 0.8 else rng.randint(2, 3)
                first = writer.reserve(sid, count)
                batch = [message(writer.id, first + i) for i in range(count)]
                if next(run.appends) >= MAX_APPENDS:
                    run.stop.set()
                try:
                    meta = yield Call(APPEND, "append", (sid, *batch), {})
                except SessionError:
                    continue  # unknown: may or may not have landed (the audit says which)
                writer.ack(first, count, now())
                if meta.message_count >= CAP:
                    space.retire(slot, generation)
            elif action == LOAD:
                run.check_read((yield Call(LOAD, "load", (sid,), {})), sid)
            elif action == LOAD_LAST:
                tail = yield Call(LOAD_LAST, "load", (sid,), {"last": LAST})
                if len(tail) > LAST:
                    run.anomaly("load(last) too long", f"{sid}: {len(tail)} messages")
                run.check_read(tail, sid)
            elif action in (SAVE, POP):
                conversation, meta = yield Call(LOAD_META, "load_with_metadata", (sid,), {})
                run.check_read(conversation, sid)
                if len(conversation) != meta.message_count:
                    run.anomaly(
                        "load_with_metadata not of one moment",
                        f"{sid}: {len(conversation)} messages, metadata {meta.message_count}",
                    )
                if action == SAVE:
                    # The whole conversation written back: a rewrite that keeps every message.
                    saved = yield Call(
                        SAVE,
                        "save",
                        (sid, conversation),
                        {"expected_version": meta.version, "labels": run.labels},
                    )
                    if (saved.version, saved.message_count) != (
                        meta.version + 1,
                        len(conversation),
                    ):
                        run.anomaly("save's metadata", f"{sid}: {meta} then {saved}")
                elif len(conversation):
                    newest = token_of(conversation[-1])
                    try:
                        popped = yield Call(POP, "pop", (sid,), {"expected_version": meta.version})
                    except BackendError:
                        if newest is not None:
                            run.maybe_popped.add(newest)  # unknown
                        continue
                    token = None if popped is None else token_of(popped)
                    if token is not None:
                        run.popped.add(token)
                    if token != newest:
                        run.anomaly("pop removed another message", f"{sid}: {token} {newest}")
            elif action == GET_METADATA:
                yield Call(GET_METADATA, "get_metadata", (sid,), {})
            elif action == LIST:
                yield Call(LIST, "list_sessions", (), {"prefix": space.prefix, "limit": 50})
            else:
                yield Call(FIND, "find_sessions", (), {"labels": run.labels, "limit": 20})
        except SessionError:
            pass  # counted by the driver: expected ones, BackendError, or a failure


def drive_sync(store: SessionStore, make: Callable[[], Workload], recorder: Recorder) -> None:
    work = make()
    call = next(work, None)
    while call is not None:
        start = now()
        try:
            result = getattr(store, call.method)(*call.args, **call.kwargs)
        except Exception as exc:
            recorder.add(call.op, start, now(), exc)
            try:
                call = work.throw(exc)
            except StopIteration:
                return
            except Exception as raised:
                if raised is not exc:
                    raise  # a bug in this script, not the store's
                work = make()  # an error the workload does not expect: counted, go on
                call = next(work, None)
            continue
        recorder.add(call.op, start, now(), None)
        try:
            call = work.send(result)
        except StopIteration:
            return


async def drive_async(
    store: AsyncSessionStore, make: Callable[[], Workload], recorder: Recorder
) -> None:
    work = make()
    call = next(work, None)
    while call is not None:
        start = now()
        try:
            result = await getattr(store, call.method)(*call.args, **call.kwargs)
        except Exception as exc:
            recorder.add(call.op, start, now(), exc)
            try:
                call = work.throw(exc)
            except StopIteration:
                return
            except Exception as raised:
                if raised is not exc:
                    raise
                work = make()
                call = next(work, None)
            continue
        recorder.add(call.op, start, now(), None)
        try:
            call = work.send(result)
        except StopIteration:
            return


# -- servers and faults -----------------------------------------------------------------


def spare_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """A private redis-server on a loopback port, persisting every write before answering."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.binary, self.directory = binary, directory
        self.port = spare_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [
            self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
            "--dir", str(self.directory), "--logfile", "redis.log",
            "--appendonly", "yes", "--appendfsync", "always", "--save", "",
            "--maxmemory-policy", "noeviction",
        ]  # fmt: skip
        # Its own session: a Ctrl-C in the terminal reaches this script only, which stops it.
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        import redis

        deadline = now() + 10
        while True:
            try:
                with redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1) as client:
                    client.ping()
                return
            except redis.RedisError:
                if self.process.poll() is not None or now() > deadline:
                    log = self.directory / "redis.log"
                    tail = log.read_text()[-500:] if log.exists() else ""
                    self.stop()
                    raise RuntimeError(
                        f"redis-server on port {self.port} did not start: {tail}"
                    ) from None
                time.sleep(0.02)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class FaultEvent:
    at: float  # the fault was injected
    effect: float  # it took effect: server exited, backends terminated, writer reaped
    restored: float | None = None  # the server, or a new writer, was back
    detail: str = ""


class Fault:
    """A fault injected, again and again, by a thread of its own while the load runs."""

    kind = "fault"

    def __init__(self) -> None:
        self.events: list[FaultEvent] = []
        self.errors: Counter[str] = Counter()  # errors of the injector's own processes
        self.error_times: list[tuple[float, str]] = []
        self.notes: list[str] = []
        self._thread: threading.Thread | None = None
        self._crash: list[BaseException] = []

    def start(self, run: Run) -> None:
        self._thread = threading.Thread(target=self._guarded, args=(run,), name=self.kind)
        self._thread.start()

    def _guarded(self, run: Run) -> None:
        try:
            self.inject(run)
        except BaseException as exc:
            self._crash.append(exc)
            run.stop.set()

    def inject(self, run: Run) -> None:
        raise NotImplementedError

    def join(self) -> None:
        """Wait for the injector (it restores what it broke before it ends)."""
        if self._thread is not None:
            self._thread.join(timeout=60)
            if self._thread.is_alive():
                raise RuntimeError(f"the {self.kind} injector did not stop")
        if self._crash:
            raise RuntimeError(f"the {self.kind} injector failed") from self._crash[0]


class RedisRestarts(Fault):
    kind = "redis restart"

    def __init__(self, server: RedisServer, seconds: float) -> None:
        super().__init__()
        self.server, self.seconds = server, seconds

    def inject(self, run: Run) -> None:
        begin = now()
        for fraction in (0.3, 0.65):
            if run.stop.wait(max(begin + fraction * self.seconds - now(), 0)):
                return
            at = now()
            self.server.stop()  # SIGTERM, then wait for it to exit
            event = FaultEvent(at, now(), detail=f"port {self.server.port}")
            self.events.append(event)
            self.server.start()  # the same port, the same directory and append-only file
            event.restored = now()


class PostgresTerminations(Fault):
    kind = "pg_terminate_backend"

    def __init__(self, dsn: str, application_name: str) -> None:
        super().__init__()
        self.dsn, self.application_name = dsn, application_name

    def inject(self, run: Run) -> None:
        import psycopg

        with psycopg.connect(
            self.dsn,
            autocommit=True,
            connect_timeout=5,
            application_name=f"{self.application_name}-faults",
        ) as connection:
            while not run.stop.wait(1.0):
                at = now()
                # Only this run's backends (its pools' connections carry its name).
                row = connection.execute(
                    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) "
                    "FROM pg_stat_activity WHERE application_name = %s "
                    "AND pid <> pg_backend_pid()",
                    (self.application_name,),
                ).fetchone()
                killed = 0 if row is None else int(row[0])
                self.events.append(FaultEvent(at, now(), detail=f"{killed} backends"))


class SQLiteWriterKills(Fault):
    """A child process appending to the file, killed with SIGKILL and started again."""

    kind = "sqlite writer SIGKILL"

    def __init__(self, path: Path, space: Space, seconds: float, seed: int) -> None:
        super().__init__()
        self.path, self.space, self.seconds = path, space, seconds
        self.rng = random.Random(seed)
        self.children = 0
        self.first_acks: list[float] = []  # a restarted writer's first ack after the kill

    def inject(self, run: Run) -> None:
        last_kill: float | None = None
        while not run.stop.is_set():
            writer = Writer(f"c{self.children}", self.space)
            run.writers[writer.id] = writer
            command = [
                sys.executable, str(Path(__file__).resolve()), "--sqlite-writer", str(self.path),
                "--writer-id", writer.id, "--prefix", self.space.prefix,
                "--generations", ",".join(map(str, self.space.generations)),
                "--deadline", str(self.seconds + 30), "--seed", str(self.rng.randrange(2**32)),
            ]  # fmt: skip
            self.children += 1
            child = subprocess.Popen(
                command, stdout=subprocess.PIPE, text=True, start_new_session=True
            )
            acked = threading.Event()
            reader = threading.Thread(
                target=self._read, args=(child.stdout, writer, acked, last_kill)
            )
            reader.start()
            try:
                # Killed at a random moment of its appends (not while it starts).
                if not acked.wait(20) and child.poll() is not None:
                    raise RuntimeError(f"the SQLite writer {writer.id} exited: {child.returncode}")
                run.stop.wait(self.rng.uniform(0.2, 0.8))
            finally:
                at = now()
                child.send_signal(signal.SIGKILL)
                child.wait()
                reader.join()
            if not run.stop.is_set():  # the last kill ends the run: not a fault
                self.events.append(FaultEvent(at, now(), detail=writer.id))
                last_kill = now()

    def _read(
        self, pipe: IO[str] | None, writer: Writer, acked: threading.Event, kill: float | None
    ) -> None:
        if pipe is None:
            return
        pending = (0, 0)
        for line in pipe:
            kind, _, rest = line.rstrip("\n").partition(" ")
            if kind == "try":
                session, seq, count = rest.split(" ")
                first = writer.reserve(session, int(count))
                if first != int(seq):
                    raise RuntimeError(f"writer {writer.id}: sequence {seq}, expected {first}")
                pending = (first, int(count))
            elif kind == "ack":
                when = float(rest)
                writer.ack(*pending, when)
                if not acked.is_set():
                    acked.set()
                    if kill is not None:
                        self.first_acks.append(when - kill)
                        if self.events:
                            self.events[-1].restored = when
            elif kind == "err":
                name, _, text = rest.partition(" ")
                self.errors[name] += 1
                self.error_times.append((now(), name))
                if len(self.notes) < 5:
                    self.notes.append(f"writer {writer.id}: {name} {text}")


def sqlite_writer(args: argparse.Namespace) -> int:
    """The child process of the SQLite fault: appends, saying what and when on stdout."""

    def emit(line: str) -> None:
        os.write(1, line.encode())  # one write per line: whole, or not at all, on a kill

    rng = random.Random(args.seed)
    generations = [int(g) for g in args.generations.split(",")]
    deadline = now() + args.deadline
    seq = 0
    with SQLiteStore(args.sqlite_writer) as store:
        try:
            while now() < deadline:
                slot = rng.randrange(len(generations))
                sid = session_id(args.prefix, slot, generations[slot])
                count = 1 if rng.random() < 0.8 else rng.randint(2, 3)
                emit(f"try {sid} {seq} {count}\n")
                batch = [message(args.writer_id, seq + i) for i in range(count)]
                seq += count
                try:
                    meta = store.append(sid, *batch)
                except Exception as exc:
                    emit(f"err {type(exc).__name__} {str(exc)[:200]!r}\n")
                    continue
                emit(f"ack {now()!r}\n")
                if meta.message_count >= CAP:
                    generations[slot] += 1
        except BrokenPipeError:
            pass  # the soak run is gone: so is its reason to write
    return 0


# -- the stores -------------------------------------------------------------------------

Snapshot = Callable[[Space, set[str]], dict[str, list[tuple[str, int] | None]]]


def sync_snapshot(store: SessionStore) -> Snapshot:
    def snapshot(space: Space, known: set[str]) -> dict[str, list[tuple[str, int] | None]]:
        found: dict[str, list[tuple[str, int] | None]] = {}
        for sid in sorted(set(store.list_sessions(prefix=space.prefix)) | known):
            try:
                found[sid] = [token_of(item) for item in store.load(sid)]
            except SessionNotFound:
                pass
        return found

    return snapshot


def async_snapshot(store: AsyncSessionStore) -> Snapshot:
    async def read(space: Space, known: set[str]) -> dict[str, list[tuple[str, int] | None]]:
        found: dict[str, list[tuple[str, int] | None]] = {}
        for sid in sorted(set(await store.list_sessions(prefix=space.prefix)) | known):
            try:
                found[sid] = [token_of(item) for item in await store.load(sid)]
            except SessionNotFound:
                pass
        return found

    def snapshot(space: Space, known: set[str]) -> dict[str, list[tuple[str, int] | None]]:
        return asyncio.run(read(space, known))

    return snapshot


@dataclass
class Target:
    name: str
    sync_store: SessionStore
    async_store: AsyncSessionStore
    spaces: tuple[Space, Space]  # the threads', the tasks' (one object: a shared backend)
    audits: list[tuple[str, Space, Snapshot]]  # (reader, space, how to read it all)
    fault: Fault | None = None
    note: str = ""


def close_async(store: AsyncSessionStore) -> None:
    asyncio.run(store.aclose())


def open_target(
    name: str, args: argparse.Namespace, run_id: str, work: Path, stack: contextlib.ExitStack
) -> Target | str:
    """The store ``name`` opened (closed and cleaned by ``stack``), or why it is skipped."""
    base = f"soak-{run_id}-"
    own = (Space("sync", base + "sync-"), Space("async", base + "async-"))
    shared = Space("db", base + "db-")
    if name in ("memory", "cache"):
        if name == "memory":
            sync_store: SessionStore = InMemoryStore()
            async_store: AsyncSessionStore = AsyncInMemoryStore()
        else:  # a capacity nothing reaches: an eviction is a cache's right, not a loss
            sync_store, async_store = (
                CacheStore(3600, capacity=100_000),
                AsyncCacheStore(3600, capacity=100_000),
            )
        stack.callback(sync_store.close)
        stack.callback(close_async, async_store)
        return Target(
            name,
            sync_store,
            async_store,
            own,
            [
                (name, own[0], sync_snapshot(sync_store)),
                (name, own[1], async_snapshot(async_store)),
            ],
            note="two objects, each its own sessions (in-process data is not shared)",
        )
    if name == "sqlite":
        path = work / "soak.db"
        sync_store, async_store = SQLiteStore(path), AsyncSQLiteStore(path)
        stack.callback(sync_store.close)
        stack.callback(close_async, async_store)
        auditor: SessionStore = SQLiteStore(path)
        stack.callback(auditor.close)
        fault: Fault | None = (
            SQLiteWriterKills(path, shared, args.seconds, args.seed) if args.faults else None
        )
        return Target(
            name, sync_store, async_store, (shared, shared),
            [("fresh SQLiteStore", shared, sync_snapshot(auditor))], fault,
            note="one file; threads, tasks (and the child writer) share the sessions",
        )  # fmt: skip
    if name == "layered":
        path = work / "layered.db"
        sync_store = LayeredStore(CacheStore(3600, capacity=100_000), SQLiteStore(path))
        async_store = AsyncLayeredStore(
            AsyncCacheStore(3600, capacity=100_000), AsyncSQLiteStore(path)
        )
        stack.callback(sync_store.close)
        stack.callback(close_async, async_store)
        auditor = SQLiteStore(path)
        stack.callback(auditor.close)
        return Target(
            name,
            sync_store,
            async_store,
            own,
            [
                ("its own LayeredStore", own[0], sync_snapshot(sync_store)),
                ("its own LayeredStore", own[1], async_snapshot(async_store)),
                ("fresh SQLiteStore", own[0], sync_snapshot(auditor)),
                ("fresh SQLiteStore", own[1], sync_snapshot(auditor)),
            ],
            note=(
                "CacheStore over SQLiteStore, one file; each object its own sessions "
                "(copies are coherent for writes through the same object only)"
            ),
        )
    if name == "postgres":
        try:
            import psycopg
            from psycopg.conninfo import make_conninfo
        except ImportError:
            return "psycopg is not installed (pip install agent-session[postgres])"
        application_name = f"agent_session_soak_{run_id}"
        prefix = f"soak_{run_id}_"
        try:
            with psycopg.connect(
                args.postgres, connect_timeout=3, application_name=f"{application_name}-setup"
            ):
                pass
        except psycopg.Error as exc:
            return f"PostgreSQL at {args.postgres} is unreachable: {exc}".strip()
        stack.callback(drop_tables, args.postgres, prefix, application_name)
        dsn = make_conninfo(args.postgres, application_name=application_name)
        sync_store = PostgresStore(dsn, table_prefix=prefix)
        async_store = AsyncPostgresStore(dsn, table_prefix=prefix)
        stack.callback(sync_store.close)
        stack.callback(close_async, async_store)
        auditor = PostgresStore(
            make_conninfo(args.postgres, application_name=f"{application_name}-audit"),
            table_prefix=prefix,
        )
        stack.callback(auditor.close)
        fault = PostgresTerminations(args.postgres, application_name) if args.faults else None
        return Target(
            name, sync_store, async_store, (shared, shared),
            [("fresh PostgresStore", shared, sync_snapshot(auditor))], fault,
            note=f"tables {prefix}*, dropped at the end; pools named {application_name}",
        )  # fmt: skip
    if name == "redis":
        try:
            import redis  # noqa: F401
        except ImportError:
            return "redis-py is not installed (pip install agent-session[redis])"
        binary = shutil.which("redis-server")
        if binary is None:
            return "redis-server is not on PATH (the run starts a private one)"
        directory = work / "redis"
        directory.mkdir()
        server = RedisServer(binary, directory)
        stack.callback(server.stop)
        server.start()
        key_prefix = f"soak:{run_id}:"
        sync_store = RedisStore(server.url, prefix=key_prefix)
        async_store = AsyncRedisStore(server.url, prefix=key_prefix)
        stack.callback(sync_store.close)
        stack.callback(close_async, async_store)
        auditor = RedisStore(server.url, prefix=key_prefix)
        stack.callback(auditor.close)
        fault = RedisRestarts(server, args.seconds) if args.faults else None
        return Target(
            name, sync_store, async_store, (shared, shared),
            [("fresh RedisStore", shared, sync_snapshot(auditor))], fault,
            note=f"private redis-server on 127.0.0.1:{server.port}, appendfsync always",
        )  # fmt: skip
    raise ValueError(f"unknown store {name!r}: choose from {', '.join(STORES)}")


def drop_tables(dsn: str, prefix: str, application_name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(
        dsn, autocommit=True, connect_timeout=5, application_name=f"{application_name}-cleanup"
    ) as connection:
        rows = connection.execute(
            "SELECT schemaname, tablename FROM pg_tables WHERE starts_with(tablename, %s)",
            (prefix,),
        ).fetchall()
        for schema, table in rows:
            connection.execute(
                sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(sql.Identifier(schema, table))
            )


# -- one store's run --------------------------------------------------------------------


@dataclass
class Audit:
    reader: str
    space: str
    sessions: int = 0
    messages: int = 0
    acked: int = 0
    unknown: int = 0
    unknown_landed: int = 0
    popped: int = 0
    lost_at: list[float] = field(default_factory=list)  # acknowledgement times of the lost
    problems: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)

    def problem(self, kind: str, detail: str) -> None:
        self.problems[kind] += 1
        if len(self.samples) < 10:
            self.samples.append(f"{kind}: {detail}")


def audit(run: Run, reader: str, space: Space, snapshot: Snapshot) -> Audit:
    """Read everything back: each acknowledged message once, in order, unless popped."""
    writers = [w for w in run.writers.values() if w.space is space]
    known = {sid for w in writers for sid in set(w.sessions)}
    found = snapshot(space, known)
    result = Audit(reader, space.name, sessions=len(found))
    counts = {w.id: bytearray(len(w.status)) for w in writers}
    for sid, tokens in found.items():
        last: dict[str, int] = {}
        for token in tokens:
            result.messages += 1
            writer = None if token is None else run.writers.get(token[0])
            if token is None or writer is None or writer.space is not space:
                result.problem("phantom", f"{sid}: {token}")
                continue
            wid, seq = token
            if seq >= len(writer.status):
                result.problem("phantom", f"{sid}: {token}")
                continue
            if writer.sessions[seq] != sid:
                result.problem("in the wrong session", f"{token} in {sid}")
            if counts[wid][seq] < 255:
                counts[wid][seq] += 1
            if last.get(wid, -1) >= seq:
                result.problem("out of writer order", f"{sid}: {token}")
            last[wid] = seq
    for writer in writers:
        count = counts[writer.id]
        for seq, state in enumerate(writer.status):
            token, seen = (writer.id, seq), count[seq]
            if seen > 1:
                result.problem("duplicated", f"{token} {seen} times in {writer.sessions[seq]}")
            if token in run.popped:
                result.popped += 1
                if seen:
                    result.problem("popped yet present", f"{token} in {writer.sessions[seq]}")
            elif state == ACKED:
                result.acked += 1
                if not seen and token not in run.maybe_popped:
                    result.lost_at.append(writer.acked_at[seq])
                    result.problem("lost", f"{token} acknowledged in {writer.sessions[seq]}")
            else:
                result.unknown += 1
                result.unknown_landed += bool(seen)
    return result


@dataclass
class Report:
    name: str
    note: str
    seconds: float = 0.0
    recorders: list[Recorder] = field(default_factory=list)
    audits: list[Audit] = field(default_factory=list)
    fault: Fault | None = None
    run: Run | None = None
    failures: list[str] = field(default_factory=list)
    skipped: str = ""
    logged: Counter[str] = field(default_factory=Counter)


def soak(target: Target, seconds: float, seed: int) -> Report:
    run = Run(labels={"soak": target.spaces[0].prefix})
    report = Report(target.name, target.note, fault=target.fault, run=run)
    rng = random.Random(seed)
    threads_space, tasks_space = target.spaces
    thread_writers = [Writer(f"t{i}", threads_space) for i in range(THREADS)]
    task_writers = [Writer(f"a{i}", tasks_space) for i in range(TASKS)]
    for writer in thread_writers + task_writers:
        run.writers[writer.id] = writer
    recorders = [Recorder() for _ in range(THREADS + TASKS)]
    report.recorders = recorders
    crashes: list[BaseException] = []
    ready, go = threading.Event(), threading.Event()

    async def tasks() -> None:
        store = target.async_store
        await store.list_sessions(prefix=tasks_space.prefix, limit=1)  # pools, schema: now
        ready.set()
        while not go.is_set():
            if run.stop.is_set():
                return
            await asyncio.sleep(0.005)
        await asyncio.gather(
            *(
                drive_async(
                    store,
                    functools.partial(workload, run, writer, random.Random(rng.random())),
                    recorder,
                )
                for writer, recorder in zip(task_writers, recorders[THREADS:], strict=True)
            )
        )

    def guarded(function: Callable[[], object]) -> None:
        try:
            function()
        except BaseException as exc:
            crashes.append(exc)
            run.stop.set()

    workers = [
        threading.Thread(
            target=guarded,
            args=(
                functools.partial(
                    drive_sync,
                    target.sync_store,
                    functools.partial(workload, run, writer, random.Random(rng.random())),
                    recorder,
                ),
            ),
            name=f"soak-{writer.id}",
        )
        for writer, recorder in zip(thread_writers, recorders[:THREADS], strict=True)
    ]
    loop = threading.Thread(target=guarded, args=(lambda: asyncio.run(tasks()),), name="soak-tasks")
    target.sync_store.list_sessions(prefix=threads_space.prefix, limit=1)
    loop.start()
    started = now()
    try:
        if not ready.wait(60):
            raise RuntimeError(f"{target.name}: the async store did not answer in 60 s")
        started = now()
        for worker in workers:
            worker.start()
        go.set()
        if target.fault is not None:
            target.fault.start(run)
        run.stop.wait(seconds)
    finally:
        run.stop.set()
        report.seconds = now() - started
        if target.fault is not None:
            try:
                target.fault.join()
            except RuntimeError as exc:
                report.failures.append(f"{exc}: {exc.__cause__!r:.300}")
        for thread in [*workers, loop]:
            if thread.ident is not None:
                thread.join(timeout=60)
                if thread.is_alive():
                    report.failures.append(f"{thread.name} did not stop")
    for crash in crashes:
        report.failures.append(f"a worker crashed: {crash!r:.300}")
    if report.failures:
        return report
    for reader, space, snapshot in target.audits:
        report.audits.append(audit(run, reader, space, snapshot))
    judge(report)
    return report


def judge(report: Report) -> None:
    """What makes the run fail: anything lost, wrong, or an error the contract forbids."""
    if report.run is None:
        return
    errors = Counter[str]()
    for recorder in report.recorders:
        errors.update(recorder.errors)
    unexpected = {
        name: n
        for name, n in errors.items()
        if name not in ("VersionConflict", "SessionNotFound", SNAPSHOT_GAVE_UP)
        and not name.startswith("BackendError(")
    }
    if report.fault is not None:
        unexpected.update(
            {name: n for name, n in report.fault.errors.items() if name != "BackendError"}
        )
    if unexpected:
        report.failures.append(f"unexpected errors: {format_counts(unexpected)}")
    backend = {name: n for name, n in errors.items() if name.startswith("BackendError(")}
    if report.fault is None and backend:
        report.failures.append(f"BackendError without a fault: {format_counts(backend)}")
    elif report.fault is not None:
        # The load runs clean for a while before the first fault: the backend failing
        # then is not the fault's doing.
        first = report.fault.events[0].at if report.fault.events else float("inf")
        early = Counter(
            name
            for recorder in report.recorders
            for when, name in recorder.failures
            if name.startswith("BackendError(") and when < first
        )
        if early:
            report.failures.append(f"before the first fault: {format_counts(early)}")
    for kind, n in report.run.anomalies.items():
        report.failures.append(f"{kind}: {n}")
    for result in report.audits:
        for kind, n in result.problems.items():
            report.failures.append(f"{kind}: {n} ({result.reader}, {result.space})")


# -- the tables -------------------------------------------------------------------------


def format_counts(counts: dict[str, int] | Counter[str]) -> str:
    return ", ".join(f"{name} {n:,}" for name, n in sorted(counts.items(), key=lambda i: -i[1]))


def ms(seconds: float) -> str:
    value = seconds * 1e3
    return f"{value:.3f}" if value < 1 else f"{value:.2f}" if value < 100 else f"{value:.0f}"


def quantile(ordered: Sequence[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def summary_rows(reports: Sequence[Report]) -> Iterable[list[object]]:
    for report in reports:
        if report.skipped:
            yield [report.name, "", "", "", "", "", "", "", "skipped: " + report.skipped]
            continue
        calls = sum(len(r.ops) for r in report.recorders)
        threads = sum(len(r.ops) for r in report.recorders[:THREADS])
        errors = Counter[str]()
        for recorder in report.recorders:
            errors.update(recorder.errors)
        lost = sum(len(a.lost_at) for a in report.audits)
        durable = [a for a in report.audits if not a.reader.startswith("its own")]
        acked = sum(a.acked for a in durable)
        unknown = sum(a.unknown for a in durable)
        landed = sum(a.unknown_landed for a in durable)
        popped = sum(a.popped for a in durable)
        verdict = "ok" if not report.failures else "FAILED: " + "; ".join(report.failures)
        yield [
            report.name,
            f"{calls / report.seconds:,.0f} ({threads / report.seconds:,.0f} / "
            f"{(calls - threads) / report.seconds:,.0f})"
            if report.seconds
            else "",
            f"{calls:,}",
            format_counts(errors) or "none",
            f"{acked:,}",
            f"{unknown:,} ({landed:,} landed)",
            f"{popped:,}",
            f"**{lost}**",
            verdict,
        ]


def latency_rows(reports: Sequence[Report]) -> Iterable[list[object]]:
    for report in reports:
        if report.skipped:
            continue
        durations: list[list[float]] = [[] for _ in OPS]
        for recorder in report.recorders:
            for start, end, op in zip(recorder.starts, recorder.ends, recorder.ops, strict=True):
                durations[op].append(end - start)
        for op, samples in enumerate(durations):
            samples.sort()
            yield [
                report.name, OPS[op], f"{len(samples):,}",
                ms(quantile(samples, 0.5)), ms(quantile(samples, 0.99)),
                ms(quantile(samples, 0.999)),
            ]  # fmt: skip


def fault_rows(reports: Sequence[Report]) -> Iterable[list[object]]:
    for report in reports:
        fault = report.fault
        if fault is None or report.skipped or not report.recorders:
            continue
        events = fault.events
        starts = [e.at for e in events]
        # Each event owns the errors (and losses) until the next one.
        seen = Counter[str]()
        for recorder in report.recorders:
            for when, name in recorder.failures:
                if starts and when >= starts[0]:
                    seen[name] += 1
        for _when, name in fault.error_times:
            seen[f"{name} (child)"] += 1
        before = sum(
            1 for recorder in report.recorders for when, _ in recorder.failures
            if not starts or when < starts[0]
        )  # fmt: skip
        # The first success after each event: successful calls by start, and from each
        # position on, the earliest end.
        done = sorted(
            (start, end)
            for recorder in report.recorders
            for start, end, outcome in zip(
                recorder.starts, recorder.ends, recorder.outcomes, strict=True
            )
            if outcome == OK
        )
        earliest = [float("inf")] * (len(done) + 1)
        for i in range(len(done) - 1, -1, -1):
            earliest[i] = min(done[i][1], earliest[i + 1])
        recoveries = []
        for event in events:
            first = earliest[bisect.bisect_left(done, (event.effect, float("-inf")))]
            if first != float("inf"):
                recoveries.append(first - event.effect)
        recoveries.sort()
        lost = [t for a in report.audits for t in a.lost_at if starts and t >= starts[0]]
        extra = ""
        if isinstance(fault, RedisRestarts):
            down = sorted(e.restored - e.at for e in events if e.restored is not None)
            extra = f"server down (SIGTERM to ready again) {', '.join(ms(d) for d in down)} ms"
        elif isinstance(fault, PostgresTerminations):
            total = sum(int(e.detail.split()[0]) for e in events)
            extra = f"{total:,} backends terminated"
        elif isinstance(fault, SQLiteWriterKills):
            acked = sum(
                1 for w in report.run.writers.values() if w.id.startswith("c")
                for s in w.status if s == ACKED
            ) if report.run else 0  # fmt: skip
            firsts = sorted(fault.first_acks)
            extra = (
                f"{fault.children} writer processes, {acked:,} appends acknowledged by them; "
                f"restarted writer's first ack after the kill: p50 {ms(quantile(firsts, 0.5))} ms,"
                f" max {ms(firsts[-1]) if firsts else 'n/a'} ms"
            )
        yield [
            fault.kind,
            len(events),
            (format_counts(seen) or "none") + (f" (+{before} before the first)" if before else ""),
            (
                ", ".join(ms(r) for r in recoveries)
                if 0 < len(recoveries) <= 4
                else f"p50 {ms(quantile(recoveries, 0.5))}, max {ms(recoveries[-1])}"
                if recoveries
                else "n/a"
            ),
            f"**{len(lost)}**",
            extra,
        ]


def print_report(reports: Sequence[Report], args: argparse.Namespace) -> None:
    mode = f"{args.seconds:g} s per store, {THREADS} threads + {TASKS} asyncio tasks"
    print(f"\n## Soak: {mode}{', with faults' if args.faults else ''}\n")
    print(
        table(
            [
                "store",
                "calls/s (threads / tasks)",
                "calls",
                "errors by type",
                "acked appends",
                "unknown appends",
                "popped",
                "lost acked writes",
                "verdict",
            ],
            summary_rows(reports),
        )  # fmt: skip
    )
    print("\nLatency per call, ms (every call, whatever its outcome):\n")
    print(table(["store", "call", "n", "p50", "p99", "p99.9"], latency_rows(reports)))
    rows = list(fault_rows(reports))
    if rows:
        print("\nFaults (recovery: from the fault taking effect to the end of the first")
        print("successful call that started after it, ms):\n")
        print(
            table(
                ["fault", "events", "errors seen", "recovery, ms", "lost acked writes", "notes"],
                rows,
            )
        )
    print("\nAudits (everything read back at the end):\n")
    print(
        table(
            [
                "store",
                "reader",
                "space",
                "sessions",
                "messages",
                "acked",
                "unknown (landed)",
                "popped",
                "lost",
                "problems",
            ],
            (
                [
                    r.name,
                    a.reader,
                    a.space,
                    f"{a.sessions:,}",
                    f"{a.messages:,}",
                    f"{a.acked:,}",
                    f"{a.unknown:,} ({a.unknown_landed:,})",
                    f"{a.popped:,}",
                    len(a.lost_at),
                    format_counts(a.problems) or "none",
                ]
                for r in reports
                for a in r.audits
            ),
        )  # fmt: skip
    )
    notes = [(r.name, r.note) for r in reports if r.note]
    if notes:
        print()
        for name, note in notes:
            print(f"- {name}: {note}")
    for report in reports:
        distinct: dict[str, str] = {}
        for recorder in report.recorders:
            for name, sample in recorder.samples.items():
                distinct.setdefault(name, sample)
        samples = list(distinct.values())[:6]
        samples += report.run.anomaly_samples if report.run else []
        samples += [s for a in report.audits for s in a.samples]
        samples += report.fault.notes if report.fault else []
        for sample in samples[:12]:
            print(f"  {report.name}: {sample}")
        for line, n in report.logged.most_common(5):
            print(f"  {report.name}: logged {n:,} times: {line}")


# -- main -------------------------------------------------------------------------------


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0, help="load per store (10)")
    parser.add_argument("--quick", action="store_true", help="2 s per store")
    parser.add_argument("--faults", action="store_true", help="inject the faults too")
    parser.add_argument(
        "--stores", default=",".join(STORES), help=f"comma-separated, of {','.join(STORES)}"
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("AGENT_SESSION_POSTGRES_DSN", DEFAULT_DSN),
        help=f"PostgreSQL DSN (AGENT_SESSION_POSTGRES_DSN, else {DEFAULT_DSN})",
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed (printed)")
    # The SQLite fault's child process (this script started by itself).
    parser.add_argument("--sqlite-writer", help=argparse.SUPPRESS)
    parser.add_argument("--writer-id", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    parser.add_argument("--generations", help=argparse.SUPPRESS)
    parser.add_argument("--deadline", type=float, default=60.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds = 2.0
    if not 0 < args.seconds <= 3600:
        parser.error(f"--seconds must be in (0, 3600], not {args.seconds}")
    args.stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    unknown = [s for s in args.stores if s not in STORES]
    if unknown:
        parser.error(f"unknown store(s) {', '.join(unknown)}: choose from {', '.join(STORES)}")
    if args.seed is None:
        args.seed = random.randrange(2**32)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    if args.sqlite_writer:
        return sqlite_writer(args)
    run_id = uuid.uuid4().hex[:10]
    print(f"soak run {run_id}, seed {args.seed}: {', '.join(args.stores)}", flush=True)
    reports: list[Report] = []
    rng = random.Random(args.seed)
    tally = LogTally()
    logging.getLogger().addHandler(tally)  # warnings counted and reported, not printed
    with tempfile.TemporaryDirectory(prefix="agent-session-soak-") as work:
        for name in args.stores:
            with contextlib.ExitStack() as stack:
                target = open_target(name, args, run_id, Path(work), stack)
                if isinstance(target, str):
                    reports.append(Report(name, "", skipped=target))
                    print(f"- {name}: skipped, {target}", flush=True)
                    continue
                tally.counts.clear()
                report = soak(target, args.seconds, rng.randrange(2**32))
                report.logged.update(tally.counts)
                reports.append(report)
                state = "ok" if not report.failures else "FAILED"
                print(f"- {name}: {state} ({report.seconds:.1f} s)", flush=True)
    print_report(reports, args)
    require = os.environ.get("AGENT_SESSION_REQUIRE_SERVICES") == "1"
    failed = [r.name for r in reports if r.failures or (require and r.skipped)]
    if failed:
        print(f"\nFAILED: {', '.join(failed)}")
        return 1
    print("\nnothing acknowledged was lost; no error outside the contract")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # everything started was stopped on the way out
        sys.exit(130)
