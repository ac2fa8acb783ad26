"""Announcing what a sync wrote, in this process or across processes.

A sync that writes cases announces them (`Event(Topic.CASES, id, "synced", place)`), so GraphQL
subscribers of the serving hub see the 12345 feed's orders arrive and move. In `hub serve` the
announcement goes straight onto the app's event bus (`to_bus`); a Celery worker is another
process, so it publishes to a Redis channel of the hub's queue (`RedisAnnouncer`) and the serving
hub relays that channel onto its bus (`relay`). An event carries ids only; subscribers read the
records back with their own scope (schema/live.py), so nothing private crosses the channel.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from graph.events import Event, EventBus, Topic

log = logging.getLogger("connectors.relay")

Announce = Callable[[Sequence[Event]], Awaitable[None]]
"""What a sync calls with the events of each batch it wrote."""


def channel(queue: str) -> str:
    """The Redis channel a hub's workers announce on: one per queue, so hubs sharing a Redis
    server (or a test run beside another) never hear each other."""
    return f"hub-events:{queue}"


def to_bus(bus: EventBus) -> Announce:
    async def announce(events: Sequence[Event]) -> None:
        for event in events:
            bus.publish(event)

    return announce


def encode(event: Event) -> str:
    return json.dumps({"topic": event.topic.value, "id": event.id, "kind": event.kind, "place": event.place_code}, ensure_ascii=False)


def decode(raw: str | bytes) -> Event | None:
    """An event from the channel; None (logged) for anything that is not one."""
    try:
        data: Any = json.loads(raw)
        return Event(Topic(data["topic"]), str(data["id"]), str(data["kind"]), data.get("place"))
    except (ValueError, KeyError, TypeError):
        log.warning("relay: ignored a message that is not an event: %.200r", raw)
        return None


class RedisAnnouncer:
    """Publishes a worker's events on its queue's channel (best effort: a lost announcement
    loses a live update, never a record)."""

    def __init__(self, url: str, queue: str) -> None:
        import redis.asyncio as aioredis

        self.client = aioredis.from_url(url)
        self.channel = channel(queue)

    async def __call__(self, events: Sequence[Event]) -> None:
        if not events:
            return
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for event in events:
                    pipe.publish(self.channel, encode(event))
                await pipe.execute()
        except Exception as error:  # the broker is down: the records are written all the same
            log.warning("relay: could not announce %d events on %s: %s", len(events), self.channel, error)

    async def close(self) -> None:
        await self.client.aclose()


async def relay(url: str, queue: str, bus: EventBus, *, retry: float = 2.0) -> None:
    """Forward the queue's channel onto `bus` until cancelled, reconnecting after errors."""
    import redis.asyncio as aioredis

    while True:
        client = aioredis.from_url(url)
        try:
            async with client.pubsub() as pubsub:
                await pubsub.subscribe(channel(queue))
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    event = decode(message["data"])
                    if event is not None:
                        bus.publish(event)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.warning("relay: %s lost (%s); retrying in %.0f s", channel(queue), error, retry)
        finally:
            await client.aclose()
        await asyncio.sleep(retry)
