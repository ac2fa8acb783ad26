"""Connectors in the API over real HTTP: listing, runs, dead letters, runConnector, who may see them.

A hub is served on loopback with two connectors over a firm register (the framework's sample
source, a real SQLite database): `firms` that works and `broken` whose database is not there.
With no broker, `runConnector` runs the sync as an asyncio task inside the server. The
in-process scheduler is tested on its own below.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import functools
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from connectors.config import ConnectorSet, parse_connectors
from graph.ciphers.keyring import Keyring
from graph.ciphers.sealing import Sealer
from graph.ledger import ConnectorRun, Lease, RunStatus
from graph.levels import Level
from graph.model import Batch, Place
from graph import open_store
from graph.sql import SqlStore
from hub.app import create_app
from hub.auth.issuing import issue_token
from hub.limits import Limits
from hub.scheduler import Scheduler
from tests.connectors.sample import SampleDatabase, contract, estate_record
from tests.graph.conformance import CITY, E_A, E_B, E_C, FIRM_2, ST_A, fixture_city
from tests.serving import served

RUN = "mutation($name: String!, $full: Boolean) { runConnector(name: $name, full: $full) { id status trigger full connector } }"
RUNS = """query($connector: String, $first: Int, $after: String) {
  connectorRuns(connector: $connector, first: $first, after: $after) {
    nodes { id connector status trigger full startedAt finishedAt durationSeconds error
            counts { read written unchanged deadLettered duplicates } }
    pageInfo { hasNextPage endCursor }
  }
}"""
CONNECTORS = """{ connectors { name kind scheduleSeconds settings lag deadLetterCount
  lastRun { id status counts { read } } cursors { stream cursor runId updatedAt } } }"""
LETTERS = """query($connector: String, $first: Int, $after: String, $includeResolved: Boolean) {
  deadLetters(connector: $connector, first: $first, after: $after, includeResolved: $includeResolved) {
    nodes { connector stream recordKey reason detail firstDetail payload candidates seen at firstAt runId lastRunId
            retryable resolvedAt resolvedByRun }
    pageInfo { hasNextPage endCursor }
  }
}"""


def _toml(register: str, missing: Path) -> str:
    return (
        f'[connectors.firms]\nkind = "tests.connectors.sample:SampleFirms"\nurl = "{register}"\n\n'
        f'[connectors.broken]\nkind = "tests.connectors.sample:SampleFirms"\nevery = "1h"\n'
        f'url = "sqlite+aiosqlite:///file:{missing}?mode=ro&uri=true"\n'
    )


@dataclasses.dataclass
class Api:
    url: str
    tokens: dict[str, str]
    home: Path
    keys: Keyring

    def ledger(self, work: Any) -> Any:
        """Run `work(store)` on a store of this test's own over the server's SQLite file."""
        async def main() -> Any:
            store = await open_store(str(self.home / "hub.sqlite"), sealer=self.keys.sealer())
            try:
                return await work(store)
            finally:
                await store.close()

        return asyncio.run(main())

    def post(self, role: str, query: str, **variables: Any) -> dict[str, Any]:
        response = httpx.post(
            f"{self.url}/graphql", json={"query": query, "variables": variables},
            headers={"authorization": f"Bearer {self.tokens[role]}"}, timeout=60, trust_env=False,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def data(self, query: str, role: str = "admin", **variables: Any) -> dict[str, Any]:
        body = self.post(role, query, **variables)
        assert not body.get("errors"), body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    def wait_for(self, run_id: str, seconds: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for run in self.data(RUNS, first=50)["connectorRuns"]["nodes"]:
                if run["id"] == run_id and run["status"] != "RUNNING":
                    return dict(run)
            time.sleep(0.1)
        raise AssertionError(f"run {run_id} did not finish in {seconds}s")


async def _main(home: Path, sock: socket.socket, started: dict[str, Any]) -> None:
    keys = Keyring.generate()
    started["keys"] = keys
    store = await open_store(str(home / "hub.sqlite"), sealer=keys.sealer())
    await store.write(fixture_city())
    register = SampleDatabase(home / "register.sqlite", (E_A, E_B, E_C))
    await register.seed(40, 20)
    await register.insert(
        contract,
        [{"id": "C-NOWHERE", "credit_code": FIRM_2, "estate_code": "370202001001E009", "since": "2020-01-01", "until": None}],
    )
    await register.close()
    specs = parse_connectors(_toml(register.url, home / "missing" / "register.sqlite"))
    ttl = dt.timedelta(hours=1)
    started["tokens"] = {
        "admin": await issue_token(store, keys, "admin", "*", "ops", ttl),
        "city": await issue_token(store, keys, "city", CITY, "dashboard", ttl),
        "street": await issue_token(store, keys, "street", ST_A, "香港中路街道", ttl),
        "firm": await issue_token(store, keys, "property_firm", FIRM_2, "八大关物业", ttl),
    }
    app = create_app(
        store, keys=keys, owns_store=True, connectors=ConnectorSet(specs),
        limits=dataclasses.replace(Limits(), rate=1e6, burst=1_000_000),
    )
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", ws="none", http="h11"))
    started["server"] = server
    await server.serve(sockets=[sock])


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    home = tmp_path_factory.mktemp("connectors-api")
    with served(functools.partial(_main, home), startup_seconds=60) as (url, started):
        yield Api(url, started["tokens"], home, started["keys"])


def test_connectors_are_listed_with_their_settings_redacted(api: Api) -> None:
    connectors = {c["name"]: c for c in api.data(CONNECTORS)["connectors"]}
    assert list(connectors) == ["firms", "broken"]
    assert connectors["firms"]["kind"] == "tests.connectors.sample:SampleFirms"
    assert connectors["firms"]["scheduleSeconds"] is None and connectors["broken"]["scheduleSeconds"] == 3600
    assert connectors["firms"]["settings"] == {"url": "***", "label": "register"}
    assert "register.sqlite" not in str(connectors)


def test_run_connector_runs_in_the_server_and_the_run_is_kept(api: Api) -> None:
    started = api.data(RUN, name="firms", full=True)["runConnector"]
    assert started["status"] == "RUNNING" and started["trigger"] == "api" and started["full"] is True
    run = api.wait_for(started["id"])
    assert run["status"] == "SUCCEEDED", run
    assert run["counts"] == {"read": 61, "written": 60, "unchanged": 0, "deadLettered": 1, "duplicates": 0}
    assert run["durationSeconds"] is not None and run["durationSeconds"] >= 0 and run["error"] is None
    [firms] = [c for c in api.data(CONNECTORS)["connectors"] if c["name"] == "firms"]
    assert firms["lastRun"]["id"] == started["id"]
    assert 0 <= firms["lag"] < 60
    assert {c["stream"] for c in firms["cursors"]} == {"firms", "contracts"}
    assert all(c["runId"] == started["id"] and c["cursor"] for c in firms["cursors"])
    assert firms["deadLetterCount"] == 1
    letters = api.data(LETTERS, connector="firms")["deadLetters"]["nodes"]
    assert [(x["recordKey"], x["reason"], x["stream"]) for x in letters] == [("C-NOWHERE", "UNKNOWN_PLACE", "contracts")]
    assert letters[0]["payload"]["estate_code"] == "370202001001E009" and letters[0]["runId"] == started["id"]
    assert "370202001001E009" in letters[0]["detail"] and letters[0]["seen"] == 1
    assert letters[0]["firstDetail"] == letters[0]["detail"] and letters[0]["firstAt"] == letters[0]["at"]
    assert letters[0]["retryable"] is True and letters[0]["resolvedAt"] is None and letters[0]["resolvedByRun"] is None


def test_a_failing_source_is_a_failed_run_with_its_reason(api: Api) -> None:
    started = api.data(RUN, name="broken")["runConnector"]
    run = api.wait_for(started["id"])
    assert run["status"] == "FAILED"
    assert "unable to open database file" in run["error"] and "missing" not in run["error"]
    [broken] = [c for c in api.data(CONNECTORS)["connectors"] if c["name"] == "broken"]
    assert broken["lastRun"]["status"] == "FAILED" and broken["lag"] is None


def test_runs_page_newest_first_with_cursors(api: Api) -> None:
    for _ in range(2):
        api.wait_for(api.data(RUN, name="firms")["runConnector"]["id"])
    first = api.data(RUNS, connector="firms", first=2)["connectorRuns"]
    assert len(first["nodes"]) == 2 and first["pageInfo"]["hasNextPage"]
    assert first["nodes"][0]["startedAt"] >= first["nodes"][1]["startedAt"]
    rest = api.data(RUNS, connector="firms", first=50, after=first["pageInfo"]["endCursor"])["connectorRuns"]
    ids = [r["id"] for r in first["nodes"] + rest["nodes"]]
    assert len(ids) == len(set(ids)) >= 3
    assert all(r["connector"] == "firms" for r in first["nodes"] + rest["nodes"])
    assert rest["nodes"][-1]["full"] is True  # the first run of all


def test_a_second_run_while_one_goes_is_refused(api: Api) -> None:
    # mutation fields run one after the other: the second asks while the first has just started
    body = api.post("admin", 'mutation { a: runConnector(name: "firms", full: true) { id status } '
                             'b: runConnector(name: "firms") { id } }')
    [error] = body["errors"]
    assert error["message"] == "connector firms is already running" and error["path"] == ["b"]
    assert body["data"] is None  # runConnector is non-null: the refusal nulls the whole answer
    newest = api.data(RUNS, connector="firms", first=1)["connectorRuns"]["nodes"][0]
    assert newest["full"] is True and newest["trigger"] == "api"  # the first one did start
    assert api.wait_for(newest["id"])["status"] == "SUCCEEDED"


def test_a_run_shows_its_progress_while_it_goes(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    import connectors.runner

    monkeypatch.setattr(connectors.runner, "HEARTBEAT_SECONDS", 0.0)  # save counts at every batch
    started = api.data('mutation { runConnector(name: "firms", full: true) { id status heartbeatAt } }')["runConnector"]
    assert started["status"] == "RUNNING" and started["heartbeatAt"] is None
    finished = api.wait_for(started["id"])
    assert finished["status"] == "SUCCEEDED"
    [run] = [r for r in api.data("{ connectorRuns(connector: \"firms\", first: 5) { nodes { id heartbeatAt finishedAt } } }")
             ["connectorRuns"]["nodes"] if r["id"] == started["id"]]
    assert run["heartbeatAt"] is not None and run["heartbeatAt"] <= run["finishedAt"]


def test_a_run_whose_lease_expired_is_shown_abandoned(api: Api) -> None:
    """A run left RUNNING by a process that died (its lease lapsed a minute ago) is closed by the
    API's read, visibly: ABANDONED, who closed it and when, the lease it held."""
    now = dt.datetime.now(dt.timezone.utc)
    dead = ConnectorRun("dead-run-1", "broken", now - dt.timedelta(hours=1), heartbeat_at=now - dt.timedelta(minutes=20),
                        lease=Lease(31337, "gone-host", now - dt.timedelta(minutes=1)))

    async def save(store: SqlStore) -> None:
        await store.save_run(dead)

    api.ledger(save)
    query = """{ connectorRuns(connector: "broken", first: 50) { nodes { id status finishedAt closedAt closedBy error
                 lease { pid host expiresAt } } } }"""
    [run] = [r for r in api.data(query, role="city")["connectorRuns"]["nodes"] if r["id"] == "dead-run-1"]
    assert run["status"] == "ABANDONED"
    assert run["closedBy"].startswith("the API (city dashboard) (pid ") and run["closedAt"] is not None
    assert dt.datetime.fromisoformat(run["finishedAt"]) == dead.heartbeat_at  # its last sign of life
    assert run["lease"]["pid"] == 31337 and run["lease"]["host"] == "gone-host"
    assert "held by pid 31337 on gone-host" in run["error"]


