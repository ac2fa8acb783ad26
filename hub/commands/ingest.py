"""`hub ingest`: device ingestion alone (the MQTT reader, the pipeline, the rules' sweeps), no API.

    HUB_MQTT=mqtt://127.0.0.1:1883 hub ingest --db postgresql://… --share ingest --slot 0
    HUB_MQTT=mqtt://127.0.0.1:1883 hub ingest --db postgresql://… --share ingest --slot 1

Several of them with the same `--share` group split the devices' stream (an MQTT 5 shared
subscription, `$share/GROUP/{prefix}/devices/+/+`); devices.sharing says how rule state and
crashes are handled. Each needs its own client id, the same at every restart, so that the broker
keeps its persistent session (and what it had sent it unacknowledged) while it is away: by
default `hub-ingest-{host}-{slot}`, so one process per `--slot` on each host.

It runs hub.background's `Background` with ingestion on and the other sweeps off, so events it
raises go on the event bus like those of `hub serve`. SIGTERM or SIGINT stops it gracefully
(what the pipeline holds is committed and acknowledged first); `kill -9` loses nothing either
(QoS 1: what was not acknowledged is sent again).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import re
import signal
import socket

from hub.commands.common import add_db, load_keys, settings_of
from hub.settings import Settings


def add(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "ingest", help="ingest device messages from $HUB_MQTT (no API); several with --share split the stream"
    )
    add_db(parser)
    parser.add_argument(
        "--share",
        metavar="GROUP",
        help="read through the MQTT 5 shared subscription $share/GROUP/PREFIX/devices/+/+ "
        "(default $HUB_MQTT_SHARE; none: read every message)",
    )
    parser.add_argument(
        "--client-id",
        metavar="ID",
        help="MQTT client id, the same at every restart (default $HUB_MQTT_CLIENT_ID, else hub-ingest-HOST-SLOT)",
    )
    parser.add_argument("--slot", type=int, default=0, help="this process's number on its host, for the default client id (default 0)")
    parser.add_argument("--prefix", help="topic prefix (default $HUB_MQTT_PREFIX, else hub)")
    parser.add_argument(
        "--rules", metavar="REDIS_URL",
        help="with --share: where the group keeps its devices' rule states (default $HUB_MQTT_RULES, else the hub's $HUB_REDIS)",
    )
    parser.add_argument(
        "--sweep-every", type=float, default=5.0,
        help="seconds between sweeps of what time alone decides: silence, durations (default 5)",
    )
    parser.set_defaults(handler=run)


def default_client_id(slot: int, host: str | None = None) -> str:
    """`hub-ingest-{host}-{slot}`: stable across restarts, distinct per host and slot.

    >>> default_client_id(1, "node-a.local")
    'hub-ingest-node-a.local-1'
    """
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", host if host is not None else socket.gethostname())[:64]
    return f"hub-ingest-{name}-{slot}"


def ingest_settings(arguments: argparse.Namespace) -> Settings:
    """The environment's settings with this command's options over them."""
    import os

    from devices.topics import check_prefix, check_share
    from graph.errors import InvalidInput

    settings = settings_of(arguments)
    if not settings.mqtt:
        raise InvalidInput("HUB_MQTT", None, "must name the broker to ingest from (mqtt://user:pass@host:1883)")
    if not 0 < arguments.sweep_every <= 86_400:
        raise InvalidInput("--sweep-every", arguments.sweep_every, "must be above 0 and at most 86400 seconds")
    if arguments.slot < 0:
        raise InvalidInput("--slot", arguments.slot, "must be 0 or more")
    share = arguments.share or settings.mqtt_share
    client_id = arguments.client_id or os.environ.get("HUB_MQTT_CLIENT_ID") or default_client_id(arguments.slot)
    if not 1 <= len(client_id) <= 128 or not client_id.isprintable():
        raise InvalidInput("--client-id", client_id, "must be 1 to 128 printable characters")
    return dataclasses.replace(
        settings,
        mqtt_share=check_share(share) if share else None,
        mqtt_client_id=client_id,
        mqtt_prefix=check_prefix(arguments.prefix or settings.mqtt_prefix),
        mqtt_rules=arguments.rules or settings.mqtt_rules,
    )


async def ingest(settings: Settings, arguments: argparse.Namespace) -> None:
    from graph.events import EventBus
    from graph.opening import open_store
    from hub.background import Background

    keys = load_keys(arguments)
    store = await open_store(settings.db, sealer=keys.sealer())
    try:
        background = Background(store, EventBus(), settings, ingest=True, escalate_every=None, overdue_every=None)
    except BaseException:
        await store.close()
        raise
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stop.set)
    ingestion = background.ingestion
    assert ingestion is not None
    ingestion.pipeline.sweep_every = arguments.sweep_every
    try:
        await background.start()
        reader = ingestion.reader
        assert reader is not None
        # the reader retries a broker that is away with backoff: wait for it or for a stop
        subscribed = asyncio.create_task(reader.subscribed.wait())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait((subscribed, stopping), return_when=asyncio.FIRST_COMPLETED)
        subscribed.cancel()
        if reader.subscribed.is_set():
            print(f"ingest: {settings.mqtt_client_id} subscribed to {reader.topic}", flush=True)
        await stopping
        print(f"ingest: stopping; {ingestion.stats.snapshot()}", flush=True)
    finally:
        await background.stop()
        await store.close()


def run(arguments: argparse.Namespace) -> int:
    asyncio.run(ingest(ingest_settings(arguments), arguments))
    return 0
