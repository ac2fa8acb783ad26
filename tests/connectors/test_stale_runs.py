"""A run whose process died no longer holds its connector: without a broker, the ledger decides."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest

from connectors.config import AlreadyRunning
from connectors.runner import utcnow
from connectors.tasks import STALE_AFTER, exclusive
from graph.ciphers.sealing import Sealer
from graph.ledger import ConnectorRun, RunStatus
from graph.sql import SqlStore


@pytest.fixture
async def store(sqlite_path: str) -> AsyncIterator[SqlStore]:
    opened = await SqlStore.open(f"sqlite:///{sqlite_path}", sealer=Sealer.generate())
    yield opened
    await opened.close()


async def test_a_live_run_holds_the_connector(store: SqlStore) -> None:
    now = utcnow()
    await store.save_run(ConnectorRun("r1", "water", now - dt.timedelta(hours=2), heartbeat_at=now))
    with pytest.raises(AlreadyRunning, match="water is already running"):
        async with exclusive(store, "water", broker=None, db="sqlite://"):
            pass


async def test_a_run_silent_for_too_long_is_closed_as_interrupted(store: SqlStore) -> None:
    started = utcnow() - STALE_AFTER - dt.timedelta(minutes=1)
    await store.save_run(ConnectorRun("r1", "water", started))
    entered = False
    async with exclusive(store, "water", broker=None, db="sqlite://"):
        entered = True
    assert entered
    [closed] = (await store.runs("water", first=5)).items
    assert closed.status is RunStatus.FAILED
    assert closed.error is not None and closed.error.startswith("interrupted: no sign of life since")
    assert closed.finished_at == started
