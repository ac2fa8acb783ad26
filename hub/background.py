"""What `hub serve` runs beside the API, in its event loop: device ingestion (MQTT when a broker
is set), the escalation sweep of the case workflow, the facilities' overdue sweep (maintenance
and inspection fallen due raise their alarms and open their cases), the bridge of the event bus
to the hub's other processes and its Celery workers (hub.cluster.Bridge) when there is a Redis
(`Settings.cluster_redis`), and, for the demo, simulated devices.

They share the app's event bus, so an alarm raised from an MQTT message, a case the sweep
escalates and a case a mutation moves all reach the GraphQL subscriptions of this server — and,
bridged, those of every process of the hub (`hub serve --workers N`, other machines, `hub
ingest`), whichever process saw the event.

Each sweep runs in one process of the hub at a time: a round runs where its turn is held
(hub.cluster.Turns, a Redis lock; every round is this process's own without a Redis).

Without a broker the demo's simulated devices feed ingestion's pipeline directly (the same
topics and payload bytes); with one they publish to it and ingestion reads them back, as real
devices would be read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from devices.service import Ingestion
from graph.facilities.intervals import Intervals
from graph.facilities.service import Facilities
from graph.credit.service import Credit
from graph.errors import Unreachable
from graph.funds.service import Funds
from graph.votes.service import Votes
from graph.devices import Device, every_device
from graph.events import EventBus
from graph.scope import Scope
from graph.store import MAX_PAGE, Store
from graph.workflow import Workflow
from hub.cluster import Bridge, generation_of, prefix, turns_of, watch_writes
from hub.settings import Settings

if TYPE_CHECKING:
    from devices.simulator import Simulator

log = logging.getLogger("hub.background")

ESCALATE_EVERY = 30.0
"""Seconds between escalation sweeps: deadlines are minutes to days, so half a minute is prompt."""
OVERDUE_EVERY = 60.0
"""Seconds between the facilities' overdue sweeps: due times are days apart, and a sweep reads
only the facilities newly overdue (an index on the due time), so a minute costs little."""
FOCUS_FAULTS = 0.005
"""The chance per message that a device of the focus place starts a fault (see `Simulation`)."""


@dataclass(frozen=True, slots=True)
class Simulation:
    """Simulated devices for the demo: how many of the registered ones, messages per second.

    `focus` is a place whose devices are all simulated and fault `focus_faults` of the time
    (instead of `faults`): the street the demo's street-office token and the README's examples
    look at, which would otherwise wait minutes for a fault that mostly happens elsewhere."""

    devices: int = 200
    rate: float = 20.0
    faults: float = 0.002
    seed: int = 0
    focus: str | None = None
    focus_faults: float = FOCUS_FAULTS


class Background:
    def __init__(
        self,
        store: Store,
        bus: EventBus,
        settings: Settings,
        *,
        ingest: bool = True,
        escalate_every: float | None = ESCALATE_EVERY,
        simulation: Simulation | None = None,
        votes: Votes | None = None,
        funds: Funds | None = None,
        overdue_every: float | None = OVERDUE_EVERY,
        intervals: Intervals | None = None,
        credit: Credit | None = None,
    ) -> None:
        self.store = store
        self.credit = credit
        self.votes = votes
        self.funds = funds
        self.bus = bus
        self.settings = settings
        self.workflow = Workflow(store, bus=bus)
        self.ingestion = Ingestion(store, settings, bus=bus, workflow=self.workflow) if ingest else None
        self.escalate_every = escalate_every
        self.facilities = Facilities(store, workflow=self.workflow, bus=bus, intervals=intervals)
        self.overdue_every = overdue_every
        self.simulation = simulation
        self._tasks: list[asyncio.Task[None]] = []
        redis = settings.cluster_redis
        self.bridge = Bridge(redis, settings.queue, bus) if redis else None
        self.turns = turns_of(redis, prefix(settings.queue))
        # what this process writes retires the cached shared-query answers of every process
        self.generation = generation_of(redis, prefix(settings.queue))
        watch_writes(store, self.generation)

    async def start(self) -> None:
        if self.bridge is not None:
            # before anything announces: what this process sees reaches the others, and what
            # they (and the Celery workers) see reaches this process's subscribers
            await self.bridge.start()
        if self.ingestion is not None:
            await self.ingestion.start()
        if self.escalate_every is not None:
            self._tasks.append(asyncio.create_task(self._escalate(self.escalate_every), name="escalation sweep"))
        if self.overdue_every is not None:
            self._tasks.append(asyncio.create_task(self._overdue(self.overdue_every), name="overdue facilities sweep"))
        if self.simulation is not None:
            self._tasks.append(asyncio.create_task(self._simulate(self.simulation), name="simulated devices"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self.ingestion is not None:
            await self.ingestion.stop()
        if self.bridge is not None:
            await self.bridge.stop()
        await self.turns.close()

    async def _escalate(self, every: float) -> None:
        while True:
            async with self.turns.held("escalation", max(every, 60.0)) as mine:
                if mine:
                    await self._escalation_round()
            await asyncio.sleep(every)

    async def _escalation_round(self) -> None:
        try:
            escalated = await self.workflow.escalate_due()
            if escalated:
                log.info("escalated %d overdue cases", len(escalated))
        except Exception:  # a sweep that fails is tried again; the server stays up
            log.exception("escalation sweep failed")
        if self.votes is not None:
            try:
                moved = await self.votes.sweep()  # votes open and close on time, read or not
                if moved:
                    log.info("opened or closed %d votes", moved)
            except Exception:
                log.exception("vote sweep failed")
        if self.funds is not None and self.funds.keys is not None:
            try:
                published = await self.funds.publish_due()  # last month's heads, once a month
                if published:
                    log.info("published %d estates' fund heads for %s", published, self.funds.last_month())
            except Exception:
                log.exception("publishing the fund journals' heads failed")
        if self.credit is not None:
            try:
                scored = await self.credit.compute_due()  # last month's firms' credit, once
                if scored:
                    log.info("computed %d firms' credit for %s", len(scored), scored[0].period)
            except Exception:
                log.exception("computing firms' credit failed")

    async def _overdue(self, every: float) -> None:
        while True:
            async with self.turns.held("overdue", max(every, 60.0)) as mine:
                if mine:
                    await self._overdue_round()
            await asyncio.sleep(every)

    async def _overdue_round(self) -> None:
        try:
            swept = await self.facilities.overdue_sweep()
            if swept.raised or swept.cases:
                log.info("facilities: %d overdue alarms raised, %d cases opened", swept.raised, swept.cases)
        except Unreachable as error:  # the store restarting or the server stopping: not a bug
            log.warning("the facilities' overdue sweep could not reach the store (%s); it tries again", error)
        except Exception:  # a sweep that fails is tried again; the server stays up
            log.exception("the facilities' overdue sweep failed")

    async def _simulate(self, plan: Simulation) -> None:
        from devices.mqtt import parse_broker
        from devices.simulator import feed_pipeline, publish_to_broker

        simulator = await simulated(self.store, plan, prefix=self.settings.mqtt_prefix)
        if simulator is None:
            log.warning("no devices are registered: nothing to simulate")
            return
        log.info(
            "simulating %d devices at %.0f messages/s (%d of them under %s, faulting more often)",
            len(simulator.devices), plan.rate, len(simulator.focus), plan.focus or "-",
        )
        if self.settings.mqtt:
            await publish_to_broker(simulator, parse_broker(self.settings.mqtt), rate=plan.rate, duration=None)
        elif self.ingestion is not None:
            await feed_pipeline(simulator, self.ingestion.pipeline, rate=plan.rate, duration=None)


async def simulated(store: Store, plan: Simulation, *, prefix: str) -> Simulator | None:
    """The simulator `plan` asks for: every registered device under its focus place (they fault
    `focus_faults` of the time), then others picked by seed up to `plan.devices`; None when no
    device is registered."""
    from devices.simulator import Simulator, pick

    registered = await every_device(store)
    if not registered:
        return None
    focused = (await _devices_under(store, plan.focus))[: plan.devices] if plan.focus else []
    codes = {device.code for device in focused}
    others = [device for device in registered if device.code not in codes]
    chosen = focused + pick(others, max(0, plan.devices - len(focused)), seed=plan.seed)
    return Simulator(chosen, prefix=prefix, seed=plan.seed, faults=plan.faults, focus=codes, focus_faults=plan.focus_faults)


async def _devices_under(store: Store, place: str) -> list[Device]:
    found: list[Device] = []
    after: str | None = None
    while True:
        page = await store.device_page(Scope.everything(), MAX_PAGE, after, within=place)
        found.extend(page.items)
        if not page.has_next:
            return found
        after = page.end_cursor
