"""The registry exchange database (kind `registry-db`) on a real PostgreSQL database, synced into a
SQLite hub store: the shared connector contract, then what only a database source does (dropping
its connections mid-read, a password kept out of every message).

The demo city (`small`, seed 7) is built once per session into a SQLite file; each test gets a
fresh PostgreSQL exchange database built from one building of it, and a fresh hub store holding
that building's places (houses without the registry's area, usage and floor) and nothing else.
The helpers here are shared with the files and transfers tests.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import insert
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from connectors.registry import exchange
from connectors.registry.database import RegistryDatabase
from connectors.registry.reference import build_exchange, create_tables, record_changes
from connectors.runner import sync
from graph.ciphers.sealing import Sealer
from graph.ledger import Reason, RunStatus
from graph.levels import Level
from graph.model import Batch, Place
from graph.scope import Scope
from graph import open_store
from graph.sql import SqlStore
from graph.store import Store
from tests.conftest import PostgresDatabases
from tests.services import POSTGRES_ADMIN_URL
from tests.connectors.harness import ConnectorContract

EVERYTHING = Scope.everything()
CHANGED_AT = dt.datetime(2026, 3, 2, 10, 0)
"""After every gxsj of the demo's exchange (its last registrations are of late 2025)."""


@dataclasses.dataclass
class City:
    """The demo city's store, and the building the exchange is built from."""

    store: SqlStore
    building: str
    estate: str


async def _houses_of(store: Store, within: str) -> list[Place]:
    found: list[Place] = []
    after = None
    while True:
        page = await store.subtree(Level.HOUSE, within, EVERYTHING, 500, after)
        found.extend(page.items)
        if not page.has_next:
            return found
        after = page.end_cursor


SEALER = Sealer.generate()
"""The keys of the demo city and of the hubs its registry syncs into: one hub's keys, so the owner
ids the registry's holders get are the ones the city was generated with (graph.identity)."""


async def places_under(city: Store, within: str) -> list[Place]:
    """The places from the city down to `within` and everything under it, houses without the
    facts the registry brings (area, usage, floor): what the hub knows before the registry."""
    [above] = await city.ancestors([within], EVERYTHING)
    places = [*above, *(p for p in await city.places([within], EVERYTHING) if p)]
    for level in (Level.ESTATE, Level.BUILDING, Level.ENTRANCE, Level.HOUSE):
        if level <= places[-1].level:
            continue
        after = None
        while True:
            page = await city.subtree(level, within, EVERYTHING, 500, after)
            places.extend(page.items)
            if not page.has_next:
                break
            after = page.end_cursor
    return [
        dataclasses.replace(p, area_centi_m2=None, usage=None, floor=None, provenance=None) if p.level == Level.HOUSE else dataclasses.replace(p, provenance=None)
        for p in places
    ]


async def hub_store(url: str, city: Store, within: str, sealer: Sealer | None = None) -> SqlStore:
    store = await open_store(url, sealer=sealer or SEALER)
    await store.write(Batch(places=await places_under(city, within)))
    return store


async def snapshot(store: Store, houses: list[str]) -> Any:
    """The registry's facts in the store: houses' area/usage/floor, owners, ownerships."""
    places = await store.places(houses, EVERYTHING)
    spans = await store.ownerships(houses, None, EVERYTHING)
    owner_ids = sorted({o.owner_id for group in spans for o in group})
    owners = await store.owners(owner_ids, EVERYTHING)
    return (
        [(p.code, p.area_centi_m2, p.usage, p.floor) for p in places if p],
        [(o.id, o.kind, o.name, o.id_number, o.phone) for o in owners if o],
        sorted((o.house_code, o.owner_id, o.share, o.since, o.until) for group in spans for o in group),
    )


async def exchange_rows(url: str) -> int:
    engine = create_async_engine(_async(url))
    try:
        async with engine.connect() as connection:
            tables = exchange.exchange_tables()
            total = 0
            for name in (exchange.UNITS, exchange.HOLDERS, exchange.REGISTRATIONS):
                total += len((await connection.execute(tables.by_name(name).select())).all())
        return total
    finally:
        await engine.dispose()


