"""Connector schedules inside `hub serve`, for the embedded default that has no broker.

One asyncio task per scheduled connector runs it shortly after start and then every `every`
seconds (measured from one start to the next, so a slow run does not drift the schedule; a
run longer than its interval is followed by the next one at once). A connector never runs
twice at a time: a scheduled run due while a run of it (scheduled or asked for through the
API) still goes is skipped. A run that fails is in the ledger with its error; the scheduler
logs it and carries on, so no source can take the server down.

The scheduler is also the API's `Launcher` without a broker: `runConnector` starts the run as
an asyncio task in the server and answers with it RUNNING at once.

Several processes of one hub (hub.cluster) each run the schedules, but a run of a connector goes
only in the process holding the connector's turn (`turns`, a Redis lock renewed while the run
goes): the others skip a scheduled round, as they skip one due while a run still goes, and
refuse a run asked for through the API with AlreadyRunning, as when it runs in this process.

Every run starts by closing the runs whose lease expired (connectors.leases), so a run of
`hub sync` killed mid-way is closed as abandoned by the next scheduled run at the latest. A run
that adds places is followed, in its own task, by a retry of the open place-related dead
letters of every connector (connectors.tasks.retry_after_places); a connector running at that
moment keeps its letters open for the next retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Coroutine, Sequence
from typing import Any, cast

from connectors.config import AlreadyRunning, ConnectorSpec, open_source
from connectors.leases import LEASE
from connectors.relay import Announce
from connectors.runner import start_run, sync
from connectors.tasks import retry_after_places
from hub.cluster import Alone, Turns
from graph.ledger import ConnectorRun, RunStatus
from graph.store import Store

log = logging.getLogger("hub.scheduler")


class Scheduler:
    """Runs connectors in this process: on their schedules once started, and when asked."""

    def __init__(
        self,
        store: Store,
        specs: Sequence[ConnectorSpec],
        *,
        first_delay: float = 5.0,
        batch_size: int = 500,
        announce: Announce | None = None,
        lease_for: dt.timedelta = LEASE,
        turns: Turns | Alone | None = None,
    ) -> None:
        self.store = store
        self.turns = turns or Alone()
        self.announce = announce
        self.lease_for = lease_for
        self.specs = list(specs)
        self.first_delay = first_delay
        self.batch_size = batch_size
        self._loops: list[asyncio.Task[None]] = []
        self._running: dict[str, asyncio.Task[ConnectorRun | None]] = {}

    @property
    def scheduled(self) -> list[ConnectorSpec]:
        return [spec for spec in self.specs if spec.every is not None]

    def start(self) -> None:
        """Start one loop per scheduled connector (call from the server's event loop)."""
        for spec in self.scheduled:
            self._loops.append(asyncio.create_task(self._loop(spec), name=f"schedule {spec.name}"))
        if self._loops:
            log.info("scheduling %s in process", ", ".join(f"{s.name} every {s.every}s" for s in self.scheduled))

    async def stop(self) -> None:
        """Cancel the loops and any run still going (it is recorded FAILED, 'cancelled')."""
        tasks = [*self._loops, *self._running.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._loops.clear()
        self._running.clear()
        await self.turns.close()

    def running(self, name: str) -> bool:
        return name in self._running

    async def launch(self, spec: ConnectorSpec, *, full: bool, trigger: str, retry: bool = False) -> ConnectorRun:
        """Start a run now without waiting for it; AlreadyRunning if one of it still goes."""
        if spec.name in self._running:
            raise AlreadyRunning(f"connector {spec.name} is already running")
        turn = contextlib.AsyncExitStack()
        if not await turn.enter_async_context(self.turns.held(_turn(spec), self.lease_for.total_seconds())):
            await turn.aclose()
            raise AlreadyRunning(f"connector {spec.name} is already running in another process of the hub")
        try:
            run = await start_run(self.store, spec.name, full=full, trigger=trigger, lease_for=self.lease_for)
        except BaseException:
            await turn.aclose()
            raise
        self._start(spec, full=full, trigger=trigger, run_id=run.id, retry=retry, turn=turn)
        return run

    def _start(
        self,
        spec: ConnectorSpec,
        *,
        full: bool,
        trigger: str,
        run_id: str | None,
        retry: bool = False,
        turn: contextlib.AsyncExitStack | None = None,
    ) -> asyncio.Task[ConnectorRun | None]:
        """The run as a task; `turn`, the connector's turn held for it, is released when it ends."""
        task = asyncio.create_task(
            self._holding(turn, self._run(spec, full=full, trigger=trigger, run_id=run_id, retry=retry)), name=f"sync {spec.name}"
        )
        self._running[spec.name] = task
        task.add_done_callback(lambda _: self._running.pop(spec.name, None))
        return task

    @staticmethod
    async def _holding(turn: contextlib.AsyncExitStack | None, run: Coroutine[Any, Any, ConnectorRun | None]) -> ConnectorRun | None:
        try:
            return await run
        finally:
            if turn is not None:
                await turn.aclose()

    async def _run(
        self, spec: ConnectorSpec, *, full: bool, trigger: str, run_id: str | None, retry: bool = False
    ) -> ConnectorRun | None:
        try:
            source = open_source(spec)
        except Exception:
            log.exception("connector %s could not be opened", spec.name)
            return None
        try:
            run = await sync(
                self.store, source, full=full, retry=retry, trigger=trigger, run_id=run_id, batch_size=self.batch_size,
                announce=self.announce, lease_for=self.lease_for,
            )
        except Exception:  # the runner records what it can; the ledger itself may be down
            log.exception("connector %s: the run could not be recorded", spec.name)
            return None
        finally:
            with contextlib.suppress(Exception):
                await source.close()
        if run.status is RunStatus.FAILED:
            log.warning("connector %s: scheduled run %s failed: %s", spec.name, run.id, run.error)
        if run.counts.places_added:
            await self._retry_after_places(spec)
        return run

    async def _retry_after_places(self, after: ConnectorSpec) -> None:
        """Retry every connector's place-related dead letters, each while holding it here (so
        its schedule does not start it meanwhile); one running now is skipped."""
        me = asyncio.current_task()
        for spec in self.specs:
            claimed = spec.name != after.name
            if claimed:
                if spec.name in self._running:
                    log.info("connector %s: running, its place-related dead letters wait for the next retry", spec.name)
                    continue
                assert me is not None
                self._running[spec.name] = cast("asyncio.Task[ConnectorRun | None]", me)
            try:
                for name, outcome in await retry_after_places(
                    self.store, [spec], who="scheduler", lease_for=self.lease_for, batch_size=self.batch_size,
                    announce=self.announce,
                ):
                    if isinstance(outcome, ConnectorRun):
                        log.info("connector %s: retried %d place-related dead letters after %s added places, %d resolved",
                                 name, outcome.counts.retried, after.name, outcome.counts.resolved)
            except Exception:
                log.exception("connector %s: retrying its place-related dead letters failed", spec.name)
            finally:
                if claimed:
                    self._running.pop(spec.name, None)

    async def _scheduled(self, spec: ConnectorSpec) -> None:
        """A scheduled run, in the process whose turn it is (hub.cluster.Turns)."""
        async with self.turns.held(_turn(spec), self.lease_for.total_seconds()) as mine:
            if not mine:
                log.info("connector %s: another process of the hub runs it, this scheduled run is skipped", spec.name)
                return
            await self._start(spec, full=False, trigger="schedule", run_id=None)

    async def _loop(self, spec: ConnectorSpec) -> None:
        assert spec.every is not None
        await asyncio.sleep(self.first_delay)
        while True:
            began = time.monotonic()
            if spec.name in self._running:
                log.info("connector %s: still running, this scheduled run is skipped", spec.name)
            else:
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._scheduled(spec))
            await asyncio.sleep(max(0.0, spec.every - (time.monotonic() - began)))


def _turn(spec: ConnectorSpec) -> str:
    """The name of a connector's turn across the hub's processes (hub.cluster.Turns)."""
    return f"connector:{spec.name}"
