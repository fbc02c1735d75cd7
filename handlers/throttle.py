"""A customer sending more than ~5 updates a second is slowed down, not served twice.

The policy lives here; bot/processor.py applies it *before* an update takes one of the
shared slots, while the update waits its customer's turn: a flood is served at the
allowed rate, each update once, and everyone else is answered as usual.
"""

from __future__ import annotations

import time

RATE = 5.0  # updates per second
BURST = 5.0


class Bucket:
    __slots__ = ("last", "tokens")

    def __init__(self, burst: float = BURST) -> None:
        self.tokens = burst
        self.last = time.monotonic()

    def take(self, rate: float = RATE, burst: float = BURST) -> float:
        """Seconds to wait before this update may run (0 when within the rate)."""
        now = time.monotonic()
        self.tokens = min(burst, self.tokens + (now - self.last) * rate)
        self.last = now
        self.tokens -= 1
        return 0.0 if self.tokens >= 0 else -self.tokens / rate


class Pacer:
    """One token bucket per customer. ``delay(key)`` is asked once per update, when the
    customer's turn comes (so a backlog does not pile up debt)."""

    def __init__(self, rate: float = RATE, burst: float = BURST) -> None:
        self.rate = rate  # tests may raise it to drain a flood quickly
        self.burst = burst
        self._buckets: dict[int, Bucket] = {}
        self._calls = 0

    def delay(self, key: int) -> float:
        self._calls += 1
        if self._calls % 1024 == 0:
            self._forget_idle()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = Bucket(self.burst)
        return bucket.take(self.rate, self.burst)

    def _forget_idle(self) -> None:
        """A bucket idle long enough to be full again is the same as a new one."""
        full_after = self.burst / self.rate
        now = time.monotonic()
        for key in [k for k, b in self._buckets.items() if now - b.last > full_after]:
            del self._buckets[key]
