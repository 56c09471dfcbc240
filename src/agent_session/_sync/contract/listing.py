# This file is generated from _async/contract/listing.py by scripts/unasync.py: do not edit.
"""list_sessions, iter_sessions and find_sessions, with their paging."""

from __future__ import annotations

import pytest

from ..._fakeclock import FakeClock
from ..._model import Conversation
from ..base import SessionStore
from ._support import ContractBase, _user


class ListingContract(ContractBase):
    """How sessions are listed and found: order, prefixes, labels, time windows, pages."""

    # -- list_sessions, iter_sessions ----------------------------------------------------

    def test_list_sessions(self, store: SessionStore) -> None:
        for session_id in ["b", "a:2", "c", "a:1"]:
            store.save(session_id, Conversation())
        assert store.list_sessions() == ["a:1", "a:2", "b", "c"]
        assert store.list_sessions(prefix="a:") == ["a:1", "a:2"]
        assert store.list_sessions(prefix="a:", limit=1) == ["a:1"]
        assert store.list_sessions(limit=3) == ["a:1", "a:2", "b"]
        assert store.list_sessions(limit=1) == ["a:1"]
        assert store.list_sessions(limit=100) == ["a:1", "a:2", "b", "c"]
        assert store.list_sessions(prefix="zz") == []
        assert store.list_sessions(prefix="") == ["a:1", "a:2", "b", "c"]
        assert store.list_sessions(prefix="c") == ["c"]

    def test_listing_order_is_code_point_order(self, store: SessionStore) -> None:
        # Not a locale's collation: "B" < "a" < "b" < "é" < "\uff01" < "😀", "a%" and "a_"
        # as plain characters (no LIKE wildcards).
        ids = ["😀", "b", "é", "a", "B", "\uff01", "a_1", "a%1", "ab", "a b"]
        for session_id in ids:
            store.save(session_id, Conversation())
        assert store.list_sessions() == sorted(ids)
        assert [s for s in store.iter_sessions()] == sorted(ids)
        assert store.list_sessions(prefix="a_") == ["a_1"]
        assert store.list_sessions(prefix="a%") == ["a%1"]
        assert [s for s in store.iter_sessions(prefix="a_")] == ["a_1"]
        assert store.list_sessions(prefix="é") == ["é"]

    def test_a_prefix_no_id_can_start_with_finds_nothing(
        self, store: SessionStore
    ) -> None:
        # Issue 7, defect 11: PostgreSQL raised BackendError on a NUL.
        store.save("s1", Conversation([_user("a")]))
        for prefix in ("\x00", "s\x00", "\n"):
            assert store.list_sessions(prefix=prefix) == []
            assert [sid for sid in store.iter_sessions(prefix=prefix)] == []

    def test_iter_sessions(self, clock: FakeClock) -> None:
        # More than two pages of any durable store's paging, with expired sessions at the
        # edges of pages, so a store that pages wrong drops or repeats ids.
        with self.fresh_store(clock=clock) as store:
            ids = [f"user-{i:04d}" for i in range(1010)]
            expiring = {ids[0], ids[499], ids[500], ids[501], ids[999], ids[1000], ids[-1]}
            for session_id in ids:
                store.append(
                    session_id, _user("x"), ttl=5 if session_id in expiring else None
                )
            store.append("other", _user("x"))
            clock.advance(10)
            seen = [session_id for session_id in store.iter_sessions()]
            live = sorted(set(ids) - expiring | {"other"})
            assert seen == live
            prefixed = [session_id for session_id in store.iter_sessions(prefix="user-09")]
            assert prefixed == [f"user-{i:04d}" for i in range(900, 1000) if i != 999]
            assert [s for s in store.iter_sessions(prefix="zz")] == []
            assert store.list_sessions() == live

    def test_iter_sessions_while_writing(self, store: SessionStore) -> None:
        for i in range(30):
            store.save(f"s{i:02d}", Conversation())
        seen: list[str] = []
        for session_id in store.iter_sessions():
            seen.append(session_id)
            if session_id == "s05":
                store.delete("s20")  # not yet reached: may or may not be seen
                store.save("s05-new", Conversation())
                store.append("s01", _user("x"))
        assert seen == sorted(set(seen))  # sorted, no id twice
        assert set(seen) >= {f"s{i:02d}" for i in range(30)} - {"s20"}

    def test_listings_skip_expired(self, clock: FakeClock) -> None:
        with self.fresh_store(clock=clock) as store:
            store.save("short", Conversation(), ttl=5)
            store.save("long", Conversation(), ttl=50)
            store.save("forever", Conversation())
            clock.advance(10)
            assert store.list_sessions() == ["forever", "long"]
            assert store.list_sessions(prefix="s") == []
            assert store.list_sessions(limit=1) == ["forever"]
            assert [s for s in store.iter_sessions()] == ["forever", "long"]
            page = store.find_sessions()
            assert sorted(m.session_id for m in page.items) == ["forever", "long"]
            assert not store.exists("short")

    # -- find_sessions -------------------------------------------------------------------

    def test_find_sessions(self, store: SessionStore, clock: FakeClock) -> None:
        start = clock()
        for i in range(7):
            clock.advance(1)
            labels = {"user": "u1" if i % 2 == 0 else "u2", "app": "x"}
            store.save(f"s{i}", Conversation(), labels=labels)
        clock.advance(1)
        store.save("unlabelled", Conversation())
        page = store.find_sessions()
        assert [m.session_id for m in page.items][1:] == [f"s{i}" for i in range(6, -1, -1)]
        assert page.next_cursor is None
        for item in page.items:
            assert item == store.get_metadata(item.session_id)
        u1 = store.find_sessions(labels={"user": "u1", "app": "x"})
        assert [m.session_id for m in u1.items] == ["s6", "s4", "s2", "s0"]
        assert [m.session_id for m in (store.find_sessions(labels={"user": "u2"})).items] == [
            "s5",
            "s3",
            "s1",
        ]
        assert (store.find_sessions(labels={"user": "u1", "app": "y"})).items == []
        assert (store.find_sessions(labels={"nobody": "x"})).items == []
        assert len((store.find_sessions(labels={})).items) == 8
        window = store.find_sessions(updated_after=start + 2, updated_before=start + 5)
        assert [m.session_id for m in window.items] == ["s3", "s2"]  # both bounds exclusive
        after = store.find_sessions(updated_after=start + 6)
        assert [m.session_id for m in after.items] == ["unlabelled", "s6"]
        before = store.find_sessions(updated_before=start + 2, labels={"app": "x"})
        assert [m.session_id for m in before.items] == ["s0"]

    def test_find_sessions_follows_writes(
        self, store: SessionStore, clock: FakeClock
    ) -> None:
        store.save("a", Conversation(), labels={"k": "v"})
        clock.advance(1)
        store.save("b", Conversation(), labels={"k": "v"})
        clock.advance(1)
        store.append("a", _user("x"))  # moves to the front, keeps its labels
        page = store.find_sessions(labels={"k": "v"})
        assert [m.session_id for m in page.items] == ["a", "b"]
        assert page.items[0].message_count == 1 and page.items[0].version == 2
        clock.advance(1)
        store.save("b", Conversation(), labels={"k": "other"})
        assert [m.session_id for m in (store.find_sessions(labels={"k": "v"})).items] == ["a"]
        store.touch("a", ttl=100)  # not a write: the order stays
        assert [m.session_id for m in (store.find_sessions()).items] == ["b", "a"]
        store.delete("a")
        assert (store.find_sessions(labels={"k": "v"})).items == []

    def test_find_sessions_ties_by_id(
        self, store: SessionStore, clock: FakeClock
    ) -> None:
        for session_id in ["c", "a", "e", "b", "d"]:
            store.save(session_id, Conversation())
        clock.advance(1)
        store.save("newest", Conversation())
        page = store.find_sessions()
        assert [m.session_id for m in page.items] == ["newest", "a", "b", "c", "d", "e"]
        seen: list[str] = []
        cursor = None
        while True:
            page = store.find_sessions(limit=2, cursor=cursor)
            assert len(page.items) <= 2
            seen += [m.session_id for m in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == ["newest", "a", "b", "c", "d", "e"]

    def test_find_sessions_pages(self, store: SessionStore, clock: FakeClock) -> None:
        for i in range(10):
            if i % 3 == 0:
                clock.advance(1)  # several sessions share an updated_at
            store.save(f"s{i}", Conversation(), labels={"k": "v"})
        store.save("other", Conversation(), labels={"k": "w"})
        everything = [m.session_id for m in (store.find_sessions(labels={"k": "v"})).items]
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            page = store.find_sessions(labels={"k": "v"}, limit=3, cursor=cursor)
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
        first = store.find_sessions(limit=1)
        assert first.next_cursor is not None and len(first.items) == 1
        with pytest.raises(ValueError):
            store.find_sessions(cursor="not a cursor")
        with pytest.raises(ValueError):
            store.find_sessions(cursor="")
        with pytest.raises((TypeError, ValueError)):
            store.find_sessions(cursor=5)  # type: ignore[arg-type]

    def test_find_sessions_pages_while_writing(
        self, store: SessionStore, clock: FakeClock
    ) -> None:
        for i in range(9):
            clock.advance(1)
            store.save(f"s{i}", Conversation())
        page = store.find_sessions(limit=3)
        seen = [m.session_id for m in page.items]
        assert seen == ["s8", "s7", "s6"]
        clock.advance(1)
        store.append("s7", _user("x"))  # seen already: moves before the cursor
        store.append("s0", _user("x"))  # not seen yet: also moves before it
        store.save("brand-new", Conversation())
        store.delete("s3")
        cursor = page.next_cursor
        while cursor is not None:
            page = store.find_sessions(limit=3, cursor=cursor)
            seen += [m.session_id for m in page.items]
            cursor = page.next_cursor
        assert len(seen) == len(set(seen))  # never twice
        assert seen == ["s8", "s7", "s6", "s5", "s4", "s2", "s1"]

    def test_find_sessions_skips_expired(self, clock: FakeClock) -> None:
        with self.fresh_store(clock=clock) as store:
            for i in range(6):
                clock.advance(1)
                store.save(
                    f"s{i}", Conversation(), labels={"k": "v"}, ttl=3 if i % 2 else None
                )
            clock.advance(3.5)  # the odd ones, written at 2, 4 and 6 for 3 s, have expired
            page = store.find_sessions(labels={"k": "v"}, limit=2)
            seen = [m.session_id for m in page.items]
            while page.next_cursor is not None:
                page = store.find_sessions(
                    labels={"k": "v"}, limit=2, cursor=page.next_cursor
                )
                seen += [m.session_id for m in page.items]
            assert seen == ["s4", "s2", "s0"]
