"""The shared runner against a real source (a firm register in SQLite) and real stores.

`TestSampleContract` runs the shared connector contract (tests/connectors/harness.py) on the
sample source with the store on SQLite and on PostgreSQL; the tests after it pin down what the
contract leaves open: duplicates, provenance, the record-by-record fallback, errors that carry
no secret, logging with the config redacted, run ids.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Config, SourceRecord, Stream, Verdict
from connectors.runner import check, discover, sync
from graph.ciphers.keyring import Keyring
from graph.errors import InvalidInput
from graph.ledger import Reason, RunStatus
from graph.scope import Scope
from graph import open_store
from graph.store import Store
from tests.conftest import open_sql_store
from tests.connectors.harness import ConnectorContract
from tests.connectors.sample import SampleDatabase, SampleFirms, contract, credit_code, firm_record
from tests.graph.conformance import E_A, E_B, E_C, fixture_city

ESTATES = (E_A, E_B, E_C)
FIRMS, CONTRACTS = 120, 60
EVERYTHING = Scope.everything()


@dataclasses.dataclass
class SampleFixture:
    """The harness's SourceFixture over a firm register in SQLite."""

    store: Store
    database: SampleDatabase
    total: int
    down_path: Path
    handed: list[SampleFirms] = dataclasses.field(default_factory=list)
    """Every source given out: the contract does not close those it syncs, the fixture does."""

    def _source(self, url: str) -> SampleFirms:
        source = SampleFirms("firms", SampleFirms.config_schema.validate("firms", {"url": url}))
        self.handed.append(source)
        return source

    async def source(self) -> SampleFirms:
        return self._source(self.database.url)

    async def down_source(self) -> SampleFirms:
        # read-only open of a file in a folder that does not exist: nothing answers there
        return self._source(f"sqlite+aiosqlite:///file:{self.down_path}?mode=ro&uri=true")

    async def change(self) -> int:
        await self.database.rename([3, 4, 5, 50, 51])
        await self.database.end_contracts(["C00001", "C00002"], dt.date(2024, 3, 1))
        return 7

    async def add_bad(self) -> dict[str, Reason]:
        await self.database.insert(firm_record, [
            {"credit_code": "91370202MA0000001X", "name": "错码物业", "phone": None},  # wrong check character
            {"credit_code": credit_code(9001), "name": "", "phone": None},  # no name
        ])
        await self.database.insert(contract, [
            {"id": "C-UNKNOWN-ESTATE", "credit_code": credit_code(1), "estate_code": "370202001001E009",
             "since": "2020-01-01", "until": None},
            {"id": "C-UNKNOWN-FIRM", "credit_code": credit_code(9999), "estate_code": E_A,
             "since": "2020-01-01", "until": None},
        ])
        return {
            "91370202MA0000001X": Reason.MALFORMED_CODE,
            credit_code(9001): Reason.SCHEMA_MISMATCH,
            "C-UNKNOWN-ESTATE": Reason.UNKNOWN_PLACE,
            "C-UNKNOWN-FIRM": Reason.CONFLICT,  # the store refuses it; the runner sets it aside
        }

    async def snapshot(self) -> Any:
        codes = [credit_code(i) for i in range(FIRMS)]
        firms = await self.store.firms(codes, EVERYTHING)
        managements = await self.store.managements(list(ESTATES), None, EVERYTHING)
        return firms, managements


@pytest.fixture
async def fixture(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SampleFixture]:
    store = await open_sql_store(backend, request, tmp_path, fixture_city())
    database = SampleDatabase(tmp_path / "register.sqlite", ESTATES)
    total = await database.seed(FIRMS, CONTRACTS)
    sample = SampleFixture(store, database, total, tmp_path / "nowhere" / "register.sqlite")
    try:
        yield sample
    finally:
        for source in sample.handed:
            await source.close()
        await database.close()
        await store.close()


class TestSampleContract(ConnectorContract):
    pass


# -- what the contract leaves open ------------------------------------------------------------


class _Repeating:
    """The register's source, but every record arrives twice (a feed that replays on retry)."""

    def __init__(self, source: SampleFirms) -> None:
        self.source = source
        self.name = source.name
        self.config = source.config

    def streams(self) -> Sequence[Stream]:
        return [_RepeatingStream(stream) for stream in self.source.streams()]

    async def close(self) -> None:
        await self.source.close()


class _RepeatingStream:
    def __init__(self, stream: Stream) -> None:
        self.stream = stream
        self.name, self.primary_key = stream.name, stream.primary_key
        self.cursor_field, self.schema = stream.cursor_field, stream.schema

    async def read(self, after: str | None) -> AsyncIterator[SourceRecord]:
        async for record in self.stream.read(after):
            yield record
            yield record

    async def link(self, records: Sequence[SourceRecord], store: Store) -> list[Verdict]:
        return await self.stream.link(records, store)


async def test_records_repeated_within_a_batch_count_as_duplicates(fixture: SampleFixture) -> None:
    source = _Repeating(await fixture.source())
    run = await sync(fixture.store, source, batch_size=40)  # type: ignore[arg-type]
    assert run.status is RunStatus.SUCCEEDED, run.error
    assert run.counts.read == 2 * fixture.total
    assert run.counts.duplicates == fixture.total
    assert run.counts.written == fixture.total
    await source.close()


