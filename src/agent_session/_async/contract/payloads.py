"""Every field and every framework payload comes back exactly."""

from __future__ import annotations

from typing import Any

from ..._model import Conversation, Message
from ..base import AsyncSessionStore
from ._support import FRAMEWORK_PAYLOADS, ContractBase, _every_field_conversation


def _payload_conversation() -> Conversation:
    return Conversation([Message.from_dict(payload) for payload in FRAMEWORK_PAYLOADS])


class PayloadsContract(ContractBase):
    """What comes back is what went in: every message field, every framework payload."""

    async def test_round_trip_keeps_every_field(self, store: AsyncSessionStore) -> None:
        conversation = _every_field_conversation()
        await store.save("s1", conversation)
        loaded = await store.load("s1")
        assert loaded == conversation
        assert loaded.to_dicts() == conversation.to_dicts()
        assert loaded.messages[3].tool_calls[0].arguments == '{"to": "ZRH"}'
        assert loaded.messages[3].metadata["tags"] == ("a", "b")
        assert loaded.messages[3].content is None
        assert loaded.messages[7].content == "" and loaded.messages[8].name == ""
        assert [c.id for c in loaded.messages[6].tool_calls] == ["call_2", "call_3"]

    async def test_round_trip_through_append(self, store: AsyncSessionStore) -> None:
        conversation = _every_field_conversation()
        await store.append("s1", *conversation.messages[:4])
        for message in conversation.messages[4:]:
            await store.append("s1", message)
        assert await store.load("s1") == conversation
        assert await store.load("s1", last=3) == Conversation(conversation.messages[-3:])

    async def test_framework_payloads_come_back_unchanged(self, store: AsyncSessionStore) -> None:
        await store.save("saved", _payload_conversation())
        for payload in FRAMEWORK_PAYLOADS:
            await store.append("appended", Message.from_dict(payload))
        n = len(FRAMEWORK_PAYLOADS)
        for session_id in ("saved", "appended"):
            assert (await store.load(session_id)).to_dicts() == FRAMEWORK_PAYLOADS
            assert (await store.load(session_id, last=3)).to_dicts() == FRAMEWORK_PAYLOADS[-3:]
        for k in range(n - 1, -1, -1):
            popped = await store.pop("saved")
            assert popped is not None and popped.to_dict() == FRAMEWORK_PAYLOADS[k]
        assert await store.pop("saved") is None

    async def test_what_a_caller_does_to_a_payload_changes_nothing_stored(
        self, store: AsyncSessionStore
    ) -> None:
        payload: dict[str, Any] = {"role": "user", "content": [{"type": "text", "text": "x"}]}
        message = Message.from_dict(payload)
        payload["content"][0]["text"] = "changed"  # the caller's dict, after building
        await store.save("s", Conversation([message]))
        loaded = await store.load("s")
        data = loaded[0].to_dict()
        data["content"][0]["text"] = "changed again"  # what load handed out
        data["content"].append({"type": "text", "text": "more"})
        assert (await store.load("s"))[0].to_dict() == {
            "role": "user",
            "content": [{"type": "text", "text": "x"}],
        }
        assert loaded[0].to_dict() == (await store.load("s"))[0].to_dict()
