"""Connector runs as Celery tasks, the guard that keeps two runs of a connector apart, and the
retry of place-related dead letters after a run that added places.

The worker's app (hub.worker) puts what a task needs in its config: `hub_db`, `hub_keys`,
`hub_connectors`, `hub_broker` and `hub_run_lease`; a task opens the store and the connector
from there, runs one sync and answers with a JSON summary. Tasks are acknowledged late, so a
worker that dies mid-run hands the task to another, which resumes from the last checkpoint:
under the run's id while its lease holds, under a new id once a reader has closed the dead run
as abandoned (connectors.leases).

Only one run of a connector goes at a time: with a Redis broker a lease in Redis (renewed while
the run lasts, so a dead worker's lease lapses); otherwise the ledger says whether one is
RUNNING with a live lease. Either way the runs whose ledger lease expired are closed first. A
run refused this way is answered "already running".

A run that adds places (`counts.places_added`) may have brought what other connectors' records
were set aside for (an unknown place, an address that matched nothing). `retry_after_places`
then retries the open place-related letters of every configured connector, one connector after
the other, each exclusively; on Celery the task sends one follow-up task per connector instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import hashlib
import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from celery import current_app, shared_task

from connectors.config import AlreadyRunning, ConnectorSet, ConnectorSpec, load_connectors, opened
from connectors.leases import LEASE, close_abandoned, lease_length
from connectors.relay import Announce, RedisAnnouncer
from connectors.runner import check_run_id, retry_letters, sync, utcnow
from graph.ledger import PLACE_REASONS, ConnectorRun, RunStatus
from graph.store import MAX_PAGE, Store

log = logging.getLogger("connectors.tasks")

PLACES_TRIGGER = "places"
"""The trigger of a run retrying dead letters because another run added places."""

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
    lease_seconds: float | None = None
    """How long a run's ledger lease lasts unrenewed (None: connectors.leases.LEASE)."""


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
        "lease": None if run.lease is None else {"pid": run.lease.pid, "host": run.lease.host,
                                                 "expires_at": run.lease.expires_at.isoformat()},
        "closed_at": run.closed_at.isoformat() if run.closed_at else None,
        "closed_by": run.closed_by,
    }


@contextlib.asynccontextmanager
async def exclusive(
    store: Store, name: str, *, broker: str | None, db: str, run_id: str | None = None, who: str = "a connector run"
) -> AsyncIterator[None]:
    """Hold the connector for one run, or raise AlreadyRunning. The runs whose lease expired
    are closed first, by `who` (connectors.leases)."""
    await close_abandoned(store, who)
    if broker is not None and broker.startswith(("redis://", "rediss://", "unix://")):
        async with _redis_lease(broker, db, name):
            yield
        return
    running = [r for r in (await store.runs(name, MAX_PAGE, status=RunStatus.RUNNING)).items if r.id != run_id]
    if running:
        last = running[0]
        held = f", {last.lease}" if last.lease is not None else ""
        raise AlreadyRunning(
            f"connector {name} is already running (run {last.id}, started {last.started_at:%Y-%m-%d %H:%M:%S} UTC{held})"
        )
    yield


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
    retry: bool = False,
    places_follow_up: bool = False,
    trigger: str = "schedule",
    run_id: str | None = None,
    batch_size: int = 500,
) -> ConnectorRun | None:
    """Open the store and the connector named `name`, run one sync (exclusively), close both.

    `retry` retries the connector's open dead letters after reading; `places_follow_up` reads
    nothing and retries only its open place-related letters (another run added places), and
    answers None without recording a run when it has none.

    A run refused because another is going is recorded under `run_id` (when given: the API
    saved it as RUNNING) as FAILED, then AlreadyRunning is raised. A `run_id` whose record a
    reader already closed (the task waited in the queue longer than the run's lease) starts
    under a new id, so the closed record stays as it was closed."""
    from graph import open_store
    from graph.ciphers.keyring import Keyring

    if run_id is not None:
        check_run_id(run_id)
    spec: ConnectorSpec = ConnectorSet(load_connectors(where.connectors), path=where.connectors).get(name)
    keys = Keyring.load(Path(where.keys))
    store = await open_store(where.db, sealer=keys.sealer())
    lease_for = lease_length(where.lease_seconds)
    try:
        if places_follow_up and not await _has_place_letters(store, name):
            return None
        try:
            async with exclusive(store, name, broker=where.broker, db=where.db, run_id=run_id, who="a worker"), opened(spec) as source:
                if run_id is not None:
                    known = await store.run(run_id)
                    if known is not None and known.status is not RunStatus.RUNNING:
                        log.warning("connector %s: run %s was closed (%s) before a worker took it; running under a new id",
                                    name, run_id, known.status.value)
                        run_id = None
                announcer = RedisAnnouncer(where.broker, where.queue) if where.broker and where.broker.startswith("redis") else None
                try:
                    if places_follow_up:
                        return await retry_letters(store, source, reasons=PLACE_REASONS, trigger=trigger, run_id=run_id,
                                                   announce=announcer, batch_size=batch_size, lease_for=lease_for)
                    return await sync(store, source, full=full, retry=retry, trigger=trigger, run_id=run_id,
                                      announce=announcer, batch_size=batch_size, lease_for=lease_for)
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


