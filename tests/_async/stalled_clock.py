"""A check shared by the stores that read the clock before their round trip (PostgreSQL,
Redis): a write whose reading is older than the session's last write never moves the
session's time back (issue 7, defect 1). A clock set back stands for the stalled write's
reading."""

from __future__ import annotations

from agent_session import AsyncSessionStore, Conversation, Message
from agent_session.testing import FakeClock

#: The writes that stamp a time, one test case each.
LATE_WRITES = ["append", "save", "pop", "touch", "load"]


def _user(text: str) -> Message:
    return Message("user", text)


async def check_a_stalled_write(store: AsyncSessionStore, clock: FakeClock, late: str) -> None:
    """``store`` built on ``clock`` (at 1000.0) with ``default_ttl=1.5, sliding=True``."""
    async with store:
        await store.append("s", _user("m0"))
        clock.set(1000.5)
        acked = await store.append("s", _user("m1"))  # acknowledged live until 1002.0
        assert acked.expires_at == 1002.0
        clock.set(1000.0)  # the stalled write read the clock at t0
        if late == "append":
            await store.append("s", _user("m2"))
        elif late == "save":
            await store.save("s", Conversation([_user("m0"), _user("m1"), _user("m2")]))
        elif late == "pop":
            await store.pop("s")
        elif late == "touch":
            await store.touch("s")
        else:
            await store.load("s")
        meta = await store.get_metadata("s")
        assert meta.updated_at >= acked.updated_at
        assert meta.expires_at is not None and meta.expires_at >= 1002.0
        clock.set(1001.7)
        assert (await store.get_metadata("s")).expires_at == meta.expires_at
        version = (await store.append("s", _user("m3"))).version
        assert version == meta.version + 1  # the same session went on: nothing dropped
        assert len(await store.load("s")) == meta.message_count + 1
