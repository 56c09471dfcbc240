# This file is generated from _async/redis.py by scripts/unasync.py: do not edit.
"""``RedisStore``: sessions in Redis (redis-py), one Lua script per write.

The module is named ``redis.py`` like the driver: imports here are relative and the
driver is loaded by absolute name (``_backends.redis.redis_driver``), so the two
never shadow each other.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import logging
import math
import threading  # noqa: TID251  # a lock around making a client, never held across an await
import time
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from .._backends import redis as scripts
from .._backends.loops import PerLoop
from .._concurrency import ensure_asyncio, sleep
from .._errors import (
    BackendError,
    SerializationError,
    SessionError,
    SessionExpired,
    SessionNotFound,
    StoreClosed,
    VersionConflict,
    backend_failure,
)
from .._metadata import EMPTY_LABELS, Page, SessionMetadata
from .._model import Conversation, Message, stamp
from .._paging import FindQuery, encode_cursor, prefix_upper_bound
from .._serialization import (
    decode_message,
    decode_messages,
    encode_labels,
    encode_message,
    message_size,
    read_only_labels,
)
from .._urls import COMMON_OPTIONS, URLSpec, driver_url
from .._validation import (
    DEFAULT,
    Clock,
    Default,
    Limits,
    WriteArgs,
    check_clock,
    check_ttl,
)
from .base import SessionStore

__all__ = ["RedisStore"]

logger = logging.getLogger("agent_session.redis")

#: Ids read from an index per round trip (iter_sessions, purge_expired, clear).
_PAGE = 500
#: pop's peek-then-pop rounds before it gives up (each round is one round trip; only
#: writes to the same session landing within every round keep it going).
_POP_ATTEMPTS = 1000
_META_FIELDS = ("created", "updated", "expires", "version", "count", "size", "labels")
#: How often a closing store looks whether its round trips in flight are done.
_CLOSE_POLL = 0.005


#: Connections per client (per event loop) a URL-built store opens at most; more
#: concurrent calls wait for one (up to socket_timeout).
_MAX_CONNECTIONS = 100
#: Cluster: index records per INDEX script call (six arguments each).
_INDEX_BATCH = 200
#: Cluster: index updates that failed, kept to be sent again, at most (per store).
_MAX_PENDING = 10_000
#: The URL schemes of a Redis Cluster, and the redis-py scheme each stands for.
_CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}


def _text(value: Any) -> str:
    # A client of the caller's may not decode responses: accept bytes too.
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _num(value: float) -> str:
    return repr(float(value))  # the shortest repr that round-trips: no digit lost


def _float(text: str) -> float:
    # As strict as the scripts' check: a NaN or infinite time is damage, not a time.
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite number")
    return value


def _opt_float(text: str) -> float | None:
    return None if text == "" else _float(text)


def _whole(text: str) -> int:
    # Plain digits, as the scripts check: int() would also take "+1", " 1" and "1_0".
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"{text!r} is not a whole number")
    return int(text)


def _labels(text: str) -> Mapping[str, str]:
    return EMPTY_LABELS if text == "{}" else read_only_labels(text)


def _check_url_options(url: str, driver_name: str) -> None:
    """Refuse a URL parameter the driver does not know, now, not at the first call
    (redis-py passes unknown ones on to its connection class: a ``TypeError`` later)."""
    names = {name for name, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True)}
    if not names:
        return
    module = importlib.import_module(driver_name + ".connection")
    known = set(getattr(module, "URL_QUERY_ARGUMENT_PARSERS", ()))
    for name in ("Connection", "SSLConnection", "UnixDomainSocketConnection", "ConnectionPool"):
        for klass in getattr(module, name, object).__mro__:
            init = klass.__dict__.get("__init__")
            if init is None:
                continue
            for param in inspect.signature(init).parameters.values():
                if param.kind not in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
                    known.add(param.name)
    unknown = sorted(names - known - {"self"})
    if unknown:
        raise ValueError(
            f"unknown Redis URL parameter {unknown[0]!r} in {url!r:.200}: redis-py does not "
            "take it (for a Redis Cluster, use a redis+cluster:// or rediss+cluster:// URL)"
        )


def _cluster_url(url: str) -> str | None:
    """The redis-py URL of a ``redis+cluster://`` / ``rediss+cluster://`` URL; None for
    any other URL.

    :raises ValueError: on a database other than 0 (a cluster has only database 0)
    """
    parts = urlsplit(url)
    scheme = _CLUSTER_SCHEMES.get(parts.scheme.lower())
    if scheme is None:
        return None
    dbs = [parts.path.strip("/")]
    dbs += [value for name, value in parse_qsl(parts.query, keep_blank_values=True) if name == "db"]
    for db in dbs:
        if db not in ("", "0"):
            raise ValueError(
                f"database {db!r} in Redis Cluster URL {url!r:.200}: a Redis Cluster has "
                "database 0 only (leave it out, or give /0)"
            )
    if not parts.hostname:
        raise ValueError(f"Redis Cluster URL {url!r:.200} names no host: redis+cluster://host:port")
    return urlunsplit(parts._replace(scheme=scheme))


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


class _Script:
    """A Lua script and its SHA-1 (sent as ``EVALSHA``; on ``NOSCRIPT``, as ``EVAL``,
    which also loads it into that server's script cache)."""

    __slots__ = ("sha", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode("utf-8")).hexdigest()


class _Scripts:
    """The store's Lua scripts (the same for every store: made once)."""

    __slots__ = ("append", "delete", "index", "load", "pop", "save", "touch")

    def __init__(self) -> None:
        self.save = _Script(scripts.SAVE)
        self.append = _Script(scripts.APPEND)
        self.pop = _Script(scripts.POP)
        self.touch = _Script(scripts.TOUCH)
        self.delete = _Script(scripts.DELETE)
        self.load = _Script(scripts.LOAD)
        self.index = _Script(scripts.INDEX)


_SCRIPTS = _Scripts()


class _Lazy:
    """A client made on its first use: a blocking ``RedisCluster`` connects to the
    cluster as it is made, and a store's constructor touches no network."""

    __slots__ = ("_lock", "_make", "_made")

    def __init__(self, make: Any) -> None:
        self._make = make
        self._made: Any = None
        self._lock = threading.Lock()

    def made(self) -> Any:
        made = self._made
        if made is None:
            with self._lock:
                if self._made is None:
                    self._made = self._make()
                made = self._made
        return made

    def __getattr__(self, name: str) -> Any:
        return getattr(self.made(), name)

    def close(self) -> None:
        made = self._made
        if made is None:
            return
        made.close()
        # redis-py's blocking RedisCluster gives each node a client over a pool of its
        # own, which closing the client leaves connected: disconnect those pools too
        # (the asyncio one closes its nodes' connections itself; they have no such pool).
        for node in made.get_nodes():
            pool = getattr(getattr(node, "redis_connection", None), "connection_pool", None)
            if pool is not None:
                pool.disconnect()


class _InFlight:
    """Counts the store's round trips to Redis in progress, so closing can wait for them.

    Entering refuses a round trip once the store is closed; a round trip that fails
    because the store closed its client under it (redis-py then raises whatever its
    half-torn connection gives, e.g. ``AttributeError``) raises :class:`StoreClosed`.

    No lock, so the event loops of several threads never wait on each other here: the
    count is the length of a list, and ``append``/``pop`` are atomic. A round trip is
    counted before it looks at the closed flag, and closing sets the flag before it
    reads the count, so closing either waits for a round trip or the round trip sees
    the store closed.
    """

    __slots__ = ("_calls", "_store")

    def __init__(self, store: RedisStore) -> None:
        self._store = store
        self._calls: list[None] = []

    @property
    def count(self) -> int:
        return len(self._calls)

    def __enter__(self) -> None:
        self._calls.append(None)
        if self._store._closed:
            self._calls.pop()
            raise StoreClosed(self._store.name)

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        self._calls.pop()
        if isinstance(exc, Exception) and not isinstance(exc, SessionError) and self._store._closed:
            raise StoreClosed(self._store.name) from exc


class RedisStore(SessionStore):
    """Sessions in Redis: a hash of metadata and a list of messages per session.

    Every write is one Lua script, so it is atomic and one round trip; ``append`` is
    an ``RPUSH`` inside it, whatever the session's length, and ``load(last=N)`` an
    ``LRANGE`` of N. A session's two keys share a hash tag (the id, or a digest of it
    when the id holds braces), so they live in one slot of a Redis Cluster.

    Expiry is decided with the store's ``clock``, not Redis's: a session past its
    ``expires_at`` is expired (``SessionExpired``) even while Redis still holds it.
    Every write also sets ``PEXPIRE`` on both keys to the time the session has left,
    so Redis reclaims them itself; after that the session reads as not found.

    The indexes behind ``list_sessions``, ``iter_sessions``, ``find_sessions`` and
    ``purge_expired`` are keys of their own, updated by the same scripts on one Redis
    server (or a primary with replicas). On a Redis Cluster (a ``RedisCluster`` client,
    or a ``redis+cluster://`` URL) the index keys share a hash tag of their own, so the
    index is one slot, and each write is two calls: the session's script on its slot
    (atomic, as on one server), then the index script; an index update that fails
    leaves the write done and acknowledged, is sent again with the store's next index
    call, and :meth:`repair_index` rebuilds the index from the sessions
    (``docs/redis-cluster.md``). Readers re-check each session's own keys, so an index
    entry of a session Redis reclaimed is never returned (and is dropped on sight).
    A session whose keys were damaged behind the store's back (a malformed field, a
    key of the wrong type) raises :class:`SerializationError` when it is read or
    written, and is left out (with a warning logged) of the listings and searches,
    which go on with the other sessions; ``delete`` still removes it.

    Closing a store that made its own client waits (at most ``socket_timeout``) for
    the round trips in flight, then closes the client; a call still in flight then,
    or one that needs another round trip, raises :class:`StoreClosed` (a write cut
    off that way may or may not have been applied).

    The async flavour needs asyncio (``redis.asyncio`` does not run under trio):
    under trio every call raises ``RuntimeError`` saying so. A ``redis.asyncio``
    client belongs to the event loop that first used it, so a store built from a URL
    keeps a client (and its connection pool) per event loop that calls it: made on
    that loop's first call, closed when that loop shuts down (as ``asyncio.run``
    does) or when the store closes. One store serves every ``asyncio.run`` in turn
    and the loops of several threads at once. The blocking client is thread-safe:
    the sync flavour keeps one.

    :param url_or_client: a ``redis://`` / ``rediss://`` / ``unix://`` URL, or
        ``redis+cluster://host:port`` / ``rediss+cluster://host:port`` for a Redis
        Cluster (any one node; database 0 only), the store owning its clients and
        connection pools and closing them; or a client of yours (``redis.asyncio.Redis``
        or ``redis.asyncio.RedisCluster`` for the async store, ``redis.Redis`` or
        ``redis.RedisCluster`` for the sync one; never closed by the store). A
        ``redis.asyncio`` client of yours belongs to the event loop of the store's
        first call: a call from another loop raises ``RuntimeError`` (give a URL to use
        the store from several loops). The store's own clients never retry a command:
        a write that failed may or may not have been applied, and repeating it could
        apply it twice. A client of yours keeps its own retry policy (redis-py 6+
        retries by default): build it with ``retry=None`` for the same guarantee, and,
        with redis-py 7.1+, with a ``driver_info`` (``redis.DriverInfo()``), or it reads
        its package metadata from disk at every new connection, on the event loop.
    :param prefix: the start of every key this store writes
    :param default_ttl: seconds or ``timedelta`` a new session lives after its last
        write; None: forever
    :param sliding: True: a ``load`` restarts the TTL too
    :param clock: a zero-argument callable returning epoch seconds
    :param max_messages: at most this many messages per session
    :param max_message_bytes: at most this many bytes per message (wire form)
    :param max_session_bytes: at most this many bytes per session (wire form)
    :param socket_timeout: seconds before connecting to, or a command sent to, Redis
        gives up (for a URL; a client of yours keeps its own timeouts)
    :raises ImportError: if redis-py is not installed (``pip install agent-session[redis]``)
    :raises TypeError: if ``url_or_client`` is neither a URL nor a client of the right kind
    :raises ValueError: on a bad TTL, limit, timeout or URL (a parameter redis-py does
        not take, a cluster URL naming a database other than 0)
    """

    name = "redis"
    _backend_name = "Redis"
    _asyncio_only = True  # redis.asyncio; the sync twin's check is a no-op
    url_spec = URLSpec(
        "redis",
        ("redis", "rediss", "unix", "redis+cluster", "rediss+cluster"),
        {**COMMON_OPTIONS, "prefix": str, "socket_timeout": float},
        target=driver_url,
        driver_parameters=True,  # redis-py's own URL parameters (``?db=1``) pass through
    )

    def __init__(
        self,
        url_or_client: Any,
        *,
        prefix: str = "agent_session:",
        default_ttl: float | timedelta | None = None,
        sliding: bool = False,
        clock: Clock = time.time,
        max_messages: int | None = None,
        max_message_bytes: int | None = None,
        max_session_bytes: int | None = None,
        socket_timeout: float = 5.0,
    ) -> None:
        driver, errors = scripts.redis_driver()
        self._driver_errors = errors
        #: Cluster: what a write's index update may meet, after the write is done.
        self._index_errors: tuple[type[BaseException], ...] = (StoreClosed, *errors)
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str, not {prefix!r}")
        if not prefix:
            # clear() deletes every key under the prefix: an empty one is the whole database.
            raise ValueError("prefix must not be empty: clear() would delete the whole database")
        if "{" in prefix or "}" in prefix:
            # Every key is the prefix then "{": a brace-free prefix keeps the keys of a
            # store whose prefix extends this one's apart from this one's.
            raise ValueError(f"prefix must not contain '{{' or '}}', not {prefix!r}")
        if not isinstance(sliding, bool):
            raise TypeError(f"sliding must be a bool, not {sliding!r}")
        timeout = check_ttl(socket_timeout, "socket_timeout")  # None: wait forever
        self._default_ttl = check_ttl(default_ttl, "default_ttl")
        self._sliding = sliding
        self._clock = check_clock(clock)
        self._limits = Limits(max_messages, max_message_bytes, max_session_bytes)
        # A round trip in flight ends within the socket timeout: closing waits that long.
        self._close_wait = 5.0 if timeout is None else timeout
        make: Any = None
        cluster = False
        if isinstance(url_or_client, str):
            cluster_url = _cluster_url(url_or_client)
            cluster = cluster_url is not None
            url = url_or_client if cluster_url is None else cluster_url
            _check_url_options(url, driver.__name__)
            options = {
                "decode_responses": True,
                "socket_timeout": timeout,
                "socket_connect_timeout": timeout,
                "retry": None,  # never repeat a write whose outcome is unknown
                **scripts.client_options(driver),
            }

            def make_cluster() -> Any:
                # MOVED and ASK redirections are followed (redis-py's own loop); a
                # command that failed on a connection is not sent again (its outcome is
                # unknown), so a write is never applied twice.
                retry = importlib.import_module(driver.__name__ + ".retry").Retry
                backoff = importlib.import_module("redis.backoff").NoBackoff
                return driver.RedisCluster.from_url(
                    url, **{**options, "retry": retry(backoff(), 0)}
                )

            def make() -> Any:
                if cluster:
                    # Made at its first use: a blocking RedisCluster connects when made.
                    return _Lazy(make_cluster)
                # Redis.from_url, but with a pool that waits for a free connection: the
                # default one refuses call 101 at once (MaxConnectionsError; the soak run
                # with 200 tasks on one store found it).
                pool = driver.BlockingConnectionPool.from_url(
                    url, max_connections=_MAX_CONNECTIONS, timeout=timeout, **options
                )
                client = driver.Redis(connection_pool=pool)
                client.auto_close_connection_pool = True  # closing the client closes it
                return client

            client = make()  # the first loop's (and the URL's check, now)
            self._owns_client = True
        elif isinstance(url_or_client, (driver.Redis, driver.RedisCluster)):
            client = url_or_client
            cluster = isinstance(url_or_client, driver.RedisCluster)
            self._owns_client = False
        else:
            raise TypeError(
                f"url_or_client must be a Redis URL or a {driver.__name__}.Redis or "
                f"{driver.__name__}.RedisCluster client, not {url_or_client!r:.100}"
            )
        #: True on a Redis Cluster: each write is its session's script, then the index's.
        self._cluster = cluster
        # redis.asyncio's clients belong to the loop that first used them: one per loop.
        self._clients = PerLoop(
            client,
            self._close_client,
            make,
            owner=type(self).__name__,
            what="Redis client",
            timeout=self._close_wait,
        )
        self._prefix = prefix
        # The index keys start with `_ix`: on one server, ``P{}``; on a cluster, ``P{P}``,
        # the prefix as hash tag, so the whole index is in one slot (one atomic script).
        # The session scripts get `_p` as their prefix: '' on a cluster, where they leave
        # the index to the INDEX script.
        self._ix = prefix + ("{" + prefix + "}" if cluster else "{}")
        self._p = "" if cluster else prefix
        self._ids = self._ix + "index:ids"
        self._updated = self._ix + "index:updated"
        self._expiry = self._ix + "index:expiry"
        self._state = self._ix + "index:state"  # cluster only
        #: Cluster: index updates whose call failed, by session id, sent again with the
        #: next index call (they are ordered and idempotent: a late one changes nothing).
        self._pending: dict[str, list[str]] = {}
        limits = self._limits
        # Per-store settings travel as one argument: fewer to send on every write.
        self._config = "|".join(
            [
                "" if self._default_ttl is None else _num(self._default_ttl),
                "" if limits.max_messages is None else str(limits.max_messages),
                "" if limits.max_session_bytes is None else str(limits.max_session_bytes),
                self._p,
            ]
        )
        exceptions = importlib.import_module("redis.exceptions")
        self._noscript = exceptions.NoScriptError
        self._response_error = exceptions.ResponseError
        self._scripts = _SCRIPTS
        self._in_flight = _InFlight(self)

    # -- plumbing ---------------------------------------------------------------------

    @property
    def _client(self) -> Any:
        """The client for the running event loop (the sync flavour: the only one)."""
        return self._clients.get()

    @staticmethod
    def _close_client(client: Any) -> None:
        client.close()

    def _keys(self, session_id: str) -> list[str]:
        """The session's hash and list, under one hash tag.

        An id holding a brace would end the tag early (Redis Cluster hashes what lies
        between the first ``{`` and the next ``}``), so such ids get ``{`` + a SHA-1
        of the id as tag: no brace-free id starts with ``{``, so tags never collide.
        """
        if "{" in session_id or "}" in session_id:
            tag = "{" + hashlib.sha1(session_id.encode("utf-8")).hexdigest()
        else:
            tag = session_id
        base = f"{self._prefix}{{{tag}}}:"
        return [base + "meta", base + "msgs"]

    def _run(self, script: _Script, keys: list[str], args: list[str]) -> Any:
        """Run a script: one ``EVALSHA`` round trip (on a cluster, to the keys' node).

        Sent straight through the client: a redis-py ``Script`` call costs ~6 us more
        per call. On ``NOSCRIPT`` (the server's script cache was flushed, or a cluster
        node never saw it) the script is sent whole with ``EVAL``, which caches it.
        """
        with self._in_flight:
            client = self._client
            try:
                return client.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
            except self._noscript:
                return client.execute_command("EVAL", script.source, len(keys), *keys, *args)

    def _run_many(
        self, script: _Script, calls: list[tuple[list[str], list[str]]]
    ) -> list[Any]:
        """Run a script once per ``(keys, args)``: one pipelined round trip (on a cluster,
        one per node). Those that met ``NOSCRIPT`` (and so did not run) are sent again
        with ``EVAL``. The first failure, if any, is raised."""
        with self._in_flight:
            with self._client.pipeline(transaction=False) as pipe:
                for keys, args in calls:
                    pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
                results = list(pipe.execute(raise_on_error=False))
            again = [i for i, result in enumerate(results) if isinstance(result, self._noscript)]
            if again:
                with self._client.pipeline(transaction=False) as pipe:
                    for i in again:
                        keys, args = calls[i]
                        pipe.execute_command("EVAL", script.source, len(keys), *keys, *args)
                    rerun = pipe.execute(raise_on_error=False)
                    for i, result in zip(again, rerun, strict=True):
                        results[i] = result
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return results

    def _label_key(self, key: str, value: str) -> str:
        return f"{self._ix}label:{len(key.encode('utf-8'))}:{key}={value}"

    def _ttl_arg(self, ttl: float | None | Default) -> str:
        if ttl is DEFAULT:
            return "D"
        if ttl is None:
            return "N"
        return _num(ttl)  # validated seconds

    def _is_wrong_type(self, exc: BaseException) -> bool:
        """True if ``exc`` is Redis refusing a command on a key of another type."""
        return isinstance(exc, self._response_error) and str(exc).startswith("WRONGTYPE")

    def _damaged(self, session_id: str, what: str) -> SerializationError:
        return SerializationError(
            f"session {session_id!r} has {what} (changed outside agent-session?); "
            "nothing was written: delete the session to start it anew",
            session_id=session_id,
        )

    def _wrong_type(self, session_id: str, which: str, kind: str) -> SerializationError:
        expected = "hash" if which == "meta" else "list"
        key = self._keys(session_id)[0 if which == "meta" else 1]
        return self._damaged(session_id, f"a Redis key {key!r} holding a {kind}, not a {expected}")

    def _wrong_meta_type(self, session_id: str) -> SerializationError:
        """The error for a session whose meta key is not a hash (found by a WRONGTYPE)."""
        with self._in_flight:
            kind = _text(self._client.type(self._keys(session_id)[0]))
        return self._wrong_type(session_id, "meta", kind)

    def _written(self, session_id: str, raw: Any, expected: int | None) -> SessionMetadata:
        """The metadata in a write's reply, or the error it reports."""
        reply = _text(raw)
        if reply.startswith("ok|"):
            _ok, created, updated, expires, count, size, version, labels = reply.split("|", 7)
            fields = [created, updated, expires, version, count, size, labels]
            return self._parse_meta(session_id, fields)
        status, _, detail = reply.partition("|")
        if status == "conflict":
            raise VersionConflict(session_id, expected or 0, int(detail))
        if status == "limit":
            what, total = detail.split("|")
            if what == "messages":
                self._limits.check_totals(session_id, int(total), 0)
            else:
                self._limits.check_totals(session_id, 0, int(total))
        self._raise_missing(session_id, reply)
        raise AssertionError(f"unexpected reply from the Redis script: {reply!r:.200}")

    def _raise_missing(self, session_id: str, reply: str) -> None:
        """Raise what a script's ``missing`` / ``expired`` / ``corrupt`` / ``wrongtype``
        reply means; return on any other reply."""
        if reply == "missing":
            raise SessionNotFound(session_id)
        if reply.startswith("expired|"):
            raise SessionExpired(session_id, float(reply[8:]))
        if reply.startswith("corrupt|"):
            raise self._damaged(
                session_id, f"a missing or malformed {reply[8:]!r} field in its Redis meta hash"
            )
        if reply.startswith("wrongtype|"):
            _status, which, kind = reply.split("|", 2)
            raise self._wrong_type(session_id, which, kind)

    def _meta(self, session_id: str, fields: list[Any]) -> SessionMetadata | None:
        """Metadata from an HMGET of ``_META_FIELDS``; None if the session is gone."""
        return None if fields[0] is None else self._parse_meta(session_id, fields)

    def _parse_meta(self, session_id: str, fields: list[Any]) -> SessionMetadata:
        """Metadata from the text of ``_META_FIELDS``, in that order."""
        try:
            created, updated, expires, version, count, size, labels = map(_text, fields)
            return SessionMetadata(
                session_id,
                _float(created),
                _float(updated),
                _opt_float(expires),
                _whole(count),
                _whole(size),
                _whole(version),
                _labels(labels),
            )
        except (TypeError, ValueError, SerializationError) as exc:  # a field gone or garbled
            raise SerializationError(
                f"session {session_id!r} has a missing or malformed field in its Redis meta "
                f"hash ({exc}); delete the session to start it anew",
                session_id=session_id,
            ) from exc

    def _expiry_of(self, session_id: str, raw: Any) -> float | None:
        """A stored ``expires`` field; SerializationError naming the session if garbled."""
        try:
            return _opt_float(_text(raw))
        except ValueError as exc:
            raise self._damaged(
                session_id, f"a malformed 'expires' field in its Redis meta hash ({exc})"
            ) from exc

    @staticmethod
    def _skip(session_id: str, error: BaseException) -> None:
        # One damaged session must not make every listing fail: leave it out, say so.
        logger.warning("skipping Redis session %r: %s", session_id, error)

    # -- writes -----------------------------------------------------------------------

    def _save(self, session_id: str, args: WriteArgs) -> SessionMetadata:
        # One script: the old list is replaced, the labels and indexes updated.
        now = self._clock()
        stamped = stamp(args.messages, now)
        argv = [
            _num(now),
            session_id,
            self._ttl_arg(args.ttl),
            "" if args.expected_version is None else str(args.expected_version),
            self._config,
            "" if args.labels is None else encode_labels(args.labels),
            str(args.size),
            *(encode_message(message) for message in stamped),
        ]
        reply = self._run(self._scripts.save, self._keys(session_id), argv)
        meta = self._written(session_id, reply, args.expected_version)
        if self._cluster:
            self._index_write(session_id, _text(reply))
        return meta

    def _append(self, session_id: str, args: WriteArgs) -> SessionMetadata:
        # One script whose cost does not depend on the session's length (RPUSH).
        now = self._clock()
        stamped = stamp(args.messages, now)
        argv = [
            _num(now),
            session_id,
            self._ttl_arg(args.ttl),
            "" if args.expected_version is None else str(args.expected_version),
            self._config,
            str(args.size),
        ]
        argv += [encode_message(message) for message in stamped]
        reply = self._run(self._scripts.append, self._keys(session_id), argv)
        meta = self._written(session_id, reply, args.expected_version)
        if self._cluster:
            self._index_write(session_id, _text(reply))
        return meta

    def _pop(self, session_id: str, expected_version: int | None) -> Message | None:
        keys = self._keys(session_id)
        # Peek, decode, then pop only if the newest message is still the one decoded: a
        # message that cannot be decoded is never removed. A write landing in between
        # changes the newest message: decode that one and try again (with an expected
        # version, that write is a conflict: both steps check it).
        mode, body, size = "peek", "", "0"
        expected = "" if expected_version is None else str(expected_version)
        message: Message | None = None
        for _ in range(_POP_ATTEMPTS):
            argv = [_num(self._clock()), session_id, self._p, mode, body, size, expected]
            reply = _text(self._run(self._scripts.pop, keys, argv))
            if reply == "ok":
                return message
            if reply.startswith("ok|"):  # a cluster's: the state, for the index
                self._index_write(session_id, reply)
                return message
            if reply.startswith("conflict|"):
                raise VersionConflict(session_id, expected_version or 0, int(reply[9:]))
            if reply.startswith("top|"):
                body = reply[4:]
                message = decode_message(body, session_id)
                mode, size = "pop", str(message_size(message))
                continue
            if reply == "empty":
                return None
            if reply == "lost":
                raise SerializationError(
                    f"session {session_id!r} lists messages its Redis list does not hold "
                    "(evicted? run Redis with maxmemory-policy noeviction)",
                    session_id=session_id,
                )
            self._raise_missing(session_id, reply)
            raise AssertionError(f"unexpected reply from the Redis script: {reply!r:.200}")
        raise BackendError(
            f"session {session_id!r} kept changing under pop ({_POP_ATTEMPTS} tries): "
            "nothing was removed; retry",
            session_id=session_id,
        )

    def _touch(self, session_id: str, ttl: float | None | Default) -> SessionMetadata:
        argv = [_num(self._clock()), session_id, self._ttl_arg(ttl), self._p]
        reply = self._run(self._scripts.touch, self._keys(session_id), argv)
        meta = self._written(session_id, reply, None)
        if self._cluster:
            self._index_write(session_id, _text(reply))
        return meta

    def _delete(self, session_id: str) -> bool:
        argv = [_num(self._clock()), session_id, self._p, "delete"]
        removed = self._run(self._scripts.delete, self._keys(session_id), argv)
        if not self._cluster:
            return int(removed) == 1
        # Then the index: a failure there leaves entries that the readers drop on sight.
        self._pending.pop(session_id, None)
        records = self._index_records([session_id], [None], [_text(removed)], "delete", [])
        if records:
            try:
                self._run_index(records)
            except self._index_errors as exc:
                logger.warning(
                    "Redis Cluster: session %r was deleted but its index entries were not "
                    "(%r); the listings drop them when they meet them",
                    session_id,
                    exc,
                )
        return _text(removed).startswith("removed|1")

    def _delete_many(
        self, ids: list[str], mode: str, label_keys: list[str] | None = None
    ) -> list[int]:
        """Run the DELETE script for each id in ``mode``: one pipelined round trip.

        :param label_keys: label sets to drop a vanished id from too (an entry the
            session's own record of its labels does not account for)
        """
        now = _num(self._clock())
        extra = label_keys or []
        if not self._cluster:
            calls = [(self._keys(sid), [now, sid, self._prefix, mode, *extra]) for sid in ids]
            return [int(outcome) for outcome in self._run_many(self._scripts.delete, calls)]
        # A cluster: the index states first, then each session's own script, then the
        # index script, which drops an entry only if no write changed it in between
        # (the state read first is the proof: every index update changes it).
        with self._in_flight:
            seen = list(self._client.hmget(self._state, ids))
        calls = [(self._keys(sid), [now, sid, "", mode]) for sid in ids]
        replies = [_text(reply) for reply in self._run_many(self._scripts.delete, calls)]
        records = self._index_records(ids, seen, replies, mode, extra)
        if records:
            self._run_index(records)
        return [
            int(reply.split("|")[1]) if reply.startswith("removed|") else 0 for reply in replies
        ]

    def _index_records(
        self,
        ids: list[str],
        seen: list[Any],
        replies: list[str],
        mode: str,
        label_keys: list[str],
    ) -> list[list[str]]:
        """Cluster: the INDEX records for the DELETE script's replies (see its comment).

        :param seen: each id's index state as read before its session's keys were
            looked at (None: not read, or none)
        """
        extra = json.dumps(label_keys, ensure_ascii=False) if label_keys else ""
        records: list[list[str]] = []
        for session_id, state, reply in zip(ids, seen, replies, strict=True):
            fields = reply.split("|")
            if fields[0] == "gone":
                if mode != "delete":  # delete read no state: the readers clean up
                    records.append(["drop_if", session_id, _text(state or ""), "", "", extra])
            elif fields[0] == "removed":
                records.append(["drop_le", session_id, fields[2], fields[3], "", extra])
            elif fields[0] == "live" and mode == "purge":
                records.append(["expiry_le", session_id, fields[2], fields[3], fields[1], ""])
        return records

    def _index_write(self, session_id: str, reply: str) -> None:
        """Cluster, after a write's session script: the index update, the second call.

        The write is done (and acknowledged) whatever happens here: an index update that
        fails is kept and sent again with the next index call of this store, and
        :meth:`repair_index` rebuilds the index from the sessions themselves.
        """
        _ok, _created, updated, expires, _count, _size, version, labels = reply.split("|", 7)
        record = ["sync", session_id, updated, version, expires, labels]
        self._keep(record)
        try:
            self._run_index([])
        except self._index_errors as exc:
            logger.warning(
                "Redis Cluster: session %r was written but the index update failed (%r); "
                "it is sent again with this store's next index call (or run "
                "repair_index())",
                session_id,
                exc,
            )

    def _keep(self, record: list[str]) -> None:
        """Keep a ``sync`` record until an index call delivers it (the newest per id)."""
        held = self._pending.get(record[1])
        if held is not None and (float(held[2]), int(held[3])) > (
            float(record[2]),
            int(record[3]),
        ):
            return
        self._pending[record[1]] = record
        while len(self._pending) > _MAX_PENDING:
            dropped = next(iter(self._pending))
            self._pending.pop(dropped, None)
            logger.warning(
                "Redis Cluster: too many index updates failed; the one of session %r is "
                "dropped: run repair_index() once the cluster is healthy",
                dropped,
            )

    def _run_index(self, records: list[list[str]]) -> None:
        """Cluster: apply index records, and every kept one, with the INDEX script
        (atomic: the whole index is in one slot)."""
        held = list(self._pending.values())
        todo = held + records
        for start in range(0, len(todo), _INDEX_BATCH):
            batch = todo[start : start + _INDEX_BATCH]
            argv = [self._ix, *(field for record in batch for field in record)]
            self._run(self._scripts.index, [self._state], argv)
        for record in held:  # delivered: forget it, unless a newer one came meanwhile
            if self._pending.get(record[1]) is record:
                self._pending.pop(record[1], None)

    def _flush_index(self) -> None:
        """Cluster: deliver kept index updates before a listing reads the index."""
        if self._cluster and self._pending:
            self._run_index([])

    def _purge_expired(self) -> int:
        # Walks the expiry index, so the cost grows with the expired sessions only. It
        # also drops the index entries of sessions Redis already reclaimed.
        self._flush_index()
        removed = 0
        handled: set[str] = set()
        while True:
            with self._in_flight:
                raw = self._client.zrangebyscore(
                    self._expiry, "-inf", _num(self._clock()), start=0, num=_PAGE
                )
            ids = [_text(item) for item in raw]
            if not ids or handled.issuperset(ids):
                # (On a cluster, a write racing with this purge can keep an entry in
                # range for a moment: seen twice, it is left to the next purge.)
                return removed
            handled.update(ids)
            # Each id leaves the range: removed, re-scored to its live expiry, or (a
            # session whose expiry cannot be read) dropped from the index.
            outcomes = self._delete_many(ids, "purge")
            removed += outcomes.count(2)
            if len(raw) < _PAGE:
                return removed

    def _clear(self) -> int:
        # SCAN + UNLINK in batches, one round trip each; only this store's keys: those
        # of a store whose prefix extends this one's stay.
        live = 0
        for _session_id in self._iter_sessions(None):
            live += 1
        pattern = _glob_escape(self._prefix) + "{*"  # every key of ours, no other store's
        if self._cluster:
            # SCAN on every primary; UNLINK split by slot (redis-py sends each its own).
            self._pending.clear()
            batch: list[str] = []
            with self._in_flight:
                for key in self._client.scan_iter(match=pattern, count=1000):
                    batch.append(key)
                    if len(batch) >= 1000:
                        self._client.unlink(*batch)
                        batch = []
                if batch:
                    self._client.unlink(*batch)
            return live
        cursor: Any = 0
        while True:
            with self._in_flight:
                cursor, keys = self._client.scan(cursor, match=pattern, count=1000)
                if keys:
                    self._client.unlink(*keys)
            if int(cursor) == 0:
                return live

    # -- reads ------------------------------------------------------------------------

    def _load(self, session_id: str, last: int | None) -> Conversation:
        conversation, _meta = self._read(session_id, last, False)
        return conversation

    def _load_with_metadata(
        self, session_id: str, last: int | None
    ) -> tuple[Conversation, SessionMetadata]:
        # One script: the messages and the metadata of one moment (a session's keys are
        # in one slot, on a cluster too), however busy the session.
        conversation, meta = self._read(session_id, last, True)
        assert meta is not None  # asked for
        return conversation, meta

    def _read(
        self, session_id: str, last: int | None, with_meta: bool
    ) -> tuple[Conversation, SessionMetadata | None]:
        """The LOAD script: the session's messages (the newest ``last``), and its
        metadata of the same moment if ``with_meta``."""
        argv = [
            _num(self._clock()),
            session_id,
            "" if last is None else str(last),
            "1" if self._sliding else "0",
            self._p,
            "1" if with_meta else "0",
        ]
        reply = self._run(self._scripts.load, self._keys(session_id), argv)
        head = _text(reply[0])
        if not head.startswith("ok|"):
            self._raise_missing(session_id, "|".join(map(_text, reply)))
            raise AssertionError(f"unexpected reply from the Redis script: {head!r:.200}")
        _ok, size_text, count_text, *rest = head.split("|", 7 if with_meta else 2)
        meta = None
        if with_meta:
            created, updated, expires, version, labels = rest
            meta = self._parse_meta(
                session_id, [created, updated, expires, version, count_text, size_text, labels]
            )
        try:
            size, count = _whole(size_text), _whole(count_text)
        except ValueError as exc:  # the script checked them: this is a bug's safety net
            raise self._damaged(
                session_id, f"a malformed field in its Redis meta hash ({exc})"
            ) from exc
        messages = decode_messages(reply[1:], session_id)
        expected = count if last is None else min(last, count)
        if len(messages) != expected:
            raise SerializationError(
                f"session {session_id!r} lists {count} messages but its Redis list holds "
                f"{len(messages)} of the {expected} asked for (evicted? run Redis with "
                "maxmemory-policy noeviction)",
                session_id=session_id,
            )
        return Conversation._adopt(messages, size if last is None else -1), meta

    def _get_metadata(self, session_id: str) -> SessionMetadata:
        try:
            with self._in_flight:
                fields = self._client.hmget(self._keys(session_id)[0], _META_FIELDS)
        except self._response_error as exc:
            if self._is_wrong_type(exc):
                raise self._wrong_meta_type(session_id) from exc
            raise
        meta = self._meta(session_id, fields)
        if meta is None:
            raise SessionNotFound(session_id)
        if meta.expires_at is not None and meta.expires_at <= self._clock():
            raise SessionExpired(session_id, meta.expires_at)
        return meta

    def _exists(self, session_id: str) -> bool:
        try:
            with self._in_flight:
                expires = self._client.hget(self._keys(session_id)[0], "expires")
        except self._response_error as exc:
            if self._is_wrong_type(exc):
                raise self._wrong_meta_type(session_id) from exc
            raise
        if expires is None:
            return False
        at = self._expiry_of(session_id, expires)
        return at is None or at > self._clock()

    def _live_ids(self, ids: list[str]) -> list[str]:
        """Those of ``ids`` whose session is live; index entries of vanished ones go,
        damaged ones are skipped."""
        if not ids:
            return []
        with self._in_flight:
            with self._client.pipeline(transaction=False) as pipe:
                for session_id in ids:
                    pipe.hget(self._keys(session_id)[0], "expires")
                # Per command: one key of the wrong type must not fail the others.
                expiries = pipe.execute(raise_on_error=False)
        now = self._clock()
        live, gone = [], []
        for session_id, expires in zip(ids, expiries, strict=True):
            if expires is None:
                gone.append(session_id)
                continue
            try:
                if self._is_wrong_type(expires):
                    raise self._wrong_type(session_id, "meta", "value of another type")
                if isinstance(expires, BaseException):
                    raise expires  # any other failure is the backend's
                at = self._expiry_of(session_id, expires)
            except SerializationError as exc:
                self._skip(session_id, exc)
                continue
            if at is None or at > now:
                live.append(session_id)
        if gone:  # Redis reclaimed them on its own: drop their index entries too
            self._delete_many(gone, "vanished")
        return live

    def _id_page(self, low: str, high: str) -> tuple[list[str], list[str]]:
        """One page of the lex-sorted id index from ``low``: (its ids, the live ones)."""
        with self._in_flight:
            raw = self._client.zrangebylex(self._ids, low, high, start=0, num=_PAGE)
        page = [_text(item) for item in raw]
        return page, self._live_ids(page)

    @staticmethod
    def _lex_range(prefix: str | None) -> tuple[str, str]:
        # Keyset paging over the lex-sorted id index: UTF-8 byte order is code point order.
        upper = prefix_upper_bound(prefix) if prefix else None
        high = "+" if upper is None else "(" + upper
        low = "[" + prefix if prefix else "-"
        return low, high

    def _iter_sessions(self, prefix: str | None) -> Iterator[str]:
        self._flush_index()
        low, high = self._lex_range(prefix)
        while True:
            page, live = self._id_page(low, high)
            for session_id in live:
                yield session_id
            if len(page) < _PAGE:
                return
            low = "(" + page[-1]

    def _list_sessions(self, prefix: str | None, limit: int | None) -> list[str]:
        # Its own loop, not _iter_sessions: stopping at the limit leaves no generator open.
        self._flush_index()
        low, high = self._lex_range(prefix)
        found: list[str] = []
        while True:
            page, live = self._id_page(low, high)
            found += live
            if limit is not None and len(found) >= limit:
                return found[:limit]
            if len(page) < _PAGE:
                return found
            low = "(" + page[-1]

    def _find_sessions(self, query: FindQuery) -> Page:
        # Without labels: walk the updated_at index. With labels: intersect the label
        # sets, order the candidates by their updated_at index scores and read the
        # metadata of one page of them.
        self._flush_index()
        if query.labels:
            found = self._find_labelled(query)
        else:
            found = self._scan_updated(query)
        found.sort(key=lambda meta: (-meta.updated_at, meta.session_id))
        items = found[: query.limit]
        more = len(found) > query.limit
        next_cursor = encode_cursor(items[-1].updated_at, items[-1].session_id) if more else None
        return Page(items, next_cursor)

    def _metas(
        self, ids: list[str], gone: list[str] | None = None, label_keys: list[str] | None = None
    ) -> list[SessionMetadata]:
        """Live sessions' metadata, one pipelined round trip; damaged ones are skipped.

        :param gone: where to put the ids whose keys are gone, for the caller to clean
            later (not while paging an index by offset: removing entries would shift
            the next page); None: their index entries are dropped now
        :param label_keys: the label sets the ids came from: a gone id leaves them too
        """
        if not ids:
            return []
        with self._in_flight:
            with self._client.pipeline(transaction=False) as pipe:
                for session_id in ids:
                    pipe.hmget(self._keys(session_id)[0], _META_FIELDS)
                rows = pipe.execute(raise_on_error=False)
        now = self._clock()
        metas: list[SessionMetadata] = []
        vanished: list[str] = []
        for session_id, fields in zip(ids, rows, strict=True):
            try:
                if self._is_wrong_type(fields):
                    raise self._wrong_type(session_id, "meta", "value of another type")
                if isinstance(fields, BaseException):
                    raise fields  # any other failure is the backend's
                meta = self._meta(session_id, fields)
            except SerializationError as exc:
                self._skip(session_id, exc)
                continue
            if meta is None:
                vanished.append(session_id)
            elif not meta.is_expired(now):
                metas.append(meta)
        if gone is not None:
            gone += vanished
        elif vanished:
            self._delete_many(vanished, "vanished", label_keys)
        return metas

    def _find_labelled(self, query: FindQuery) -> list[SessionMetadata]:
        """Sessions holding every label pair: candidates ordered by index score first."""
        keys = [self._label_key(k, v) for k, v in query.labels.items()]
        with self._in_flight:
            candidates = [_text(item) for item in self._client.sinter(keys)]
            if not candidates:
                return []
            scores = self._client.zmscore(self._updated, candidates)
        unscored = [c for c, score in zip(candidates, scores, strict=True) if score is None]
        if unscored:
            # Every write scores its session, so these are stray label entries (of a
            # session gone, or written by something else): drop those whose session is
            # gone (the script checks that atomically), skip the rest.
            self._delete_many(unscored, "vanished", keys)
        low = -math.inf if query.updated_after is None else query.updated_after
        high = math.inf if query.updated_before is None else query.updated_before
        after = query.after
        ordered = sorted(
            (
                (float(score), session_id)
                for session_id, score in zip(candidates, scores, strict=True)
                if score is not None
                and low < float(score) < high
                and (
                    after is None
                    or float(score) < after[0]
                    or (float(score) == after[0] and session_id > after[1])
                )
            ),
            key=lambda pair: (-pair[0], pair[1]),
        )
        # The metadata is the truth (the index only orders): read it a batch at a time
        # until a page and one more item are in.
        found: list[SessionMetadata] = []
        batch = query.limit + 1
        for start in range(0, len(ordered), batch):
            chunk = [session_id for score, session_id in ordered[start : start + batch]]
            metas = self._metas(chunk, label_keys=keys)
            found += [meta for meta in metas if query.matches(meta)]
            if len(found) > query.limit:
                break
        return found

    def _scan_updated(self, query: FindQuery) -> list[SessionMetadata]:
        """Walk the ``updated`` index newest first until one page (and its ties) is in."""
        high = math.inf if query.updated_before is None else query.updated_before
        high_arg = "+inf" if high == math.inf else "(" + _num(high)
        if query.after is not None and query.after[0] <= high:
            high_arg = _num(query.after[0])  # inclusive: ties are sorted out below
        low_arg = "-inf" if query.updated_after is None else "(" + _num(query.updated_after)
        found: list[SessionMetadata] = []
        gone: list[str] = []
        offset = 0
        batch = query.limit * 2 + 20
        while True:
            with self._in_flight:
                rows = self._client.zrevrangebyscore(
                    self._updated, high_arg, low_arg, start=offset, num=batch, withscores=True
                )
            offset += len(rows)
            metas = self._metas([_text(member) for member, _score in rows], gone)
            found += [meta for meta in metas if query.matches(meta)]
            if len(rows) < batch:
                break
            last_score = float(rows[-1][1])
            if len(found) > query.limit:
                found.sort(key=lambda meta: (-meta.updated_at, meta.session_id))
                if found[query.limit].updated_at > last_score:
                    break  # no later row can tie with the page's last item
        if gone:  # the paging is done: now the entries of vanished sessions can go
            self._delete_many(gone, "vanished")
        return found

    def repair_index(self) -> int:
        """Redis Cluster: rebuild the listing index from the sessions themselves.

        Each write on a cluster is two calls, the session's script and then the index's
        (see ``docs/redis-cluster.md``). An index update that failed is kept and sent
        again with the store's next index call; this is for what that cannot mend: a
        process that ended first, or an index node that lost its data (no persistence).
        It scans every primary for this store's sessions (its cost grows with all of
        them) and brings each one's index entries up to date; entries of sessions that
        are gone are left to the readers, which drop them when they meet them. Safe to
        run at any time, beside writers: an entry it brings is never older than the one
        a concurrent write brings. On one Redis server the index cannot fall behind
        (one script per write), and this does nothing.

        :returns: how many sessions it indexed
        """
        self._enter()
        if not self._cluster:
            return 0
        try:
            return self._repair_index()
        except self._driver_errors as exc:
            raise backend_failure(self._backend_name, exc) from exc

    def _repair_index(self) -> int:
        self._flush_index()
        pattern = _glob_escape(self._prefix) + "{*}:meta"
        fields = ("id", "updated", "version", "expires", "labels")
        indexed = 0
        keys: list[str] = []

        def sync(keys: list[str]) -> int:
            with self._in_flight:
                with self._client.pipeline(transaction=False) as pipe:
                    for key in keys:
                        pipe.hmget(key, fields)
                    rows = pipe.execute(raise_on_error=False)
            records = []
            for row in rows:
                if isinstance(row, BaseException) or row[0] is None:
                    continue  # not a hash of ours (a label set's name can end alike)
                session_id, updated, version, expires, labels = map(_text, row)
                try:
                    _float(updated), _whole(version), _opt_float(expires), _labels(labels)
                except (ValueError, SerializationError) as exc:
                    self._skip(session_id, exc)
                    continue
                records.append(["sync", session_id, updated, version, expires, labels])
            if records:
                self._run_index(records)
            return len(records)

        with self._in_flight:
            for key in self._client.scan_iter(match=pattern, count=1000):
                keys.append(_text(key))
                if len(keys) >= _INDEX_BATCH:
                    indexed += sync(keys)
                    keys = []
        if keys:
            indexed += sync(keys)
        return indexed

    def _aclose(self) -> None:
        # Only a client the store made is closed; a caller's stays as it is.
        if not self._owns_client:
            return
        ensure_asyncio(type(self).__name__)
        # New round trips are refused now (the store is closed): let those in flight
        # finish, for a bounded time, before the pool is torn down under them.
        deadline = time.monotonic() + self._close_wait
        while self._in_flight.count and time.monotonic() < deadline:
            sleep(_CLOSE_POLL)
        self._clients.close()  # every event loop's client, each on its own loop

    def __repr__(self) -> str:
        return f"<{type(self).__name__} prefix={self._prefix!r}>"
