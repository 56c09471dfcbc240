"""``FakeClock``: a clock that moves only when told to, for tests of TTL behaviour."""

from __future__ import annotations

__all__ = ["FakeClock"]


class FakeClock:
    """A zero-argument callable returning epoch seconds; pass it as a store's ``clock``.

    :param start: the time it shows first
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds``; returns the new time."""
        self.now += seconds
        return self.now

    def set(self, now: float) -> None:
        """Jump to ``now``."""
        self.now = float(now)

    def __repr__(self) -> str:
        return f"FakeClock({self.now!r})"
