"""`hub serve`: the GraphQL API on uvicorn, device ingestion (from `HUB_MQTT` when set), the case
escalation sweep, and the connectors' schedules when there is no Celery broker.

`--workers N` serves the port from N processes (uvicorn's own workers: the port is bound once
and every worker accepts on it; a worker that dies is replaced). Each builds the same app from
the command's options (`worker_app`, the factory uvicorn imports), and they act as one hub
through the Redis the settings name (hub.cluster), which `--workers` above 1 therefore needs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
from typing import TYPE_CHECKING

from connectors.config import ConnectorSet, load_connectors
from graph.ciphers.keyring import Keyring
from graph.store import Store
from hub.commands.common import add_db, add_server, load_keys, settings_of
from hub.settings import Settings

if TYPE_CHECKING:
    from hub.background import Simulation
    from hub.gate import Gate


def add(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve_parser = commands.add_parser("serve", help="serve the GraphQL API (GraphiQL at /graphql)")
    add_db(serve_parser)
    add_server(serve_parser)
    serve_parser.add_argument("--no-introspection", action="store_true", help="refuse schema introspection")
    serve_parser.add_argument("--rate", type=float, help="requests per second per principal (default 50)")
    serve_parser.add_argument(
        "--connectors",
        help="the connectors file (default connectors.toml, or $HUB_CONNECTORS); "
        "without $HUB_BROKER their schedules run in this server",
    )
    serve_parser.add_argument(
        "--demo-sources",
        action="store_true",
        help="also serve the demo city's reference utility API and 12345 feed on PORT+1 (hub demo)",
    )
    serve_parser.add_argument(
        "--simulate",
        type=int,
        metavar="DEVICES",
        help="simulate this many registered devices in the server (with --demo-sources: 300); "
        "they publish to $HUB_MQTT when set, else feed ingestion directly",
    )
    serve_parser.add_argument("--simulate-rate", type=float, default=30.0, help="simulated messages per second (default 30)")
    serve_parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes serving the port (default 1); above 1 they need a Redis ($HUB_REDIS, or a redis:// $HUB_BROKER) "
        "to act as one hub",
    )
    serve_parser.set_defaults(handler=run)


def connector_set(settings: Settings, store: Store) -> ConnectorSet:
    """The configured connectors; with a broker, runs asked for through the API go to the workers
    (whose beat also runs the schedules), without one they run in this server."""
    from connectors.leases import lease_length

    specs = load_connectors(settings.connectors)
    lease_for = lease_length(settings.run_lease_seconds)
    if settings.broker is None:
        return ConnectorSet(specs, path=settings.connectors, lease_for=lease_for)
    from hub.worker import CeleryLauncher, create_celery

    launcher = CeleryLauncher(create_celery(settings, specs), store, settings.queue, lease_for=lease_for)
    return ConnectorSet(specs, path=settings.connectors, launcher=launcher, lease_for=lease_for)


WORKER_ARGUMENTS = "HUB_SERVE_ARGUMENTS"
"""The environment variable that hands `hub serve`'s options to its uvicorn workers (JSON)."""


def build(arguments: argparse.Namespace, keys: Keyring) -> tuple[Gate, ConnectorSet]:
    """The app `hub serve` serves with these options (the store is opened lazily: in the
    process, and the event loop, that serves it)."""
    from graph.opening import connect_store
    from hub.app import create_app
    from hub.limits import Limits

    settings = settings_of(arguments)
    store = connect_store(settings.db, sealer=keys.sealer())
    connectors = connector_set(settings, store)
    limits = Limits.default()
    if getattr(arguments, "rate", None):
        limits = limits.with_rate(arguments.rate)
    app = create_app(
        store,
        keys=keys,
        owns_store=True,
        introspection=not getattr(arguments, "no_introspection", False),
        limits=limits,
        connectors=connectors,
        run_schedules=settings.broker is None,
        background=settings,
        simulation=_simulation(arguments),
        freeze_heap=True,
    )
    return app, connectors


def worker_app() -> Gate:
    """The app of one uvicorn worker of `hub serve --workers N` (options from WORKER_ARGUMENTS)."""
    arguments = argparse.Namespace(**json.loads(os.environ[WORKER_ARGUMENTS]))
    return build(arguments, load_keys(arguments))[0]


