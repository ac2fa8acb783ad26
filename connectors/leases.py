"""Run leases: who runs a connector run, until when, and closing the runs whose holder died.

A run is started with a lease held by this process (its pid and host) for `LEASE` (or the
length the deployment sets, `HUB_RUN_LEASE_SECONDS`), and renews it while it lives: after each
batch and, while a batch or the source stalls, from a timer every third of the lease. A process
killed mid-run renews nothing; once its lease has expired, any reader of the ledger — the API,
`hub sync`, the in-process scheduler, a Celery task before it starts — closes the run as
ABANDONED, saying who closed it (`closer`). Nothing else is undone: every checkpoint the run
saved stays, so the connector's next run resumes from the last one.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from collections.abc import Callable

from graph.errors import InvalidInput
from graph.ledger import ConnectorRun, Lease, Ledger

log = logging.getLogger("connectors.leases")

LEASE = dt.timedelta(minutes=15)
"""How long a run's lease lasts unless renewed: long enough that a run stuck behind a slow
write is not taken for dead, short enough that a killed run is closed within the quarter hour."""
MIN_LEASE = dt.timedelta(seconds=1)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def lease_length(seconds: float | None) -> dt.timedelta:
    """A lease length from settings (None: the default), at least a second."""
    if seconds is None:
        return LEASE
    length = dt.timedelta(seconds=seconds)
    if length < MIN_LEASE:
        raise InvalidInput("HUB_RUN_LEASE_SECONDS", seconds, "must be at least 1 second")
    return length


def lease(now: dt.datetime, length: dt.timedelta) -> Lease:
    """A lease held by this process from `now` for `length`."""
    return Lease(os.getpid(), socket.gethostname(), now + length)


def closer(who: str) -> str:
    """Who closes abandoned runs, as the ledger keeps it: `hub sync (pid 41 on host-a)`."""
    return f"{who} (pid {os.getpid()} on {socket.gethostname()})"


async def close_abandoned(
    ledger: Ledger, who: str, *, clock: Callable[[], dt.datetime] = utcnow
) -> list[ConnectorRun]:
    """Close every run whose lease has expired as ABANDONED by `who` (see `closer`); each is
    logged, so an operator sees it beside the run that follows."""
    closed = await ledger.close_abandoned(clock(), closer(who))
    for run in closed:
        log.warning("connector %s: run %s closed as abandoned: %s", run.connector, run.id, run.error)
    return closed
