"""Connector runs as Celery tasks, and the guard that keeps two runs of a connector apart.

The worker's app (hub.worker) puts what a task needs in its config: `hub_db`, `hub_keys`,
`hub_connectors` and `hub_broker`; a task opens the store and the connector from there, runs
one sync and answers with a JSON summary. Tasks are acknowledged late, so a worker that dies
mid-run hands the task to another; the run keeps its id and the re-run resumes from the last
checkpoint.

Only one run of a connector goes at a time: with a Redis broker a lease in Redis (renewed while
the run lasts, so a dead worker's lease lapses); otherwise the ledger says whether one is
RUNNING. A run refused this way is answered "already running".
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import hashlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from celery import current_app, shared_task

from connectors.config import AlreadyRunning, ConnectorSet, ConnectorSpec, load_connectors, opened
from connectors.relay import RedisAnnouncer
from connectors.runner import check_run_id, sync, utcnow
from graph.ledger import ConnectorRun, RunStatus
from graph.store import Store

log = logging.getLogger("connectors.tasks")

STALE_AFTER = dt.timedelta(minutes=15)
"""A RUNNING run with no heartbeat for this long was interrupted (its process died): it no longer
holds the connector, and the next run records it as failed before starting."""

LEASE_SECONDS = 120
"""How long a run's Redis lease lasts unless renewed; renewed every third of it."""


@dataclasses.dataclass(frozen=True, slots=True)
class Where:
    """What a run needs to open the store and the connector."""

    db: str
    keys: str
    connectors: str
    broker: str | None = None
    queue: str = "hub"
    """The hub's queue: its workers announce what they write on the queue's channel."""


def summary(run: ConnectorRun) -> dict[str, Any]:
    """A run as JSON: what a task returns and `hub sync` prints."""
    duration = run.duration
    return {
        "id": run.id,
        "connector": run.connector,
        "status": run.status.value,
        "trigger": run.trigger,
        "full": run.full,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "seconds": round(duration.total_seconds(), 3) if duration is not None else None,
        "counts": dataclasses.asdict(run.counts),
        "error": run.error,
    }


@contextlib.asynccontextmanager
async def exclusive(store: Store, name: str, *, broker: str | None, db: str, run_id: str | None = None) -> AsyncIterator[None]:
    """Hold the connector for one run, or raise AlreadyRunning."""
    if broker is not None and broker.startswith(("redis://", "rediss://", "unix://")):
        async with _redis_lease(broker, db, name):
            yield
        return
    [last] = await store.last_runs([name])
    if last is not None and last.status is RunStatus.RUNNING and last.id != run_id and await _alive(store, last):
        raise AlreadyRunning(f"connector {name} is already running (run {last.id}, started {last.started_at:%Y-%m-%d %H:%M:%S} UTC)")
    yield


async def _alive(store: Store, run: ConnectorRun) -> bool:
    """Whether a RUNNING run still shows signs of life; a dead one is closed as interrupted."""
    last_seen = run.heartbeat_at or run.started_at
    if utcnow() - last_seen < STALE_AFTER:
        return True
    await store.save_run(
        dataclasses.replace(
            run,
            status=RunStatus.FAILED,
            finished_at=last_seen,
            error=f"interrupted: no sign of life since {last_seen:%Y-%m-%d %H:%M:%S} UTC (its process stopped)",
        )
    )
    return False


@contextlib.asynccontextmanager
async def _redis_lease(broker: str, db: str, name: str) -> AsyncIterator[None]:
    import redis.asyncio as aioredis
    from redis.exceptions import LockError

    # one lease per store and connector; the store URL is hashed, it may hold a password
    store_id = hashlib.sha256(db.encode()).hexdigest()[:16]
    client = aioredis.from_url(broker)
    lock = client.lock(f"hub:sync:{store_id}:{name}", timeout=LEASE_SECONDS)
    try:
        if not await lock.acquire(blocking=False):
            raise AlreadyRunning(f"connector {name} is already running (another worker holds it)")

        async def renew() -> None:
            while True:
                await asyncio.sleep(LEASE_SECONDS / 3)
                await lock.reacquire()

        renewing = asyncio.create_task(renew())
        try:
            yield
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError, LockError):
                await renewing
            with contextlib.suppress(LockError):
                await lock.release()
    finally:
        await client.aclose()


async def run_connector(
    where: Where,
    name: str,
    *,
    full: bool = False,
    trigger: str = "schedule",
    run_id: str | None = None,
    batch_size: int = 500,
) -> ConnectorRun:
    """Open the store and the connector named `name`, run one sync (exclusively), close both.

    A run refused because another is going is recorded under `run_id` (when given: the API
    saved it as RUNNING) as FAILED, then AlreadyRunning is raised."""
    from graph.ciphers.keyring import Keyring
    from graph.sql import SqlStore

    if run_id is not None:
        check_run_id(run_id)
    spec: ConnectorSpec = ConnectorSet(load_connectors(where.connectors), path=where.connectors).get(name)
    keys = Keyring.load(Path(where.keys))
    store = await SqlStore.open(where.db, sealer=keys.sealer())
    try:
        try:
            async with exclusive(store, name, broker=where.broker, db=where.db, run_id=run_id), opened(spec) as source:
                announcer = RedisAnnouncer(where.broker, where.queue) if where.broker and where.broker.startswith("redis") else None
                try:
                    return await sync(store, source, full=full, trigger=trigger, run_id=run_id, announce=announcer)
                finally:
                    if announcer is not None:
                        await announcer.close()
        except AlreadyRunning as busy:
            if run_id is not None:
                now = utcnow()
                await store.save_run(ConnectorRun(
                    id=run_id, connector=name, started_at=now, status=RunStatus.FAILED, finished_at=now,
                    full=full, trigger=trigger, error=str(busy),
                ))
            raise
    finally:
        await store.close()


def _where() -> Where:
    conf = current_app.conf
    return Where(
        db=conf.hub_db, keys=conf.hub_keys, connectors=conf.hub_connectors, broker=conf.hub_broker,
        queue=conf.task_default_queue or "hub",
    )


def _sync_connector(
    name: str, full: bool = False, trigger: str = "schedule", run_id: str | None = None
) -> dict[str, Any]:
    """Run one sync of connector `name`; the run's summary, or status "already running"."""
    try:
        run = asyncio.run(run_connector(_where(), name, full=full, trigger=trigger, run_id=run_id))
    except AlreadyRunning as busy:
        log.info("%s", busy)
        return {"id": run_id, "connector": name, "status": "already running", "error": str(busy),
                "at": dt.datetime.now(dt.timezone.utc).isoformat()}
    return summary(run)


sync_connector: Any = shared_task(name="connectors.tasks.sync_connector", acks_late=True, reject_on_worker_lost=True)(
    _sync_connector
)
"""The Celery task: `sync_connector.delay("registry", full=True)`, or sent by name with send_task."""
