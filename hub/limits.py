"""Limits that keep one caller from hurting the others: request rate, body size, query shape."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Limits:
    rate: float = 50.0
    """Requests per second each principal may send, on average."""
    burst: int = 100
    """Requests a principal may send at once after a quiet spell."""
    body_bytes: int = 256 * 1024
    """The largest request body; a GraphQL document plus variables is a few KiB."""
    depth: int = 12
    aliases: int = 20
    tokens: int = 2000
    """GraphQL query depth, aliases and lexical tokens (strawberry's limiter extensions)."""

    @classmethod
    def default(cls) -> Limits:
        return cls()

    def with_rate(self, rate: float) -> Limits:
        return replace(self, rate=rate, burst=max(1, int(rate * 2)))


class RateLimiter:
    """A token bucket per key (principal or client address).

    >>> limiter = RateLimiter(rate=1.0, burst=2, clock=lambda: 0.0)
    >>> [limiter.wait("a") for _ in range(3)]
    [0.0, 0.0, 1.0]
    """

    def __init__(self, rate: float, burst: int, clock: object = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def wait(self, key: str) -> float:
        """0 if the request may go now (and it is counted), else the seconds until it may."""
        now: float = self.clock()  # type: ignore[operator]
        tokens, since = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - since) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > 100_000:
            self._buckets.clear()
        return (1.0 - tokens) / self.rate


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
