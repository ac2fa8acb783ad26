"""The Alembic migrations build exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import replace
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

from graph.ciphers.sealing import Sealer
from graph.codes import resident_id_check_digit
from graph.levels import Level
from graph.model import Batch, Owner, OwnerKind, Ownership, Place
from graph.scope import Scope
from graph.sql import SqlStore, migrate
from graph.sql.tables import metadata
from tests.conftest import PostgresDatabases


def _drift(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def _check(url: str) -> None:
    store = await SqlStore.open(url, sealer=Sealer.generate())
    try:
        assert await migrate.current(store.engine) == migrate.head()
        async with store.engine.connect() as connection:
            assert await connection.run_sync(_drift) == []
        await migrate.upgrade(store.engine)  # a second upgrade is a no-op
        assert await migrate.current(store.engine) == migrate.head()
    finally:
        await store.close()


async def test_sqlite_schema_matches_the_tables(sqlite_path: str) -> None:
    await _check(f"sqlite:///{sqlite_path}")


@pytest.mark.postgres
async def test_postgresql_schema_matches_the_tables(postgres_databases: PostgresDatabases) -> None:
    await _check(await postgres_databases.create())


async def _write_old(store: SqlStore, batch: Batch) -> None:
    """Write `batch` with today's code into a store still at a revision before 0013, whose
    `place.area` and `place_stats.floor_area` are floats in m²: the integer columns today's code
    writes are added for the write, then folded back into the float ones and dropped, so the
    migrations under test start from the old tables holding real rows."""
    import sqlalchemy as sa

    async with store.engine.begin() as connection:
        for statement in (
            "ALTER TABLE place ADD COLUMN area_centi_m2 BIGINT",
            "ALTER TABLE place_stats DROP COLUMN floor_area",
            "ALTER TABLE place_stats ADD COLUMN floor_area_centi_m2 BIGINT NOT NULL DEFAULT 0",
        ):
            await connection.execute(sa.text(statement))
    await store.write(batch)
    async with store.engine.begin() as connection:
        for statement in (
            "ALTER TABLE place_stats ADD COLUMN floor_area FLOAT NOT NULL DEFAULT 0",
            "UPDATE place SET area = area_centi_m2 / 100.0 WHERE area_centi_m2 IS NOT NULL",
            "UPDATE place_stats SET floor_area = floor_area_centi_m2 / 100.0",
            "ALTER TABLE place DROP COLUMN area_centi_m2",
            "ALTER TABLE place_stats DROP COLUMN floor_area_centi_m2",
        ):
            await connection.execute(sa.text(statement))


async def test_owner_ids_are_keyed_on_upgrade_and_their_sealed_data_follows(sqlite_path: str) -> None:
    """0007: an owner stored under the old plain-hash id moves to its keyed id, its personal data
    sealed again under the new id, its ownerships still its own."""
    sealer = Sealer.generate()
    number = "37020219800101123" + resident_id_check_digit("37020219800101123")
    legacy = "OW" + hashlib.sha256(b"hub-demo-owner:" + number.encode()).hexdigest()[:16].upper()
    store = await SqlStore.open(sqlite_path, sealer=sealer, upgrade=False)
    try:
        await migrate.upgrade(store.engine, "0006", sealer=sealer)
        house = "370202001001GB00001F00010001"
        await _write_old(store, Batch(
            places=[
                Place("370200", Level.CITY, "青岛市", None), Place("370202", Level.DISTRICT, "市南区", "370200"),
                Place("370202001", Level.STREET, "香港中路街道", "370202"), Place("370202001001", Level.COMMUNITY, "云霄路社区", "370202001"),
                Place("370202001001E001", Level.ESTATE, "海信花园", "370202001001"),
                Place("370202001001GB00001F0001", Level.BUILDING, "1号楼", "370202001001E001"),
                Place("370202001001GB00001F000101", Level.ENTRANCE, "1单元", "370202001001GB00001F0001"),
                Place(house, Level.HOUSE, "101", "370202001001GB00001F000101"),
            ],
            owners=[Owner(legacy, OwnerKind.PERSON, "张翀", number, "13900001234")],
            ownerships=[Ownership(house, legacy, 1.0, dt.date(2020, 1, 1))],
        ))
        await migrate.upgrade(store.engine, sealer=sealer)
        keyed = sealer.owner_ids()(number)
        everything = Scope.everything()
        assert keyed != legacy and await store.owners([legacy], everything) == [None]
        [owner] = await store.owners([keyed], everything)
        assert owner is not None and (owner.name, owner.id_number, owner.phone) == ("张翀", number, "13900001234")
        [[span]] = await store.ownerships([house], None, everything)
        assert span.owner_id == keyed
    finally:
        await store.close()


async def _readings_keyed_on_upgrade(url: str) -> None:
    """0008: readings stored twice by redeliveries before it are kept once, the rest get the
    digest the store computes, and the unique key holds from then on."""
    import sqlalchemy as sa

    from graph.devices import Device, DeviceType, Reading, every_device
    from graph.sql import tables

    store = await SqlStore.open(url, sealer=Sealer.generate(), upgrade=False)
    try:
        await migrate.upgrade(store.engine, "0007")
        await _write_old(store, Batch(places=[
            Place("370200", Level.CITY, "青岛市", None), Place("370202", Level.DISTRICT, "市南区", "370200"),
            Place("370202001", Level.STREET, "香港中路街道", "370202"), Place("370202001001", Level.COMMUNITY, "云霄路社区", "370202001"),
            Place("370202001001E001", Level.ESTATE, "海信花园", "370202001001"),
        ]))
        at = dt.datetime(2026, 3, 2, 1, 30, tzinfo=dt.timezone.utc)
        async with store.engine.begin() as connection:  # the tables as 0007 left them, written as the store wrote them
            place_id = (await connection.execute(sa.select(tables.place.c.id).where(tables.place.c.code == "370202001001E001"))).scalar_one()
            device = {"code": "GC-0001", "type": "gas_detector", "model": "GT-1", "name": "", "place_id": place_id,
                      "interval_s": 30, "thresholds": "{}", "status": "online", "values": "{}", "registered_at": at}
            device_id = (await connection.execute(tables.device.insert().values(**device))).inserted_primary_key[0]
            await connection.execute(tables.reading.insert(), [
                {"device_id": device_id, "at": at + dt.timedelta(seconds=s), "received_at": at, "kind": "telemetry", "values": f'{{"lel":{s}.0}}'}
                for s in (0, 1, 1, 2, 2, 2)
            ])
        await migrate.upgrade(store.engine)
        scope = Scope.everything()
        assert sorted(r.values["lel"] for r in await store.readings("GC-0001", scope)) == [0.0, 1.0, 2.0]
        assert await store.add_readings([Reading("GC-0001", at + dt.timedelta(seconds=2), {"lel": 2.0})]) == 1
        assert len(await store.readings("GC-0001", scope)) == 3  # the same reading: its digest matched
        [device] = await every_device(store)
        assert device == Device("GC-0001", DeviceType.GAS_DETECTOR, "GT-1", "370202001001E001", 30, registered_at=at,
                                status=device.status, values={})
    finally:
        await store.close()


async def test_sqlite_readings_are_keyed_on_upgrade(sqlite_path: str) -> None:
    await _readings_keyed_on_upgrade(f"sqlite:///{sqlite_path}")


@pytest.mark.postgres
async def test_postgresql_readings_are_keyed_on_upgrade(postgres_databases: PostgresDatabases) -> None:
    await _readings_keyed_on_upgrade(await postgres_databases.create())


async def test_runs_get_a_lease_and_letters_their_first_detail_on_upgrade(sqlite_path: str) -> None:
    """0009: a run still RUNNING gets a lease lapsing 15 minutes after its last sign of life (it
    is closed as abandoned once that has passed); a dead letter's detail and time become its
    first ones too, and it is marked not retryable (kept before retries existed)."""
    import sqlalchemy as sa

    from graph.ledger import Reason, RunStatus

    sealer = Sealer.generate()
    store = await SqlStore.open(sqlite_path, sealer=sealer, upgrade=False)
    beat = dt.datetime(2026, 3, 1, 8, 5, tzinfo=dt.timezone.utc)
    try:
        await migrate.upgrade(store.engine, "0008", sealer=sealer)
        counts = {"full_read": 0, "trigger": "schedule", "read": 10, "written": 9, "unchanged": 0, "dead_lettered": 1, "duplicates": 0}
        async with store.engine.begin() as connection:
            await connection.execute(sa.text(
                "INSERT INTO connector_run (id, connector, started_at, heartbeat_at, status, full_read, trigger, read, written, "
                "unchanged, dead_lettered, duplicates) VALUES ('old-run', 'registry', :started, :beat, 'running', :full_read, "
                ":trigger, :read, :written, :unchanged, :dead_lettered, :duplicates)"
            ), {"started": beat - dt.timedelta(minutes=5), "beat": beat, **counts})
            await connection.execute(sa.text(
                "INSERT INTO dead_letter (connector, stream, record_key, reason, detail, payload, candidates, run_id, "
                "last_run_id, at, seen) VALUES ('registry', 'units', 'u1', 'unknown_place', 'no house u1', '{}', '[]', "
                "'old-run', 'old-run', :at, 3)"
            ), {"at": beat})
        await migrate.upgrade(store.engine, sealer=sealer)
        run = await store.run("old-run")
        assert run is not None and run.status is RunStatus.RUNNING
        assert run.lease is not None and run.lease.expires_at == beat + dt.timedelta(minutes=15)
        assert run.counts.read == 10 and run.counts.retried == 0 and run.counts.places_added == 0
        [letter] = (await store.dead_letters("registry", first=5)).items
        assert (letter.reason, letter.seen, letter.first_detail, letter.first_at) == (Reason.UNKNOWN_PLACE, 3, "no house u1", beat)
        assert not letter.retryable and letter.resolved_at is None
        [closed] = await store.close_abandoned(beat + dt.timedelta(minutes=16), "the test")
        assert closed.id == "old-run" and closed.status is RunStatus.ABANDONED
    finally:
        await store.close()


async def _rollups_recomputed(url: str) -> None:
    from sqlalchemy import delete, select, update

    from graph.sql import tables
    from tests.graph.conformance import CITY, FACTS, SHINAN, assert_figures, fixture_city

    sealer = Sealer.generate()
    store = await SqlStore.open(url, sealer=sealer, upgrade=False)
    try:
        await migrate.upgrade(store.engine, "0009", sealer=sealer)
        await _write_old(store, fixture_city())
        # rows as an older hub left them: some never refreshed, some stale
        async with store.engine.begin() as connection:
            ids = {row.code: row.id for row in await connection.execute(select(tables.place.c.code, tables.place.c.id))}
            await connection.execute(delete(tables.place_stats).where(tables.place_stats.c.place_id == ids[SHINAN]))
            await connection.execute(update(tables.place_stats).where(tables.place_stats.c.place_id == ids[CITY]).values(houses=3, owners=0))
            # (read raw: today's reads name columns this revision does not have yet)
            kept = await connection.execute(select(tables.place_stats.c.place_id).where(tables.place_stats.c.place_id == ids[SHINAN]))
            assert kept.all() == []
        every = sorted(FACTS.places)
        await migrate.upgrade(store.engine, sealer=sealer)
        for code, row in zip(every, await store.place_stats(every, Scope.everything())):
            assert row is not None, code
            assert_figures(row, FACTS.stats(code))
    finally:
        await store.close()


async def test_rollups_are_recomputed_once_on_upgrade_sqlite(sqlite_path: str) -> None:
    """0010: writes keep roll-ups current from their children's rows from now on, so every row an
    older hub left stale or never wrote is worked out once from the houses themselves."""
    await _rollups_recomputed(sqlite_path)


async def test_rollups_are_recomputed_once_on_upgrade_postgresql(postgres_databases: PostgresDatabases) -> None:
    await _rollups_recomputed(await postgres_databases.create())


async def _case_numbering_carries_on(url: str) -> None:
    import sqlalchemy as sa

    from graph.cases import Case, CaseCategory, CaseSource, CaseStatus
    from graph.casework import Casework

    sealer = Sealer.generate()
    store = await SqlStore.open(url, sealer=sealer, upgrade=False)
    at = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.timezone.utc)  # 2026-03-02 in China
    try:
        await migrate.upgrade(store.engine, "0010", sealer=sealer)
        async with store.engine.begin() as connection:
            for key in ("GD20260302000041", "GD20260302000042", "GD20260301000007", "hotline:GD20260302999999"):
                await connection.execute(sa.text(
                    "INSERT INTO work_case (key, source_kind, category, status, title, description, reported_at, updated_at) "
                    "VALUES (:key, 'owner', 'repair', 'accepted', 'x', '', :at, :at)"
                ), {"key": key, "at": at})
        await migrate.upgrade(store.engine, sealer=sealer)
        old = await store.cases(["GD20260302000042", "hotline:GD20260302999999"], Scope.everything())
        assert [case.version if case else None for case in old] == [1, 1]
        work = Casework(store)
        case = Case("", CaseSource.OWNER, CaseCategory.REPAIR, CaseStatus.ACCEPTED, "楼道灯不亮", at, at)
        assert (await work.open_case(case, actor="a")).id == "GD20260302000043"
        assert (await work.open_case(replace(case, reported_at=at - dt.timedelta(days=1)), actor="a")).id == "GD20260301000008"
        assert (await work.open_case(replace(case, reported_at=at + dt.timedelta(days=1)), actor="a")).id == "GD20260303000001"
    finally:
        await store.close()


async def test_case_numbering_carries_on_after_the_counter_arrives_sqlite(sqlite_path: str) -> None:
    """0011: cases get version 1; each day's counter starts at that day's highest GD id."""
    await _case_numbering_carries_on(sqlite_path)


@pytest.mark.postgres
async def test_case_numbering_carries_on_after_the_counter_arrives_postgresql(postgres_databases: PostgresDatabases) -> None:
    await _case_numbering_carries_on(await postgres_databases.create())


async def _bills_in_fen(url: str) -> None:
    import sqlalchemy as sa

    from graph.sql import tables
    from graph.utilities import Utility

    sealer = Sealer.generate()
    store = await SqlStore.open(url, sealer=sealer, upgrade=False)
    house = "370202001001GB00001F00010001"
    try:
        await migrate.upgrade(store.engine, "0011", sealer=sealer)
        await _write_old(store, 
            Batch(
                places=[
                    Place("370200", Level.CITY, "青岛市", None), Place("370202", Level.DISTRICT, "市南区", "370200"),
                    Place("370202001", Level.STREET, "香港中路街道", "370202"), Place("370202001001", Level.COMMUNITY, "云霄路社区", "370202001"),
                    Place("370202001001E001", Level.ESTATE, "海信花园", "370202001001"),
                    Place("370202001001GB00001F0001", Level.BUILDING, "1号楼", "370202001001E001"),
                    Place("370202001001GB00001F000101", Level.ENTRANCE, "1单元", "370202001001GB00001F0001"),
                    Place(house, Level.HOUSE, "101", "370202001001GB00001F000101"),
                ]
            )
        )
        # rows as the 0011 writer left them: yuan floats, two decimals (and one older row with
        # more, and one float sum that is not two decimals in binary)
        old = [
            ("2024-01", 0.29, 0.0),  # 0.29 * 100 is 28.999999999999996 in floats
            ("2024-02", 120.5, 20.5),
            ("2024-03", 0.1 + 0.2, 0.0),  # 0.30000000000000004
            ("2024-04", 39.99, 39.99),
            ("2024-05", 12.345, 12.344),  # more decimals than a fen: rounded half up
            ("2024-06", 99999999.99, 0.01),
        ]
        async with store.engine.begin() as connection:
            place_id = (await connection.execute(sa.select(tables.place.c.id).where(tables.place.c.code == house))).scalar_one()
            account_id = (
                await connection.execute(
                    sa.text("INSERT INTO utility_account (utility, account_no, house_id) VALUES ('water', 'W-1', :house) RETURNING id"),
                    {"house": place_id},
                )
            ).scalar_one()
            for period, amount, paid in old:
                await connection.execute(
                    sa.text("INSERT INTO bill (account_id, period, amount, paid, due) VALUES (:account, :period, :amount, :paid, :due)"),
                    {"account": account_id, "period": period, "amount": amount, "paid": paid, "due": dt.date(2024, 7, 1)},
                )
        await migrate.upgrade(store.engine, sealer=sealer)
        async with store.engine.connect() as connection:
            stored = (
                await connection.execute(sa.select(tables.bill.c.period, tables.bill.c.amount_fen, tables.bill.c.paid_fen).order_by(tables.bill.c.period))
            ).all()
            assert await connection.run_sync(_drift) == []
        assert [(period, amount, paid) for period, amount, paid in stored] == [
            ("2024-01", 29, 0),
            ("2024-02", 12050, 2050),
            ("2024-03", 30, 0),
            ("2024-04", 3999, 3999),
            ("2024-05", 1235, 1234),
            ("2024-06", 9999999999, 1),
        ]
        assert all(type(amount) is int and type(paid) is int for _, amount, paid in stored)
        [[owed]] = await store.arrears([house], dt.date(2024, 7, 2), Scope.everything())
        assert (owed.utility, owed.amount_fen, owed.bills, owed.oldest_period) == (Utility.WATER, 29 + 10000 + 30 + 1 + 9999999998, 5, "2024-01")
        assert type(owed.amount_fen) is int
    finally:
        await store.close()


async def test_bills_move_to_whole_fen_on_upgrade_sqlite(sqlite_path: str) -> None:
    """0012: a bill's yuan floats become whole fen, each exactly (no float rounding on the way)."""
    await _bills_in_fen(sqlite_path)


