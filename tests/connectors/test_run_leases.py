"""Runs hold a lease: a live run keeps its connector (even stalled at its source), a run whose
process died is closed as abandoned by the next reader once its lease has expired, and the
next run resumes from the last checkpoint.

The last test kills a real `hub sync` (SIGKILL) mid-run: the source it reads hangs after 100
firms, so the run is alive, renewing a two-second lease, when it is killed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from connectors.base import Source, SourceRecord, Stream, Verdict
from connectors.config import AlreadyRunning
from connectors.leases import lease_length
from connectors.runner import sync, utcnow
from connectors.tasks import exclusive
from graph.ciphers.keyring import Keyring
from graph.ciphers.sealing import Sealer
from graph.errors import InvalidInput
from graph.ledger import ConnectorRun, Lease, RunStatus
from graph import open_store
from graph.sql import SqlStore
from graph.store import Store
from tests.connectors.sample import HeldFirms, SampleDatabase, SampleFirms
from tests.graph.conformance import E_A, E_B, E_C, fixture_city

REPO = Path(__file__).resolve().parents[2]
FIRMS, CONTRACTS = 120, 60


@pytest.fixture
async def store(sqlite_path: str) -> AsyncIterator[SqlStore]:
    opened = await open_store(f"sqlite:///{sqlite_path}", sealer=Sealer.generate())
    await opened.write(fixture_city())
    yield opened
    await opened.close()


@pytest.fixture
async def register(tmp_path: Path) -> AsyncIterator[SampleDatabase]:
    database = SampleDatabase(tmp_path / "register.sqlite", (E_A, E_B, E_C))
    await database.seed(FIRMS, CONTRACTS)
    yield database
    await database.close()


def _leased(run_id: str, connector: str, expires: dt.datetime, started: dt.datetime) -> ConnectorRun:
    return ConnectorRun(run_id, connector, started, lease=Lease(99999, "elsewhere", expires))


async def test_a_live_run_holds_the_connector(store: SqlStore) -> None:
    now = utcnow()
    await store.save_run(_leased("r1", "water", now + dt.timedelta(minutes=10), now - dt.timedelta(hours=2)))
    with pytest.raises(AlreadyRunning, match=r"water is already running \(run r1, .*pid 99999 on elsewhere\)"):
        async with exclusive(store, "water", broker=None, db="sqlite://", who="hub sync"):
            pass
    async with exclusive(store, "water", broker=None, db="sqlite://", run_id="r1"):  # its own task, redelivered
        pass


async def test_every_expired_run_is_closed_before_the_next_starts(store: SqlStore) -> None:
    now = utcnow()
    await store.save_run(_leased("old", "water", now - dt.timedelta(minutes=30), now - dt.timedelta(hours=3)))
    await store.save_run(_leased("newer", "water", now - dt.timedelta(seconds=5), now - dt.timedelta(hours=1)))
    await store.save_run(_leased("other", "gas", now - dt.timedelta(seconds=5), now - dt.timedelta(hours=1)))
    entered = False
    async with exclusive(store, "water", broker=None, db="sqlite://", who="hub sync"):
        entered = True
    assert entered
    closed = {run.id: run for run in (await store.runs(None, first=10)).items}
    assert {run.status for run in closed.values()} == {RunStatus.ABANDONED}  # every one, not only the newest
    assert all(
        run.closed_by == f"hub sync (pid {os.getpid()} on {os.uname().nodename})" and run.closed_at is not None
        for run in closed.values()
    )
    assert closed["old"].error is not None and "held by pid 99999 on elsewhere" in closed["old"].error


async def test_a_run_stalled_at_its_source_keeps_its_lease(store: SqlStore, register: SampleDatabase) -> None:
    """The source hangs after 30 firms; the run keeps renewing a 0.6 s lease while readers look,
    so nobody takes it for dead; stopping it records it cancelled, with its counts."""
    source = HeldFirms("firms", HeldFirms.config_schema.validate("firms", {"url": register.url, "hold_after": 30}))
    lease_for = dt.timedelta(seconds=0.6)
    running = asyncio.create_task(sync(store, source, batch_size=10, lease_for=lease_for))
    try:
        started = await _first_run(store, "firms")
        beats: set[dt.datetime] = set()
        while len(beats) < 4:  # a few renewals past the first lease's end
            assert await store.close_abandoned(utcnow(), "a reader") == []
            run = await store.run(started.id)
            assert run is not None and run.status is RunStatus.RUNNING, run
            if run.heartbeat_at is not None and run.heartbeat_at > started.started_at + lease_for:
                beats.add(run.heartbeat_at)
            await asyncio.sleep(0.05)
        assert run.lease is not None and run.lease.pid == os.getpid() and run.lease.expires_at > utcnow() - dt.timedelta(seconds=0.1)
        assert run.counts.read == 30
    finally:
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        await source.close()
    stopped = await store.run(started.id)
    assert stopped is not None and stopped.status is RunStatus.FAILED
    assert stopped.error == "the run was cancelled before it finished" and stopped.counts.read == 30


class _GatedSource:
    """The register, but its contracts wait at `gate` before they are linked."""

    def __init__(self, source: SampleFirms) -> None:
        self.source, self.name, self.config = source, source.name, source.config
        self.waiting, self.gate = asyncio.Event(), asyncio.Event()

    def streams(self) -> Sequence[Stream]:
        firms, contracts = self.source.streams()
        return [firms, _GatedStream(contracts, self)]

    async def close(self) -> None:
        await self.source.close()


class _GatedStream:
    def __init__(self, stream: Stream, owner: _GatedSource) -> None:
        self.stream, self.owner = stream, owner
        self.name, self.primary_key = stream.name, stream.primary_key
        self.cursor_field, self.schema = stream.cursor_field, stream.schema

    def read(self, after: str | None) -> AsyncIterator[SourceRecord]:
        return self.stream.read(after)

    async def link(self, records: Sequence[SourceRecord], store: Store) -> list[Verdict]:
        self.owner.waiting.set()
        await self.owner.gate.wait()
        return await self.stream.link(records, store)


async def test_a_run_closed_while_it_stalled_leaves_the_abandoned_record(store: SqlStore, register: SampleDatabase) -> None:
    """A reader closes the run while its batch stalls (as it would once the lease lapsed); when
    the batch goes on the run learns it lost its lease, stops, and the ABANDONED record stands."""
    source = _GatedSource(SampleFirms("firms", SampleFirms.config_schema.validate("firms", {"url": register.url})))
    running = asyncio.create_task(sync(store, source, batch_size=500))  # type: ignore[arg-type]
    await source.waiting.wait()
    [closed] = await store.close_abandoned(utcnow() + dt.timedelta(hours=1), "the test")
    source.gate.set()
    ended = await running
    await source.close()
    assert ended.id == closed.id and ended.status is RunStatus.ABANDONED and ended.closed_by == "the test"
    assert await store.run(ended.id) == closed
    states = {s.stream: s for s in await store.stream_states("firms")}
    assert set(states) == {"firms", "contracts"}  # what it checkpointed stays


def test_the_lease_length_is_checked() -> None:
    assert lease_length(None) == dt.timedelta(minutes=15) and lease_length(2.5) == dt.timedelta(seconds=2.5)
    with pytest.raises(InvalidInput, match="HUB_RUN_LEASE_SECONDS"):
        lease_length(0.2)


async def _first_run(store: SqlStore, connector: str) -> ConnectorRun:
    while True:
        runs = (await store.runs(connector, first=1)).items
        if runs:
            return runs[0]
        await asyncio.sleep(0.02)


# -- a real process killed mid-run ------------------------------------------------------------


def test_a_killed_hub_sync_is_closed_as_abandoned_and_the_next_run_resumes(tmp_path: Path) -> None:
    keys = Keyring.generate()
    keys.save(tmp_path / "hub.keys")
    db = tmp_path / "hub.sqlite"

    async def prepare() -> str:
        store = await open_store(str(db), sealer=keys.sealer())
        await store.write(fixture_city())
        await store.close()
        database = SampleDatabase(tmp_path / "register.sqlite", (E_A, E_B, E_C))
        await database.seed(FIRMS, CONTRACTS)
        await database.close()
        return database.url

    url = asyncio.run(prepare())
    toml = tmp_path / "connectors.toml"
    toml.write_text(f'[connectors.firms]\nkind = "tests.connectors.sample:HeldFirms"\nurl = "{url}"\nhold_after = 100\n')
    env = {
        **{k: v for k, v in os.environ.items() if k != "HUB_BROKER"},
        "HUB_DB": str(db), "HUB_RUN_LEASE_SECONDS": "2", "PYTHONPATH": str(REPO),
    }

    def hub(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "hub.cli", *arguments], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)

    log = tmp_path / "killed.log"
    with log.open("wb") as sink:
        process = subprocess.Popen([sys.executable, "-m", "hub.cli", "sync", "firms", "--batch-size", "25"], cwd=tmp_path,
                                   env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        held = asyncio.run(_until_held(db, keys, process, log))
    finally:
        process.kill()  # SIGKILL: no finally, no last save
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert held.status is RunStatus.RUNNING and held.counts.read == 100 and held.counts.written == 100
    assert held.lease is not None and held.lease.pid == process.pid

    async def after_kill() -> tuple[ConnectorRun, ConnectorRun]:
        store = await open_store(str(db), sealer=keys.sealer())
        try:
            assert await store.close_abandoned(utcnow(), "the test") == []  # not before its lease lapses
            dead = await store.run(held.id)
            assert dead is not None and dead.lease is not None
            await asyncio.sleep(max(0.0, (dead.lease.expires_at - utcnow()).total_seconds()) + 0.05)  # the lease's own end
            return held, dead
        finally:
            await store.close()

    _, dead = asyncio.run(after_kill())
    listed = hub("sync", "--list")  # a reader: it closes the run
    assert listed.returncode == 0, listed.stderr
    assert f"firms: run {held.id} closed as abandoned: its lease expired" in listed.stdout
    assert "abandoned (read 100 records (100 taken, 0 dead-lettered, 0 duplicates); their facts: 100 written" in listed.stdout

    toml.write_text(f'[connectors.firms]\nkind = "tests.connectors.sample:SampleFirms"\nurl = "{url}"\n')
    resumed = hub("sync", "firms", "--batch-size", "25")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    # the 20 firms after the last checkpoint and the 60 contracts: not the 180 of a full read
    assert "read 80 records (80 taken, 0 dead-lettered, 0 duplicates); their facts: 80 written, 0 already stored" in resumed.stdout

    async def ledger() -> tuple[ConnectorRun | None, int]:
        store = await open_store(str(db), sealer=keys.sealer())
        try:
            return await store.run(held.id), len((await store.runs("firms", first=10)).items)
        finally:
            await store.close()

    abandoned, runs = asyncio.run(ledger())
    assert runs == 2 and abandoned is not None and abandoned.status is RunStatus.ABANDONED
    assert abandoned.closed_by is not None and abandoned.closed_by.startswith("hub sync --list (pid ")
    assert abandoned.finished_at == dead.heartbeat_at and abandoned.counts.read == 100
    assert abandoned.error is not None and f"held by pid {process.pid}" in abandoned.error


async def _until_held(db: Path, keys: Keyring, process: subprocess.Popen[bytes], log: Path) -> ConnectorRun:
    """The run once it has read the 100 firms its source gives before hanging, checkpointed
    them, and renewed its lease at least once after that (so it is alive, stalled)."""
    store = await open_store(str(db), sealer=keys.sealer())
    try:
        while True:
            assert process.poll() is None, log.read_text(errors="replace")
            runs = (await store.runs("firms", first=1)).items
            states = {s.stream: s.cursor for s in await store.stream_states("firms")}
            if runs and states.get("firms") and runs[0].counts.read == 100:
                run = runs[0]
                if run.heartbeat_at is not None:
                    beat = run.heartbeat_at
                    while (later := await store.run(run.id)) is not None and later.heartbeat_at == beat:
                        await asyncio.sleep(0.05)
                    assert later is not None
                    return later
            await asyncio.sleep(0.05)
    finally:
        await store.close()
