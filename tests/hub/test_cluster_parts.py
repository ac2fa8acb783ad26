"""hub.cluster's parts on the real Redis, each pair standing for two processes of one hub (two
clients, two buses): events bridged both ways and never delivered twice, a turn held by one at
a time (a connector's run too), one rate-limit bucket, one write generation. Each test uses its
own queue name."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from connectors.config import AlreadyRunning, parse_connectors
from connectors.relay import RedisAnnouncer
from graph import open_store
from graph.ciphers.sealing import Sealer
from graph.events import Event, EventBus, Topic
from hub.cluster import Bridge, RedisGeneration, Turns, prefix
from hub.limits import RedisRateLimiter
from hub.scheduler import Scheduler
from tests.services import REDIS, run_id

URL = f"redis://{REDIS.host}:{REDIS.port}/0"


@pytest.fixture
async def queue() -> AsyncIterator[str]:
    if not REDIS.ensure():
        pytest.fail("Redis must run on 127.0.0.1:6379 or be installed to be started")
    name = f"parts{run_id()}"
    yield name
    client = aioredis.from_url(URL)
    try:
        keys = [key async for key in client.scan_iter(match=prefix(name) + "*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def _until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never: {what}")


async def test_events_reach_every_process_once_and_workers_events_too(queue: str) -> None:
    buses = [EventBus(), EventBus()]
    bridges = [Bridge(URL, queue, bus) for bus in buses]
    for bridge in bridges:
        await bridge.start()
    listening = [bus.subscribe(Topic.ALARMS) for bus in buses]
    announcer = RedisAnnouncer(URL, queue)  # a Celery worker's, on the same channel
    try:
        first, second = Event(Topic.ALARMS, "a1", "raised", "370202"), Event(Topic.ALARMS, "a2", "cleared", "370202")
        buses[0].publish(first)
        buses[1].publish(second)
        worker = Event(Topic.ALARMS, "a3", "raised", None)
        await announcer([worker])
        heard: list[list[str]] = [[], []]

        def three() -> bool:
            for number, subscription in enumerate(listening):
                heard[number].extend(event.id for event in subscription.ready())
            return all(len(ids) >= 3 for ids in heard)

        await _until(three, "each bus heard three events")
        await asyncio.sleep(0.3)  # an echo would have come back by now
        three()
        assert [sorted(ids) for ids in heard] == [["a1", "a2", "a3"], ["a1", "a2", "a3"]]
    finally:
        await announcer.close()
        for bridge in bridges:
            await bridge.stop()
    assert buses[0].forward is None  # stopped: the bus is this process's alone again


async def test_a_turn_is_held_by_one_process_at_a_time(queue: str) -> None:
    one, other = Turns(URL, prefix(queue)), Turns(URL, prefix(queue))
    try:
        async with one.held("escalation", 10) as mine:
            assert mine
            async with other.held("escalation", 10) as theirs:
                assert not theirs
            async with other.held("overdue", 10) as theirs:
                assert theirs  # another sweep: another turn
        async with other.held("escalation", 10) as theirs:
            assert theirs  # released when the work ended
    finally:
        await one.close()
        await other.close()


async def test_a_turn_of_a_process_that_died_expires(queue: str) -> None:
    one, other = Turns(URL, prefix(queue)), Turns(URL, prefix(queue))
    try:
        lock = one.client.lock(one.prefix + "escalation", timeout=0.3)
        assert await lock.acquire(blocking=False)  # held, never renewed nor released
        async with other.held("escalation", 10) as theirs:
            assert not theirs
        await asyncio.sleep(0.4)
        async with other.held("escalation", 10) as theirs:
            assert theirs
    finally:
        await one.close()
        await other.close()


async def test_two_processes_count_one_bucket(queue: str) -> None:
    clients = [aioredis.from_url(URL), aioredis.from_url(URL)]
    limiters = [RedisRateLimiter(client, prefix(queue) + "rate:", rate=0.01, burst=3) for client in clients]
    try:
        waits = [await limiters[number % 2].take("token-1") for number in range(5)]
        assert waits[:3] == [0.0, 0.0, 0.0] and all(wait > 0 for wait in waits[3:])
        assert 0 < waits[3] <= 100.0  # one token back in 1/rate seconds at most
        assert await limiters[1].take("token-2") == 0.0  # another principal: its own bucket
    finally:
        for client in clients:
            await client.aclose()


async def test_a_limiter_whose_redis_is_away_counts_alone() -> None:
    client = aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    limiter = RedisRateLimiter(client, "nowhere:", rate=0.01, burst=1)
    try:
        assert await limiter.take("t") == 0.0
        assert await limiter.take("t") > 0  # the in-process bucket took over
    finally:
        await client.aclose()


async def test_a_write_in_one_process_moves_the_generation_the_other_reads(queue: str) -> None:
    one, other = RedisGeneration(URL, prefix(queue)), RedisGeneration(URL, prefix(queue))
    try:
        before = await other.current()
        assert before is not None
        await one.bump()
        assert await other.current() == before + 1
    finally:
        await one.client.aclose()
        await other.client.aclose()


async def test_an_unreachable_generation_caches_nothing() -> None:
    away = RedisGeneration("redis://127.0.0.1:1/0", "nowhere:")
    away.client = aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    try:
        assert await away.current() is None
    finally:
        await away.client.aclose()


async def test_a_connector_run_asked_for_in_one_process_waits_for_its_turn_held_by_another(
    queue: str, tmp_path: Path
) -> None:
    """`runConnector` in a process of the hub while another process runs that connector (holds
    its turn): refused with AlreadyRunning and nothing recorded; once the turn is free, it runs."""
    store = await open_store(str(tmp_path / "hub.sqlite"), sealer=Sealer.generate())
    missing = tmp_path / "missing.sqlite"
    [spec] = parse_connectors(
        f'[connectors.firms]\nkind = "tests.connectors.sample:SampleFirms"\n'
        f'url = "sqlite+aiosqlite:///file:{missing}?mode=ro&uri=true"\n'
    )
    other = Turns(URL, prefix(queue))
    scheduler = Scheduler(store, [spec], turns=Turns(URL, prefix(queue)))
    try:
        async with other.held("connector:firms", 10) as theirs:
            assert theirs
            with pytest.raises(AlreadyRunning, match="already running in another process of the hub"):
                await scheduler.launch(spec, full=False, trigger="api")
            assert (await store.runs("firms", first=5)).items == []
        run = await scheduler.launch(spec, full=False, trigger="api")
        async with other.held("connector:firms", 10) as theirs:
            assert not theirs  # held for the run in the scheduler's process
        while scheduler.running("firms"):
            await asyncio.sleep(0.05)
        async with other.held("connector:firms", 10) as theirs:
            assert theirs  # released when the run ended (it failed: no such source file)
        assert [saved.id for saved in (await store.runs("firms", first=5)).items] == [run.id]
    finally:
        await scheduler.stop()
        await other.close()
        await store.close()