def test_run_connector_with_retry_links_the_letters_whose_place_arrived(api: Api) -> None:
    api.data(RUN, name="firms")  # any run: its letter for 370202001001E009 is there (or is set aside now)
    api.wait_for(api.data(RUNS, connector="firms", first=1)["connectorRuns"]["nodes"][0]["id"])

    async def add_estate(store: SqlStore) -> None:
        await store.write(Batch(places=[Place("370202001001E009", Level.ESTATE, "新建花园", "370202001001")]))

    api.ledger(add_estate)
    started = api.data('mutation { runConnector(name: "firms", retry: true) { id status } }')["runConnector"]
    run = api.wait_for(started["id"])
    assert run["status"] == "SUCCEEDED" and run["counts"]["read"] == 0
    counts = api.data("""{ connectorRuns(connector: "firms", first: 1) { nodes { id counts { retried resolved placesAdded } } } }""")
    [latest] = counts["connectorRuns"]["nodes"]
    assert latest["id"] == started["id"] and latest["counts"] == {"retried": 1, "resolved": 1, "placesAdded": 0}
    assert api.data(LETTERS, connector="firms")["deadLetters"]["nodes"] == []
    [resolved] = api.data(LETTERS, connector="firms", includeResolved=True)["deadLetters"]["nodes"]
    assert resolved["recordKey"] == "C-NOWHERE" and resolved["resolvedByRun"] == started["id"] and resolved["resolvedAt"]
    [firms] = [c for c in api.data(CONNECTORS)["connectors"] if c["name"] == "firms"]
    assert firms["deadLetterCount"] == 0


