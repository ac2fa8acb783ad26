"""`hub devices`: register devices from a file, write the broker's ACL, list what is registered.

    hub devices import devices.csv          # CSV, JSON or JSONL; all rows or none
    hub devices acl --out mosquitto/        # passwords, acl, credentials.csv (mode 600)
    hub devices list [--type elevator] [--status offline]

Exit status: 0 on success, 2 on bad input (every problem of a file is printed with its line).
"""

from __future__ import annotations

import argparse
import asyncio

from hub.commands.common import add_db, open_store
from hub.settings import Settings


def add(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("devices", help="register devices, write the MQTT ACL, list devices")
    actions = parser.add_subparsers(dest="action", required=True)

    load = actions.add_parser("import", help="register (or update) devices from a CSV, JSON or JSONL file")
    add_db(load)
    load.add_argument("file", help="columns: code, type, model, place, lon, lat, interval, name, thresholds")
    load.set_defaults(handler=run_import)

    acl = actions.add_parser("acl", help="write mosquitto's password and ACL files for the registered devices")
    add_db(acl)
    acl.add_argument("--out", required=True, help="directory for passwords, acl and credentials.csv")
    acl.add_argument("--prefix", help="topic prefix (default hub, or $HUB_MQTT_PREFIX)")
    acl.add_argument("--hub-user", default="hub-ingest", help="the ingestion's MQTT user (default hub-ingest)")
    acl.add_argument("--simulator", action="store_true",
                     help="also a hub-simulator user that may publish for every device (demo brokers only)")
    acl.set_defaults(handler=run_acl)

    listing = actions.add_parser("list", help="print the registered devices and their latest state")
    add_db(listing)
    listing.add_argument("--type", help="only devices of this type")
    listing.add_argument("--status", help="only devices in this status (new, online, offline, alarm)")
    listing.add_argument("--first", type=int, default=1000, help="at most this many (default 1000)")
    listing.set_defaults(handler=run_list)


def run_import(arguments: argparse.Namespace) -> int:
    return asyncio.run(_import(arguments))


async def _import(arguments: argparse.Namespace) -> int:
    from devices.importing import import_devices

    store = await open_store(arguments)
    try:
        done = await import_devices(store, arguments.file)
    finally:
        await store.close()
    unchanged = done.rows - done.inserted - done.updated
    print(f"{arguments.file}: {done.rows} devices: {done.inserted} inserted, {done.updated} updated, {unchanged} unchanged")
    return 0


def run_acl(arguments: argparse.Namespace) -> int:
    return asyncio.run(_acl(arguments))


async def _acl(arguments: argparse.Namespace) -> int:
    from devices.acl import write_acl
    from graph.devices import every_device

    prefix = arguments.prefix or Settings.from_env().mqtt_prefix
    store = await open_store(arguments)
    try:
        codes = [device.code for device in await every_device(store)]
    finally:
        await store.close()
    files = write_acl(codes, arguments.out, prefix=prefix, hub_user=arguments.hub_user, simulator=arguments.simulator)
    print(f"wrote {files.passwords}, {files.acl} and {files.credentials} (mode 600) for {len(codes)} devices "
          f"under {prefix}/devices/: {files.created} new passwords, {files.kept} kept")
    print(f"mosquitto.conf: password_file {files.passwords.resolve()}  acl_file {files.acl.resolve()}  allow_anonymous false")
    return 0


def run_list(arguments: argparse.Namespace) -> int:
    return asyncio.run(_list(arguments))


async def _list(arguments: argparse.Namespace) -> int:
    from graph.devices import DeviceStatus, DeviceType
    from graph.errors import InvalidInput
    from graph.scope import Scope

    try:
        types = [DeviceType(arguments.type)] if arguments.type else None
    except ValueError:
        raise InvalidInput("--type", arguments.type, f"must be one of {', '.join(t.value for t in DeviceType)}") from None
    try:
        statuses = [DeviceStatus(arguments.status)] if arguments.status else None
    except ValueError:
        raise InvalidInput("--status", arguments.status, f"must be one of {', '.join(s.value for s in DeviceStatus)}") from None
    if not 1 <= arguments.first <= 100_000:
        raise InvalidInput("--first", arguments.first, "must be between 1 and 100000")
    store = await open_store(arguments)
    try:
        scope = Scope.everything()
        shown, after, total = 0, None, await store.device_count(scope, types=types, statuses=statuses)
        print(f"{'code':<24} {'type':<15} {'place':<28} {'status':<8} last seen (UTC)")
        while shown < arguments.first:
            page = await store.device_page(scope, min(500, arguments.first - shown), after, types=types, statuses=statuses)
            for device in page.items:
                seen = f"{device.last_seen:%Y-%m-%d %H:%M:%S}" if device.last_seen else "-"
                print(f"{device.code:<24} {device.type.value:<15} {device.place_code:<28} {device.status.value:<8} {seen}")
            shown += len(page.items)
            if not page.items or not page.has_next:
                break
            after = page.end_cursor
    finally:
        await store.close()
    print(f"{shown} of {total} devices")
    return 0
