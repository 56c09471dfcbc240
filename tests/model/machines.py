"""The state machine every model-based test runs, its settings, and how it reaches a store.

:class:`StoreMachine` (a hypothesis ``RuleBasedStateMachine``) makes every call of the
contract on the model (``contract_model.py``) and on the store under test and requires
the same answer: the same return value, or an exception of exactly the same type with
the same attributes. A :class:`Bench` hands it the store: one example's views of it
(two store objects over one backend, or the same object twice), its clock and the
:class:`Driver` that makes the calls (directly for the blocking flavour; through an
anyio blocking portal for the async one, see ``test_model_async.py``).

Settings: the ``model-ci`` profile (25 examples of up to 50 steps, derandomized, so
CI runs the same sequences every time, and no example database in the tree) or, with
``AGENT_SESSION_MODEL_EXAMPLES=N`` set, the ``model-soak`` profile (N random examples;
``AGENT_SESSION_MODEL_STEPS`` sets the steps, 100 by default). The profiles are passed
to each run, never loaded globally.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from anyio.from_thread import BlockingPortal
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from agent_session import (
    DEFAULT,
    Conversation,
    Message,
    Page,
    SessionError,
    SessionExpired,
    SessionMetadata,
    SessionNotFound,
    VersionConflict,
)
from agent_session.testing import FakeClock

from .contract_model import START, ContractModel, ModelConfig, ModelMessage, PageKey

__all__ = [
    "EXPIRING",
    "LIMITED",
    "MODEL_SETTINGS",
    "SLIDING",
    "VARIANTS",
    "Bench",
    "Driver",
    "PortalDriver",
    "StoreMachine",
    "run_machine",
]

# -- settings --------------------------------------------------------------------------


def _count(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{name} must be a positive number of examples or steps, not {value!r}")
    return int(value)


_SOAK_EXAMPLES = os.environ.get("AGENT_SESSION_MODEL_EXAMPLES")
settings.register_profile(
    "model-ci",
    max_examples=25,
    stateful_step_count=50,
    deadline=None,  # a durable store's first call opens it: timing says nothing here
    derandomize=True,  # the same sequences on every CI run
    database=None,  # nothing written into the tree; print_blob reproduces a failure
    print_blob=True,
    report_multiple_bugs=False,  # one failure, shrunk to its shortest sequence
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "model-soak",
    settings.get_profile("model-ci"),
    max_examples=_count("AGENT_SESSION_MODEL_EXAMPLES", 25),
    stateful_step_count=_count("AGENT_SESSION_MODEL_STEPS", 100),
    derandomize=False,
)
#: What every machine runs with.
MODEL_SETTINGS = settings.get_profile("model-soak" if _SOAK_EXAMPLES else "model-ci")

# -- the store variants ------------------------------------------------------------------

#: Limits that the messages below reach: a message is 30 to 95 bytes (see _messages).
LIMITED = ModelConfig("limited", max_messages=5, max_message_bytes=80, max_session_bytes=200)
EXPIRING = ModelConfig("expiring", default_ttl=10.0)
SLIDING = ModelConfig("sliding", default_ttl=10.0, sliding=True)
VARIANTS = [LIMITED, EXPIRING, SLIDING]

# -- how calls reach a store ---------------------------------------------------------------


class Driver:
    """Makes the calls of a blocking store: directly."""

    def call(self, store: Any, method: str, /, *args: Any, **kwargs: Any) -> Any:
        return getattr(store, method)(*args, **kwargs)

    def ids(self, store: Any, prefix: str | None) -> list[str]:
        """What ``iter_sessions`` yields, as a list."""
        return list(store.iter_sessions(prefix=prefix))

    def close(self, store: Any) -> None:
        store.close()


async def _collect(store: Any, prefix: str | None) -> list[str]:
    return [session_id async for session_id in store.iter_sessions(prefix=prefix)]


class PortalDriver(Driver):
    """Makes the calls of an async store in the event loop of a blocking portal."""

    def __init__(self, portal: BlockingPortal) -> None:
        self.portal = portal

    def call(self, store: Any, method: str, /, *args: Any, **kwargs: Any) -> Any:
        return self.portal.call(functools.partial(getattr(store, method), *args, **kwargs))

    def ids(self, store: Any, prefix: str | None) -> list[str]:
        return self.portal.call(_collect, store, prefix)

    def close(self, store: Any) -> None:
        self.portal.call(store.aclose)


@dataclass
class Bench:
    """What a test gives its machine.

    :param open: the store objects of one example, empty (one, or two views of one
        backend); called at the start of every example
    :param close: called at the end of every example with what ``open`` returned;
        None closes them (stores a test reuses across examples pass a no-op)
    """

    config: ModelConfig
    clock: FakeClock
    open: Callable[[], Sequence[Any]]
    driver: Driver = field(default_factory=Driver)
    close: Callable[[Sequence[Any]], None] | None = None

    def finish(self, stores: Sequence[Any]) -> None:
        if self.close is not None:
            self.close(stores)
            return
        for store in {id(s): s for s in stores}.values():
            self.driver.close(store)


def run_machine(
    bench: Bench,
    machine: type[StoreMachine] | None = None,
    *,
    using: settings | None = None,
) -> None:
    """Run ``machine`` (default :class:`StoreMachine`) on ``bench``.

    :param using: settings instead of :data:`MODEL_SETTINGS`
    """
    factory = machine or StoreMachine
    # Typed as taking a class, documented as taking any factory of machines.
    run_state_machine_as_test(
        lambda: factory(bench),  # type: ignore[arg-type]
        settings=using or MODEL_SETTINGS,
    )


# -- strategies --------------------------------------------------------------------------

#: Which store object a call goes through (the same one twice for a single store).
VIEW = st.integers(0, 1)
#: Few ids, so calls meet the same sessions; prefixes that split them differently.
SESSION_IDS = st.sampled_from(["a", "a:1", "b", "é", "c"])
PREFIXES = st.sampled_from([None, "", "a", "a:", "b", "é", "z"])
LASTS = st.none() | st.integers(0, 5)
LIST_LIMITS = st.none() | st.integers(1, 4)
# Times are compared exactly (expires_at == now + ttl, as the model adds them), so
# fractions that floats cannot hold (0.3, 30.7) are in too. TTLs are 5 s at least:
# Redis also expires keys itself after that many real seconds.
TTLS = st.sampled_from([DEFAULT, None, 5.0, 10.0, 30.7, 1000.0, timedelta(seconds=20.3)])
ADVANCES = st.sampled_from([0.5, 1.0, 2.5, 0.3, 7.3, 30.0])
#: updated_after / updated_before: this many seconds before now
AGO = st.none() | st.sampled_from([0.0, 0.5, 5.0, 30.0, 200.0])
LABELS = st.dictionaries(
    st.sampled_from(["user", "app"]), st.sampled_from(["u1", "u2", ""]), max_size=2
)
#: expected_version: none, the current one, a wrong one, or 0 ("must not exist")
EXPECTED = st.sampled_from([None, "right", "wrong", "zero"])
#: (role, padding, what the caller gives): padded with "é", two bytes each
MESSAGE_SPECS = st.tuples(
    st.sampled_from(["user", "assistant", "system"]),
    st.sampled_from([0, 4, 30]),
    st.sampled_from(["nothing", "id", "id and time"]),
)

MessageSpec = tuple[str, int, str]


def _plain(meta: SessionMetadata) -> SessionMetadata:
    return meta._replace(labels=dict(meta.labels))


@dataclass
class _Paging:
    """A find_sessions query being paged: the store's cursor and the model's key."""

    query: dict[str, Any]
    cursor: str
    after: PageKey


class StoreMachine(RuleBasedStateMachine):
    """Every call of the contract, made on the model and on the store, answers compared."""

    def __init__(self, bench: Bench) -> None:
        super().__init__()
        self.bench = bench
        self.driver = bench.driver
        self.clock = bench.clock
        self.clock.set(START)
        self.stores = list(bench.open())
        self.views = self.stores if len(self.stores) > 1 else self.stores * 2
        self.model = ContractModel(bench.config, self.clock)
        self.written = 0
        self.paging: _Paging | None = None

    def teardown(self) -> None:
        self.bench.finish(self.stores)

    # -- plumbing ----------------------------------------------------------------------

    def _call(self, view: int, method: str, /, *args: Any, **kwargs: Any) -> Any:
        return self.driver.call(self.views[view], method, *args, **kwargs)

    def _messages(self, specs: Sequence[MessageSpec]) -> list[Message]:
        """New messages, each with a text of its own (a counter) so none equals another."""
        messages = []
        for role, padding, given in specs:
            self.written += 1
            text = f"{self.written}:" + "é" * padding
            if given == "nothing":
                message = Message(role, text)  # type: ignore[arg-type]  # a valid role
            elif given == "id":
                message = Message(role, text, id=f"given-{self.written}")  # type: ignore[arg-type]
            else:
                message = Message(
                    role,  # type: ignore[arg-type]
                    text,
                    id=f"given-{self.written}",
                    created_at=self.clock() - 1000.0,
                )
            messages.append(message)
        return messages

    def _version(self, session_id: str, choice: str | None) -> int | None:
        if choice is None:
            return None
        current = self.model.version_of(session_id)
        return {"right": current, "wrong": current + 1, "zero": 0}[choice]

    def _compare(
        self,
        session_id: str | None,
        model: Callable[[], Any],
        store: Callable[[], Any],
        same: Callable[[Any, Any], None],
    ) -> Any:
        """Make the call on both; the same exception, or answers that ``same`` accepts.

        :return: the store's answer (None if it raised as the model did)
        """
        try:
            expected = model()
        except SessionError as exc:
            try:
                actual = store()
            except SessionError as got:
                self._same_error(session_id, exc, got)
                return None
            raise AssertionError(
                f"the model raises {exc!r}; the store returned {actual!r}"
            ) from exc
        try:
            actual = store()
        except SessionError as got:
            raise AssertionError(
                f"the model returns {expected!r}; the store raised {got!r}"
            ) from got
        same(expected, actual)
        return actual

    def _same_error(self, session_id: str | None, expected: Exception, actual: Exception) -> None:
        if (
            self.model.config.forgetful
            and type(expected) is SessionExpired
            and type(actual) is SessionNotFound
            and session_id is not None
        ):
            self.model.forget(session_id)  # evicted once expired, as a cache may
            return
        assert type(actual) is type(expected), f"expected {expected!r}, the store raised {actual!r}"
        assert getattr(actual, "session_id", None) == getattr(expected, "session_id", None)
        if isinstance(expected, VersionConflict):
            assert isinstance(actual, VersionConflict)
            got = (actual.expected, actual.actual)
            assert got == (expected.expected, expected.actual), (
                f"{actual!r}: (expected, actual) = {got}"
            )
        if isinstance(expected, SessionExpired):
            assert isinstance(actual, SessionExpired)
            assert actual.expired_at == expected.expired_at, (
                actual.expired_at,
                expected.expired_at,
            )

    @staticmethod
    def _equal(expected: object, actual: object) -> None:
        assert actual == expected, f"expected {expected!r}, the store answered {actual!r}"

    @staticmethod
    def _same_metadata(expected: SessionMetadata, actual: object) -> None:
        assert isinstance(actual, SessionMetadata), actual
        assert _plain(actual) == _plain(expected), f"\nexpected {expected}\n  actual {actual}"

    @staticmethod
    def _same_message(expected: ModelMessage, actual: object) -> None:
        assert isinstance(actual, Message), actual
        assert actual == expected.payload, f"expected {expected.payload!r}, got {actual!r}"
        assert actual.created_at == expected.created_at, (actual, expected.created_at)
        assert isinstance(actual.id, str) and actual.id, actual
        if expected.id is None:
            expected.id = actual.id  # learnt: from now on every read must show this id
        else:
            assert actual.id == expected.id, f"{actual!r}: its id was {expected.id!r}"

    def _same_messages(self, expected: Sequence[ModelMessage], actual: object) -> None:
        assert isinstance(actual, Conversation), actual
        got = list(actual)
        assert len(got) == len(expected), f"expected {[m.payload for m in expected]}, got {got}"
        for record, message in zip(expected, got, strict=True):
            self._same_message(record, message)
        ids = [m.id for m in got]
        assert len(set(ids)) == len(ids), f"ids repeat: {ids}"

    def _same_snapshot(
        self,
        expected: tuple[Sequence[ModelMessage], SessionMetadata],
        actual: tuple[Conversation, SessionMetadata],
    ) -> None:
        self._same_messages(expected[0], actual[0])
        self._same_metadata(expected[1], actual[1])

    def _same_popped(self, expected: ModelMessage | None, actual: object) -> None:
        if expected is None:
            assert actual is None, f"expected None (empty), the store popped {actual!r}"
        else:
            self._same_message(expected, actual)

    # -- writes ------------------------------------------------------------------------

    @initialize(session_ids=st.lists(SESSION_IDS, unique=True, min_size=2, max_size=4))
    def some_sessions(self, session_ids: list[str]) -> None:
        """Start with a few sessions, so that the first steps meet something."""
        for n, session_id in enumerate(session_ids):
            self.append(0, session_id, [("user", 0, "nothing")] * (1 + n % 3), DEFAULT, None)

    @rule(
        view=VIEW,
        session_id=SESSION_IDS,
        specs=st.lists(MESSAGE_SPECS, max_size=3),
        ttl=TTLS,
        expected=EXPECTED,
        labels=st.none() | LABELS,
    )
    def save(
        self,
        view: int,
        session_id: str,
        specs: list[MessageSpec],
        ttl: Any,
        expected: str | None,
        labels: dict[str, str] | None,
    ) -> None:
        messages = self._messages(specs)
        version = self._version(session_id, expected)
        self._compare(
            session_id,
            lambda: self.model.save(
                session_id, messages, ttl=ttl, expected_version=version, labels=labels
            ),
            lambda: self._call(
                view,
                "save",
                session_id,
                Conversation(messages),
                ttl=ttl,
                expected_version=version,
                labels=labels,
            ),
            self._same_metadata,
        )

    @rule(
        view=VIEW,
        session_id=SESSION_IDS,
        specs=st.lists(MESSAGE_SPECS, min_size=1, max_size=3),
        ttl=TTLS,
        expected=EXPECTED,
    )
    def append(
        self, view: int, session_id: str, specs: list[MessageSpec], ttl: Any, expected: str | None
    ) -> None:
        messages = self._messages(specs)
        version = self._version(session_id, expected)
        self._compare(
            session_id,
            lambda: self.model.append(session_id, messages, ttl=ttl, expected_version=version),
            lambda: self._call(
                view, "append", session_id, *messages, ttl=ttl, expected_version=version
            ),
            self._same_metadata,
        )

    @rule(view=VIEW, session_id=SESSION_IDS, expected=st.sampled_from([None, "right", "wrong"]))
    def pop(self, view: int, session_id: str, expected: str | None) -> None:
        version = self._version(session_id, expected)
        kwargs = {} if version is None else {"expected_version": version}
        self._compare(
            session_id,
            lambda: self.model.pop(session_id, version),
            lambda: self._call(view, "pop", session_id, **kwargs),
            self._same_popped,
        )

    @rule(view=VIEW, session_id=SESSION_IDS, ttl=TTLS)
    def touch(self, view: int, session_id: str, ttl: Any) -> None:
        self._compare(
            session_id,
            lambda: self.model.touch(session_id, ttl),
            lambda: self._call(view, "touch", session_id, ttl=ttl),
            self._same_metadata,
        )

    @rule(
        view=VIEW,
        session_id=SESSION_IDS,
        keep=st.integers(0, 3),
        specs=st.lists(MESSAGE_SPECS, max_size=2),
        meanwhile=st.booleans(),
    )
    def compact(
        self, view: int, session_id: str, keep: int, specs: list[MessageSpec], meanwhile: bool
    ) -> None:
        """Rewrite a history: load it with its version, keep its newest ``keep`` messages
        (ids and times too) plus new ones, save only if nothing was written meanwhile
        (``meanwhile``: the other view appends in between, so the save must conflict)."""
        snapshot = self._compare(
            session_id,
            lambda: self.model.load_with_metadata(session_id),
            lambda: self._call(view, "load_with_metadata", session_id),
            self._same_snapshot,
        )
        if snapshot is None:
            return
        conversation, meta = snapshot
        loaded = list(conversation)
        kept = loaded[len(loaded) - keep :] if keep else []
        if meanwhile:
            self.append(1 - view, session_id, [("assistant", 0, "nothing")], DEFAULT, None)
        messages = kept + self._messages(specs)
        self._compare(
            session_id,
            lambda: self.model.save(session_id, messages, expected_version=meta.version),
            lambda: self._call(
                view, "save", session_id, Conversation(messages), expected_version=meta.version
            ),
            self._same_metadata,
        )

    @rule(view=VIEW, session_id=SESSION_IDS)
    def delete(self, view: int, session_id: str) -> None:
        self._compare(
            session_id,
            lambda: self.model.delete(session_id),
            lambda: self._call(view, "delete", session_id),
            self._equal,
        )

    @rule(view=VIEW)
    def purge_expired(self, view: int) -> None:
        expected = self.model.purge_expired()
        removed = self._call(view, "purge_expired")
        if self.model.config.forgetful:  # some may have been evicted already
            assert 0 <= removed <= expected, f"purged {removed}, expected at most {expected}"
        else:
            self._equal(expected, removed)

    # Only with something to clear: a clear of (nearly) nothing is a step wasted.
    @precondition(lambda self: len(self.model.list_sessions()) >= 3)
    @rule(view=VIEW)
    def clear(self, view: int) -> None:
        self._compare(None, self.model.clear, lambda: self._call(view, "clear"), self._equal)

    @rule(seconds=ADVANCES)
    def advance_clock(self, seconds: float) -> None:
        self.clock.advance(seconds)

    # -- reads -------------------------------------------------------------------------

    @rule(view=VIEW, session_id=SESSION_IDS, last=LASTS)
    def load(self, view: int, session_id: str, last: int | None) -> None:
        self._compare(
            session_id,
            lambda: self.model.load(session_id, last),
            lambda: self._call(view, "load", session_id, last=last),
            self._same_messages,
        )

    @rule(view=VIEW, session_id=SESSION_IDS, last=LASTS)
    def load_with_metadata(self, view: int, session_id: str, last: int | None) -> None:
        self._compare(
            session_id,
            lambda: self.model.load_with_metadata(session_id, last),
            lambda: self._call(view, "load_with_metadata", session_id, last=last),
            self._same_snapshot,
        )

    @rule(view=VIEW, session_id=SESSION_IDS)
    def get_metadata(self, view: int, session_id: str) -> None:
        self._compare(
            session_id,
            lambda: self.model.get_metadata(session_id),
            lambda: self._call(view, "get_metadata", session_id),
            self._same_metadata,
        )

    @rule(view=VIEW, session_id=SESSION_IDS)
    def exists(self, view: int, session_id: str) -> None:
        self._equal(self.model.exists(session_id), self._call(view, "exists", session_id))

    @rule(view=VIEW, prefix=PREFIXES, limit=LIST_LIMITS)
    def list_sessions(self, view: int, prefix: str | None, limit: int | None) -> None:
        expected = self.model.list_sessions(prefix, limit)
        self._equal(expected, self._call(view, "list_sessions", prefix=prefix, limit=limit))

    @rule(view=VIEW, prefix=PREFIXES)
    def iter_sessions(self, view: int, prefix: str | None) -> None:
        expected = self.model.list_sessions(prefix)
        self._equal(expected, self.driver.ids(self.views[view], prefix))

    @rule(
        view=VIEW,
        labels=st.none() | LABELS,
        after=AGO,
        before=AGO,
        limit=st.none() | st.integers(1, 4),
    )
    def find_sessions(
        self,
        view: int,
        labels: dict[str, str] | None,
        after: float | None,
        before: float | None,
        limit: int | None,
    ) -> None:
        now = self.clock()
        query: dict[str, Any] = {
            "labels": labels,
            "updated_after": None if after is None else now - after,
            "updated_before": None if before is None else now - before,
        }
        if limit is not None:
            query["limit"] = limit
        self._page(view, query, None)

    @invariant()
    def every_live_session(self) -> None:
        """After every step, the metadata of every live session (one call: the whole
        state but the messages), so that a wrong time or count shows where it starts."""
        self._page(0, {}, None, keep_paging=True)

    @precondition(lambda self: self.paging is not None)
    @rule(view=VIEW)
    def find_next_page(self, view: int) -> None:
        """The next page of the last query paged, whatever was written since (the
        cursor of one view works on the other)."""
        assert self.paging is not None
        self._page(view, self.paging.query, self.paging)

    def _page(
        self,
        view: int,
        query: Mapping[str, Any],
        paging: _Paging | None,
        *,
        keep_paging: bool = False,
    ) -> None:
        items, after = self.model.find_sessions(
            **query, after=None if paging is None else paging.after
        )
        page = self._call(
            view, "find_sessions", **query, cursor=None if paging is None else paging.cursor
        )
        assert isinstance(page, Page), page
        got = [_plain(meta) for meta in page.items]
        want = [_plain(meta) for meta in items]
        assert got == want, f"\nexpected {want}\n  actual {got}"
        assert (page.next_cursor is None) == (after is None), (page.next_cursor, after)
        if keep_paging:
            return
        if after is None or page.next_cursor is None:
            self.paging = None
        else:
            self.paging = _Paging(dict(query), page.next_cursor, after)