def test_dead_letters_of_the_built_in_mqtt_source_may_be_asked_for(api: Api) -> None:
    assert api.data(LETTERS, connector="mqtt")["deadLetters"]["nodes"] == []
    [error] = api.post("admin", LETTERS, connector="nope")["errors"]
    assert error["message"] == "connector: 'nope' is neither a configured connector nor a built-in source (firms, broken, mqtt)"


def test_the_api_enums_name_every_status_and_reason() -> None:
    from graph import ledger
    from schema.connectors.types import DeadLetterReason, RunStatus as ApiRunStatus

    assert {r.value for r in DeadLetterReason} == {r.value for r in ledger.Reason}
    assert {s.value for s in ApiRunStatus} == {s.value for s in ledger.RunStatus}


def test_the_city_may_see_connectors(api: Api) -> None:
    assert [c["name"] for c in api.data("{ connectors { name } }", role="city")["connectors"]] == ["firms", "broken"]


@pytest.mark.parametrize("role", ["street", "firm"])
@pytest.mark.parametrize(
    "query", ["{ connectors { name } }", RUNS, LETTERS, 'mutation { runConnector(name: "firms") { id } }']
)
def test_other_roles_are_told_connectors_are_not_for_them(api: Api, role: str, query: str) -> None:
    body = api.post(role, query)
    assert body["errors"][0]["message"] == "forbidden: connectors are for admin and city roles"
    assert not body.get("data") or not any(body["data"].values())


