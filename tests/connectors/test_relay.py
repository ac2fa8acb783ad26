"""What Celery workers announce reaches the serving hub's subscribers: events published on the
queue's Redis channel by a worker's `RedisAnnouncer` come out of the hub's bus through `relay`,
on a real Redis; other queues' channels and garbage are not heard."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from connectors.relay import RedisAnnouncer, channel, relay
from graph.events import Event, EventBus, Topic
from tests.services import REDIS, run_id


@pytest.fixture(scope="module")
def redis_url() -> str:
    if not REDIS.ensure():
        pytest.fail("Redis is neither running on 127.0.0.1:6379 nor installed to be started")
    return f"redis://{REDIS.host}:{REDIS.port}/0"


async def test_a_workers_events_reach_the_hubs_bus(redis_url: str) -> None:
    queue, other = f"relay-{run_id()}", f"relay-other-{run_id()}"
    bus = EventBus()
    heard = bus.subscribe(Topic.CASES)
    relaying = asyncio.create_task(relay(redis_url, queue, bus))
    client = aioredis.from_url(redis_url)
    worker, stranger = RedisAnnouncer(redis_url, queue), RedisAnnouncer(redis_url, other)
    try:
        for _ in range(100):  # until the relay has subscribed
            if (await client.pubsub_numsub(channel(queue)))[0][1]:
                break
            await asyncio.sleep(0.02)
        await client.publish(channel(queue), "not an event")
        await client.publish(channel(queue), '{"topic": "nope", "id": 1}')
        await stranger([Event(Topic.CASES, "cityops:ELSEWHERE", "synced", "370202001")])
        sent = [Event(Topic.CASES, f"cityops:QD{n:04d}", "synced", "370202001001GB00001F00010001" if n else None) for n in range(3)]
        await worker(sent)
        got = [await asyncio.wait_for(heard.get(), 5) for _ in sent]
        assert got == sent
        await asyncio.sleep(0.2)
        assert heard.ready() == [], "garbage and another queue's events are not relayed"
    finally:
        relaying.cancel()
        await asyncio.gather(relaying, return_exceptions=True)
        await worker.close()
        await stranger.close()
        await client.aclose()


async def test_an_announcer_without_a_broker_loses_the_update_not_the_sync() -> None:
    unreachable = RedisAnnouncer("redis://127.0.0.1:1/0", "nowhere")
    await unreachable([Event(Topic.CASES, "cityops:QD0001", "synced", None)])  # logs, does not raise
    await unreachable.close()
