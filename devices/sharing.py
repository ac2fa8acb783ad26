"""Several ingesters as one: the rule state of each device in Redis, one writer at a time.

`hub ingest --share GROUP` (or `hub serve` with `HUB_MQTT_SHARE`) reads through an MQTT 5 shared
subscription: the broker hands each message to one member of the group, round robin (Mosquitto 2:
per message, not per device), so a device's consecutive messages go to different processes. Its
rules (a duration that has held since when, a gas level that must fall below the clear level,
whether it is offline) must then be judged on one state that every member sees, by one member at
a time. That state lives in Redis:

* `{ns}:rules:{code}`: the device's rule state as `RuleEngine.state_of` gives it (JSON: latest
  values, newest reading time, per rule active / since / count / raised_at), after the stamp of
  the batch that wrote it: a member that finds its own last stamp there does not read it back;
* `{ns}:lock:{code}`: who judges the device now (a random token, with a time to live).

A batch of the pipeline stores its readings first (no lock: the store keeps a reading once), then
takes the locks of the devices it holds, all or none in one Lua script (no deadlock between two
members taking overlapping sets; it waits and tries again), reads their states, judges its
readings in reading-time order from there, writes alarms, cases and latest states to the store,
then writes the states back and frees the locks in one more script (a lock that expired and was
taken by another member is not overwritten: that member's state stands). Three Redis round trips
per batch, whatever its size. Messages are acknowledged only after all this. Measured (`hub bench
--only devices`, phase 4, a busy 2-core machine): one member of a group drains 0.66 (SQLite) to
0.75 (PostgreSQL) of a lone ingester's rate, the JSON of the states and their restoring being most
of the difference; a member that finds the state it wrote last reads nothing back.

**Why Redis and not the store.** The state changes with every reading; it is the engine's working
memory, not a record anyone reads. Kept in Redis it costs a few round trips per batch and no
schema, no migration, no Cypher twin; it is rebuilt from the store when lost (below). In the store
it would need a lock held across the evaluation in the store's own transaction (row locks on
PostgreSQL, nothing comparable on the graph stores) and a write per device per batch.

**What is not exact.** A device's messages judged by two members can arrive out of order (one
member is slower, or dead: Mosquitto keeps a dead member's share of the messages in its session
until it comes back). A reading older than the newest one judged is stored but not judged, as a
single ingester has always done with late readings (graph.rules.engine). Devices that publish
seconds apart (every real one: intervals are 30 s and up) are not affected while the members run.

**Crashes.** A member killed with -9 holds its locks until they expire (`lock_ms`, 15 s): the
others wait for its devices that long. What it had received and not acknowledged stays in its
session at the broker (persistent, never expiring), with the share of the stream the broker keeps
giving it while it is away: restart it with the same client id and it is delivered again. A batch
committed to the store but not to Redis is judged again from the older state: same signals, and
the store refuses an alarm raised twice and a second case for an alarm. If Redis loses the states,
each member goes on from what it loaded from the store at its start (`Device.reading_at`, the
active alarms), as a restarted single ingester does.

**Sweeps.** What time alone decides (silence → offline, a duration with no newer reading) is
swept by one member only: the holder of the lease `{ns}:sweeper`, renewed at each sweep.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from graph.errors import StoreError

LOCK_MS = 15_000
"""How long a device's lock lasts if its holder dies without freeing it."""
WAIT = 60.0
"""How long a batch waits for its devices' locks before it fails (and is tried again)."""

_TAKE = """
for i, key in ipairs(KEYS) do
  if not redis.call('SET', key, ARGV[1], 'NX', 'PX', ARGV[2]) then
    for j = 1, i - 1 do redis.call('DEL', KEYS[j]) end
    return 0
  end
end
return 1
"""

_GIVE = """
local n = #KEYS / 2
local lost = 0
for i = 1, n do
  if redis.call('GET', KEYS[n + i]) == ARGV[1] then
    if ARGV[i + 1] ~= '' then redis.call('SET', KEYS[i], ARGV[i + 1]) end
    redis.call('DEL', KEYS[n + i])
  else
    lost = lost + 1
  end
end
return lost
"""

