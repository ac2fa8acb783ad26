"""The hub's Celery app, built from settings: broker, result backend, queue, and the beat schedule.

    HUB_BROKER=redis://127.0.0.1:6379/0 hub worker          # a worker with beat embedded

Each connector of the connectors file with `every` gets a beat entry that sends
`connectors.tasks.sync_connector` to the hub's queue. A scheduled run that would start while
the previous one still goes is answered "already running" by the task, and an entry expires
after its own interval, so a backlog never piles up behind a slow source.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from celery import Celery

from connectors.config import ConnectorSpec, load_connectors
from connectors.leases import LEASE
from connectors.runner import start_run
from graph.errors import InvalidInput
from graph.ledger import ConnectorRun
from graph.store import Store
from hub.settings import Settings

TASK = "connectors.tasks.sync_connector"


def beat_schedule(specs: list[ConnectorSpec], queue: str) -> dict[str, dict[str, Any]]:
    """One beat entry per connector that has a schedule."""
    return {
        f"sync {spec.name}": {
            "task": TASK,
            "schedule": float(spec.every),
            "args": (spec.name,),
            "kwargs": {"trigger": "schedule"},
            "options": {"queue": queue, "expires": float(spec.every)},
        }
        for spec in specs
        if spec.every is not None
    }


def create_celery(settings: Settings, specs: list[ConnectorSpec] | None = None) -> Celery:
    """The Celery app for `settings` (HUB_BROKER must be set)."""
    if not settings.broker:
        raise InvalidInput("HUB_BROKER", "", "is not set: give the broker URL, e.g. redis://127.0.0.1:6379/0")
    specs = load_connectors(settings.connectors) if specs is None else specs
    app = Celery("hub", broker=settings.broker, backend=settings.results, include=["connectors.tasks"])
    app.conf.update(
        task_default_queue=settings.queue,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # a sync is long: a worker takes one at a time
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=7 * 86400,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        timezone="UTC",
        beat_schedule=beat_schedule(specs, settings.queue),
        hub_db=settings.db,
        hub_keys=settings.keys,
        hub_connectors=settings.connectors,
        hub_broker=settings.broker,
        hub_run_lease=settings.run_lease_seconds,
    )
    return app


class CeleryLauncher:
    """Starts API-requested runs on the workers: the run is recorded RUNNING under the id the
    task will use, then the task is sent, so the caller can follow it at once."""

    def __init__(self, app: Celery, store: Store, queue: str, *, lease_for: dt.timedelta = LEASE) -> None:
        self.app = app
        self.store = store
        self.queue = queue
        self.lease_for = lease_for

    async def launch(self, spec: ConnectorSpec, *, full: bool, trigger: str, retry: bool = False) -> ConnectorRun:
        """The run, RUNNING under a lease of this process until a worker takes it over (a run
        left in the queue longer than its lease is closed as abandoned by the next reader, and
        the worker that takes it later runs it under a new id)."""
        run = await start_run(self.store, spec.name, full=full, trigger=trigger, lease_for=self.lease_for)
        kwargs = {"name": spec.name, "full": full, "trigger": trigger, "run_id": run.id, "retry": retry}
        await asyncio.to_thread(self.app.send_task, TASK, kwargs=kwargs, queue=self.queue)
        return run
