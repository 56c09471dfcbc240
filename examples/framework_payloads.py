"""Keep what agent frameworks produce, exactly: Responses items, Anthropic thinking
blocks, LangChain dicts and chat messages with content parts, on the embedded default
store (SQLite), then read them back, each with its id and time, and take a tail that a
model accepts (never starting with a tool result whose call was cut off).

Run: ``python examples/framework_payloads.py``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from agent_session import Conversation, Message, SQLiteStore

PAYLOADS: list[dict[str, Any]] = [
    {"role": "user", "content": [{"type": "input_text", "text": "Weather in Paris?"}]},
    {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAAAB..."},
    {"type": "function_call", "call_id": "call_1", "name": "weather",
     "arguments": '{"city": "Paris"}', "id": "fc_1", "status": "completed"},
    {"type": "function_call_output", "call_id": "call_1", "output": '{"temp": 21}'},
    {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "21 is mild.", "signature": "EqQBCkYIARgCKkB"},
        {"type": "text", "text": "It is 21 °C in Paris."},
    ]},
    {"type": "human", "data": {"content": "Thanks!", "additional_kwargs": {}, "type": "human",
                               "id": "lc-1", "name": None, "response_metadata": {}}},
]  # fmt: skip


def check(ok: bool, what: str) -> bool:
    print(("ok      " if ok else "FAILED  ") + what)
    return ok


def main() -> int:
    good = True
    with tempfile.TemporaryDirectory() as tmp, SQLiteStore(Path(tmp) / "chat.db") as store:
        store.save("s", Conversation([Message.from_dict(p) for p in PAYLOADS[:3]]))
        for payload in PAYLOADS[3:]:
            store.append("s", Message.from_dict(payload))
        loaded = store.load("s")
        good &= check(loaded.to_dicts() == PAYLOADS, "every payload came back unchanged")
        ids = [message.id for message in loaded]
        good &= check(len(set(ids)) == len(ids), f"each message has its own id ({ids[0]}...)")
        good &= check(all(m.created_at for m in loaded), "each has the time it was stored")
        print("        types:", [m.type or m.role for m in loaded])
        print("        words:", [m.text for m in loaded if m.text])
        cut = store.load("s", last=3)
        good &= check(cut[0].type == "function_call_output", "load(last=3) starts with a result")
        tail = store.load_tail("s", 3)
        good &= check(
            len(tail) == 2 and not tail[0].is_tool_result, "load_tail(3) drops the cut-off result"
        )
        again = store.load("s")
        again[0].to_dict()["content"].clear()  # what a load hands out is the caller's
        good &= check(
            store.load("s").to_dicts() == PAYLOADS, "changing a loaded dict changes nothing"
        )
    print("all good" if good else "something went wrong")
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