def test_bad_input_is_refused_with_where(api: Api) -> None:
    [error] = api.post("admin", RUN, name="water")["errors"]
    assert error["message"] == "name: 'water' is not a configured connector (firms, broken)"
    [error] = api.post("admin", RUNS, connector="firms", first=0)["errors"]
    assert error["message"].startswith("first: '0' must be between 1 and 500")
    [error] = api.post("admin", LETTERS, after="garbage")["errors"]
    assert error["message"].startswith("after: 'garbage' is not a cursor from this list")
    [error] = api.post("admin", RUNS, connector="water")["errors"]
    assert error["extensions"]["field"] == "connector"


# -- the in-process scheduler ---------------------------------------------------------------


async def test_the_scheduler_runs_each_connector_on_its_interval_and_survives_failures(tmp_path: Path) -> None:
    store = await open_store(str(tmp_path / "hub.sqlite"), sealer=Sealer.generate())
    await store.write(fixture_city())
    register = SampleDatabase(tmp_path / "register.sqlite", (E_A, E_B, E_C))
    await register.seed(10, 5)
    await register.close()
    specs = [
        dataclasses.replace(spec, every=1)  # shorter than a file may say, to keep the test quick
        for spec in parse_connectors(_toml(register.url, tmp_path / "missing" / "r.sqlite"))
    ]
    scheduler = Scheduler(store, specs, first_delay=0.05)
    scheduler.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            firms = (await store.runs("firms", first=10)).items
            broken = (await store.runs("broken", first=10)).items
            done = [r for r in firms if r.status is not RunStatus.RUNNING]
            if len(done) >= 2 and len([r for r in broken if r.status is RunStatus.FAILED]) >= 2:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the scheduler did not run both connectors twice")
    finally:
        await scheduler.stop()
    assert all(r.trigger == "schedule" for r in firms + broken)
    assert firms[-1].counts.read == 15 and firms[-1].status is RunStatus.SUCCEEDED
    starts = sorted(r.started_at for r in done)
    assert starts[1] - starts[0] >= dt.timedelta(seconds=0.9)  # one interval apart
    assert not scheduler.running("firms")
    await store.close()


