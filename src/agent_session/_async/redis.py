"""``AsyncRedisStore``: sessions in Redis (redis-py), one Lua script per write."""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from typing import Any

from .. import _redis_scripts as scripts
from .._concurrency import aensure_asyncio
from .._drivers import aredis_driver
from .._errors import (
    CapacityExceeded,
    SessionExpired,
    SessionNotFound,
    StoreClosed,
    VersionConflict,
    map_backend_errors,
)
from .._metadata import Page, SessionMetadata
from .._model import Conversation, Message
from .._paging import FindQuery, encode_cursor, prefix_upper_bound
from .._serialization import decode_message, encode_labels, encode_message, read_only_labels
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

_PAGE = 500
_META_FIELDS = ("id", "created", "updated", "expires", "version", "count", "size", "labels")


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _num(value: float) -> str:
    return repr(float(value))  # shortest repr that round-trips: no digit lost


def _opt_float(value: Any) -> float | None:
    text = _text(value)
    return None if text == "" else float(text)


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


class AsyncRedisStore(AsyncSessionStore):
    """Sessions in Redis: a hash of metadata and a list of messages per session.

    Every write is one Lua script, so it is atomic and one round trip; ``append``
    is an ``RPUSH``, whatever the session's length. A session's keys share a hash
    tag (the id, or a digest of it when it holds braces), so they live in one slot
    of a Redis Cluster. Expiry is decided with the store's ``clock``; Redis's own
    ``PEXPIRE`` on both keys reclaims them, after which the session reads as
    not found. The indexes behind ``list_sessions``, ``iter_sessions`` and
    ``find_sessions`` are keys of their own, updated by the same scripts: on a
    Redis Cluster those scripts would cross slots, so this store targets a single
    Redis server (or a primary with replicas). The async flavour needs asyncio
    (redis.asyncio does not run under trio) and says so under trio.

    :param url_or_client: a ``redis://`` / ``rediss://`` / ``unix://`` URL (the store
        owns and closes its client), or a client of yours (never closed by the store;
        ``redis.asyncio.Redis`` for the async store, ``redis.Redis`` for the sync one)
    :param prefix: the start of every key this store writes
    :param default_ttl: seconds or ``timedelta`` a session lives after its last
        write; None: forever
    :param sliding: True: a ``load`` restarts the TTL too
    :param clock: a zero-argument callable returning epoch seconds
    :param max_messages: at most this many messages per session
    :param max_message_bytes: at most this many bytes per message (wire form)
    :param max_session_bytes: at most this many bytes per session (wire form)
    :param socket_timeout: seconds before a connect or a command to Redis gives up
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
        driver, self._errors = aredis_driver()
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str, not {prefix!r}")
        if not isinstance(sliding, bool):
            raise TypeError(f"sliding must be a bool, not {sliding!r}")
        timeout = check_ttl(socket_timeout, "socket_timeout")
        self._default_ttl = check_ttl(default_ttl, "default_ttl")
        self._sliding = sliding
        self._clock = check_clock(clock)
        self._limits = Limits(max_messages, max_message_bytes, max_session_bytes)
        if isinstance(url_or_client, str):
            self._client = driver.Redis.from_url(
                url_or_client,
                decode_responses=True,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                retry_on_timeout=False,
            )
            self._owns_client = True
        elif hasattr(url_or_client, "register_script"):
            self._client = url_or_client
            self._owns_client = False
        else:
            raise TypeError(f"url_or_client must be a Redis URL or client, not {url_or_client!r}")
        self._prefix = prefix
        self._ids = prefix + "ids"
        self._updated = prefix + "updated"
        self._expiry = prefix + "expiry"
        self._label_prefix = prefix + "label:"
        self._save = self._client.register_script(scripts.SAVE)
        self._append = self._client.register_script(scripts.APPEND)
        self._pop = self._client.register_script(scripts.POP)
        self._touch = self._client.register_script(scripts.TOUCH)
        self._delete = self._client.register_script(scripts.DELETE)
        self._load = self._client.register_script(scripts.LOAD)
        self._closed = False

    # -- plumbing ---------------------------------------------------------------------

    def _check(self) -> None:
        aensure_asyncio("RedisStore")
        if self._closed:
            raise StoreClosed(self.name)

    def _backend(self) -> map_backend_errors:
        return map_backend_errors("Redis", self._errors)

    def _keys(self, session_id: str) -> list[str]:
        # Braces would end the hash tag early: ids holding any get a digest as tag.
        if "{" in session_id or "}" in session_id:
            tag = "{" + hashlib.sha1(session_id.encode("utf-8")).hexdigest()
        else:
            tag = session_id
        base = f"{self._prefix}{{{tag}}}"
        return [base + ":m", base + ":l", self._ids, self._updated, self._expiry]

    def _label_key(self, key: str, value: str) -> str:
        return f"{self._label_prefix}{len(key.encode('utf-8'))}:{key}={value}"

    def _common(self, session_id: str) -> list[str]:
        return [_num(self._clock()), session_id, self._label_prefix]

    def _ttl_args(self, ttl: object) -> list[str]:
        if ttl is DEFAULT:
            arg = "D"
        elif ttl is None:
            arg = "N"
        else:
            arg = _num(ttl)  # type: ignore[arg-type]  # validated seconds
        default = "" if self._default_ttl is None else _num(self._default_ttl)
        return [arg, default]

    def _limit_args(self) -> list[str]:
        limits = self._limits
        return [
            "" if limits.max_messages is None else str(limits.max_messages),
            "" if limits.max_session_bytes is None else str(limits.max_session_bytes),
        ]

    def _written(self, session_id: str, reply: list[Any], expected: int | None) -> SessionMetadata:
        status = _text(reply[0])
        if status == "conflict":
            raise VersionConflict(session_id, expected or 0, int(_text(reply[1])))
        if status == "limit":
            what, total = _text(reply[1]), _text(reply[2])
            limit = (
                self._limits.max_messages if what == "messages" else self._limits.max_session_bytes
            )
            raise CapacityExceeded(
                f"session {session_id!r} would hold {total} {what}, over its limit of "
                f"{limit}: start a new session or raise the limit",
                session_id=session_id,
            )
        created, updated, expires, count, size, version, labels = map(_text, reply[1:8])
        return SessionMetadata(
            session_id,
            float(created),
            float(updated),
            _opt_float(expires),
            int(count),
            int(size),
            int(version),
            read_only_labels(labels),
        )

    def _meta(self, session_id: str, fields: list[Any]) -> SessionMetadata | None:
        """Metadata from an HMGET of ``_META_FIELDS``; None if the session is gone."""
        if fields[0] is None:
            return None
        _id, created, updated, expires, version, count, size, labels = map(_text, fields)
        return SessionMetadata(
            session_id,
            float(created),
            float(updated),
            _opt_float(expires),
            int(count),
            int(size),
            int(version),
            read_only_labels(labels),
        )

    @staticmethod
    def _raise_missing(session_id: str, reply: list[Any]) -> None:
        status = _text(reply[0])
        if status == "missing":
            raise SessionNotFound(session_id)
        if status == "expired":
            raise SessionExpired(session_id, float(_text(reply[1])))

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
        self._check()
        checked = check_save(session_id, conversation, ttl, expected_version, labels, self._limits)
        args = [
            *self._common(session_id),
            *self._ttl_args(checked.ttl),
            "" if expected_version is None else str(expected_version),
            *self._limit_args(),
            "" if checked.labels is None else encode_labels(checked.labels),
            *(encode_message(message) for message in checked.messages),
        ]
        with self._backend():
            reply = await self._save(keys=self._keys(session_id), args=args)
        return self._written(session_id, reply, expected_version)

    async def append(
        self,
        session_id: str,
        *messages: Message,
        ttl: TTLArg = DEFAULT,
        expected_version: int | None = None,
    ) -> SessionMetadata:
        self._check()
        checked = check_append(session_id, messages, ttl, expected_version, self._limits)
        args = [
            *self._common(session_id),
            *self._ttl_args(checked.ttl),
            "" if expected_version is None else str(expected_version),
            *self._limit_args(),
            *(encode_message(message) for message in checked.messages),
        ]
        with self._backend():
            reply = await self._append(keys=self._keys(session_id), args=args)
        return self._written(session_id, reply, expected_version)

    async def pop(self, session_id: str) -> Message | None:
        self._check()
        check_session_id(session_id)
        with self._backend():
            reply = await self._pop(keys=self._keys(session_id), args=self._common(session_id))
        self._raise_missing(session_id, reply)
        if _text(reply[0]) == "empty":
            return None
        return decode_message(_text(reply[1]))

    async def touch(self, session_id: str, *, ttl: TTLArg = DEFAULT) -> SessionMetadata:
        self._check()
        check_session_id(session_id)
        ttl_arg = resolve_ttl_arg(ttl)
        args = [*self._common(session_id), *self._ttl_args(ttl_arg)]
        keys = self._keys(session_id)
        with self._backend():
            reply = await self._touch(keys=keys, args=args)
            self._raise_missing(session_id, reply)
            fields = await self._client.hmget(keys[0], _META_FIELDS)
        meta = self._meta(session_id, fields)
        if meta is None:  # deleted in between: it was touched, then removed
            raise SessionNotFound(session_id)
        return meta

    async def delete(self, session_id: str) -> bool:
        self._check()
        check_session_id(session_id)
        with self._backend():
            removed = await self._delete(
                keys=self._keys(session_id), args=[*self._common(session_id), "0"]
            )
        return int(removed) == 1

    async def purge_expired(self) -> int:
        self._check()
        removed = 0
        with self._backend():
            while True:
                ids = await self._client.zrangebyscore(
                    self._expiry, "-inf", _num(self._clock()), start=0, num=_PAGE
                )
                if not ids:
                    return removed
                for raw in ids:
                    session_id = _text(raw)
                    outcome = await self._delete(
                        keys=self._keys(session_id), args=[*self._common(session_id), "1"]
                    )
                    removed += int(outcome) == 2
                if len(ids) < _PAGE:
                    return removed

    async def clear(self) -> int:
        self._check()
        live = 0
        async for _session_id in self.iter_sessions():
            live += 1
        pattern = _glob_escape(self._prefix) + "*"
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
        self._check()
        check_session_id(session_id)
        check_last(last)
        args = [
            *self._common(session_id),
            "" if last is None else str(last),
            "1" if self._sliding else "0",
        ]
        with self._backend():
            reply = await self._load(keys=self._keys(session_id), args=args)
        self._raise_missing(session_id, reply)
        messages = [decode_message(_text(body)) for body in reply[2:]]
        return Conversation._adopt(messages, int(_text(reply[1])) if last is None else -1)

    async def get_metadata(self, session_id: str) -> SessionMetadata:
        self._check()
        check_session_id(session_id)
        with self._backend():
            fields = await self._client.hmget(self._keys(session_id)[0], _META_FIELDS)
        meta = self._meta(session_id, fields)
        if meta is None:
            raise SessionNotFound(session_id)
        if meta.is_expired(self._clock()):
            raise SessionExpired(session_id, meta.expires_at)  # type: ignore[arg-type]
        return meta

    async def exists(self, session_id: str) -> bool:
        self._check()
        check_session_id(session_id)
        with self._backend():
            expires = await self._client.hget(self._keys(session_id)[0], "expires")
        if expires is None:
            return False
        at = _opt_float(expires)
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
            at = _opt_float(expires)
            if at is None or at > now:
                live.append(session_id)
        if gone:  # Redis expired them on its own: drop their index entries too
            await self._client.zrem(self._ids, *gone)
            await self._client.zrem(self._updated, *gone)
            await self._client.zrem(self._expiry, *gone)
        return live

    async def iter_sessions(self, *, prefix: str | None = None) -> AsyncIterator[str]:
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
        self._check()
        check_prefix(prefix)
        check_limit(limit)
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
        self._check()
        query = FindQuery(labels, updated_after, updated_before, limit, cursor)
        with self._backend():
            if query.labels:
                # The label sets narrow the candidates; their metadata orders them.
                keys = [self._label_key(k, v) for k, v in query.labels.items()]
                candidates = [_text(item) for item in await self._client.sinter(keys)]
                metas = await self._metas(candidates)
                found = [meta for meta in metas if query.matches(meta)]
            else:
                found = await self._scan_updated(query)
        found.sort(key=lambda meta: (-meta.updated_at, meta.session_id))
        items = found[: query.limit]
        more = len(found) > query.limit
        next_cursor = encode_cursor(items[-1].updated_at, items[-1].session_id) if more else None
        return Page(items, next_cursor)

    async def _metas(self, ids: list[str]) -> list[SessionMetadata]:
        """Live sessions' metadata, one pipelined round trip."""
        if not ids:
            return []
        async with self._client.pipeline(transaction=False) as pipe:
            for session_id in ids:
                pipe.hmget(self._keys(session_id)[0], _META_FIELDS)
            rows = await pipe.execute()
        now = self._clock()
        metas = []
        for session_id, fields in zip(ids, rows, strict=True):
            meta = self._meta(session_id, fields)
            if meta is not None and not meta.is_expired(now):
                metas.append(meta)
        return metas

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
            metas = await self._metas([_text(member) for member, _score in rows])
            found += [meta for meta in metas if query.matches(meta)]
            if len(rows) < batch:
                return found
            last_score = float(rows[-1][1])
            if len(found) > query.limit:
                found.sort(key=lambda meta: (-meta.updated_at, meta.session_id))
                if found[query.limit].updated_at > last_score:
                    return found  # no later row can tie with the page's last item

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._owns_client:
            with self._backend():
                await self._client.aclose()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} prefix={self._prefix!r}>"