def _async(url: str) -> str:
    parsed = make_url(url)
    driver = {"postgresql": "postgresql+asyncpg", "sqlite": "sqlite+aiosqlite"}[parsed.get_backend_name()]
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


async def add_rows(url: str, table: str, rows: list[dict[str, Any]]) -> None:
    engine = create_async_engine(_async(url))
    try:
        async with engine.begin() as connection:
            tables = await create_tables(connection)
            await connection.execute(insert(tables.by_name(table)), rows)
    finally:
        await engine.dispose()


BAD_AT = dt.datetime(2026, 4, 1, 9, 0)


def bad_rows(house: str, holder: str, other_house: str) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Reason]]:
    """Records the connector must set aside, by table, and the reason expected for each key."""
    stamp = BAD_AT
    rows: dict[str, list[dict[str, Any]]] = {
        exchange.UNITS: [
            {"bdcdyh": "370202001001GB0000F0001", "zl": "某处", "jzmj": 80.0, "ghyt": "住宅", "szc": 3, "gxsj": stamp},
            {"bdcdyh": "370202999999GB99999F99990001", "zl": "某处", "jzmj": 80.0, "ghyt": "住宅", "szc": 3, "gxsj": stamp},
        ],
        exchange.HOLDERS: [
            {"qlrid": "QLRBAD0001", "qlrmc": "错号人", "zjzl": "身份证", "zjhm": "370202199001011230", "dh": None, "gxsj": stamp},
        ],
        exchange.REGISTRATIONS: [
            {"ywh": "BAD0001", "bdcdyh": house, "djlx": "首次登记", "djsj": dt.date(2026, 4, 1), "qlrid": "QLR999999999",
             "fe": 1.0, "yqlrid": None, "gxsj": stamp},
            {"ywh": "BAD0002", "bdcdyh": other_house, "djlx": "转移登记", "djsj": dt.date(2026, 4, 1), "qlrid": holder,
             "fe": 1.0, "yqlrid": "QLR000000001", "gxsj": stamp},
            {"ywh": "BAD0003", "bdcdyh": house, "djlx": "抵押登记", "djsj": dt.date(2026, 4, 1), "qlrid": holder,
             "fe": 1.0, "yqlrid": None, "gxsj": stamp},
            {"ywh": "BAD0004", "bdcdyh": "370202001001GB00001F0001000X", "djlx": "首次登记", "djsj": dt.date(2026, 4, 1),
             "qlrid": holder, "fe": 1.0, "yqlrid": None, "gxsj": stamp},
        ],
    }
    expected = {
        "370202001001GB0000F0001": Reason.MALFORMED_CODE,
        "370202999999GB99999F99990001": Reason.UNKNOWN_PLACE,
        "QLRBAD0001": Reason.MALFORMED_CODE,
        "BAD0001": Reason.UNKNOWN_OWNER,
        "BAD0002": Reason.CONFLICT,
        "BAD0003": Reason.SCHEMA_MISMATCH,
        "BAD0004": Reason.MALFORMED_CODE,
    }
    return rows, expected


async def bad_inputs(url: str, city: City) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Reason]]:
    """`bad_rows` for the exchange at `url`: a transfer from QLR000000001 of a house it never held."""
    houses = [h.code for h in await _houses_of(city.store, city.building)]
    [first_spans] = await city.store.ownerships(houses[:1], None, EVERYTHING)
    first_holder = min(first_spans, key=lambda o: (o.since, o.owner_id)).owner_id  # QLR000000001
    [held] = await city.store.houses_of([first_holder], None, EVERYTHING)
    other = next(code for code in houses if code not in {o.house_code for o in held})
    return bad_rows(houses[0], "QLR000000002", other)