async def test_every_fact_carries_its_provenance(fixture: SampleFixture) -> None:
    moments = iter(dt.datetime(2024, 6, 1, 12, 0, s, tzinfo=dt.timezone.utc) for s in range(60))
    source = await fixture.source()
    run = await sync(fixture.store, source, batch_size=100, clock=lambda: next(moments), run_id="run-provenance")
    await source.close()
    assert run.id == "run-provenance" and run.status is RunStatus.SUCCEEDED
    [firm] = await fixture.store.firms([credit_code(7)], EVERYTHING)
    assert firm is not None and firm.provenance is not None
    assert (firm.provenance.source, firm.provenance.record_id, firm.provenance.run_id) == (
        "firms", credit_code(7), "run-provenance"
    )
    fetched = firm.provenance.fetched_at
    fetched = fetched.replace(tzinfo=dt.timezone.utc) if fetched.tzinfo is None else fetched
    assert run.started_at < fetched < (run.finished_at or run.started_at)
    every = [m for ms in await fixture.store.managements(list(ESTATES), None, EVERYTHING) for m in ms]
    managements = [m for m in every if m.provenance and m.provenance.source == "firms"]
    assert len(managements) == CONTRACTS  # beside the fixture city's own
    assert all(m.provenance and m.provenance.record_id.startswith("C0") for m in managements)


async def test_a_refused_batch_writes_the_good_records_one_by_one(fixture: SampleFixture) -> None:
    await fixture.database.insert(contract, [
        {"id": "C-NO-SUCH-FIRM", "credit_code": credit_code(7777), "estate_code": E_B, "since": "2021-01-01", "until": None},
    ])
    source = await fixture.source()
    run = await sync(fixture.store, source, batch_size=500)  # one batch per stream
    await source.close()
    assert run.status is RunStatus.SUCCEEDED, run.error
    assert run.counts.dead_lettered == 1
    assert run.counts.written == fixture.total  # every other contract made it through
    [letter] = (await fixture.store.dead_letters("firms", first=10)).items
    assert letter.reason is Reason.CONFLICT and letter.stream == "contracts"
    assert credit_code(7777) in letter.detail and "C-NO-SUCH-FIRM" in letter.detail
    assert letter.payload["estate_code"] == E_B


async def test_a_failure_names_the_cause_and_never_the_secret(fixture: SampleFixture, caplog: pytest.LogCaptureFixture) -> None:
    secret_url = f"sqlite+aiosqlite:///file:{fixture.down_path}?mode=ro&uri=true"
    source = SampleFirms("firms", SampleFirms.config_schema.validate("firms", {"url": secret_url}))
    with caplog.at_level(logging.DEBUG, logger="connectors.runner"):
        run = await sync(fixture.store, source)
    await source.close()
    assert run.status is RunStatus.FAILED
    assert run.error and "firms" in run.error and "unable to open database file" in run.error
    assert "\n" not in run.error and "Traceback" not in run.error
    assert str(fixture.down_path) not in (run.error or "")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "failed" in logged and "'url': '***'" in logged
    assert str(fixture.down_path) not in logged
    assert (await fixture.store.last_runs(["firms"]))[0] == run


class _Exploding:
    """A source whose stream fails with a plain exception that quotes its URL."""

    def __init__(self, source: SampleFirms) -> None:
        self.name, self.config = source.name, source.config

    def streams(self) -> Sequence[Stream]:
        return [_ExplodingStream(self.config)]

    async def close(self) -> None:
        return None


class _ExplodingStream:
    name, primary_key, cursor_field = "firms", ("credit_code",), "updated_at"

    def __init__(self, config: Config) -> None:
        self.config = config
        self.schema = SampleFirms("x", config).streams()[0].schema

    async def read(self, after: str | None) -> AsyncIterator[SourceRecord]:
        raise RuntimeError(f"driver said: cannot talk to {self.config['url']}\n  at line 1")
        yield  # pragma: no cover - makes this an async generator

    async def link(self, records: Sequence[SourceRecord], store: Store) -> list[Verdict]:
        return []


async def test_an_unexpected_error_ends_the_run_with_its_message_blotted(fixture: SampleFixture) -> None:
    source = await fixture.source()
    run = await sync(fixture.store, _Exploding(source))  # type: ignore[arg-type]
    assert run.status is RunStatus.FAILED
    assert run.error == "RuntimeError: driver said: cannot talk to *** at line 1"


async def test_checkpoints_follow_the_last_record_of_each_batch(fixture: SampleFixture) -> None:
    source = await fixture.source()
    run = await sync(fixture.store, source, batch_size=50)
    states = {s.stream: s for s in await fixture.store.stream_states("firms")}
    last_firm = [r async for r in source.streams()[0].read(None)][-1]
    last_contract = [r async for r in source.streams()[1].read(None)][-1]
    await source.close()
    assert states["firms"].cursor == last_firm.cursor and states["firms"].run_id == run.id
    assert states["contracts"].cursor == last_contract.cursor
    await fixture.store.reset_states("firms")
    again = await sync(fixture.store, await fixture.source(), batch_size=50)
    assert again.counts.read == fixture.total and again.counts.written == 0