@pytest.mark.postgres
async def test_bills_move_to_whole_fen_on_upgrade_postgresql(postgres_databases: PostgresDatabases) -> None:
    await _bills_in_fen(await postgres_databases.create())


async def _areas_in_centi_m2(url: str) -> None:
    import sqlalchemy as sa

    from graph.sql import tables

    sealer = Sealer.generate()
    store = await SqlStore.open(url, sealer=sealer, upgrade=False)
    entrance = "370202001001GB00001F000101"
    houses = [f"370202001001GB00001F0001010{n}" for n in (1, 2, 3, 4)]
    try:
        await migrate.upgrade(store.engine, "0012", sealer=sealer)
        await _write_old(
            store,
            Batch(
                places=[
                    Place("370200", Level.CITY, "青岛市", None), Place("370202", Level.DISTRICT, "市南区", "370200"),
                    Place("370202001", Level.STREET, "香港中路街道", "370202"), Place("370202001001", Level.COMMUNITY, "云霄路社区", "370202001"),
                    Place("370202001001E001", Level.ESTATE, "海信花园", "370202001001"),
                    Place("370202001001GB00001F0001", Level.BUILDING, "1号楼", "370202001001E001"),
                    Place(entrance, Level.ENTRANCE, "1单元", "370202001001GB00001F0001"),
                    Place(houses[0], Level.HOUSE, "101", entrance, area_centi_m2=8888),  # 88.88 m² as a float
                    Place(houses[1], Level.HOUSE, "102", entrance, area_centi_m2=10),
                    Place(houses[2], Level.HOUSE, "103", entrance),  # no area
                    Place(houses[3], Level.HOUSE, "104", entrance, area_centi_m2=100),
                ]
            ),
        )
        async with store.engine.begin() as connection:  # rows as older writers left them
            await connection.execute(sa.text("UPDATE place SET area = 12.345 WHERE code = :code"), {"code": houses[3]})
            await connection.execute(sa.text("UPDATE place_stats SET floor_area = 0.30000000000000004"))  # drifted float sums
        await migrate.upgrade(store.engine, sealer=sealer)
        async with store.engine.connect() as connection:
            assert await connection.run_sync(_drift) == []
            stored = dict((await connection.execute(sa.select(tables.place.c.code, tables.place.c.area_centi_m2).where(tables.place.c.code.in_(houses)))).all())
        assert stored == {houses[0]: 8888, houses[1]: 10, houses[2]: None, houses[3]: 1235}
        everything = Scope.everything()
        for code, level in (("370200", Level.CITY), ("370202001001E001", Level.ESTATE), (entrance, Level.ENTRANCE)):
            [row] = await store.stats(code, level, everything)
            assert (row.houses, row.floor_area_centi_m2) == (4, 8888 + 10 + 1235), code
            assert type(row.floor_area_centi_m2) is int
        [house] = await store.places([houses[0]], everything)
        assert house is not None and house.area_centi_m2 == 8888
    finally:
        await store.close()


