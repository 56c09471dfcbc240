"""Benchmark of the wire format against the JSON parsers, in one run.

On a 20-message conversation of about 4.5 KB (chat messages, tool calls, content
parts, a Responses item and metadata), prints the median microseconds of:

- ``loads_conversation`` / ``dumps_conversation`` (the export envelope, format 2);
- decoding the 20 stored rows one by one (``decode_message``, what every durable
  ``load`` pays) and ``to_dicts()`` of the result (what a caller pays to hand the
  messages to a model);
- the floors: ``json.loads``, ``orjson.loads`` (if installed) and ``msgspec``'s
  decoder of the same bytes, and the matching encoders.

Run: ``python benchmarks/bench_codec.py [--quick]``. Compare rows of one run only.
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import msgspec

from agent_session import Conversation, Message, ToolCall
from agent_session._model import stamp
from agent_session._serialization import (
    decode_message,
    decode_messages,
    dumps_conversation,
    encode_message,
    loads_conversation,
)

try:  # an optional floor, not a dependency
    orjson: Any = importlib.import_module("orjson")
except ImportError:  # pragma: no cover
    orjson = None


def conversation() -> Conversation:
    """About 4.5 KB of the messages agents really store."""
    messages = [Message("system", "You are a helpful travel agent. " * 4)]
    for turn in range(6):
        messages.append(
            Message.from_dict(
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": f"Question {turn}: flights to Zürich? ✈ " * 3},
                        {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
                    ],
                }
            )
        )
        messages.append(
            Message(
                "assistant",
                None,
                tool_calls=[ToolCall(f"call_{turn}", "search_flights", '{"to": "ZRH"}')],
                metadata={"latency_ms": 812, "model": "gpt-x"},
            )
        )
        messages.append(Message("tool", '{"flights": [1, 2, 3]}', tool_call_id=f"call_{turn}"))
    messages.append(
        Message.from_dict(
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [{"type": "summary_text", "text": "Compare the prices. " * 5}],
                "encrypted_content": "gAAAAB" + "x" * 200,
            }
        )
    )
    return Conversation(stamp(messages, 1_700_000_000.0))


def sample_us(
    cells: list[tuple[str, Callable[[], Any]]], rounds: int, number: int
) -> dict[str, list[float]]:
    """Microseconds per call of every cell, round by round: the cells take turns in
    each round, so a busy moment of the machine slows them all, not one of them."""
    samples: dict[str, list[float]] = {name: [] for name, _ in cells}
    for _ in range(rounds):
        for name, fn in cells:
            start = time.perf_counter()
            for _ in range(number):
                fn()
            samples[name].append((time.perf_counter() - start) / number * 1e6)
    return samples


def ratio(samples: dict[str, list[float]], name: str, floor: str) -> float:
    """The median over rounds of ``name`` / ``floor`` measured in the same round."""
    return statistics.median(a / b for a, b in zip(samples[name], samples[floor], strict=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    args = parser.parse_args(argv)
    rounds, number = (5, 100) if args.quick else (41, 300)

    conv = conversation()
    text = dumps_conversation(conv)
    data = text.encode()
    rows = [encode_message(m) for m in conv]
    plain = json.loads(text)
    loaded = loads_conversation(text)
    assert loaded.to_dicts() == conv.to_dicts() and len(loaded) == 20

    cells: list[tuple[str, Callable[[], Any]]] = [
        ("loads_conversation (format 2)", lambda: loads_conversation(data)),
        ("decode_message x 20", lambda: [decode_message(r) for r in rows]),
        ("decode_messages of 20 rows (a durable load)", lambda: decode_messages(rows)),
        ("to_dicts() of 20 loaded messages", loaded.to_dicts),
        ("json.loads", lambda: json.loads(data)),
        ("msgspec.json.decode", lambda: msgspec.json.decode(data)),
        ("dumps_conversation (format 2)", lambda: dumps_conversation(conv)),
        ("json.dumps", lambda: json.dumps(plain, ensure_ascii=False, separators=(",", ":"))),
        ("msgspec.json.encode", lambda: msgspec.json.encode(plain)),
    ]
    if orjson is not None:
        cells.insert(3, ("orjson.loads", lambda: orjson.loads(data)))
        cells.append(("orjson.dumps", lambda: orjson.dumps(plain)))
    samples = sample_us(cells, rounds, number)
    results = {name: statistics.median(values) for name, values in samples.items()}

    print(f"Python {sys.version.split()[0]}, {len(data)} bytes, 20 messages, median us")
    width = max(len(name) for name in results)
    for name, value in results.items():
        print(f"{name:<{width}}  {value:8.2f}")
    floor = "orjson.loads" if orjson is not None else "msgspec.json.decode"
    encode_floor = "orjson.dumps" if orjson is not None else "msgspec.json.encode"
    print()
    print(f"ratios, medians of {rounds} rounds (target: decode and encode within 1.5x of orjson)")
    print(f"  loads_conversation / {floor}     {ratio(samples, cells[0][0], floor):5.2f}x")
    print(f"  decode_messages(20) / {floor}    {ratio(samples, cells[2][0], floor):5.2f}x")
    dumps = "dumps_conversation (format 2)"
    print(f"  dumps_conversation / {encode_floor}     {ratio(samples, dumps, encode_floor):5.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