async def test_stopping_the_scheduler_records_a_cancelled_run(tmp_path: Path) -> None:
    store = await open_store(str(tmp_path / "hub.sqlite"), sealer=Sealer.generate())
    await store.write(fixture_city())
    register = SampleDatabase(tmp_path / "register.sqlite", (E_A, E_B, E_C))
    await register.seed(300, 10)
    await register.close()
    [spec, _] = parse_connectors(_toml(register.url, tmp_path / "missing.sqlite"))
    scheduler = Scheduler(store, [spec], batch_size=1)  # one write per record: slow enough to stop mid-run
    run = await scheduler.launch(spec, full=False, trigger="api")
    await asyncio.sleep(0.3)
    await scheduler.stop()
    [saved] = (await store.runs("firms", first=5)).items
    assert saved.id == run.id and saved.status is RunStatus.FAILED
    assert saved.error == "the run was cancelled before it finished"
    assert 0 < saved.counts.read < 310
    await store.close()


async def test_a_scheduled_run_that_adds_places_retries_the_other_connectors_letters(tmp_path: Path) -> None:
    """In `hub serve` without a broker: the estates connector adds the estate a firms contract
    was set aside for; in the same task the scheduler retries firms' place-related letters."""
    store = await open_store(str(tmp_path / "hub.sqlite"), sealer=Sealer.generate())
    await store.write(fixture_city())
    register = SampleDatabase(tmp_path / "register.sqlite", (E_A, E_B, E_C))
    await register.seed(5, 3)
    await register.insert(
        contract,
        [{"id": "C-NOWHERE", "credit_code": FIRM_2, "estate_code": "370202001001E009", "since": "2020-01-01", "until": None}],
    )
    await register.insert(estate_record, [{"code": "370202001001E009", "name": "新建花园", "community": "370202001001"}])
    await register.close()
    specs = parse_connectors(
        f'[connectors.firms]\nkind = "tests.connectors.sample:SampleFirms"\nurl = "{register.url}"\n\n'
        f'[connectors.estates]\nkind = "tests.connectors.sample:SampleEstates"\nurl = "{register.url}"\n'
    )
    scheduler = Scheduler(store, specs)
    try:
        first = await scheduler.launch(specs[0], full=False, trigger="api")
        while (await store.run(first.id)).status is RunStatus.RUNNING:  # type: ignore[union-attr]
            await asyncio.sleep(0.05)
        assert await store.dead_letter_count("firms") == 1
        placed = await scheduler.launch(specs[1], full=False, trigger="api")
        deadline = time.monotonic() + 30
        while scheduler.running("estates") or scheduler.running("firms"):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
    finally:
        await scheduler.stop()
    estates = await store.run(placed.id)
    assert estates is not None and estates.counts.places_added == 1
    [retry] = [r for r in (await store.runs("firms", first=5)).items if r.trigger == "places"]
    assert retry.status is RunStatus.SUCCEEDED and (retry.counts.retried, retry.counts.resolved) == (1, 1)
    [letter] = (await store.dead_letters("firms", 5, include_resolved=True)).items
    assert letter.resolved_by_run == retry.id
    assert await store.dead_letters("estates", 5, include_resolved=True) == await store.dead_letters("nobody", 5)
    await store.close()
