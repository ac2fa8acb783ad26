"""Several hub processes as one hub, through one Redis: `hub serve --workers N` on one machine,
or the same hub started on several machines against one store (PostgreSQL, or a graph store).

Every process of one hub names the same Redis (`HUB_REDIS`, else the Celery broker when it is a
Redis: `Settings.cluster_redis`) and the same queue (`HUB_QUEUE`), which is the hub's namespace
there: its channel is `hub-events:{queue}` (the one Celery workers already announce on,
connectors.relay) and its keys start with `hub:{queue}:`. Two hubs sharing a Redis use two queue
names. What goes through it:

- events (`Bridge`): each process publishes the events it sees (alarms, cases, votes) to the
  channel, tagged with its own origin, and delivers to its subscribers what the others published
  — its own come back from Redis too and are dropped there, having been delivered at once;
- turns (`Turns`): a sweep that must run once across the hub at a time (escalation, the
  facilities' overdue sweep, votes, funds, credit, the connectors' schedules) runs in the
  process that holds its Redis lock (`SET NX` with an expiry, renewed while it runs: a process
  that dies frees it when it expires); the others skip that round;
- rate limits (hub.limits.RedisRateLimiter) keep their buckets in keys of the namespace;
- the store's write generation (`RedisGeneration`, one counter of the namespace), moved by every
  process after each write it commits (`watch_writes`), against which each process's cached
  shared-query answers are checked (graph.shared.ResultCache): a write anywhere retires every
  cached answer everywhere.

What is not here needs no Redis: revocations and the safelist are reread from the store every
two seconds by each process, and the audit chain is serialised by the store itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from connectors.relay import channel, decode, encode
from graph.events import Event, EventBus
from graph.shared import Generation, LocalGeneration
from graph.store import Store

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from graph.cypher.statements import Statement
    from graph.cypher.transport import Transport

log = logging.getLogger("hub.cluster")

OUTBOX = 10_000
"""Events waiting to be published at most; past that the oldest are dropped (logged): Redis
is slower than the events, or away — a lost announcement loses a live update, never a record."""
RETRY_SECONDS = 2.0


def prefix(queue: str) -> str:
    """The start of every key of the hub of `queue` in its Redis."""
    return f"hub:{queue}:"


def connect(url: str) -> aioredis.Redis:
    import redis.asyncio as aioredis

    return aioredis.from_url(url)


class Bridge:
    """The hub's event bus across its processes (see the module docstring)."""

    def __init__(self, url: str, queue: str, bus: EventBus) -> None:
        self.url = url
        self.channel = channel(queue)
        self.bus = bus
        self.origin = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._outbox: asyncio.Queue[Event] = asyncio.Queue(maxsize=OUTBOX)
        self._tasks: list[asyncio.Task[None]] = []
        self._listening = asyncio.Event()
        self.dropped = 0

    async def start(self, wait: float = 5.0) -> None:
        """Bridge the bus; returns once this process hears the channel (or after `wait` seconds,
        logged: it keeps trying in the background)."""
        self.bus.forward = self._forward
        self._tasks = [
            asyncio.create_task(self._publish(), name="events to redis"),
            asyncio.create_task(self._listen(), name="events from redis"),
        ]
        try:
            await asyncio.wait_for(self._listening.wait(), wait)
        except TimeoutError:
            log.warning("events: %s not heard yet; other processes' events arrive once it is", self.channel)

    async def stop(self) -> None:
        self.bus.forward = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    def _forward(self, event: Event) -> None:
        while True:
            try:
                self._outbox.put_nowait(event)
                return
            except asyncio.QueueFull:
                self._outbox.get_nowait()
                self.dropped += 1
                if self.dropped % 1000 == 1:
                    log.warning("events: %d not published to %s (Redis slow or away)", self.dropped, self.channel)

    def _message(self, event: Event) -> str:
        data: dict[str, Any] = json.loads(encode(event))
        data["origin"] = self.origin
        return json.dumps(data, ensure_ascii=False)

    async def _publish(self) -> None:
        client = connect(self.url)
        try:
            while True:
                events = [await self._outbox.get()]
                while not self._outbox.empty():
                    events.append(self._outbox.get_nowait())
                try:
                    async with client.pipeline(transaction=False) as pipe:
                        for event in events:
                            pipe.publish(self.channel, self._message(event))
                        await pipe.execute()
                except Exception as error:  # Redis away: these are lost to the others (see OUTBOX)
                    self.dropped += len(events)
                    log.warning("events: could not publish %d to %s: %s", len(events), self.channel, error)
                    await asyncio.sleep(RETRY_SECONDS)
        finally:
            await client.aclose()

    async def _listen(self) -> None:
        while True:
            client = connect(self.url)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(self.channel)
                    self._listening.set()
                    async for message in pubsub.listen():
                        if message.get("type") != "message":
                            continue
                        self._heard(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("events: %s lost (%s); retrying in %.0f s", self.channel, error, RETRY_SECONDS)
            finally:
                await client.aclose()
            await asyncio.sleep(RETRY_SECONDS)

    def _heard(self, raw: bytes | str) -> None:
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            if json.loads(raw).get("origin") == self.origin:
                return  # delivered here when it was published
        event = decode(raw)  # a worker's (connectors.relay.RedisAnnouncer) or another process's
        if event is not None:
            self.bus.deliver(event)


class Turns:
    """Once-at-a-time work across the hub's processes: `async with turns.held(name, seconds) as
    mine:` — `mine` is True in the one process that holds `name` (it then does the work), False
    in the others (they skip it). The hold lasts `seconds` unless renewed; it is renewed every
    third of that while the work goes on and released when it ends, so a process killed while
    holding it frees it within `seconds`."""

    def __init__(self, url: str, keys: str) -> None:
        """`keys`: the hub's key prefix (`prefix(queue)`)."""
        self.client = connect(url)
        self.prefix = keys + "turn:"

    @contextlib.asynccontextmanager
    async def held(self, name: str, seconds: float) -> AsyncIterator[bool]:
        lock = self.client.lock(self.prefix + name, timeout=seconds)
        try:
            mine = bool(await lock.acquire(blocking=False))
        except Exception as error:  # Redis away: nobody can be sure it is alone, so nobody runs
            log.warning("turn %s: Redis unreachable (%s); skipped this round", name, error)
            mine = False
        if not mine:
            yield False
            return

        async def renew() -> None:
            while True:
                await asyncio.sleep(seconds / 3)
                await lock.reacquire()

        renewing = asyncio.create_task(renew(), name=f"renew turn {name}")
        try:
            yield True
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await renewing
            with contextlib.suppress(Exception):  # expired already: someone else may hold it now
                await lock.release()

    async def close(self) -> None:
        await self.client.aclose()


class Alone:
    """The turns of a hub one process serves: every turn is its own."""

    @contextlib.asynccontextmanager
    async def held(self, name: str, seconds: float) -> AsyncIterator[bool]:
        yield True

    async def close(self) -> None:
        return None


def turns_of(url: str | None, keys: str) -> Turns | Alone:
    """The turns of a hub whose keys start with `keys` in the Redis at `url`; without one, this
    process is the hub."""
    return Turns(url, keys) if url else Alone()


class RedisGeneration:
    """The write generation of a hub's store, shared by its processes: one counter in Redis.
    When Redis cannot be read, `current` is None (no answer is cached or served); when it cannot
    be moved, the next reads fail over to None as well until it can (a cached answer is never
    served past a write this process could not announce)."""

    def __init__(self, url: str, keys: str) -> None:
        self.client = connect(url)
        self.key = keys + "generation"
        self._unannounced = False

    async def current(self) -> int | None:
        try:
            if self._unannounced:
                await self.client.incr(self.key)
                self._unannounced = False
            value = await self.client.get(self.key)
        except Exception as error:
            log.warning("shared-query cache: Redis unreachable (%s); answers are not cached meanwhile", error)
            return None
        return int(value or 0)

    async def bump(self) -> None:
        try:
            await self.client.incr(self.key)
        except Exception as error:
            self._unannounced = True
            log.warning("shared-query cache: could not move the write generation (%s)", error)


def generation_of(url: str | None, keys: str) -> Generation:
    return RedisGeneration(url, keys) if url else LocalGeneration()


class _WatchedTransport:
    """A Cypher store's transport that moves the generation after each write statement (the
    audit log's appends aside: no cached answer reads it)."""

    def __init__(self, inner: Transport, generation: Generation) -> None:
        self.inner = inner
        self.url = inner.url
        self.generation = generation

    async def run(self, statement: Statement, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        rows = await self.inner.run(statement, params)
        if statement.write and not statement.name.startswith("audit."):
            await self.generation.bump()
        return rows

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def watch_writes(store: Store, generation: Generation) -> None:
    """Make every write `store` commits move `generation` (see graph.shared): the SQL adapter's
    write transactions (graph.sql.writers.WriteTurns.written), the Cypher adapter's write
    statements."""
    from graph.sql.writers import WriteTurns

    turns = getattr(store, "turns", None)
    if isinstance(turns, WriteTurns):
        turns.written = generation.bump
        return
    transport = getattr(store, "transport", None)
    if transport is not None and not isinstance(transport, _WatchedTransport):
        setattr(store, "transport", _WatchedTransport(transport, generation))
