"""Concurrent tasks (threads, in the sync half) on one session."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from ..._concurrency import AsyncNursery, asleep
from ..._errors import VersionConflict
from ..._model import Conversation
from ..._serialization import message_size
from ..base import AsyncSessionStore
from ._support import ContractBase, _texts, _user


class ConcurrencyContract(ContractBase):
    """Concurrent callers: no append lost, one winner per version, each message popped once."""

    @pytest.fixture
    def switch_often(self) -> Iterator[None]:
        """Make threads switch every microsecond meanwhile, so that races show up.

        With CPython's default of 5 ms, a thread rarely loses the GIL inside a short
        critical section, and a store missing a lock would pass the concurrency tests.
        """
        interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)
        try:
            yield
        finally:
            sys.setswitchinterval(interval)

    @pytest.mark.usefixtures("switch_often")
    async def test_concurrent_appends_lose_nothing(self, store: AsyncSessionStore) -> None:
        workers, per_worker = 8, 25

        async def worker(number: int) -> None:
            for i in range(per_worker):
                await store.append("shared", _user(f"{number}:{i}"))
                await asleep(0)  # let the others in between
                await store.append(f"own-{number}", _user(str(i)))

        async with AsyncNursery() as nursery:
            for number in range(workers):
                nursery.start_soon(worker, number)
        messages = await store.load("shared")
        assert len(messages) == workers * per_worker
        meta = await store.get_metadata("shared")
        assert meta.message_count == workers * per_worker
        assert meta.version == workers * per_worker
        assert meta.size_bytes == sum(message_size(m) for m in messages)
        for number in range(workers):
            mine = [m.text for m in messages if m.text.startswith(f"{number}:")]
            assert mine == [f"{number}:{i}" for i in range(per_worker)]
            own = await store.load(f"own-{number}")
            assert _texts(own) == [str(i) for i in range(per_worker)]
            assert (await store.get_metadata(f"own-{number}")).version == per_worker

    @pytest.mark.usefixtures("switch_often")
    async def test_concurrent_versioned_saves_one_wins(self, store: AsyncSessionStore) -> None:
        await store.save("s1", Conversation().add_user("base"))
        outcomes: list[str] = []

        async def contender(number: int) -> None:
            try:
                await store.save(
                    "s1", Conversation().add_user(f"winner {number}"), expected_version=1
                )
                outcomes.append(f"winner {number}")
            except VersionConflict as conflict:
                assert conflict.expected == 1 and conflict.actual >= 2
                outcomes.append("lost")

        async with AsyncNursery() as nursery:
            for number in range(8):
                nursery.start_soon(contender, number)
        winners = [outcome for outcome in outcomes if outcome != "lost"]
        assert len(outcomes) == 8 and len(winners) == 1
        assert (await store.get_metadata("s1")).version == 2
        assert _texts(await store.load("s1")) == winners

    @pytest.mark.usefixtures("switch_often")
    async def test_concurrent_creations_one_wins(self, store: AsyncSessionStore) -> None:
        outcomes: list[str] = []

        async def contender(number: int) -> None:
            try:
                if number % 2:
                    await store.append("new", _user(f"winner {number}"), expected_version=0)
                else:
                    await store.save(
                        "new", Conversation().add_user(f"winner {number}"), expected_version=0
                    )
                outcomes.append(f"winner {number}")
            except VersionConflict as conflict:
                assert (conflict.expected, conflict.actual) == (0, 1)
                outcomes.append("lost")

        async with AsyncNursery() as nursery:
            for number in range(8):
                nursery.start_soon(contender, number)
        winners = [outcome for outcome in outcomes if outcome != "lost"]
        assert len(outcomes) == 8 and len(winners) == 1
        assert (await store.get_metadata("new")).version == 1
        assert _texts(await store.load("new")) == winners

    @pytest.mark.usefixtures("switch_often")
    async def test_concurrent_pops_take_each_message_once(self, store: AsyncSessionStore) -> None:
        total = 40
        await store.save("s1", Conversation([_user(str(i)) for i in range(total)]))
        popped: list[str | None] = []

        async def popper() -> None:
            while True:
                message = await store.pop("s1")
                if message is None:
                    return
                popped.append(message.text)
                await asleep(0)

        async with AsyncNursery() as nursery:
            for _ in range(8):
                nursery.start_soon(popper)
        assert sorted(popped, key=lambda text: int(text or "")) == [str(i) for i in range(total)]
        meta = await store.get_metadata("s1")
        assert meta.message_count == 0 and meta.size_bytes == 0
        assert meta.version == 1 + total

    @pytest.mark.usefixtures("switch_often")
    async def test_concurrent_optimistic_appends_with_retry(self, store: AsyncSessionStore) -> None:
        await store.save("counter", Conversation())

        async def worker(number: int) -> None:
            for i in range(10):
                while True:
                    version = (await store.get_metadata("counter")).version
                    await asleep(0)  # widen the window between read and write
                    try:
                        await store.append(
                            "counter", _user(f"{number}:{i}"), expected_version=version
                        )
                        break
                    except VersionConflict:
                        continue

        async with AsyncNursery() as nursery:
            for number in range(4):
                nursery.start_soon(worker, number)
        meta = await store.get_metadata("counter")
        assert meta.message_count == 40 and meta.version == 41
        assert len(set(_texts(await store.load("counter")))) == 40