async def test_areas_move_to_whole_hundredths_of_a_m2_on_upgrade_sqlite(sqlite_path: str) -> None:
    """0013: house areas become whole hundredths of a m², each exactly, and every roll-up's floor
    area is summed again from them."""
    await _areas_in_centi_m2(sqlite_path)


@pytest.mark.postgres
async def test_areas_move_to_whole_hundredths_of_a_m2_on_upgrade_postgresql(postgres_databases: PostgresDatabases) -> None:
    await _areas_in_centi_m2(await postgres_databases.create())


async def _proxies_take_claims(url: str) -> None:
    """0017: proxies registered before it take their houses' claims for their delegates, unless
    the house was cast already (its caster keeps it)."""
    from graph.ciphers.keyring import Keyring
    from graph.votes.records import Proxy
    from graph.votes.service import Votes, claim_key
    from tests.graph import test_votes_service as voting

    keys = Keyring.generate()
    store = await SqlStore.open(url, sealer=keys.sealer(), upgrade=False)
    try:
        await migrate.upgrade(store.engine, "0016", sealer=keys.sealer())
        await store.write(voting._city())
        clock = voting.Clock(voting.NOTICE)
        votes = Votes(store, keys, clock=clock)
        vote = await votes.organise(voting._vote(), Scope.everything())
        clock.at = voting.OPENS + dt.timedelta(minutes=1)
        opened = await votes.vote(vote.id, Scope.everything())
        assert opened is not None
        await votes.cast(opened, voting.J_HOUSE, voting.OWNER_J, {1: "for"})  # cast before its proxy came
        for house, grantor, delegate in ((voting.F_HOUSE, voting.OWNER_F, voting.OWNER_H), (voting.J_HOUSE, voting.OWNER_J, voting.OWNER_D)):
            # as a hub before 0017 registered them: the proxy alone, no claim
            await store.save_proxy(Proxy(vote.id, house, grantor, delegate, "授权委托书", "街道办", clock.at))
        keys_wanted = [claim_key(vote.id, voting.F_HOUSE), claim_key(vote.id, voting.J_HOUSE)]
        assert await store.claims(keys_wanted) == [None, voting.OWNER_J]
        await migrate.upgrade(store.engine, sealer=keys.sealer())
        assert await store.claims(keys_wanted) == [voting.OWNER_H, voting.OWNER_J]
        with pytest.raises(Exception, match="registered proxy"):
            await Votes(store, keys, clock=clock).cast(opened, voting.F_HOUSE, voting.OWNER_F, {1: "for"})
    finally:
        await store.close()