class RegistryFixture:
    """A SourceFixture over an exchange database at `url` and a fresh hub store."""

    def __init__(self, url: str, store: SqlStore, city: City, houses: list[str], total: int) -> None:
        self.url = url
        self.store = store
        self.city = city
        self.houses = houses
        self.total = total
        self.changes = 0

    async def source(self) -> RegistryDatabase:
        config = RegistryDatabase.config_schema.validate("registry", {"url": self.url})
        return RegistryDatabase("registry", config)

    async def down_source(self) -> RegistryDatabase:
        config = RegistryDatabase.config_schema.validate(
            "registry", {"url": "postgresql://registry:s3cret-pw@127.0.0.1:1/exchange"}
        )
        return RegistryDatabase("registry", config)

    async def change(self) -> int:
        self.changes += 1
        return await record_changes(self.url, fraction=0.1, seed=self.changes, at=CHANGED_AT + dt.timedelta(days=self.changes))

    async def add_bad(self) -> dict[str, Reason]:
        rows, expected = await bad_inputs(self.url, self.city)
        for table, items in rows.items():
            await add_rows(self.url, table, items)
        return expected

    async def snapshot(self) -> Any:
        return await snapshot(self.store, self.houses)


async def registry_fixture(url: str, city: City, hub_url: str) -> RegistryFixture:
    total = await build_exchange(url, city.store, within=city.building)
    store = await hub_store(hub_url, city.store, city.building)
    houses = [h.code for h in await _houses_of(city.store, city.building)]
    return RegistryFixture(url, store, city, houses, total)


@pytest.fixture
async def exchange_db(postgres_databases: PostgresDatabases) -> str:
    return await postgres_databases.create()


class TestRegistryDatabaseContract(ConnectorContract):
    @pytest.fixture
    async def fixture(self, city: City, exchange_db: str, tmp_path: Path) -> AsyncIterator[RegistryFixture]:
        made = await registry_fixture(exchange_db, city, f"sqlite:///{tmp_path / 'hub.sqlite'}")
        assert made.total > 150
        yield made
        await made.store.close()


# --- what only a database source does -------------------------------------------------------


@pytest.fixture
async def fixture(city: City, exchange_db: str, tmp_path: Path) -> AsyncIterator[RegistryFixture]:
    made = await registry_fixture(exchange_db, city, f"sqlite:///{tmp_path / 'hub.sqlite'}")
    yield made
    await made.store.close()


async def test_the_sync_gives_back_the_demo_citys_ownerships(fixture: RegistryFixture, city: City) -> None:
    source = await fixture.source()
    run = await sync(fixture.store, source, batch_size=50)
    await source.close()
    assert run.status is RunStatus.SUCCEEDED, run.error
    places, owners, spans = await snapshot(fixture.store, fixture.houses)
    demo_places, demo_owners, demo_spans = await snapshot(city.store, fixture.houses)
    assert spans == demo_spans and owners == demo_owners and places == demo_places
    assert any(until is not None for *_, until in spans), "the building has transfers"


