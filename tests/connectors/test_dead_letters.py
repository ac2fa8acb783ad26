"""Dead letters follow their records: a later run that links a record resolves its letters, a run
asked to retry links open letters again from what they kept, and a run that adds places retries
the place-related letters of every connector.

The sources are real: the framework's firm register and its estates (tests/connectors/sample.py)
in SQLite, the registry's reference exchange built from the demo city, a utility's CSV drop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from connectors.config import parse_connectors
from connectors.leases import lease
from connectors.registry.database import RegistryDatabase
from connectors.registry.reference import build_exchange
from connectors.runner import sync, utcnow
from connectors.tasks import retry_after_places
from graph.ciphers.keyring import Keyring
from graph.ciphers.sealing import Sealer
from graph.ledger import ConnectorRun, Reason, RunStatus
from graph.levels import Level
from graph.model import Batch, Place
from graph.scope import Scope
from graph import open_store
from graph.sql import SqlStore
from tests.connectors.sample import SampleDatabase, SampleEstates, SampleFirms, contract, credit_code, estate_record
from tests.connectors.test_registry_database import SEALER, City, _houses_of, places_under, snapshot
from tests.connectors.test_utilities_drop import drop_source
from tests.connectors.test_utilities_http import City as UtilityCity, hub_store as utility_store
from tests.graph.conformance import E_A, E_B, E_C, fixture_city

REPO = Path(__file__).resolve().parents[2]
EVERYTHING = Scope.everything()
NEW_ESTATE = "370202001001E009"
"""An estate the fixture city does not hold, under its community 370202001001."""


@pytest.fixture
async def store(sqlite_path: str) -> AsyncIterator[SqlStore]:
    opened = await open_store(f"sqlite:///{sqlite_path}", sealer=Sealer.generate())
    await opened.write(fixture_city())
    yield opened
    await opened.close()


@pytest.fixture
async def register(tmp_path: Path) -> AsyncIterator[SampleDatabase]:
    database = SampleDatabase(tmp_path / "register.sqlite", (E_A, E_B, E_C))
    await database.seed(10, 6)
    await database.insert(contract, [
        {"id": "C-NEW-ESTATE", "credit_code": credit_code(1), "estate_code": NEW_ESTATE, "since": "2020-01-01", "until": None},
        {"id": "C-BAD-DATE", "credit_code": credit_code(2), "estate_code": E_A, "since": "2020-13-01", "until": None},
    ])
    yield database
    await database.close()


def firms(database: SampleDatabase) -> SampleFirms:
    return SampleFirms("firms", SampleFirms.config_schema.validate("firms", {"url": database.url}))


async def add_new_estate(store: SqlStore) -> None:
    await store.write(Batch(places=[Place(NEW_ESTATE, Level.ESTATE, "新建花园", "370202001001")]))


async def test_a_later_run_that_links_the_record_resolves_its_letter(store: SqlStore, register: SampleDatabase) -> None:
    source = firms(register)
    first = await sync(store, source)
    assert first.counts.dead_lettered == 2 and first.counts.resolved == 0
    letters = {x.record_key: x for x in (await store.dead_letters("firms", 10)).items}
    assert letters["C-NEW-ESTATE"].reason is Reason.UNKNOWN_PLACE and letters["C-NEW-ESTATE"].retryable
    assert letters["C-BAD-DATE"].reason is Reason.SCHEMA_MISMATCH
    await add_new_estate(store)
    await register.end_contracts(["C-NEW-ESTATE"], dt.date(2030, 1, 1))  # the source sends it again
    second = await sync(store, source)
    await source.close()
    assert (second.counts.read, second.counts.written, second.counts.resolved) == (1, 1, 1)
    assert [x.record_key for x in (await store.dead_letters("firms", 10)).items] == ["C-BAD-DATE"]
    assert await store.dead_letter_count("firms") == 1
    [resolved] = [x for x in (await store.dead_letters("firms", 10, include_resolved=True)).items if x.resolved]
    assert (resolved.record_key, resolved.resolved_by_run) == ("C-NEW-ESTATE", second.id)
    assert resolved.resolved_at is not None and resolved.resolved_at >= second.started_at


async def test_a_retry_links_open_letters_without_reading_the_source(store: SqlStore, register: SampleDatabase) -> None:
    source = firms(register)
    await sync(store, source)
    cursors = await store.stream_states("firms")
    unchanged = await sync(store, source, retry=True)  # nothing arrived: set aside again, counted
    assert (unchanged.counts.read, unchanged.counts.retried, unchanged.counts.resolved) == (0, 1, 0)
    assert unchanged.counts.dead_lettered == 1
    again = {x.record_key: x for x in (await store.dead_letters("firms", 10)).items}
    assert again["C-NEW-ESTATE"].seen == 2 and again["C-NEW-ESTATE"].last_run_id == unchanged.id
    assert again["C-BAD-DATE"].seen == 1  # the record's own fault: not retried
    await add_new_estate(store)
    retried = await sync(store, source, retry=True)
    await source.close()
    assert retried.status is RunStatus.SUCCEEDED, retried.error
    assert (retried.counts.read, retried.counts.retried, retried.counts.written, retried.counts.resolved) == (0, 1, 1, 1)
    assert await store.stream_states("firms") == cursors  # a retry moves no cursor
    [management] = [m for m in (await store.managements([NEW_ESTATE], None, EVERYTHING))[0]]
    assert management.firm_code == credit_code(1) and management.provenance is not None
    assert management.provenance.run_id == retried.id and management.provenance.record_id == "C-NEW-ESTATE"
    assert [x.record_key for x in (await store.dead_letters("firms", 10)).items] == ["C-BAD-DATE"]
    source = firms(register)
    assert (await sync(store, source, retry=True)).counts.retried == 0
    await source.close()


async def test_a_run_that_adds_places_retries_every_connectors_place_letters(
    store: SqlStore, register: SampleDatabase, tmp_path: Path
) -> None:
    await register.insert(estate_record, [{"code": NEW_ESTATE, "name": "新建花园", "community": "370202001001"}])
    specs = parse_connectors(
        f'[connectors.firms]\nkind = "tests.connectors.sample:SampleFirms"\nurl = "{register.url}"\n\n'
        f'[connectors.estates]\nkind = "tests.connectors.sample:SampleEstates"\nurl = "{register.url}"\n'
    )
    source = firms(register)
    await sync(store, source)
    await source.close()
    estates = SampleEstates("estates", SampleEstates.config_schema.validate("estates", {"url": register.url}))
    added = await sync(store, estates)
    assert added.counts.places_added == 1 and added.counts.written == 1
    again = await sync(store, estates, full=True)
    assert again.counts.places_added == 0 and again.counts.unchanged == 1  # an estate known already adds nothing
    await estates.close()

    now = utcnow()  # firms is busy: its letters wait, open
    await store.save_run(ConnectorRun("busy", "firms", now, lease=lease(now, dt.timedelta(minutes=5))))
    [(name, busy)] = await retry_after_places(store, specs, who="the test")
    assert name == "firms" and isinstance(busy, str) and "firms is already running (run busy" in busy
    assert await store.dead_letter_count("firms") == 2
    await store.save_run(ConnectorRun("busy", "firms", now, RunStatus.SUCCEEDED, utcnow()))

    [(name, run)] = await retry_after_places(store, specs, who="the test")  # estates has no letters: no run
    assert name == "firms" and isinstance(run, ConnectorRun)
    assert run.trigger == "places" and run.status is RunStatus.SUCCEEDED
    assert (run.counts.read, run.counts.retried, run.counts.resolved, run.counts.written) == (0, 1, 1, 1)
    assert [x.record_key for x in (await store.dead_letters("firms", 10)).items] == ["C-BAD-DATE"]
    assert await retry_after_places(store, specs, who="the test") == []  # nothing left to retry


def test_hub_sync_retries_and_follows_added_places(tmp_path: Path) -> None:
    keys = Keyring.generate()
    keys.save(tmp_path / "hub.keys")

    async def prepare() -> str:
        store = await open_store(str(tmp_path / "hub.sqlite"), sealer=keys.sealer())
        await store.write(fixture_city())
        await store.close()
        database = SampleDatabase(tmp_path / "register.sqlite", (E_A, E_B, E_C))
        await database.seed(10, 6)
        await database.insert(contract, [
            {"id": "C-NEW-ESTATE", "credit_code": credit_code(1), "estate_code": NEW_ESTATE, "since": "2020-01-01", "until": None},
        ])
        await database.insert(estate_record, [{"code": NEW_ESTATE, "name": "新建花园", "community": "370202001001"}])
        await database.close()
        return database.url

    url = asyncio.run(prepare())
    (tmp_path / "connectors.toml").write_text(
        f'[connectors.firms]\nkind = "tests.connectors.sample:SampleFirms"\nurl = "{url}"\n\n'
        f'[connectors.estates]\nkind = "tests.connectors.sample:SampleEstates"\nurl = "{url}"\n'
    )
    env = {**{k: v for k, v in os.environ.items() if k != "HUB_BROKER"}, "HUB_DB": str(tmp_path / "hub.sqlite"),
           "PYTHONPATH": str(REPO)}

    def hub(*arguments: str) -> str:
        done = subprocess.run([sys.executable, "-m", "hub.cli", *arguments], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    first = hub("sync", "firms")
    assert "1 dead-lettered" in first and "contracts C-NEW-ESTATE: unknown_place" in first
    retried = hub("sync", "firms", "--retry")
    assert "read 0 records and retried 1 dead letters (0 taken, 1 dead-lettered, 0 duplicates); their facts: 0 written, 0 already stored" in retried
    placed = hub("sync", "estates")
    assert "1 places added" in placed
    assert "place-related dead letters retried after the places it added:" in placed
    assert "    firms: succeeded: retried 1, resolved 1, dead-lettered 0 (run " in placed
    bad = subprocess.run([sys.executable, "-m", "hub.cli", "sync", "--list", "--retry"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--retry" in bad.stderr


# -- the registry: units and registrations retried, holders not ----------------------------------


async def test_registry_units_and_registrations_are_retried_once_their_building_arrives(city: City, tmp_path: Path) -> None:
    """The hub holds the estate but not yet the building the exchange covers: every unit and
    registration is set aside (unknown_place), registrations keeping their holders' owner ids,
    never their numbers; once the building and its houses arrive, a retry links them all and the
    houses end as registered."""
    exchange = f"sqlite:///{tmp_path / 'exchange.sqlite'}"
    await build_exchange(exchange, city.store, within=city.building)
    houses = [h.code for h in await _houses_of(city.store, city.building)]
    store = await open_store(f"sqlite:///{tmp_path / 'hub.sqlite'}", sealer=SEALER)
    try:
        places = await places_under(city.store, city.building)
        await store.write(Batch(places=[p for p in places if p.level < Level.BUILDING]))
        source = RegistryDatabase("registry", RegistryDatabase.config_schema.validate("registry", {"url": exchange}))
        first = await sync(store, source, batch_size=50)
        assert first.status is RunStatus.SUCCEEDED, first.error
        letters = []
        after = None
        while True:
            page = await store.dead_letters("registry", 500, after)
            letters += page.items
            if not page.has_next:
                break
            after = page.end_cursor
        assert {x.reason for x in letters} == {Reason.UNKNOWN_PLACE} and all(x.retryable for x in letters)
        assert sorted(x.record_key for x in letters if x.stream == "units") == sorted(houses)
        registrations = [x for x in letters if x.stream == "registrations"]
        assert registrations and {x.stream for x in letters} == {"units", "registrations"}
        spans = [o for group in await city.store.ownerships(houses, None, EVERYTHING) for o in group]
        numbers = {o.id_number for o in await city.store.owners(sorted({s.owner_id for s in spans}), EVERYTHING) if o}
        for letter in registrations:  # the holder's number never kept whole, its owner id kept to link by
            assert not any(number and number in str(letter.payload) for number in numbers)
            assert "*" in str(letter.payload["qlr_number"]) and letter.payload["qlr_owner"].startswith("OW")

        await store.write(Batch(places=[p for p in places if p.level >= Level.BUILDING]))
        retried = await sync(store, source, retry=True, batch_size=50)
        await source.close()
        assert retried.status is RunStatus.SUCCEEDED, retried.error
        assert retried.counts.read == 0 and retried.counts.retried == len(letters) == retried.counts.resolved
        assert retried.counts.dead_lettered == 0
        assert await store.dead_letter_count("registry") == 0
        assert await snapshot(store, houses) == await snapshot(city.store, houses)  # areas, owners, ownerships as registered
    finally:
        await store.close()


async def test_a_holders_letter_is_kept_masked_and_not_retryable(city: City, tmp_path: Path) -> None:
    from tests.connectors.test_registry_database import add_rows

    exchange = f"sqlite:///{tmp_path / 'exchange.sqlite'}"
    await build_exchange(exchange, city.store, within=city.building)
    await add_rows(exchange, "qlr", [
        {"qlrid": "QLRPASS0001", "qlrmc": "护照人", "zjzl": "护照", "zjhm": "E12345678", "dh": "13900001111",
         "gxsj": dt.datetime(2030, 1, 1)},
    ])
    store = await open_store(f"sqlite:///{tmp_path / 'hub.sqlite'}", sealer=SEALER)
    try:
        await store.write(Batch(places=await places_under(city.store, city.building)))
        source = RegistryDatabase("registry", RegistryDatabase.config_schema.validate("registry", {"url": exchange}))
        await sync(store, source)
        [letter] = (await store.dead_letters("registry", 10)).items
        assert (letter.stream, letter.record_key, letter.reason) == ("holders", "QLRPASS0001", Reason.SCHEMA_MISMATCH)
        assert not letter.retryable
        assert "护照人" not in str(letter.payload) and "13900001111" not in str(letter.payload)
        retried = await sync(store, source, retry=True)
        await source.close()
        assert retried.counts.retried == 0
    finally:
        await store.close()


# -- a utility: an account and its bills retried once their house arrives ------------------------


async def test_a_utility_account_and_its_bills_are_retried_once_their_house_arrives(
    utility_city: UtilityCity, tmp_path: Path
) -> None:
    store = await utility_store(utility_city, tmp_path)
    try:
        house, lineage = utility_city.data.houses[0]
        entrance = house.parent_code
        assert entrance is not None
        new_code = house.code[:-4] + "9901"
        assert (await store.places([new_code], EVERYTHING)) == [None]
        folder = tmp_path / "drop"
        folder.mkdir()
        (folder / "accounts.csv").write_text(
            "account_no,utility,bdcdyh,address,updated\n"
            f"SWNEW0001,water,{new_code},,2024-06-01T09:00:00+08:00\n", encoding="utf-8")
        (folder / "bills.csv").write_text(
            "account_no,utility,period,amount,paid,due,updated\n"
            "SWNEW0001,water,2024-04,31.5,0,2024-05-25,2024-06-01T09:00:01+08:00\n"
            "SWNEW0001,water,2024-05,28.0,28.0,2024-06-25,2024-06-01T09:00:02+08:00\n", encoding="utf-8")
        for path in folder.iterdir():
            os.utime(path, (path.stat().st_mtime - 60, path.stat().st_mtime - 60))
        source = drop_source(folder)
        first = await sync(store, source)
        assert first.counts.dead_lettered == 3, first.error
        letters = (await store.dead_letters("water-drop", 10)).items
        assert {(x.stream, x.reason) for x in letters} == {("accounts", Reason.UNKNOWN_PLACE), ("bills", Reason.UNKNOWN_PLACE)}
        assert all(x.retryable for x in letters)

        await store.write(Batch(places=[Place(new_code, Level.HOUSE, "9901", entrance, area_centi_m2=9000)]))
        retried = await sync(store, source, retry=True)
        assert retried.status is RunStatus.SUCCEEDED, retried.error
        assert (retried.counts.retried, retried.counts.resolved, retried.counts.dead_lettered) == (3, 3, 0)
        [[account]] = await store.utility_accounts([new_code], EVERYTHING)
        assert account.account_no == "SWNEW0001"
        [arrears] = await store.arrears([new_code], dt.date(2024, 6, 1), EVERYTHING)
        assert arrears  # the April bill, unpaid and overdue
        assert await store.dead_letter_count("water-drop") == 0
    finally:
        await store.close()