_LEAD = """
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""


@dataclass
class Held:
    """Devices whose locks a batch holds, with their states as found (None: never saved)."""

    token: str
    codes: list[str]
    states: dict[str, dict[str, Any] | None] = field(default_factory=dict)


@dataclass
class SharingStats:
    batches: int = 0
    waits: int = 0
    """Times a batch found a device locked by another member and tried again."""
    lost: int = 0
    """States not written back because the lock had expired (another member took over)."""
    kept: int = 0
    """States not read back: the one this member wrote last was still there."""


class SharedRules:
    """The devices' rule states and locks in Redis, for one share group."""

    def __init__(self, url: str, namespace: str, *, lock_ms: int = LOCK_MS, wait: float = WAIT) -> None:
        from redis.asyncio import Redis

        self.redis = Redis.from_url(url)
        self.namespace = namespace
        self.lock_ms = lock_ms
        self.wait = wait
        self.member = secrets.token_hex(8)
        self.stats = SharingStats()
        self._written: dict[str, str] = {}
        """Per device, the stamp of the state this member wrote last: while Redis still holds
        it, this member's engine has that state already and reads nothing back."""
        self._take = self.redis.register_script(_TAKE)
        self._give = self.redis.register_script(_GIVE)
        self._lead = self.redis.register_script(_LEAD)

    def _state(self, code: str) -> str:
        return f"{self.namespace}:rules:{code}"

    def _lock(self, code: str) -> str:
        return f"{self.namespace}:lock:{code}"

    async def take(self, codes: Sequence[str], *, fresh: bool = False) -> Held:
        """Lock these devices (all or none, waiting while another member holds one) and read
        their states: None for a device never saved, and (unless `fresh`) for one whose saved
        state is the one this member wrote last (its engine holds it already)."""
        ordered = sorted(set(codes))
        token = secrets.token_hex(12)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait
        pause = 0.002
        while not await self._take(keys=[self._lock(code) for code in ordered], args=[token, self.lock_ms]):
            self.stats.waits += 1
            if loop.time() > deadline:
                raise StoreError(f"devices' rule states stayed locked by another ingester for {self.wait:.0f}s")
            await asyncio.sleep(pause * (0.5 + secrets.randbelow(1000) / 1000))
            pause = min(0.1, pause * 2)
        held = Held(token, ordered)
        try:
            found = await self.redis.mget([self._state(code) for code in ordered])
        except BaseException:
            await self.release(held)
            raise
        states: dict[str, dict[str, Any] | None] = {}
        for code, raw in zip(ordered, found):
            stamp, body = _parts(raw)
            mine = not fresh and bool(body) and self._written.get(code) == stamp
            states[code] = json.loads(body) if body and not mine else None
            if mine:
                self.stats.kept += 1
        held.states = states
        self.stats.batches += 1
        return held

    async def give(self, held: Held, states: dict[str, dict[str, Any] | None]) -> None:
        """Write the states back and free the locks (a lock no longer ours: its state is left)."""
        values = [f"{held.token} {json.dumps(states[code], separators=(',', ':'))}" if states.get(code) else "" for code in held.codes]
        keys = [self._state(code) for code in held.codes] + [self._lock(code) for code in held.codes]
        try:
            lost = int(await self._give(keys=keys, args=[held.token, *values]))
        except BaseException:
            self._forget(held.codes)
            raise
        self.stats.lost += lost
        if lost:  # which ones is not said: read them all back next time
            self._forget(held.codes)
        else:
            for code, value in zip(held.codes, values):
                if value:
                    self._written[code] = held.token
                else:
                    self._written.pop(code, None)

    def forget_all(self) -> None:
        """This member's engine no longer holds what it wrote (the sweeper restored snapshots)."""
        self._written.clear()

    def _forget(self, codes: Sequence[str]) -> None:
        for code in codes:
            self._written.pop(code, None)

    async def release(self, held: Held) -> None:
        """Free the locks without writing (the batch failed: what this member's engine holds of
        these devices is read back from Redis next time)."""
        self._forget(held.codes)
        keys = [self._state(code) for code in held.codes] + [self._lock(code) for code in held.codes]
        await self._give(keys=keys, args=[held.token, *([""] * len(held.codes))])

    async def states(self, codes: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The saved states of these devices (unlocked: a snapshot, for the sweeper to look at)."""
        found: dict[str, dict[str, Any]] = {}
        ordered = list(codes)
        for start in range(0, len(ordered), 1000):
            chunk = ordered[start : start + 1000]
            for code, raw in zip(chunk, await self.redis.mget([self._state(code) for code in chunk])):
                body = _parts(raw)[1]
                if body:
                    found[code] = json.loads(body)
        return found

    async def lead(self, ttl_ms: int) -> bool:
        """Hold (or renew) the sweeper's lease: True when this member is to sweep."""
        return bool(await self._lead(keys=[f"{self.namespace}:sweeper"], args=[self.member, ttl_ms]))

    async def close(self) -> None:
        await self.redis.aclose()


async def drop_group(url: str, group_namespace: str) -> int:
    """Remove a share group's rule states, locks and lease from Redis (a group retired, a test
    or benchmark run over); how many keys went."""
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(f"{group_namespace}:*")]
        return int(await client.delete(*keys)) if keys else 0
    finally:
        await client.aclose()


def _parts(raw: object) -> tuple[str, str]:
    """A saved state's stamp and JSON (both empty for nothing saved)."""
    text = raw.decode() if isinstance(raw, bytes) else str(raw or "")
    stamp, _, body = text.partition(" ")
    return stamp, body


def namespace(prefix: str, share: str) -> str:
    """The Redis key prefix of one share group's rule states.

    >>> namespace("hub", "ingest")
    'hub-ingest:hub:ingest'
    """
    return f"hub-ingest:{prefix}:{share}"