async def _admin(sql: str, *args: Any) -> list[Any]:
    connection = await asyncpg.connect(make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        return list(await connection.fetch(sql, *args))
    finally:
        await connection.close()


class _DroppingStore:
    """The hub store, but at the `at`-th write the exchange database goes away: it stops taking
    connections and every session on it is terminated (pg_terminate_backend)."""

    def __init__(self, store: Store, url: str, at: int) -> None:
        self._store, self._name, self._at = store, make_url(url).database, at
        self.terminated = -1

    async def write(self, batch: Batch) -> Any:
        self._at -= 1
        if self._at == 0:
            await _admin(f'ALTER DATABASE "{self._name}" ALLOW_CONNECTIONS false')
            rows = await _admin(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                self._name,
            )
            self.terminated = len(rows)
        return await self._store.write(batch)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


async def test_the_database_going_away_mid_read_fails_the_run_and_the_next_resumes(fixture: RegistryFixture, city: City) -> None:
    await build_exchange(fixture.url, city.store, within=city.estate)
    units = await _count(fixture.url, "bdcdy")
    assert units > 450
    estate_store = await hub_store(f"sqlite:///{Path(fixture.store.engine.url.database or '').with_name('estate.sqlite')}", city.store, city.estate)
    houses = [h.code for h in await _houses_of(city.store, city.estate)]
    source = await fixture.source()
    source.page = 30
    name = make_url(fixture.url).database
    try:
        dropping = _DroppingStore(estate_store, fixture.url, at=4)
        failed = await sync(dropping, source, batch_size=100)
        assert dropping.terminated == 0  # no session was left open between pages
        assert failed.status is RunStatus.FAILED
        assert failed.error and failed.error.startswith("registry: reading bdcdy (units) after 420 records")
        assert "in the registry exchange database at *** failed" in failed.error  # the url is a secret
        assert f'database "{name}" is not currently accepting connections' in failed.error
        assert failed.counts.read == 420
        states = await estate_store.stream_states("registry")
        assert [s.stream for s in states] == ["units"] and states[0].cursor
        check = await source.check()
        assert not check.ok and "is not currently accepting connections" in check.detail
        assert check.detail.startswith(f"registry: reading bdcdy, qlr, djxx in the registry exchange database at {source.shown_url}")
        await _admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        resumed = await sync(estate_store, source, batch_size=100)
        assert resumed.status is RunStatus.SUCCEEDED, resumed.error
        assert resumed.counts.read == await exchange_rows(fixture.url) - 400  # the checkpointed 4 batches are not read again
        assert await snapshot(estate_store, houses) == await snapshot(city.store, houses)
    finally:
        await _admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await source.close()
        await estate_store.close()


async def _count(url: str, table: str) -> int:
    connection = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        return int(await connection.fetchval(f"SELECT count(*) FROM {table}"))
    finally:
        await connection.close()


async def test_a_dropped_table_fails_the_check_and_the_run_with_the_cause(fixture: RegistryFixture) -> None:
    connection = await asyncpg.connect(make_url(fixture.url).set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        await connection.execute("ALTER TABLE djxx RENAME TO djxx_old")
    finally:
        await connection.close()
    source = await fixture.source()
    try:
        check = await source.check()
        assert not check.ok
        assert check.detail.startswith("registry: ") and "djxx" in check.detail and "does not exist" in check.detail
        run = await sync(fixture.store, source)
        assert run.status is RunStatus.FAILED
        assert run.error and "reading djxx (registrations) after 0 records" in run.error and "does not exist" in run.error
        assert run.counts.read == fixture.total - len(await _registrations(fixture.url))
    finally:
        await source.close()


async def _registrations(url: str) -> list[Any]:
    connection = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        return list(await connection.fetch("SELECT ywh FROM djxx_old"))
    finally:
        await connection.close()


async def test_a_wrong_password_is_named_without_showing_it(fixture: RegistryFixture, postgres_databases: PostgresDatabases) -> None:
    admin = await asyncpg.connect(make_url(fixture.url).set(drivername="postgresql").render_as_string(hide_password=False))
    role = f"registry_reader_{make_url(fixture.url).database}"[-60:]
    try:
        await admin.execute(f'CREATE ROLE "{role}" LOGIN PASSWORD \'right-horse-battery\'')
        url = make_url(fixture.url).set(username=role, password="wrong-staple-777").render_as_string(hide_password=False)
        config = RegistryDatabase.config_schema.validate("registry", {"url": url})
        assert "wrong-staple-777" not in repr(config)
        source = RegistryDatabase("registry", config)
        try:
            check = await source.check()
            run = await sync(fixture.store, source)
        finally:
            await source.close()
        # PostgreSQL trusts local connections here; whether or not it asks for the password,
        # nothing the hub says may contain it
        for text in (check.detail, run.error or ""):
            assert "wrong-staple-777" not in text
        assert "registry:" in check.detail
    finally:
        await admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        await admin.close()


async def test_bad_settings_are_refused_without_the_url(fixture: RegistryFixture) -> None:
    from graph.errors import InvalidInput

    for url, words in (
        ("mysql://root:hunter2@db/registry", "must be a postgresql:// or sqlite:// URL, not mysql://"),
        ("sqlite://", "must name a SQLite file"),
    ):
        config = RegistryDatabase.config_schema.validate("registry", {"url": url})
        with pytest.raises(InvalidInput) as raised:
            RegistryDatabase("registry", config)
        assert words in str(raised.value) and "hunter2" not in str(raised.value)
        assert str(raised.value).startswith("connectors.registry.url: '***'")


async def test_an_incremental_read_sends_only_newer_rows(fixture: RegistryFixture) -> None:
    source = await fixture.source()
    try:
        first = await sync(fixture.store, source, batch_size=50)
        assert first.counts.read == fixture.total
        states = {s.stream: s.cursor or "" for s in await fixture.store.stream_states("registry")}
        [units] = [stream for stream in source.streams() if stream.name == "units"]
        assert [r async for r in units.read(states["units"])] == []
        changed = await record_changes(fixture.url, fraction=0.05, seed=3, at=CHANGED_AT)
        newer = [r async for r in units.read(states["units"])]
        assert newer and all(r.cursor > states["units"] for r in newer)
        assert all(r.data["gxsj"].startswith("2026-03-02 10:00:00") for r in newer)
        second = await sync(fixture.store, source, batch_size=50)
        assert second.counts.read == changed and second.counts.dead_lettered == 0
    finally:
        await source.close()


async def _roll_ups(store: Store, estate: str) -> list[tuple[str, int, int, int, int, int]]:
    """Every roll-up from the city down to the estate's entrances, as the store keeps them."""
    [above] = await store.ancestors([estate], EVERYTHING)
    figures = []
    for level in (Level.DISTRICT, Level.STREET, Level.COMMUNITY, Level.ESTATE, Level.BUILDING, Level.ENTRANCE):
        for row in await store.stats(above[0].code, level, EVERYTHING):
            figures.append((row.place.code, row.houses, row.floor_area_centi_m2, row.owners, row.estates, row.buildings))
    return sorted(figures)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_the_roll_ups_a_full_and_an_incremental_sync_keep_are_those_a_recount_gives(
    backend: str, city: City, exchange_db: str, postgres_databases: PostgresDatabases, tmp_path: Path
) -> None:
    """Units change houses' areas in place and registrations move owners: the write path moves
    the roll-ups above them by the differences (graph.sql.rollups), which must come out as a
    recount from the houses would, after the first sync and after transfers and re-measurements."""
    await build_exchange(exchange_db, city.store, within=city.estate)
    hub_url = f"sqlite:///{tmp_path / 'hub.sqlite'}" if backend == "sqlite" else await postgres_databases.create_migrated()
    store = await hub_store(hub_url, city.store, city.estate)
    source = RegistryDatabase("registry", RegistryDatabase.config_schema.validate("registry", {"url": exchange_db}))
    try:
        first = await sync(store, source, batch_size=40)
        assert first.status is RunStatus.SUCCEEDED, first.error
        synced = await _roll_ups(store, city.estate)
        assert sum(houses for _, houses, area, *_ in synced if area) > 0, "the units gave the houses their areas"
        await store.refresh_stats()
        assert await _roll_ups(store, city.estate) == synced
        changed = await record_changes(exchange_db, fraction=0.1, seed=11, at=CHANGED_AT)
        second = await sync(store, source, batch_size=40)
        assert second.status is RunStatus.SUCCEEDED and second.counts.read == changed, second.error
        resynced = await _roll_ups(store, city.estate)
        assert resynced != synced, "transfers and re-measurements moved the roll-ups"
        await store.refresh_stats()
        assert await _roll_ups(store, city.estate) == resynced
    finally:
        await source.close()
        await store.close()
