"""Limits that keep one caller from hurting the others: request rate, body size, query shape.

The request rate is a token bucket per principal (and per address for refused requests). One
process keeps its buckets in memory (`RateLimiter`); the processes of one hub (hub.cluster)
keep them in their Redis (`RedisRateLimiter`): one Lua script reads, refills and takes from the
bucket atomically on Redis' own clock, so requests spread over any number of processes and
machines count against one bucket. `limiter` picks: Redis when the hub has one.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import redis.asyncio as aioredis

log = logging.getLogger(__name__)


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

    async def take(self, key: str) -> float:
        return self.wait(key)

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


class Limiter(Protocol):
    rate: float

    async def take(self, key: str) -> float:
        """0 if the request may go now (and it is counted), else the seconds until it may."""


BUCKET = """
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local held = redis.call('HMGET', KEYS[1], 'tokens', 'since')
local tokens, since = tonumber(held[1]), tonumber(held[2])
if tokens == nil or since == nil then tokens, since = burst, now end
tokens = math.min(burst, tokens + math.max(0, now - since) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'since', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return tostring(wait)
"""
"""The token bucket of `RateLimiter.wait` as one Redis script: KEYS[1] the bucket, ARGV rate
and burst; answers the wait as text (Lua numbers would come back truncated to integers). A
bucket left alone expires once it would be full again."""


class RedisRateLimiter:
    """`RateLimiter`'s buckets in Redis, shared by every process using the same `prefix`. When
    Redis cannot be reached the process counts alone (in memory) until it can again, logged:
    a hub whose Redis is down goes on serving, each process limiting what it sees."""

    def __init__(self, client: aioredis.Redis, prefix: str, rate: float, burst: int) -> None:
        self.client = client
        self.prefix = prefix
        self.rate = rate
        self.burst = burst
        self.script = client.register_script(BUCKET)
        self.alone = RateLimiter(rate, burst)
        self._failing = False

    async def take(self, key: str) -> float:
        try:
            wait = float(await self.script(keys=[self.prefix + key], args=[self.rate, self.burst]))
        except Exception as error:
            if not self._failing:
                log.warning("rate limits: Redis unreachable (%s); counting in this process alone", error)
            self._failing = True
            return self.alone.wait(key)
        if self._failing:
            log.warning("rate limits: Redis reachable again; counting across the hub")
            self._failing = False
        return wait


def limiter(limits: Limits, redis: str | None, prefix: str) -> Limiter:
    """The rate limiter of `limits`: in Redis under `prefix` when `redis` is given, else here."""
    if redis is None:
        return RateLimiter(limits.rate, limits.burst)
    import redis.asyncio as aioredis

    return RedisRateLimiter(aioredis.from_url(redis), prefix, limits.rate, limits.burst)


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
