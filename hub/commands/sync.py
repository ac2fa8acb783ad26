"""`hub sync NAME`: run one connector now, in this process, and print what it did.

    hub sync registry              # incremental, from the saved cursors
    hub sync registry --full       # everything again (unchanged records stay unchanged)
    hub sync registry --retry      # then read its open dead letters again and link what now links
    hub sync registry --check      # is the source reachable and readable?
    hub sync registry --discover   # its streams: keys, cursors, record schemas
    hub sync --list                # the configured connectors and their last runs

A run that adds places is followed, here, by a retry of the open place-related dead letters of
every configured connector (connectors.tasks.retry_after_places), printed below its summary.
Reading the ledger closes the runs whose lease expired (a `hub sync` killed mid-run) as
abandoned first.

Exit status: 0 when the run succeeded (or the check passed), 1 when it failed, 2 on bad input.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from hub.commands.common import add_db, open_store, settings_of
from hub.settings import Settings

SHOWN_LETTERS = 5


def add(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("sync", help="run one connector now and print a summary")
    add_db(parser)
    parser.add_argument("name", nargs="?", help="the connector, as named in the connectors file")
    parser.add_argument("--connectors", help="the connectors file (default connectors.toml, or $HUB_CONNECTORS)")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--full", action="store_true", help="read everything, not only what changed")
    what.add_argument("--check", action="store_true", help="only check that the source answers")
    what.add_argument("--discover", action="store_true", help="only list the streams the source declares")
    what.add_argument("--list", action="store_true", help="list the configured connectors with their last run")
    parser.add_argument("--retry", action="store_true",
                        help="after reading, retry the connector's open dead letters that a run may now link")
    parser.add_argument("--batch-size", type=int, default=500, help="records per write (default 500)")
    parser.add_argument("--json", action="store_true", help="print the run summary as JSON")
    parser.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    from graph.errors import InvalidInput

    if not arguments.list and not arguments.name:
        raise InvalidInput("NAME", "", "is required: the connector to sync (or --list)")
    if arguments.list and arguments.name:
        raise InvalidInput("--list", arguments.name, "takes no connector name")
    if arguments.batch_size < 1:
        raise InvalidInput("--batch-size", arguments.batch_size, "must be at least 1")
    if arguments.retry and (arguments.list or arguments.check or arguments.discover):
        raise InvalidInput("--retry", "", "goes with a run, not with --list, --check or --discover")
    settings = settings_of(arguments)
    return asyncio.run(_run(arguments, settings))


async def _run(arguments: argparse.Namespace, settings: Settings) -> int:
    from connectors.config import ConnectorSet, load_connectors, opened
    from connectors.runner import check, discover

    connectors = ConnectorSet(load_connectors(settings.connectors), path=settings.connectors)
    if arguments.list:
        return await _list(arguments, settings, connectors)
    spec = connectors.get(arguments.name, field="NAME")
    if arguments.check or arguments.discover:
        async with opened(spec) as source:
            if arguments.discover:
                print(json.dumps(await discover(source), ensure_ascii=False, indent=2))
                return 0
            found = await check(source)
        print(("ok: " if found.ok else "FAILED: ") + found.detail)
        return 0 if found.ok else 1
    return await _sync(arguments, settings, connectors)


async def _sync(arguments: argparse.Namespace, settings: Settings, connectors: Any) -> int:
    from connectors.config import AlreadyRunning, opened
    from connectors.heap import collecting_less
    from connectors.leases import lease_length
    from connectors.runner import describe, sync
    from connectors.tasks import exclusive, retry_after_places, summary
    from graph.ledger import RunStatus

    spec = connectors.get(arguments.name, field="NAME")
    lease_for = lease_length(settings.run_lease_seconds)
    store = await open_store(arguments)
    try:
        try:
            async with exclusive(store, spec.name, broker=settings.broker, db=settings.db, who="hub sync"), opened(spec) as source:
                with collecting_less():  # a one-shot process: nothing else shares its collector
                    run = await sync(store, source, full=arguments.full, retry=arguments.retry, batch_size=arguments.batch_size,
                                     trigger="manual", lease_for=lease_for)
        except AlreadyRunning as busy:
            print(f"{spec.name}: not run: {busy}")
            return 1
        letters = (await store.dead_letters(spec.name, first=SHOWN_LETTERS)).items if run.counts.dead_lettered else []
        retried = []
        if run.counts.places_added:
            retried = await retry_after_places(store, connectors.specs, who="hub sync", broker=settings.broker, db=settings.db,
                                               lease_for=lease_for, batch_size=arguments.batch_size)
    finally:
        await store.close()
    if arguments.json:
        print(json.dumps({**summary(run), "retried_after_places": [
            {"connector": name, **(summary(outcome) if not isinstance(outcome, str) else {"status": "not run", "error": outcome})}
            for name, outcome in retried
        ]}, ensure_ascii=False, indent=2))
    else:
        seconds = run.duration.total_seconds() if run.duration else 0.0
        print(f"{spec.name}: {run.status.value} in {seconds:.1f}s (run {run.id})")
        print(f"  {describe(run.counts)}")
        if run.error:
            print(f"  error: {run.error}")
        if letters:
            print("  dead letters (newest first):")
            for letter in letters:
                print(f"    {letter.stream} {letter.record_key}: {letter.reason.value}: {letter.detail}")
        if retried:
            print("  place-related dead letters retried after the places it added:")
            for name, outcome in retried:
                if isinstance(outcome, str):
                    print(f"    {name}: not retried now: {outcome}")
                else:
                    print(f"    {name}: {outcome.status.value}: retried {outcome.counts.retried}, "
                          f"resolved {outcome.counts.resolved}, dead-lettered {outcome.counts.dead_lettered} (run {outcome.id})")
    return 0 if run.status is RunStatus.SUCCEEDED else 1


async def _list(arguments: argparse.Namespace, settings: Settings, connectors: Any) -> int:
    from connectors.runner import describe

    if not connectors.specs:
        print(f"no connectors configured ({settings.connectors} is absent or empty)")
        return 0
    from connectors.leases import close_abandoned

    store = await open_store(arguments)
    try:
        for closed in await close_abandoned(store, "hub sync --list"):
            print(f"{closed.connector}: run {closed.id} closed as abandoned: its lease expired "
                  f"(last sign of life {closed.finished_at:%Y-%m-%d %H:%M:%S} UTC)")
        last = await store.last_runs(connectors.names())
    finally:
        await store.close()
    for spec, run in zip(connectors.specs, last):
        schedule = f"every {spec.every}s" if spec.every else "manual"
        if run is None:
            said = "never ran"
        else:
            said = f"last run {run.started_at:%Y-%m-%d %H:%M:%S} UTC {run.status.value}"
            said += f" ({describe(run.counts)})"
        print(f"{spec.name:<16} {spec.kind:<16} {schedule:<12} {said}")
    return 0
