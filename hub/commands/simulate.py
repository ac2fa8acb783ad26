"""`hub simulate`: realistic telemetry with occasional faults from registered devices (the demo).

    hub simulate --devices 200 --rate 100 --duration 60 --faults 0.01 --seed 7

With a broker (`HUB_MQTT`) it publishes to it over one connection, and `hub serve` ingests;
without one it feeds the same topics and payloads into an in-process pipeline with the real
store, rules and case workflow, and prints what was ingested. devices/simulator.py says how the
values walk and which faults happen.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from hub.commands.common import add_db, open_store, settings_of
from hub.settings import Settings

if TYPE_CHECKING:
    from devices.simulator import SimulationReport, Simulator
    from graph.store import Store


def add(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("simulate", help="publish realistic device telemetry with occasional faults")
    add_db(parser)
    parser.add_argument("--devices", type=int, default=100, help="how many registered devices to speak for (default 100)")
    parser.add_argument("--rate", type=float, default=50.0, help="messages per second, all devices together (default 50)")
    parser.add_argument("--duration", type=float, help="seconds to run (default: until Ctrl-C)")
    parser.add_argument("--faults", type=float, default=0.01, help="chance per message that a device starts a fault (default 0.01)")
    parser.add_argument("--seed", type=int, default=0, help="the same seed, the same devices and values (default 0)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    from graph.errors import InvalidInput

    if arguments.devices < 1:
        raise InvalidInput("--devices", arguments.devices, "must be at least 1")
    if not 0 < arguments.rate <= 100_000:
        raise InvalidInput("--rate", arguments.rate, "must be above 0 and at most 100000 messages a second")
    if arguments.duration is not None and arguments.duration <= 0:
        raise InvalidInput("--duration", arguments.duration, "must be above 0 seconds")
    if not 0 <= arguments.faults <= 1:
        raise InvalidInput("--faults", arguments.faults, "must be a probability between 0 and 1")
    settings = settings_of(arguments)
    return asyncio.run(simulate(arguments, settings))


async def simulate(arguments: argparse.Namespace, settings: Settings) -> int:
    from devices.simulator import Simulator, pick
    from graph.devices import every_device
    from graph.errors import InvalidInput

    store = await open_store(arguments)
    try:
        registered = await every_device(store)
        if not registered:
            raise InvalidInput("--devices", arguments.devices, f"no devices are registered in {settings.db} (hub devices import FILE)")
        chosen = pick(registered, arguments.devices, seed=arguments.seed)
        simulator = Simulator(chosen, prefix=settings.mqtt_prefix, seed=arguments.seed, faults=arguments.faults)
        ingested: dict[str, Any] | None = None
        if settings.mqtt:
            report = await _broker(simulator, settings, arguments)
        else:
            report, ingested = await _in_process(simulator, store, settings, arguments)
    finally:
        await store.close()
    where = "the broker" if settings.mqtt else "the in-process pipeline"
    if arguments.json:
        print(json.dumps({"report": dataclasses.asdict(report), "ingested": ingested}, ensure_ascii=False, indent=2))
        return 0
    rate = report.messages / report.seconds if report.seconds else 0.0
    print(f"{report.messages} messages from {report.devices} devices in {report.seconds:.1f}s ({rate:.0f}/s) to {where}")
    print("faults started: " + (", ".join(f"{k} {v}" for k, v in sorted(report.faults.items())) or "none"))
    if ingested is not None:
        print("ingested: " + ", ".join(f"{k} {v}" for k, v in ingested.items() if v))
    return 0


async def _broker(simulator: Simulator, settings: Settings, arguments: argparse.Namespace) -> SimulationReport:
    from devices.mqtt import parse_broker
    from devices.simulator import publish_to_broker

    assert settings.mqtt is not None
    return await publish_to_broker(simulator, parse_broker(settings.mqtt), rate=arguments.rate, duration=arguments.duration)


async def _in_process(
    simulator: Simulator, store: Store, settings: Settings, arguments: argparse.Namespace
) -> tuple[SimulationReport, dict[str, Any]]:
    from devices.pipeline import Pipeline
    from devices.simulator import feed_pipeline
    from graph.events import EventBus
    from graph.rules import RuleEngine
    from graph.workflow import Workflow

    bus = EventBus()
    pipeline = Pipeline(
        store, RuleEngine(), Workflow(store, bus=bus), bus,
        prefix=settings.mqtt_prefix,
        retention=dt.timedelta(days=settings.readings_retention_days),
        sweep_every=1.0,
    )
    await pipeline.start()
    try:
        report = await feed_pipeline(simulator, pipeline, rate=arguments.rate, duration=arguments.duration)
    finally:
        await pipeline.stop()
    return report, pipeline.stats.snapshot()
