"""``AsyncRedisStore``: sessions in Redis (redis-py), one Lua script per write.

The module is named ``redis.py`` like the driver: imports here are relative and the
driver is loaded by absolute name (``_backends.redis.aredis_driver``), so the two
never shadow each other.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import math
import time
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .._backends import redis as scripts
from .._concurrency import aensure_asyncio
from .._errors import (
    BackendError,
    SerializationError,
    SessionExpired,
    SessionNotFound,
    StoreClosed,
    VersionConflict,
    map_backend_errors,
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
    messages_size,
    read_only_labels,
)
from .._validation import (
    DEFAULT,
    Clock,
    Limits,
    TTLArg,
    check_append,
    check_clock,
    check_last,
    check_limit,
    check_prefix,
    check_save,
    check_session_id,
    check_ttl,
    resolve_ttl_arg,
)
from .base import AsyncSessionStore

__all__ = ["AsyncRedisStore"]

#: Ids read from an index per round trip (iter_sessions, purge_expired, clear).
_PAGE = 500
#: pop's peek-then-pop rounds before it gives up (each round is one round trip; only
#: writes to the same session landing within every round keep it going).
_POP_ATTEMPTS = 1000
_META_FIELDS = ("created", "updated", "expires", "version", "count", "size", "labels")


def _text(value: Any) -> str:
    # A client of the caller's may not decode responses: accept bytes too.
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _num(value: float) -> str:
    return repr(float(value))  # the shortest repr that round-trips: no digit lost


def _opt_float(text: str) -> float | None:
    return None if text == "" else float(text)


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
            "take it (Redis Cluster needs a RedisCluster client, not a URL parameter)"
        )


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


class AsyncRedisStore(AsyncSessionStore):
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
    ``purge_expired`` are keys of their own, updated by the same scripts. On a Redis
    Cluster those scripts would cross slots: this store targets one Redis server (or
    a primary with replicas). Readers re-check each session's own keys, so an index
    entry of a session Redis reclaimed is never returned (and is dropped on sight).

    The async flavour needs asyncio (``redis.asyncio`` does not run under trio):
    under trio every call raises ``RuntimeError`` saying so.

    :param url_or_client: a ``redis://`` / ``rediss://`` / ``unix://`` URL (the store
        owns its client and connection pool and closes them), or a client of yours
        (``redis.asyncio.Redis`` for the async store, ``redis.Redis`` for the sync one;
        never closed by the store). The store's own client never retries a command: a
        write that failed may or may not have been applied, and repeating it could
        apply it twice. A client of yours keeps its own retry policy (redis-py 6+
        retries by default): build it with ``retry=None`` for the same guarantee.
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
    :raises ValueError: on a bad TTL, limit or timeout
    """

    name = "redis"

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
        driver, errors = scripts.aredis_driver()
        # Stateless: one instance serves every call.
        self._backend_errors = map_backend_errors("Redis", errors)
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
        timeout = check_ttl(socket_timeout, "socket_timeout")
        self._default_ttl = check_ttl(default_ttl, "default_ttl")
        self._sliding = sliding
        self._clock = check_clock(clock)
        self._limits = Limits(max_messages, max_message_bytes, max_session_bytes)
        if isinstance(url_or_client, str):
            _check_url_options(url_or_client, driver.__name__)
            self._client = driver.Redis.from_url(
                url_or_client,
                decode_responses=True,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                retry=None,  # never repeat a write whose outcome is unknown
            )
            self._owns_client = True
        elif isinstance(url_or_client, driver.Redis):
            self._client = url_or_client
            self._owns_client = False
        else:
            raise TypeError(
                f"url_or_client must be a Redis URL or a {driver.__name__}.Redis client, "
                f"not {url_or_client!r:.100}"
            )
        self._prefix = prefix
        self._ids = prefix + "{}index:ids"
        self._updated = prefix + "{}index:updated"
        self._expiry = prefix + "{}index:expiry"
        limits = self._limits
        # Per-store settings travel as one argument: fewer to send on every write.
        self._config = "|".join(
            [
                "" if self._default_ttl is None else _num(self._default_ttl),
                "" if limits.max_messages is None else str(limits.max_messages),
                "" if limits.max_session_bytes is None else str(limits.max_session_bytes),
                prefix,
            ]
        )
        # redis-py's Script objects know each script's SHA-1 and load the script again
        # on NOSCRIPT (after a restart or SCRIPT FLUSH): nothing here goes stale.
        self._noscript = importlib.import_module("redis.exceptions").NoScriptError
        register = self._client.register_script
        self._save = register(scripts.SAVE)
        self._append = register(scripts.APPEND)
        self._pop = register(scripts.POP)
        self._touch = register(scripts.TOUCH)
        self._delete = register(scripts.DELETE)
        self._load = register(scripts.LOAD)
        self._closed = False

    # -- plumbing ---------------------------------------------------------------------

    def _check(self) -> None:
        aensure_asyncio(type(self).__name__)
        if self._closed:
            raise StoreClosed(self.name)

    def _backend(self) -> map_backend_errors:
        return self._backend_errors

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

    async def _run(self, script: Any, keys: list[str], args: list[str]) -> Any:
        """Run a registered script: one ``EVALSHA`` round trip.

        Sent straight through the client: a redis-py ``Script`` call costs ~6 us more
        per call. On ``NOSCRIPT`` the ``Script`` loads the script and runs it again.
        """
        try:
            return await self._client.execute_command(
                "EVALSHA", script.sha, len(keys), *keys, *args
            )
        except self._noscript:
            return await script(keys=keys, args=args)

    def _label_key(self, key: str, value: str) -> str:
        return f"{self._prefix}{{}}label:{len(key.encode('utf-8'))}:{key}={value}"

    def _ttl_arg(self, ttl: object) -> str:
        if ttl is DEFAULT:
            return "D"
        if ttl is None:
            return "N"
        return _num(ttl)  # type: ignore[arg-type]  # validated seconds

    def _written(self, session_id: str, raw: Any, expected: int | None) -> SessionMetadata:
        """The metadata in a write's reply, or the error it reports."""
        reply = _text(raw)
        if reply.startswith("ok|"):
            _ok, created, updated, expires, count, size, version, labels = reply.split("|", 7)
            return SessionMetadata(
                session_id,
                float(created),
                float(updated),
                _opt_float(expires),
                int(count),
                int(size),
                int(version),
                _labels(labels),
            )
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

    @staticmethod
    def _raise_missing(session_id: str, reply: str) -> None:
        if reply == "missing":
            raise SessionNotFound(session_id)
        if reply.startswith("expired|"):
            raise SessionExpired(session_id, float(reply[8:]))
        if reply.startswith("corrupt|"):
            raise SerializationError(
                f"session {session_id!r} has a missing or malformed {reply[8:]!r} field in "
                "its Redis meta hash (changed outside agent-session?); nothing was written: "
                "delete the session to start it anew",
                session_id=session_id,
            )

    def _meta(self, session_id: str, fields: list[Any]) -> SessionMetadata | None:
        """Metadata from an HMGET of ``_META_FIELDS``; None if the session is gone."""
        if fields[0] is None:
            return None
        try:
            created, updated, expires, version, count, size, labels = map(_text, fields)
            return SessionMetadata(
                session_id,
                float(created),
                float(updated),
                _opt_float(expires),
                int(count),
                int(size),
                int(version),
                _labels(labels),
            )
        except (TypeError, ValueError, SerializationError) as exc:  # a field gone or garbled
            raise SerializationError(
                f"session {session_id!r} has a missing or malformed field in its Redis meta "
                f"hash ({exc}); delete the session to start it anew",
                session_id=session_id,
            ) from exc

    # -- writes -----------------------------------------------------------------------

    async def save(
        self,
        session_id: str,
        conversation: Conversation,
        *,
        ttl: TTLArg = DEFAULT,
        expected_version: int | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> SessionMetadata:
        """Store a snapshot of ``conversation``, replacing what the session held.

        One script: the old list is replaced, the labels and indexes updated.

        :param ttl: seconds or ``timedelta``; ``DEFAULT`` keeps the session's own TTL
            (``default_ttl`` for a new session); None: never expires
        :param expected_version: write only if the session is at this version
            (0: it must not exist yet)
        :param labels: replace the session's labels; None keeps them
        :raises InvalidSessionId: if ``session_id`` is not valid
        :raises VersionConflict: if ``expected_version`` does not match
        :raises CapacityExceeded: if a limit would be exceeded
        :raises BackendError: if Redis failed or is unreachable
        :raises StoreClosed: if the store is closed
        :return: the session's metadata after the write
        """
        self._check()
        checked = check_save(session_id, conversation, ttl, expected_version, labels, self._limits)
        now = self._clock()
        stamped = stamp(checked.messages, now)
        args = [
            _num(now),
            session_id,
            self._ttl_arg(checked.ttl),
            "" if expected_version is None else str(expected_version),
            self._config,
            "" if checked.labels is None else encode_labels(checked.labels),
            str(messages_size(stamped)),
            *(encode_message(message) for message in stamped),
        ]
        with self._backend():
            reply = await self._run(self._save, self._keys(session_id), args)
        return self._written(session_id, reply, expected_version)

    async def append(
        self,
        session_id: str,
        *messages: Message,
        ttl: TTLArg = DEFAULT,
        expected_version: int | None = None,
    ) -> SessionMetadata:
        """Add ``messages`` at the end of the session, creating it if needed.

        One script whose cost does not depend on the session's length (``RPUSH``).

        :param ttl: as for :meth:`save`
        :param expected_version: as for :meth:`save`
        :raises InvalidSessionId: if ``session_id`` is not valid
        :raises VersionConflict: if ``expected_version`` does not match
        :raises CapacityExceeded: if a limit would be exceeded
        :raises BackendError: if Redis failed or is unreachable
        :raises StoreClosed: if the store is closed
        :return: the session's metadata after the write
        """
        self._check()
        checked = check_append(session_id, messages, ttl, expected_version, self._limits)
        now = self._clock()
        stamped = stamp(checked.messages, now)
        args = [
            _num(now),
            session_id,
            self._ttl_arg(checked.ttl),
            "" if expected_version is None else str(expected_version),
            self._config,
        ]
        args.append(str(messages_size(stamped)))
        args += [encode_message(message) for message in stamped]
        with self._backend_errors:
            reply = await self._run(self._append, self._keys(session_id), args)
        return self._written(session_id, reply, expected_version)

    async def pop(self, session_id: str) -> Message | None:
        """Remove and return the newest message; None (nothing written) if there is none.

        :raises SessionNotFound: if there is no such session
        :raises SessionExpired: if its TTL ran out
        :raises BackendError: if Redis failed or is unreachable
        :raises StoreClosed: if the store is closed
        :return: the removed message, or None
        """
        self._check()
        check_session_id(session_id)
        keys = self._keys(session_id)
        # Peek, decode, then pop only if the newest message is still the one decoded: a
        # message that cannot be decoded is never removed. A write landing in between
        # changes the newest message: decode that one and try again.
        mode, body, size = "peek", "", "0"
        message: Message | None = None
        for _ in range(_POP_ATTEMPTS):
            args = [_num(self._clock()), session_id, self._prefix, mode, body, size]
            with self._backend():
                reply = _text(await self._run(self._pop, keys, args))
            if reply == "ok":
                return message
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
            "nothing was removed; retry"
        )

    async def touch(self, session_id: str, *, ttl: TTLArg = DEFAULT) -> SessionMetadata:
        """Restart the session's TTL (``DEFAULT``: its own duration); the version stays.

        :raises SessionNotFound: if there is no such session
        :raises SessionExpired: if its TTL already ran out
        :raises BackendError: if Redis failed or is unreachable
        :raises StoreClosed: if the store is closed
        :return: the session's metadata after the touch
        """
        self._check()
        check_session_id(session_id)
        args = [_num(self._clock()), session_id, self._ttl_arg(resolve_ttl_arg(ttl)), self._prefix]
        with self._backend():
            reply = await self._run(self._touch, self._keys(session_id), args)
        return self._written(session_id, reply, None)

    async def delete(self, session_id: str) -> bool:
        """Remove the session and its index entries.

        :raises BackendError: if Redis failed or is unreachable
        :raises StoreClosed: if the store is closed
        :return: True if a live session was removed
        """
        self._check()
        check_session_id(session_id)
        args = [_num(self._clock()), session_id, self._prefix, "delete"]
        with self._backend():
            removed = await self._run(self._delete, self._keys(session_id), args)
        return int(removed) == 1

    async def _delete_many(self, ids: list[str], mode: str) -> list[int]:
        """Run the DELETE script for each id in ``mode``: one pipelined round trip."""
        now = _num(self._clock())
        async with self._client.pipeline(transaction=False) as pipe:
            for session_id in ids:
                args = [now, session_id, self._prefix, mode]
                await self._delete(keys=self._keys(session_id), args=args, client=pipe)
            return [int(outcome) for outcome in await pipe.execute()]

    async def purge_expired(self) -> int:
        """Remove the sessions expired by the store's clock.

        Walks the expiry index, so the cost grows with the expired sessions only. It
        also drops the index entries of sessions Redis already reclaimed.

        :raises BackendError: if Redis failed or is unreachable
        :raises StoreClosed: if the store is closed
        :return: how many expired sessions were removed
        """
        self._check()
        removed = 0
        with self._backend():
            while True:
                raw = await self._client.zrangebyscore(
                    self._expiry, "-inf", _num(self._clock()), start=0, num=_PAGE
                )
                if not raw:
                    return removed
                # Each id leaves the range: removed, or re-scored to its live expiry.
                outcomes = await self._delete_many([_text(item) for item in raw], "purge")
                removed += outcomes.count(2)
                if len(raw) < _PAGE:
                    return removed

    async def clear(self) -> int:
        """Remove every key of this store (``SCAN`` + ``UNLINK`` in batches).

        Only this store's: the keys of a store whose prefix extends this one's stay.

        :raises BackendError: if Redis failed or is unreachable
        :raises StoreClosed: if the store is closed
        :return: how many live sessions were removed
        """
        self._check()
        live = 0
        async for _session_id in self.iter_sessions():
            live += 1
        pattern = _glob_escape(self._prefix) + "{*"  # every key of ours, no other store's
        with self._backend():
            batch: list[Any] = []
            async for key in self._client.scan_iter(match=pattern, count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    await self._client.unlink(*batch)
                    batch = []
            if batch:
                await self._client.unlink(*batch)
        return live

    # -- reads ------------------------------------------------------------------------

    async def load(self, session_id: str, *, last: int | None = None) -> Conversation:
        """The session's conversation (a new object each time).

        :param last: only the newest ``last`` messages (an ``LRANGE`` of that many)
        :raises SessionNotFound: if there is no such session
        :raises SessionExpired: if its TTL ran out
        :raises SerializationError: if a stored message is malformed
        :raises BackendError: if Redis failed or is unreachable
        :raises StoreClosed: if the store is closed
        :return: the conversation
        """
        self._check()
        check_session_id(session_id)
        last = check_last(last)
        args = [
            _num(self._clock()),
            session_id,
            "" if last is None else str(last),
            "1" if self._sliding else "0",
            self._prefix,
        ]
        with self._backend():
            reply = await self._run(self._load, self._keys(session_id), args)
        head = _text(reply[0])
        if not head.startswith("ok|"):
            self._raise_missing(session_id, "|".join(map(_text, reply)))
            raise AssertionError(f"unexpected reply from the Redis script: {head!r:.200}")
        _ok, size, count = head.split("|")
        messages = decode_messages(reply[1:], session_id)
        expected = int(count) if last is None else min(last, int(count))
        if len(messages) != expected:
            raise SerializationError(
                f"session {session_id!r} lists {count} messages but its Redis list holds "
                f"{len(messages)} of the {expected} asked for (evicted? run Redis with "
                "maxmemory-policy noeviction)"
            )
        return Conversation._adopt(messages, int(size) if last is None else -1)

    async def get_metadata(self, session_id: str) -> SessionMetadata:
        """What the store knows about the session.

        :raises SessionNotFound: if there is no such session
        :raises SessionExpired: if its TTL ran out
        :raises BackendError: if Redis failed or is unreachable
        :raises StoreClosed: if the store is closed
        :return: its metadata
        """
        self._check()
        check_session_id(session_id)
        with self._backend():
            fields = await self._client.hmget(self._keys(session_id)[0], _META_FIELDS)
        meta = self._meta(session_id, fields)
        if meta is None:
            raise SessionNotFound(session_id)
        if meta.expires_at is not None and meta.expires_at <= self._clock():
            raise SessionExpired(session_id, meta.expires_at)
        return meta

    async def exists(self, session_id: str) -> bool:
        """True if the session exists and has not expired.

        :raises BackendError: if Redis failed or is unreachable
        :raises StoreClosed: if the store is closed
        """
        self._check()
        check_session_id(session_id)
        with self._backend():
            expires = await self._client.hget(self._keys(session_id)[0], "expires")
        if expires is None:
            return False
        at = _opt_float(_text(expires))
        return at is None or at > self._clock()

    async def _live_ids(self, ids: list[str]) -> list[str]:
        """Those of ``ids`` whose session is live; index entries of vanished ones go."""
        if not ids:
            return []
        async with self._client.pipeline(transaction=False) as pipe:
            for session_id in ids:
                pipe.hget(self._keys(session_id)[0], "expires")
            expiries = await pipe.execute()
        now = self._clock()
        live, gone = [], []
        for session_id, expires in zip(ids, expiries, strict=True):
            if expires is None:
                gone.append(session_id)
                continue
            at = _opt_float(_text(expires))
            if at is None or at > now:
                live.append(session_id)
        if gone:  # Redis reclaimed them on its own: drop their index entries too
            await self._delete_many(gone, "vanished")
        return live

    async def iter_sessions(self, *, prefix: str | None = None) -> AsyncIterator[str]:
        """Ids of the live sessions in sorted order, one index page in memory at a time.

        :param prefix: only ids starting with this
        :raises BackendError: if Redis failed or is unreachable
        :raises StoreClosed: if the store is closed
        """
        self._check()
        check_prefix(prefix)
        # Keyset paging over the lex-sorted id index: UTF-8 byte order is code point order.
        upper = prefix_upper_bound(prefix) if prefix else None
        high = "+" if upper is None else "(" + upper
        low = "[" + prefix if prefix else "-"
        while True:
            with self._backend():
                raw = await self._client.zrangebylex(self._ids, low, high, start=0, num=_PAGE)
                page = [_text(item) for item in raw]
                live = await self._live_ids(page)
            for session_id in live:
                yield session_id
            if len(page) < _PAGE:
                return
            low = "(" + page[-1]

    async def list_sessions(
        self, *, prefix: str | None = None, limit: int | None = None
    ) -> list[str]:
        """Ids of the live sessions, sorted.

        :param prefix: only ids starting with this
        :param limit: at most this many
        :raises BackendError: if Redis failed or is unreachable
        :raises StoreClosed: if the store is closed
        :return: the ids
        """
        self._check()
        check_prefix(prefix)
        limit = check_limit(limit)
        found: list[str] = []
        async for session_id in self.iter_sessions(prefix=prefix):
            found.append(session_id)
            if limit is not None and len(found) >= limit:
                break
        return found

    async def find_sessions(
        self,
        *,
        labels: Mapping[str, str] | None = None,
        updated_after: float | None = None,
        updated_before: float | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page:
        """One page of live sessions' metadata, newest ``updated_at`` first.

        Without labels it walks the ``updated_at`` index; with labels it intersects
        the label sets, orders the candidates by their ``updated_at`` index scores and
        reads the metadata of one page of them.

        :param labels: only sessions having all these label pairs
        :param updated_after: only sessions updated strictly after this
        :param updated_before: only sessions updated strictly before this
        :param limit: at most this many items
        :param cursor: the ``next_cursor`` of the previous page
        :raises ValueError: on a cursor this library did not make
        :raises BackendError: if Redis failed or is unreachable
        :raises StoreClosed: if the store is closed
        :return: the page
        """
        self._check()
        query = FindQuery(labels, updated_after, updated_before, limit, cursor)
        with self._backend():
            if query.labels:
                found = await self._find_labelled(query)
            else:
                found = await self._scan_updated(query)
        found.sort(key=lambda meta: (-meta.updated_at, meta.session_id))
        items = found[: query.limit]
        more = len(found) > query.limit
        next_cursor = encode_cursor(items[-1].updated_at, items[-1].session_id) if more else None
        return Page(items, next_cursor)

    async def _metas(self, ids: list[str], *, clean: bool = True) -> list[SessionMetadata]:
        """Live sessions' metadata, one pipelined round trip.

        :param clean: drop the index entries of sessions whose keys are gone (not while
            paging an index by offset: removing entries would shift the next page)
        """
        if not ids:
            return []
        async with self._client.pipeline(transaction=False) as pipe:
            for session_id in ids:
                pipe.hmget(self._keys(session_id)[0], _META_FIELDS)
            rows = await pipe.execute()
        now = self._clock()
        metas, gone = [], []
        for session_id, fields in zip(ids, rows, strict=True):
            meta = self._meta(session_id, fields)
            if meta is None:
                gone.append(session_id)
            elif not meta.is_expired(now):
                metas.append(meta)
        if gone and clean:
            await self._delete_many(gone, "vanished")
        return metas

    async def _find_labelled(self, query: FindQuery) -> list[SessionMetadata]:
        """Sessions holding every label pair: candidates ordered by index score first."""
        keys = [self._label_key(k, v) for k, v in query.labels.items()]
        candidates = [_text(item) for item in await self._client.sinter(keys)]
        if not candidates:
            return []
        scores = await self._client.zmscore(self._updated, candidates)
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
            found += [meta for meta in await self._metas(chunk) if query.matches(meta)]
            if len(found) > query.limit:
                break
        return found

    async def _scan_updated(self, query: FindQuery) -> list[SessionMetadata]:
        """Walk the ``updated`` index newest first until one page (and its ties) is in."""
        high = math.inf if query.updated_before is None else query.updated_before
        high_arg = "+inf" if high == math.inf else "(" + _num(high)
        if query.after is not None and query.after[0] <= high:
            high_arg = _num(query.after[0])  # inclusive: ties are sorted out below
        low_arg = "-inf" if query.updated_after is None else "(" + _num(query.updated_after)
        found: list[SessionMetadata] = []
        offset = 0
        batch = query.limit * 2 + 20
        while True:
            rows = await self._client.zrevrangebyscore(
                self._updated, high_arg, low_arg, start=offset, num=batch, withscores=True
            )
            offset += len(rows)
            metas = await self._metas([_text(member) for member, _score in rows], clean=False)
            found += [meta for meta in metas if query.matches(meta)]
            if len(rows) < batch:
                return found
            last_score = float(rows[-1][1])
            if len(found) > query.limit:
                found.sort(key=lambda meta: (-meta.updated_at, meta.session_id))
                if found[query.limit].updated_at > last_score:
                    return found  # no later row can tie with the page's last item

    async def aclose(self) -> None:
        """Close the store, and its client if the store made it from a URL.

        :raises BackendError: if closing the store's own client failed
        """
        if self._closed:
            return
        self._closed = True
        if self._owns_client:
            aensure_asyncio(type(self).__name__)
            with self._backend():
                await self._client.aclose()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} prefix={self._prefix!r}>"