async def _has_place_letters(store: Store, name: str) -> bool:
    return bool((await store.dead_letters(name, 1, reasons=PLACE_REASONS, retryable=True)).items)


async def retry_after_places(
    store: Store,
    specs: Sequence[ConnectorSpec],
    *,
    who: str,
    broker: str | None = None,
    db: str = "",
    lease_for: dt.timedelta = LEASE,
    batch_size: int = 500,
    announce: Announce | None = None,
) -> list[tuple[str, ConnectorRun | str]]:
    """After a run that added places, here: a run (trigger `places`) retrying the open
    place-related dead letters of each connector of `specs` that has any, one after the other,
    each exclusively. A connector running at that moment is skipped (its letters stay open for
    the next retry). For each connector retried or skipped: its run, or why it was skipped."""
    outcome: list[tuple[str, ConnectorRun | str]] = []
    for spec in specs:
        if not await _has_place_letters(store, spec.name):
            continue
        try:
            async with exclusive(store, spec.name, broker=broker, db=db, who=who), opened(spec) as source:
                run = await retry_letters(store, source, reasons=PLACE_REASONS, trigger=PLACES_TRIGGER,
                                          batch_size=batch_size, announce=announce, lease_for=lease_for)
        except AlreadyRunning as busy:
            log.info("connector %s: place-related dead letters not retried now: %s", spec.name, busy)
            outcome.append((spec.name, str(busy)))
            continue
        outcome.append((spec.name, run))
    return outcome


def _where() -> Where:
    conf = current_app.conf
    return Where(
        db=conf.hub_db, keys=conf.hub_keys, connectors=conf.hub_connectors, broker=conf.hub_broker,
        queue=conf.task_default_queue or "hub", lease_seconds=conf.get("hub_run_lease"),
    )


def _sync_connector(
    name: str,
    full: bool = False,
    trigger: str = "schedule",
    run_id: str | None = None,
    retry: bool = False,
    places_follow_up: bool = False,
) -> dict[str, Any]:
    """Run one sync of connector `name`; the run's summary, or status "already running" (or
    "nothing to retry" for a follow-up whose connector has no open place-related letters).

    A run that added places sends a follow-up task (`places_follow_up`) for every configured
    connector, so each retries its place-related letters on whichever worker takes it."""
    where = _where()
    try:
        run = asyncio.run(run_connector(where, name, full=full, retry=retry, places_follow_up=places_follow_up,
                                        trigger=PLACES_TRIGGER if places_follow_up else trigger, run_id=run_id))
    except AlreadyRunning as busy:
        log.info("%s", busy)
        return {"id": run_id, "connector": name, "status": "already running", "error": str(busy),
                "at": dt.datetime.now(dt.timezone.utc).isoformat()}
    if run is None:
        return {"id": None, "connector": name, "status": "nothing to retry", "error": None,
                "at": dt.datetime.now(dt.timezone.utc).isoformat()}
    if run.counts.places_added and not places_follow_up:
        for spec in load_connectors(where.connectors):
            current_app.send_task(
                "connectors.tasks.sync_connector", kwargs={"name": spec.name, "places_follow_up": True}, queue=where.queue
            )
    return summary(run)


sync_connector: Any = shared_task(name="connectors.tasks.sync_connector", acks_late=True, reject_on_worker_lost=True)(
    _sync_connector
)
"""The Celery task: `sync_connector.delay("registry", full=True)`, or sent by name with send_task."""