async def test_proxies_take_their_claims_on_upgrade_sqlite(sqlite_path: str) -> None:
    await _proxies_take_claims(sqlite_path)


@pytest.mark.postgres
async def test_proxies_take_their_claims_on_upgrade_postgresql(postgres_databases: PostgresDatabases) -> None:
    await _proxies_take_claims(await postgres_databases.create())


async def _funds_up_and_down(url: str) -> None:
    """0018: the fund tables arrive empty beside what was stored, leave again on a downgrade
    (the journals, Merkle logs, stay: the rows are folded from them again), and come back."""
    import sqlalchemy as sa

    from graph.funds.records import Authority, FundAccount, FundYear, RepairProject
    from tests.graph.conformance import E_A, T_HOUSE, fixture_city

    fund_tables = {"fund_project", "fund_account", "fund_year", "revenue_year", "fund_applied"}

    def names(connection: Connection) -> set[str]:
        return set(sa.inspect(connection).get_table_names())

    store = await SqlStore.open(url, sealer=Sealer.generate(), upgrade=False)
    try:
        await migrate.upgrade(store.engine, "0017")
        await store.write(fixture_city())
        async with store.engine.connect() as connection:
            assert not fund_tables & await connection.run_sync(names)
        await migrate.upgrade(store.engine)
        assert await migrate.current(store.engine) == migrate.head()  # 0018 or a revision after it
        everything = Scope.everything()
        at = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.timezone.utc)
        assert await store.places([E_A], everything) != [None]
        await store.save_project(RepairProject("P1", E_A, E_A, "屋面防水", 100, Authority.REFERENCE, "决议1号", "业委会", at))
        account = FundAccount(T_HOUSE, E_A, 500, 1000, 1, 0, at)
        assert await store.apply_fund(E_A, 0, 1, [account], [FundYear(E_A, 2026, 1000, 0, 0)])
        await migrate.downgrade(store.engine, "0017")
        assert await migrate.current(store.engine) == "0017"
        async with store.engine.connect() as connection:
            assert not fund_tables & await connection.run_sync(names)
            assert await connection.run_sync(_drift) != []  # the code's tables are ahead of the schema again
        assert await store.places([E_A], everything) != [None]
        await migrate.upgrade(store.engine)
        async with store.engine.connect() as connection:
            assert fund_tables <= await connection.run_sync(names)
            assert await connection.run_sync(_drift) == []
        assert await store.fund_applied(["fund:" + E_A]) == [0]
        assert await store.fund_accounts([T_HOUSE], everything) == [None]
        assert await store.projects(["P1"], everything) == [None]
        assert await store.apply_fund(E_A, 0, 1, [account], [])
        assert await store.fund_accounts([T_HOUSE], everything) == [account]
    finally:
        await store.close()


