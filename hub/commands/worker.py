"""`hub worker`: a Celery worker for connector runs, with the beat schedule embedded by default."""

from __future__ import annotations

import argparse
import os

from hub.commands.common import add_db, settings_of


def add(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "worker", help="run connector syncs from the broker ($HUB_BROKER), beat schedule embedded"
    )
    add_db(parser)
    parser.add_argument("--connectors", help="the connectors file (default connectors.toml, or $HUB_CONNECTORS)")
    parser.add_argument("--broker", help="Celery broker URL (default $HUB_BROKER), e.g. redis://127.0.0.1:6379/0")
    parser.add_argument("--queue", help="queue to consume (default hub, or $HUB_QUEUE)")
    parser.add_argument("--concurrency", type=int, default=1, help="runs at once (default 1)")
    parser.add_argument("--pool", choices=("prefork", "solo", "threads"), default="prefork", help="Celery pool (default prefork)")
    parser.add_argument("--beat", action=argparse.BooleanOptionalAction, default=True,
                        help="embed the beat scheduler (default on; run it in one worker only)")
    parser.add_argument("--schedule-file", help="where beat keeps its state (default celerybeat-schedule here)")
    parser.add_argument("--loglevel", default="INFO", help="worker log level (default INFO)")
    parser.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    from graph.errors import InvalidInput
    from hub.worker import create_celery

    settings = settings_of(arguments)
    if arguments.concurrency < 1:
        raise InvalidInput("--concurrency", arguments.concurrency, "must be at least 1")
    app = create_celery(settings)  # checks the broker and the connectors file before starting
    # prefork children and beat read their settings from the app; the environment is for tools
    os.environ.update({"HUB_DB": settings.db, "HUB_KEYS": settings.keys, "HUB_CONNECTORS": settings.connectors})
    argv = [
        "worker",
        "--queues", settings.queue,
        "--concurrency", str(arguments.concurrency),
        "--pool", arguments.pool,
        "--loglevel", arguments.loglevel,
        "--hostname", f"hub-{settings.queue}@%h",
    ]
    if arguments.beat:
        argv += ["--beat", "--schedule", arguments.schedule_file or "celerybeat-schedule"]
    app.worker_main(argv)
    return 0