async def test_bad_run_arguments_are_refused_before_anything_runs(fixture: SampleFixture) -> None:
    source = await fixture.source()
    with pytest.raises(InvalidInput, match="run_id"):
        await sync(fixture.store, source, run_id="has spaces and is far too long to be a run id at all")
    with pytest.raises(InvalidInput, match="batch_size"):
        await sync(fixture.store, source, batch_size=0)
    await source.close()
    assert (await fixture.store.runs("firms", first=5)).items == []


async def test_check_and_discover_helpers(fixture: SampleFixture) -> None:
    source = await fixture.source()
    found = await check(source)
    assert found.ok and "firm_record: 120 rows" in found.detail
    streams = await discover(source)
    assert [s["stream"] for s in streams] == ["firms", "contracts"]
    assert streams[0]["primary_key"] == ["credit_code"] and streams[0]["cursor_field"] == "updated_at"
    assert {"name": "phone", "type": "str", "required": False} in streams[0]["schema"]
    await source.close()
    down = await fixture.down_source()
    assert not (await check(down)).ok
    await down.close()


# -- hub sync, as a user runs it ----------------------------------------------------------------


def _hub(*arguments: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", *arguments], cwd=cwd,
        env={**{k: v for k, v in os.environ.items() if k != "HUB_BROKER"}, **env},  # runs here, not on a worker
        capture_output=True, text=True, timeout=300,
    )


def test_hub_sync_runs_checks_discovers_and_lists(tmp_path: Path) -> None:
    import asyncio

    keys = Keyring.generate()
    keys.save(tmp_path / "hub.keys")

    async def prepare() -> str:
        store = await open_store(str(tmp_path / "hub.sqlite"), sealer=keys.sealer())
        await store.write(fixture_city())
        await store.close()
        database = SampleDatabase(tmp_path / "register.sqlite", ESTATES)
        await database.seed(30, 10)
        await database.insert(contract, [
            {"id": "C-NOWHERE", "credit_code": credit_code(1), "estate_code": "370202001001E009", "since": "2020-01-01", "until": None},
        ])
        await database.close()
        return database.url

    url = asyncio.run(prepare())
    (tmp_path / "connectors.toml").write_text(
        '[connectors.firms]\nkind = "tests.connectors.sample:SampleFirms"\nurl_env = "FIRMS_URL"\n\n'
        '[connectors.gone]\nkind = "tests.connectors.sample:SampleFirms"\nevery = "1h"\n'
        f'url = "sqlite+aiosqlite:///file:{tmp_path}/missing/r.sqlite?mode=ro&uri=true"\n',
        encoding="utf-8",
    )
    env = {"FIRMS_URL": url, "HUB_DB": str(tmp_path / "hub.sqlite"), "PYTHONPATH": str(Path(__file__).resolve().parents[2])}

    listed = _hub("sync", "--list", cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    assert "firms" in listed.stdout and "never ran" in listed.stdout and "every 3600s" in listed.stdout

    ran = _hub("sync", "firms", cwd=tmp_path, env=env)
    assert ran.returncode == 0, ran.stderr
    assert "firms: succeeded" in ran.stdout
    # records add up (41 read: 40 taken, 1 dead-lettered), and the facts they carry are named so
    assert "read 41 records (40 taken, 1 dead-lettered, 0 duplicates); their facts: 40 written, 0 already stored" in ran.stdout
    assert "contracts C-NOWHERE: unknown_place:" in ran.stdout
    assert url not in ran.stdout + ran.stderr

    again = _hub("sync", "firms", "--full", "--json", cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert summary["counts"] == {"read": 41, "written": 0, "unchanged": 40, "dead_lettered": 1, "duplicates": 0,
                                 "retried": 0, "resolved": 0, "places_added": 0}
    assert summary["full"] is True and summary["trigger"] == "manual"

    assert "last run" in _hub("sync", "--list", cwd=tmp_path, env=env).stdout

    checked = _hub("sync", "gone", "--check", cwd=tmp_path, env=env)
    assert checked.returncode == 1 and checked.stdout.startswith("FAILED: gone: the register cannot be read")
    failed = _hub("sync", "gone", cwd=tmp_path, env=env)
    assert failed.returncode == 1 and "gone: failed" in failed.stdout and "unable to open database file" in failed.stdout

    discovered = _hub("sync", "firms", "--discover", cwd=tmp_path, env=env)
    assert discovered.returncode == 0
    assert [s["stream"] for s in json.loads(discovered.stdout)] == ["firms", "contracts"]

    unknown = _hub("sync", "water", cwd=tmp_path, env=env)
    assert unknown.returncode == 2 and "NAME: 'water' is not a configured connector (firms, gone)" in unknown.stderr
    nameless = _hub("sync", cwd=tmp_path, env=env)
    assert nameless.returncode == 2 and "NAME" in nameless.stderr