async def test_fund_tables_come_and_go_sqlite(sqlite_path: str) -> None:
    await _funds_up_and_down(sqlite_path)


@pytest.mark.postgres
async def test_fund_tables_come_and_go_postgresql(postgres_databases: PostgresDatabases) -> None:
    await _funds_up_and_down(await postgres_databases.create())


BEFORE_STAFF = "0019"
"""The revision before 0020 (staff)."""


async def _staff_up_and_down(url: str) -> None:
    """0020: the staff tables and the case's assignee, on-site deadline and arrival arrive
    beside what was stored (cases unassigned), leave on a downgrade, and come back."""
    import sqlalchemy as sa

    from graph.cases import Case, CaseCategory, CaseEvent, CaseSource, CaseStatus
    from tests.graph.conformance import E_A, fixture_city

    def names(connection: Connection) -> set[str]:
        return set(sa.inspect(connection).get_table_names())

    def case_columns(connection: Connection) -> set[str]:
        return {column["name"] for column in sa.inspect(connection).get_columns("work_case")}

    at = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.timezone.utc)
    store = await SqlStore.open(url, sealer=Sealer.generate(), upgrade=False)
    try:
        await migrate.upgrade(store.engine, BEFORE_STAFF)
        await store.write(fixture_city())
        async with store.engine.connect() as connection:
            assert "staff" not in await connection.run_sync(names)
            assert "assignee" not in await connection.run_sync(case_columns)
            await connection.execute(
                sa.text(
                    "INSERT INTO work_case (key, source_kind, category, status, title, description, reported_at, updated_at, version) "
                    "VALUES ('C1', 'owner', 'repair', 'accepted', 't', '', :at, :at, 1)"
                ),
                {"at": at},
            )
            await connection.commit()
        await migrate.upgrade(store.engine)
        assert await migrate.current(store.engine) == migrate.head()
        [kept] = await store.cases(["C1"], Scope.everything())
        assert kept is not None and kept.assignee is None and kept.arrive_by is None and kept.arrived_at is None
        await migrate.downgrade(store.engine, BEFORE_STAFF)
        async with store.engine.connect() as connection:
            assert not {"staff", "staff_estate"} & await connection.run_sync(names)
            assert "assignee" not in await connection.run_sync(case_columns)
        await migrate.upgrade(store.engine)
        async with store.engine.connect() as connection:
            assert {"staff", "staff_estate"} <= await connection.run_sync(names)
            assert await connection.run_sync(_drift) == []
        opened = Case("C2", CaseSource.OWNER, CaseCategory.REPAIR, CaseStatus.ACCEPTED, "t", at, at, place_code=E_A, assignee="S1")
        stored = await store.insert_case(opened, CaseEvent("C2", 1, None, CaseStatus.ACCEPTED, at, "t"))
        assert stored.assignee == "S1"
    finally:
        await store.close()


async def test_staff_tables_come_and_go_sqlite(sqlite_path: str) -> None:
    await _staff_up_and_down(sqlite_path)


@pytest.mark.postgres
async def test_staff_tables_come_and_go_postgresql(postgres_databases: PostgresDatabases) -> None:
    await _staff_up_and_down(await postgres_databases.create())
