"""list_sessions, iter_sessions and find_sessions, with their paging."""

from __future__ import annotations

import pytest

from ..._fakeclock import FakeClock
from ..._model import Conversation
from ..base import AsyncSessionStore
from ._support import ContractBase, _user


class ListingContract(ContractBase):
    """How sessions are listed and found: order, prefixes, labels, time windows, pages."""

    # -- list_sessions, iter_sessions ----------------------------------------------------

    async def test_list_sessions(self, store: AsyncSessionStore) -> None:
        for session_id in ["b", "a:2", "c", "a:1"]:
            await store.save(session_id, Conversation())
        assert await store.list_sessions() == ["a:1", "a:2", "b", "c"]
        assert await store.list_sessions(prefix="a:") == ["a:1", "a:2"]
        assert await store.list_sessions(prefix="a:", limit=1) == ["a:1"]
        assert await store.list_sessions(limit=3) == ["a:1", "a:2", "b"]
        assert await store.list_sessions(limit=1) == ["a:1"]
        assert await store.list_sessions(limit=100) == ["a:1", "a:2", "b", "c"]
        assert await store.list_sessions(prefix="zz") == []
        assert await store.list_sessions(prefix="") == ["a:1", "a:2", "b", "c"]
        assert await store.list_sessions(prefix="c") == ["c"]

    async def test_listing_order_is_code_point_order(self, store: AsyncSessionStore) -> None:
        # Not a locale's collation: "B" < "a" < "b" < "é" < "\uff01" < "😀", "a%" and "a_"
        # as plain characters (no LIKE wildcards).
        ids = ["😀", "b", "é", "a", "B", "\uff01", "a_1", "a%1", "ab", "a b"]
        for session_id in ids:
            await store.save(session_id, Conversation())
        assert await store.list_sessions() == sorted(ids)
        assert [s async for s in store.iter_sessions()] == sorted(ids)
        assert await store.list_sessions(prefix="a_") == ["a_1"]
        assert await store.list_sessions(prefix="a%") == ["a%1"]
        assert [s async for s in store.iter_sessions(prefix="a_")] == ["a_1"]
        assert await store.list_sessions(prefix="é") == ["é"]

    async def test_a_prefix_no_id_can_start_with_finds_nothing(
        self, store: AsyncSessionStore
    ) -> None:
        # Issue 7, defect 11: PostgreSQL raised BackendError on a NUL.
        await store.save("s1", Conversation([_user("a")]))
        for prefix in ("\x00", "s\x00", "\n"):
            assert await store.list_sessions(prefix=prefix) == []
            assert [sid async for sid in store.iter_sessions(prefix=prefix)] == []

    async def test_iter_sessions(self, clock: FakeClock) -> None:
        # More than two pages of any durable store's paging, with expired sessions at the
        # edges of pages, so a store that pages wrong drops or repeats ids.
        async with await self.fresh_store(clock=clock) as store:
            ids = [f"user-{i:04d}" for i in range(1010)]
            expiring = {ids[0], ids[499], ids[500], ids[501], ids[999], ids[1000], ids[-1]}
            for session_id in ids:
                await store.append(
                    session_id, _user("x"), ttl=5 if session_id in expiring else None
                )
            await store.append("other", _user("x"))
            clock.advance(10)
            seen = [session_id async for session_id in store.iter_sessions()]
            live = sorted(set(ids) - expiring | {"other"})
            assert seen == live
            prefixed = [session_id async for session_id in store.iter_sessions(prefix="user-09")]
            assert prefixed == [f"user-{i:04d}" for i in range(900, 1000) if i != 999]
            assert [s async for s in store.iter_sessions(prefix="zz")] == []
            assert await store.list_sessions() == live

    async def test_iter_sessions_while_writing(self, store: AsyncSessionStore) -> None:
        for i in range(30):
            await store.save(f"s{i:02d}", Conversation())
        seen: list[str] = []
        async for session_id in store.iter_sessions():
            seen.append(session_id)
            if session_id == "s05":
                await store.delete("s20")  # not yet reached: may or may not be seen
                await store.save("s05-new", Conversation())
                await store.append("s01", _user("x"))
        assert seen == sorted(set(seen))  # sorted, no id twice
        assert set(seen) >= {f"s{i:02d}" for i in range(30)} - {"s20"}

    async def test_listings_skip_expired(self, clock: FakeClock) -> None:
        async with await self.fresh_store(clock=clock) as store:
            await store.save("short", Conversation(), ttl=5)
            await store.save("long", Conversation(), ttl=50)
            await store.save("forever", Conversation())
            clock.advance(10)
            assert await store.list_sessions() == ["forever", "long"]
            assert await store.list_sessions(prefix="s") == []
            assert await store.list_sessions(limit=1) == ["forever"]
            assert [s async for s in store.iter_sessions()] == ["forever", "long"]
            page = await store.find_sessions()
            assert sorted(m.session_id for m in page.items) == ["forever", "long"]
            assert not await store.exists("short")

    # -- find_sessions -------------------------------------------------------------------

    async def test_find_sessions(self, store: AsyncSessionStore, clock: FakeClock) -> None:
        start = clock()
        for i in range(7):
            clock.advance(1)
            labels = {"user": "u1" if i % 2 == 0 else "u2", "app": "x"}
            await store.save(f"s{i}", Conversation(), labels=labels)
        clock.advance(1)
        await store.save("unlabelled", Conversation())
        page = await store.find_sessions()
        assert [m.session_id for m in page.items][1:] == [f"s{i}" for i in range(6, -1, -1)]
        assert page.next_cursor is None
        for item in page.items:
            assert item == await store.get_metadata(item.session_id)
        u1 = await store.find_sessions(labels={"user": "u1", "app": "x"})
        assert [m.session_id for m in u1.items] == ["s6", "s4", "s2", "s0"]
        assert [m.session_id for m in (await store.find_sessions(labels={"user": "u2"})).items] == [
            "s5",
            "s3",
            "s1",
        ]
        assert (await store.find_sessions(labels={"user": "u1", "app": "y"})).items == []
        assert (await store.find_sessions(labels={"nobody": "x"})).items == []
        assert len((await store.find_sessions(labels={})).items) == 8
        window = await store.find_sessions(updated_after=start + 2, updated_before=start + 5)
        assert [m.session_id for m in window.items] == ["s3", "s2"]  # both bounds exclusive
        after = await store.find_sessions(updated_after=start + 6)
        assert [m.session_id for m in after.items] == ["unlabelled", "s6"]
        before = await store.find_sessions(updated_before=start + 2, labels={"app": "x"})
        assert [m.session_id for m in before.items] == ["s0"]

    async def test_find_sessions_follows_writes(
        self, store: AsyncSessionStore, clock: FakeClock
    ) -> None:
        await store.save("a", Conversation(), labels={"k": "v"})
        clock.advance(1)
        await store.save("b", Conversation(), labels={"k": "v"})
        clock.advance(1)
        await store.append("a", _user("x"))  # moves to the front, keeps its labels
        page = await store.find_sessions(labels={"k": "v"})
        assert [m.session_id for m in page.items] == ["a", "b"]
        assert page.items[0].message_count == 1 and page.items[0].version == 2
        clock.advance(1)
        await store.save("b", Conversation(), labels={"k": "other"})
        assert [m.session_id for m in (await store.find_sessions(labels={"k": "v"})).items] == ["a"]
        await store.touch("a", ttl=100)  # not a write: the order stays
        assert [m.session_id for m in (await store.find_sessions()).items] == ["b", "a"]
        await store.delete("a")
        assert (await store.find_sessions(labels={"k": "v"})).items == []

    async def test_find_sessions_ties_by_id(
        self, store: AsyncSessionStore, clock: FakeClock
    ) -> None:
        for session_id in ["c", "a", "e", "b", "d"]:
            await store.save(session_id, Conversation())
        clock.advance(1)
        await store.save("newest", Conversation())
        page = await store.find_sessions()
        assert [m.session_id for m in page.items] == ["newest", "a", "b", "c", "d", "e"]
        seen: list[str] = []
        cursor = None
        while True:
            page = await store.find_sessions(limit=2, cursor=cursor)
            assert len(page.items) <= 2
            seen += [m.session_id for m in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == ["newest", "a", "b", "c", "d", "e"]

    async def test_find_sessions_pages(self, store: AsyncSessionStore, clock: FakeClock) -> None:
        for i in range(10):
            if i % 3 == 0:
                clock.advance(1)  # several sessions share an updated_at
            await store.save(f"s{i}", Conversation(), labels={"k": "v"})
        await store.save("other", Conversation(), labels={"k": "w"})
        everything = [m.session_id for m in (await store.find_sessions(labels={"k": "v"})).items]
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            page = await store.find_sessions(labels={"k": "v"}, limit=3, cursor=cursor)
            assert len(page.items) <= 3
            seen += [m.session_id for m in page.items]
            pages += 1
            cursor = page.next_cursor
            if cursor is None:
                break
            assert isinstance(cursor, str)
        assert seen == everything  # the same order, each exactly once
        assert sorted(seen) == [f"s{i}" for i in range(10)]
        assert pages == 4
        first = await store.find_sessions(limit=1)
        assert first.next_cursor is not None and len(first.items) == 1
        with pytest.raises(ValueError):
            await store.find_sessions(cursor="not a cursor")
        with pytest.raises(ValueError):
            await store.find_sessions(cursor="")
        with pytest.raises((TypeError, ValueError)):
            await store.find_sessions(cursor=5)  # type: ignore[arg-type]

    async def test_find_sessions_pages_while_writing(
        self, store: AsyncSessionStore, clock: FakeClock
    ) -> None:
        for i in range(9):
            clock.advance(1)
            await store.save(f"s{i}", Conversation())
        page = await store.find_sessions(limit=3)
        seen = [m.session_id for m in page.items]
        assert seen == ["s8", "s7", "s6"]
        clock.advance(1)
        await store.append("s7", _user("x"))  # seen already: moves before the cursor
        await store.append("s0", _user("x"))  # not seen yet: also moves before it
        await store.save("brand-new", Conversation())
        await store.delete("s3")
        cursor = page.next_cursor
        while cursor is not None:
            page = await store.find_sessions(limit=3, cursor=cursor)
            seen += [m.session_id for m in page.items]
            cursor = page.next_cursor
        assert len(seen) == len(set(seen))  # never twice
        assert seen == ["s8", "s7", "s6", "s5", "s4", "s2", "s1"]

    async def test_find_sessions_skips_expired(self, clock: FakeClock) -> None:
        async with await self.fresh_store(clock=clock) as store:
            for i in range(6):
                clock.advance(1)
                await store.save(
                    f"s{i}", Conversation(), labels={"k": "v"}, ttl=3 if i % 2 else None
                )
            clock.advance(3.5)  # the odd ones, written at 2, 4 and 6 for 3 s, have expired
            page = await store.find_sessions(labels={"k": "v"}, limit=2)
            seen = [m.session_id for m in page.items]
            while page.next_cursor is not None:
                page = await store.find_sessions(
                    labels={"k": "v"}, limit=2, cursor=page.next_cursor
                )
                seen += [m.session_id for m in page.items]
            assert seen == ["s4", "s2", "s0"]
