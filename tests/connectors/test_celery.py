"""Connector runs on a real Celery worker (`hub worker` in a subprocess) over a real Redis.

The worker consumes a queue named for this test run on a Redis database of its own, opens a
SQLite store and a firm register (the framework's sample source) from the environment, and
answers `sync_connector` with the run's summary; its embedded beat runs a scheduled connector.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from connectors.config import load_connectors
from connectors.tasks import exclusive
from graph.ciphers.keyring import Keyring
from graph.ledger import ConnectorRun, RunStatus
from graph import open_store
from graph.sql import SqlStore
from hub.settings import Settings
from hub.worker import TASK, CeleryLauncher, beat_schedule, create_celery
from tests.connectors.sample import SampleDatabase, contract, credit_code, estate_record
from tests.graph.conformance import E_A, E_B, E_C, fixture_city
from tests.services import REDIS, run_id

REPO = Path(__file__).resolve().parents[2]
REDIS_DB = 11
"""A database of its own on the shared Redis; the queue name is unique to the run as well."""
TOTAL = 90 + 30


@dataclass
class Worker:
    settings: Settings
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    if not REDIS.ensure():
        pytest.fail("Redis is neither running on 127.0.0.1:6379 nor installed to be started")
    home = tmp_path_factory.mktemp("celery")
    keys = Keyring.generate()
    keys.save(home / "hub.keys")
    db = f"sqlite:///{home / 'hub.sqlite'}"

    async def prepare() -> str:
        store = await open_store(db, sealer=keys.sealer())
        await store.write(fixture_city())
        await store.close()
        register = SampleDatabase(home / "register.sqlite", (E_A, E_B, E_C))
        await register.seed(90, 30)
        await register.close()
        return register.url

    url = asyncio.run(prepare())
    (home / "connectors.toml").write_text(
        f'[connectors.firms]\nkind = "tests.connectors.sample:SampleFirms"\nurl_env = "FIRMS_URL"\n\n'
        f'[connectors.firms-beat]\nkind = "tests.connectors.sample:SampleFirms"\nevery = "10s"\nurl_env = "FIRMS_URL"\n\n'
        f'[connectors.estates]\nkind = "tests.connectors.sample:SampleEstates"\nurl_env = "FIRMS_URL"\n',
        encoding="utf-8",
    )
    queue = f"hub_test_{run_id()}"
    settings = Settings(
        db=db, keys=str(home / "hub.keys"), connectors=str(home / "connectors.toml"),
        broker=f"redis://127.0.0.1:6379/{REDIS_DB}", queue=queue,
    )
    env = {
        **os.environ,
        "FIRMS_URL": url,
        "HUB_DB": settings.db,
        "HUB_KEYS": settings.keys,
        "HUB_CONNECTORS": settings.connectors,
        "HUB_BROKER": settings.broker or "",
        "HUB_QUEUE": queue,
        "PYTHONPATH": str(REPO),
    }
    os.environ["FIRMS_URL"] = url  # the test's own client loads the same connectors file
    log = home / "worker.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "worker", "--concurrency", "1", "--schedule-file", str(home / "beat")],
            cwd=home, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
        )
    worker = Worker(settings, process, log)
    try:
        deadline = time.monotonic() + 60
        while "ready" not in worker.output():
            assert process.poll() is None, worker.output()
            assert time.monotonic() < deadline, worker.output()
            time.sleep(0.2)
        yield worker
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        client = redis.Redis.from_url(settings.broker or "")
        client.delete(queue, *client.keys(f"{queue}*"))
        client.close()
        os.environ.pop("FIRMS_URL", None)


@pytest.fixture
async def store(deployment: Worker) -> AsyncIterator[SqlStore]:
    opened = await open_store(deployment.settings.db, sealer=Keyring.load(Path(deployment.settings.keys)).sealer())
    try:
        yield opened
    finally:
        await opened.close()


def _send(worker: Worker, **kwargs: Any) -> dict[str, Any]:
    app = create_celery(worker.settings)
    try:
        result = app.send_task(TASK, kwargs=kwargs, queue=worker.settings.queue)
        answer: dict[str, Any] = result.get(timeout=120)
        result.forget()
        return answer
    finally:
        app.close()


async def test_the_worker_runs_a_sync_and_answers_its_summary(deployment: Worker, store: SqlStore) -> None:
    answer = await asyncio.to_thread(_send, deployment, name="firms", trigger="worker", full=True)
    assert answer["status"] == "succeeded", (answer, deployment.output())
    assert answer["counts"]["read"] == TOTAL and answer["counts"]["dead_lettered"] == 0
    assert answer["full"] is True and answer["seconds"] >= 0
    page = await store.runs("firms", first=5)
    run = next(r for r in page.items if r.id == answer["id"])
    assert run.status is RunStatus.SUCCEEDED and run.trigger == "worker"
    assert run.counts.read == TOTAL
    assert {s.stream for s in await store.stream_states("firms")} == {"firms", "contracts"}


async def test_a_second_run_while_one_goes_is_refused(deployment: Worker, store: SqlStore) -> None:
    settings = deployment.settings
    async with exclusive(store, "firms", broker=settings.broker, db=settings.db):  # as a run in progress
        answer = await asyncio.to_thread(_send, deployment, name="firms", run_id="busy-run-1", trigger="api")
    assert answer["status"] == "already running", answer
    assert "firms is already running" in answer["error"]
    [refused] = [r for r in (await store.runs("firms", first=20)).items if r.id == "busy-run-1"]
    assert refused.status is RunStatus.FAILED and refused.error and "already running" in refused.error
    again = await asyncio.to_thread(_send, deployment, name="firms", trigger="worker")
    assert again["status"] == "succeeded", again  # the lease is free again


async def test_an_api_run_is_recorded_at_once_and_finished_by_the_worker(deployment: Worker, store: SqlStore) -> None:
    app = create_celery(deployment.settings)
    try:
        launcher = CeleryLauncher(app, store, deployment.settings.queue)
        [spec] = [s for s in load_connectors(deployment.settings.connectors) if s.name == "firms"]
        run = await launcher.launch(spec, full=False, trigger="api")
    finally:
        app.close()
    assert run.status is RunStatus.RUNNING
    finished = await _wait_for(store, lambda r: r.id == run.id and r.status is not RunStatus.RUNNING, "firms")
    assert finished.status is RunStatus.SUCCEEDED, (finished.error, deployment.output())
    assert finished.trigger == "api" and finished.counts.read == 0  # nothing changed since the last run


async def test_beat_runs_the_scheduled_connector(deployment: Worker, store: SqlStore) -> None:
    scheduled = await _wait_for(
        store, lambda r: r.trigger == "schedule" and r.status is RunStatus.SUCCEEDED, "firms-beat", seconds=90
    )
    assert scheduled.counts.read == TOTAL or scheduled.counts.read == 0


def test_the_beat_schedule_has_one_entry_per_scheduled_connector(deployment: Worker) -> None:
    schedule = beat_schedule(load_connectors(deployment.settings.connectors), "q1")
    assert list(schedule) == ["sync firms-beat"]
    entry = schedule["sync firms-beat"]
    assert entry["task"] == TASK and entry["schedule"] == 10.0 and entry["args"] == ("firms-beat",)
    assert entry["options"] == {"queue": "q1", "expires": 10.0}


async def test_a_run_that_adds_places_sends_a_retry_task_per_connector(deployment: Worker, store: SqlStore) -> None:
    """Last, as it adds to the register: a contract for an estate the hub lacks is set aside; the
    estates connector adds the estate on the worker, which sends each connector a follow-up task
    that retries its place-related letters."""
    register = SampleDatabase(Path(deployment.settings.db.removeprefix("sqlite:///")).parent / "register.sqlite", (E_A, E_B, E_C))
    await register.insert(contract, [
        {"id": "C-LATE-ESTATE", "credit_code": credit_code(3), "estate_code": "370202001001E009", "since": "2020-01-01", "until": None},
    ])
    await register.insert(estate_record, [{"code": "370202001001E009", "name": "新建花园", "community": "370202001001"}])
    await register.close()
    answer = await asyncio.to_thread(_send, deployment, name="firms", trigger="worker", full=True)  # stamped early
    assert answer["counts"]["dead_lettered"] == 1, answer
    placed = await asyncio.to_thread(_send, deployment, name="estates", trigger="worker")
    assert placed["status"] == "succeeded" and placed["counts"]["places_added"] == 1, placed
    retry = await _wait_for(store, lambda r: r.trigger == "places" and r.status is not RunStatus.RUNNING, "firms")
    assert retry.status is RunStatus.SUCCEEDED and (retry.counts.retried, retry.counts.resolved) == (1, 1), deployment.output()
    [letter] = [x for x in (await store.dead_letters("firms", 10, include_resolved=True)).items if x.record_key == "C-LATE-ESTATE"]
    assert letter.resolved_by_run == retry.id


async def _wait_for(store: SqlStore, wanted: Any, connector: str, *, seconds: float = 120) -> ConnectorRun:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for run in (await store.runs(connector, first=20)).items:
            if wanted(run):
                return run
        await asyncio.sleep(0.3)
    raise AssertionError(f"no such run of {connector} within {seconds}s at {dt.datetime.now()}")
