"""``AsyncLayeredStore``: fast layers over an authoritative one (cache over durable)."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

from .._backends.layering import Coherence, LayerCounters
from .._concurrency import AsyncResult
from .._errors import BackendError, SessionNotFound, VersionConflict
from .._fastpaths import new_conversation
from .._metadata import LayerStats, Page, SessionMetadata
from .._model import Conversation, Message, stamp
from .._paging import FindQuery
from .._validation import Clock, Default, WriteArgs, check_clock
from .base import AsyncSessionStore

__all__ = ["AsyncLayeredStore"]

logger = logging.getLogger("agent_session.layered")

T = TypeVar("T")


class AsyncLayeredStore(AsyncSessionStore):
    """Layers fastest first; the last one is authoritative.

    Writes go to the authoritative layer first and fail only if it fails; then
    the faster layers get the same change, and a failure there is counted,
    logged, and that layer's copy dropped so it is never served stale. Reads try
    the layers in order; a miss, an expired copy or a failing layer falls
    through, and a hit below the first layer is written back above it (not for
    ``load(last=N)``: a part cannot stand for the whole). ``exists``,
    ``get_metadata`` and the listings answer from the authoritative layer, or
    from the nearest faster layer while it fails.

    Copies stay coherent for writes made through this store object: however slow
    a copy is to land, none older than a write that returned is ever served.
    Writes that other processes make to a shared authoritative layer are seen once
    the faster copy expires, so give the faster layers a TTL.

    Closing the layered store closes its layers.

    :param layers: the stores, fastest first
    :param sliding: True: every ``load`` restarts the session's TTL in every layer
        (a ``touch`` through this store, so one write to the authority per load)
    :param clock: a zero-argument callable returning epoch seconds (the layers'
        clock, for the TTL of copies)
    """

    name = "layered"

    def __init__(
        self, *layers: AsyncSessionStore, sliding: bool = False, clock: Clock = time.time
    ) -> None:
        for layer in layers:
            if not isinstance(layer, AsyncSessionStore):
                raise TypeError(f"a layer must be a {AsyncSessionStore.__name__}, not {layer!r}")
        self._layers = layers
        if not isinstance(sliding, bool):
            raise TypeError(f"sliding must be a bool, not {sliding!r}")
        self._sliding = sliding
        self._clock = check_clock(clock)
        self._counters = tuple(LayerCounters(layer.name) for layer in layers)
        # Ids whose copy in layer i could not be dropped: skipped until rewritten there.
        self._suspect: tuple[set[str], ...] = tuple(set() for _ in layers)
        self._uncleared = [False] * len(layers)  # a failed clear: skip the layer entirely
        self._coherence = Coherence()
        self._dirty = self._coherence.dirty_ids  # the same set, read on the hot path

    def with_layer(self, store: AsyncSessionStore) -> AsyncLayeredStore:
        """A new layered store with ``store`` added below the current layers."""
        return type(self)(*self._layers, store, sliding=self._sliding, clock=self._clock)

    @property
    def layers(self) -> tuple[AsyncSessionStore, ...]:
        """The layers, fastest first."""
        return self._layers

    def stats(self) -> list[LayerStats]:
        """Per layer, fastest first: hits, misses, write-backs and failures so far."""
        return [counters.snapshot() for counters in self._counters]

    # -- plumbing ----------------------------------------------------------------

    def _authority(self) -> AsyncSessionStore:
        if not self._layers:
            raise ValueError("this LayeredStore has no layers: add them with with_layer()")
        return self._layers[-1]

    def _skipped(self, index: int, session_id: str) -> bool:
        """True if layer ``index``'s copy of the session must not be read now."""
        return (
            self._uncleared[index]
            or session_id in self._suspect[index]
            or session_id in self._dirty
        )

    def _failed(self, index: int, action: str, session_id: str | None, exc: BaseException) -> None:
        next(self._counters[index].failures)
        logger.warning(
            "layer %d (%s) failed to %s session %r: %r",
            index,
            self._layers[index].name,
            action,
            session_id,
            exc,
        )

    def _remaining(self, meta: SessionMetadata) -> float | None:
        """The TTL that makes a copy expire with the original (0.0: already expired)."""
        if meta.expires_at is None:
            return None
        return max(meta.expires_at - self._clock(), 0.0)

    async def _invalidate(self, index: int, session_id: str) -> None:
        """Drop layer ``index``'s copy; if even that fails, never read it there again."""
        try:
            await self._layers[index].delete(session_id)
        except Exception as exc:
            self._failed(index, "invalidate", session_id, exc)
            self._suspect[index].add(session_id)
        else:
            self._suspect[index].discard(session_id)

    async def _end(self, session_id: str, *, write: bool, spoiled: bool = False) -> None:
        """Close an operation; the last of overlapping ones drops the faster copies."""
        if not self._coherence.end(session_id, write=write, spoiled=spoiled):
            return
        try:
            for index in range(len(self._layers) - 1):
                await self._invalidate(index, session_id)
        except BaseException:
            # Interrupted while dropping them (a cancelled task): distrust every copy until
            # rewritten.
            for suspect in self._suspect[:-1]:
                suspect.add(session_id)
            raise
        finally:
            self._coherence.settle(session_id)

    async def _copy(
        self,
        index: int,
        session_id: str,
        action: str,
        copy: Callable[[AsyncSessionStore], AsyncResult[object]],
        original: SessionMetadata | None = None,
    ) -> bool:
        """Apply ``copy`` to one faster layer; on failure drop that layer's copy.

        Copies keep their layer's own TTL (``ttl=DEFAULT``) but never outlive
        ``original``: a copy that would is touched down to the original's expiry.
        """
        layer = self._layers[index]
        try:
            result = await copy(layer)
            if (
                original is not None
                and original.expires_at is not None
                and isinstance(result, SessionMetadata)
                and (result.expires_at is None or result.expires_at > original.expires_at)
            ):
                remaining = self._remaining(original)
                if remaining == 0.0:
                    raise VersionConflict(session_id, 0, 0)  # expired meanwhile: drop it
                await layer.touch(session_id, ttl=remaining)
        except SessionNotFound:
            return False  # nothing cached there: nothing to keep in step
        except VersionConflict:
            await self._invalidate(index, session_id)  # the copy moved meanwhile
            return False
        except Exception as exc:
            self._failed(index, action, session_id, exc)
            await self._invalidate(index, session_id)
            return False
        self._suspect[index].discard(session_id)
        return True

    async def _write(
        self,
        session_id: str,
        write: Callable[[AsyncSessionStore], AsyncResult[T]],
        mirror: Callable[[int, T], AsyncResult[None]],
    ) -> T:
        """The write protocol: authority first, then the faster layers, coherently."""
        authority = self._authority()
        coherence = self._coherence
        coherence.begin_write(session_id)
        known = False  # False: what the copies hold is unknown (the finally drops them)
        try:
            try:
                result = await write(authority)
            except BackendError:
                next(self._counters[-1].failures)
                raise  # the outcome is unknown
            except Exception:
                known = True  # refused before anything was written (conflict, limits...)
                raise
            if session_id not in self._dirty:  # dirty: the copies are dropped at the end
                for index in range(len(self._layers) - 1):
                    await mirror(index, result)
            known = True
        finally:
            await self._end(session_id, write=True, spoiled=not known)
        return result

    async def _answer(
        self,
        ask: Callable[[AsyncSessionStore], AsyncResult[T]],
        conclusive: Callable[[T], bool] = lambda _answer: True,
    ) -> T:
        """Ask the authority; while it fails, the nearest faster layer that knows.

        A faster layer's "not found" (or a ``conclusive(answer)`` that is False) is
        no answer: it may simply not hold a copy. Then the failure is raised.
        """
        authority = self._authority()
        try:
            return await ask(authority)
        except BackendError as failure:
            next(self._counters[-1].failures)
            for index in range(len(self._layers) - 2, -1, -1):
                if self._uncleared[index]:
                    continue
                try:
                    answer = await ask(self._layers[index])
                except SessionNotFound:
                    continue
                except Exception as exc:
                    self._failed(index, "answer for", None, exc)
                    continue
                if conclusive(answer):
                    return answer
            raise failure

    # -- writes ------------------------------------------------------------------

    async def _save(self, session_id: str, args: WriteArgs) -> SessionMetadata:
        # One snapshot for every layer, stamped here so that every layer keeps the
        # same message ids and times; known to be stamped and sized, so that no layer
        # stamps or sums it again.
        messages = stamp(args.messages, self._clock(), args.stamped)
        conversation = new_conversation(messages, (len(messages), args.size))

        async def write(store: AsyncSessionStore) -> SessionMetadata:
            return await store.save(
                session_id,
                conversation,
                ttl=args.ttl,
                expected_version=args.expected_version,
                labels=args.labels,
            )

        async def mirror(index: int, meta: SessionMetadata) -> None:
            remaining = self._remaining(meta)
            if remaining == 0.0:
                await self._invalidate(index, session_id)
                return

            async def copy(layer: AsyncSessionStore) -> object:
                return await layer.save(session_id, conversation, labels=meta.labels)

            await self._copy(index, session_id, "save", copy, meta)

        return await self._write(session_id, write, mirror)

    async def _append(self, session_id: str, args: WriteArgs) -> SessionMetadata:
        messages = stamp(args.messages, self._clock())  # the same ids in every layer

        async def write(store: AsyncSessionStore) -> SessionMetadata:
            return await store.append(
                session_id, *messages, ttl=args.ttl, expected_version=args.expected_version
            )

        async def mirror(index: int, meta: SessionMetadata) -> None:
            if session_id in self._suspect[index]:
                await self._invalidate(index, session_id)  # never extend a doubtful copy
                return

            async def copy(layer: AsyncSessionStore) -> object:
                # Extend the copy only if it held exactly what the authority held before.
                held = await layer.get_metadata(session_id)
                if held.message_count + len(messages) != meta.message_count:
                    raise VersionConflict(session_id, held.version, held.version)
                return await layer.append(session_id, *messages, expected_version=held.version)

            await self._copy(index, session_id, "append", copy, meta)

        return await self._write(session_id, write, mirror)

    async def _pop(self, session_id: str, expected_version: int | None) -> Message | None:
        async def write(store: AsyncSessionStore) -> Message | None:
            return await store.pop(session_id, expected_version=expected_version)

        async def mirror(index: int, message: Message | None) -> None:
            if message is None:
                return  # nothing changed
            if session_id in self._suspect[index]:
                await self._invalidate(index, session_id)
                return

            async def copy(layer: AsyncSessionStore) -> object:
                if await layer.pop(session_id) != message:
                    raise VersionConflict(session_id, 0, 0)  # the copy differed: drop it
                return None

            await self._copy(index, session_id, "pop", copy)

        return await self._write(session_id, write, mirror)

    async def _touch(self, session_id: str, ttl: float | None | Default) -> SessionMetadata:
        async def write(store: AsyncSessionStore) -> SessionMetadata:
            return await store.touch(session_id, ttl=ttl)

        async def mirror(index: int, meta: SessionMetadata) -> None:
            remaining = self._remaining(meta)
            if remaining == 0.0 or session_id in self._suspect[index]:
                await self._invalidate(index, session_id)
                return

            async def copy(layer: AsyncSessionStore) -> object:
                return await layer.touch(session_id)

            await self._copy(index, session_id, "touch", copy, meta)

        return await self._write(session_id, write, mirror)

    async def _delete(self, session_id: str) -> bool:
        async def write(store: AsyncSessionStore) -> bool:
            return await store.delete(session_id)

        async def mirror(index: int, _deleted: bool) -> None:
            await self._invalidate(index, session_id)

        return await self._write(session_id, write, mirror)

    async def _clear(self) -> int:
        authority = self._authority()
        self._coherence.begin_clear()
        try:
            try:
                removed = await authority.clear()
            except BackendError:
                next(self._counters[-1].failures)
                await self._clear_faster()  # the outcome is unknown: drop the copies
                raise
            await self._clear_faster()
        finally:
            self._coherence.end_clear()
        return removed

    async def _clear_faster(self) -> None:
        for index, layer in enumerate(self._layers[:-1]):
            try:
                await layer.clear()
            except Exception as exc:
                self._failed(index, "clear", None, exc)
                self._uncleared[index] = True
            else:
                self._uncleared[index] = False
                self._suspect[index].clear()

    async def _purge_expired(self) -> int:
        removed = await self._authority().purge_expired()
        for index, layer in enumerate(self._layers[:-1]):
            try:
                await layer.purge_expired()
            except Exception as exc:
                self._failed(index, "purge", None, exc)
        return removed

    # -- reads -------------------------------------------------------------------

    async def _load(self, session_id: str, last: int | None) -> Conversation:
        layers = self._layers
        if len(layers) < 2:  # no copies to keep
            self._authority()  # no layers at all: a clear error
            conversation = await self._load_from(0, session_id, last, write_back=False)
        elif self._uncleared[0] or session_id in self._suspect[0] or session_id in self._dirty:
            next(self._counters[0].misses)  # (this is _skipped(0), inlined: the hot path)
            conversation = await self._fall_through(session_id, last)
        else:
            # The hot path: a hit in the first layer costs one call and one count.
            try:
                conversation = await layers[0].load(session_id, last=last)
            except SessionNotFound:
                next(self._counters[0].misses)
                conversation = await self._fall_through(session_id, last)
            except Exception as exc:
                self._failed(0, "load", session_id, exc)
                conversation = await self._fall_through(session_id, last)
            else:
                next(self._counters[0].hits)
        if self._sliding:
            await self._slide(session_id)  # after the read ended: it must not spoil its copy
        return conversation

    async def _load_with_metadata(
        self, session_id: str, last: int | None
    ) -> tuple[Conversation, SessionMetadata]:
        # From the authority alone: a copy's messages beside the authority's version would
        # let a rewrite with that version drop a write the copy never saw (another
        # process's, say). No degradation here: a version is only worth the authority's.
        conversation, meta = await self._authority().load_with_metadata(session_id, last=last)
        if self._sliding and meta.expires_at is not None:
            # The layers do not slide themselves (this store does, as its load does).
            try:
                touched = await self.touch(session_id)
            except (BackendError, SessionNotFound) as exc:
                logger.warning("could not restart the TTL of session %r: %r", session_id, exc)
            else:
                if touched.version == meta.version and touched.created_at == meta.created_at:
                    meta = meta._replace(expires_at=touched.expires_at)  # still one moment
        return conversation, meta

    async def _fall_through(self, session_id: str, last: int | None) -> Conversation:
        """Read below the first layer; a whole hit is written back if no write interferes."""
        if last is not None or not self._coherence.begin_read(session_id):
            # A part cannot stand for the whole; a write in flight may be replacing it.
            return await self._load_from(1, session_id, last, write_back=False)
        try:
            return await self._load_from(1, session_id, None, write_back=True)
        finally:
            await self._end(session_id, write=False)

    async def _load_from(
        self, start: int, session_id: str, last: int | None, *, write_back: bool
    ) -> Conversation:
        """Read through the layers from ``start`` down; maybe write a hit back above it."""
        top = len(self._layers) - 1
        for index in range(start, top + 1):
            layer, counters = self._layers[index], self._counters[index]
            if index < top and self._skipped(index, session_id):
                next(counters.misses)
                continue
            try:
                conversation = await layer.load(session_id, last=last)
            except SessionNotFound:
                next(counters.misses)
                if index == top:
                    raise
                continue
            except Exception as exc:
                if index == top:
                    next(counters.failures)
                    raise
                self._failed(index, "load", session_id, exc)
                continue
            next(counters.hits)
            if write_back and index > 0:
                await self._write_back(index, session_id, conversation)
            return conversation
        raise AssertionError("unreachable: the authority answers or raises")

    async def _slide(self, session_id: str) -> None:
        """Restart the TTL everywhere after a load; a failure must not fail the read."""
        try:
            await self.touch(session_id)
        except (BackendError, SessionNotFound) as exc:
            logger.warning("could not restart the TTL of session %r: %r", session_id, exc)

    async def _write_back(self, found: int, session_id: str, conversation: Conversation) -> None:
        """Copy what layer ``found`` held into every layer above it."""
        try:
            meta = await self._layers[found].get_metadata(session_id)
        except Exception as exc:
            self._failed(found, "read metadata of", session_id, exc)
            return
        remaining = self._remaining(meta)
        if remaining == 0.0:
            return

        async def copy(layer: AsyncSessionStore) -> object:
            return await layer.save(session_id, conversation, labels=meta.labels)

        for index in range(found):
            if session_id in self._dirty:
                return  # a write overtook this read: its copies are dropped anyway
            if await self._copy(index, session_id, "write back", copy, meta):
                next(self._counters[index].write_backs)

    async def _get_metadata(self, session_id: str) -> SessionMetadata:
        async def ask(store: AsyncSessionStore) -> SessionMetadata:
            return await store.get_metadata(session_id)

        return await self._answer(ask)

    async def _exists(self, session_id: str) -> bool:
        async def ask(store: AsyncSessionStore) -> bool:
            return await store.exists(session_id)

        return await self._answer(ask, conclusive=bool)

    async def _list_sessions(self, prefix: str | None, limit: int | None) -> list[str]:
        async def ask(store: AsyncSessionStore) -> list[str]:
            return await store.list_sessions(prefix=prefix, limit=limit)

        return await self._answer(ask)

    async def _iter_sessions(self, prefix: str | None) -> AsyncIterator[str]:
        authority = self._authority()
        started = False
        try:
            async for session_id in authority.iter_sessions(prefix=prefix):
                started = True
                yield session_id
            return
        except BackendError:
            if started:
                raise  # half a listing from one layer and half from another would mislead
            next(self._counters[-1].failures)
            fallback = [i for i in range(len(self._layers) - 1) if not self._uncleared[i]]
            if not fallback:
                raise
        async for session_id in self._layers[fallback[-1]].iter_sessions(prefix=prefix):
            yield session_id

    async def _find_sessions(self, query: FindQuery) -> Page:
        async def ask(store: AsyncSessionStore) -> Page:
            return await store.find_sessions(
                labels=query.labels,
                updated_after=query.updated_after,
                updated_before=query.updated_before,
                limit=query.limit,
                cursor=query.cursor,
            )

        return await self._answer(ask)

    async def _aclose(self) -> None:
        failure: Exception | None = None
        for layer in self._layers:  # every layer, even after one failed to close
            try:
                await layer.aclose()
            except Exception as exc:
                failure = failure or exc
        if failure is not None:
            raise failure
