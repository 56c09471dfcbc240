"""``FakeClock``: a clock that moves only when told to, for tests of TTL behaviour."""

from __future__ import annotations

import math

__all__ = ["FakeClock"]


class FakeClock:
    """A zero-argument callable returning epoch seconds; pass it as a store's ``clock``.

    The time is one float attribute, ``now``: threads reading it while a test moves
    it see the old or the new time, never a mix.

    :param start: the time it shows first (epoch seconds)
    :raises TypeError: if ``start`` is not a number
    :raises ValueError: if ``start`` is not finite
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = _finite(start, "start")

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        """Move time by ``seconds`` (backwards if negative).

        :raises TypeError: if ``seconds`` is not a number
        :raises ValueError: if ``seconds`` is not finite
        :return: the new time
        """
        self.now += _finite(seconds, "seconds")
        return self.now

    def set(self, now: float) -> None:
        """Jump to ``now`` (epoch seconds).

        :raises TypeError: if ``now`` is not a number
        :raises ValueError: if ``now`` is not finite
        """
        self.now = _finite(now, "now")

    def __repr__(self) -> str:
        return f"FakeClock({self.now!r})"


def _finite(value: float, what: str) -> float:
    # A NaN time would make every expiry comparison false: sessions would never expire.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be a number of seconds, not {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number of seconds, not {value!r}")
    return float(value)