def serve(arguments: argparse.Namespace, keys: Keyring) -> None:
    import uvicorn

    from graph.errors import InvalidInput
    from graph.opening import open_store

    settings = settings_of(arguments)
    load_connectors(settings.connectors)  # a bad connectors file stops the server before it starts
    workers = getattr(arguments, "workers", None)
    workers = 1 if workers is None else workers
    if not 1 <= workers <= 64:
        raise InvalidInput("--workers", workers, "must be between 1 and 64")
    if workers > 1 and settings.cluster_redis is None:
        raise InvalidInput(
            "--workers", workers, "needs a Redis for the workers to act as one hub: set HUB_REDIS=redis://… (or a redis:// HUB_BROKER)"
        )
    if workers > 1 and getattr(arguments, "demo_sources", False):
        raise InvalidInput("--workers", workers, "serves no demo sources: start them with one worker")
    if workers > 1 and getattr(arguments, "simulate", None):
        raise InvalidInput("--workers", workers, "would simulate the devices once per worker: simulate with one worker")
    if workers > 1 and settings.mqtt:
        # N workers reading the broker under one client id would take its session from one another
        os.environ.pop("HUB_MQTT", None)
        settings = dataclasses.replace(settings, mqtt=None)
        print("devices: the workers ingest nothing (HUB_MQTT is for `hub ingest`): run `hub ingest` beside them")

    async def upgrade() -> None:
        store = await open_store(settings.db, sealer=keys.sealer())
        await store.close()

    asyncio.run(upgrade())
    app, connectors = build(arguments, keys)
    if connectors.specs:
        where = f"the workers of queue {settings.queue}" if settings.broker else "this server"
        print(f"connectors: {', '.join(connectors.names())} ({settings.connectors}); runs go on {where}")
    print(f"GraphiQL: http://{settings.host}:{settings.port}/graphql  (store: {settings.db})")
    broker = "no broker: simulated devices feed ingestion directly" if not settings.mqtt else f"MQTT {_redacted(settings.mqtt)}, topics {settings.mqtt_prefix}/devices/+/+"
    if workers > 1:
        broker = "ingested by `hub ingest`, events through Redis"
    print(f"devices: {broker}; live updates over graphql-transport-ws at ws://{settings.host}:{settings.port}/graphql")
    if workers > 1:
        assert settings.cluster_redis is not None
        print(f"workers: {workers} processes, one hub through {_redacted(settings.cluster_redis)} (queue {settings.queue})", flush=True)
        options = {key: value for key, value in vars(arguments).items() if key != "handler"}
        os.environ[WORKER_ARGUMENTS] = json.dumps(options)
        uvicorn.run(
            "hub.commands.serve:worker_app", factory=True, workers=workers, host=settings.host, port=settings.port,
            log_level="warning", ws="websockets-sansio",
        )
        return
    if not getattr(arguments, "demo_sources", False):
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", ws="websockets-sansio")
        return
    asyncio.run(_serve_with_sources(app, settings, keys, seed=getattr(arguments, "seed", 2020)))


async def _serve_with_sources(app: Gate, settings: Settings, keys: Keyring, *, seed: int) -> None:
    """The hub and, on the next port, the demo's reference sources, in one event loop; the
    sources are rebuilt from the store, as `hub demo` built them."""
    import uvicorn

    from graph.opening import connect_store
    from hub.demo.sources import keep_feed_moving, keep_registry_moving, serving, source_app, sources_place

    reader = connect_store(settings.db, sealer=keys.sealer())
    try:
        sources, feed = await source_app(reader, seed=seed)
    finally:
        await reader.close()
    where = sources_place(settings.db, settings.host, settings.port)
    moving = [asyncio.create_task(keep_feed_moving(feed))]
    if (where.folder / "registry.sqlite").exists():
        moving.append(asyncio.create_task(keep_registry_moving(where)))
    try:
        async with serving(sources, settings.host, where.port) as port:
            print(f"demo sources: http://{settings.host}:{port}/water (utility API), http://{settings.host}:{port}/12345 (12345 feed)")
            hub = uvicorn.Server(uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning", ws="websockets-sansio"))
            await hub.serve()
    finally:
        for task in moving:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _simulation(arguments: argparse.Namespace) -> Simulation | None:
    from hub.background import Simulation

    devices = getattr(arguments, "simulate", None)
    if devices is None and getattr(arguments, "demo_sources", False):
        devices = 300
    if devices is None or devices <= 0:
        return None
    rate = getattr(arguments, "simulate_rate", None) or 30.0
    if not 0 < rate <= 100_000:
        from graph.errors import InvalidInput

        raise InvalidInput("--simulate-rate", rate, "must be above 0 and at most 100000 messages a second")
    if getattr(arguments, "demo_sources", False):
        from hub.demo.devices import EXAMPLE_STREET

        return Simulation(devices=devices, rate=rate, focus=EXAMPLE_STREET)
    return Simulation(devices=devices, rate=rate)


def _redacted(url: str) -> str:
    """The broker URL without its password."""
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def run(arguments: argparse.Namespace) -> int:
    serve(arguments, load_keys(arguments))
    return 0
