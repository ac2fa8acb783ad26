"""Registrations as the hub replays them: transfer chains in and across batches and syncs, arriving
out of order, couples selling and buying, cancellations and share changes, and conflicts; and
personal data sealed as it lands, on SQLite and on PostgreSQL.

Each test writes a small exchange database by hand (SQLite) about houses of the demo city's
building, into a hub store holding those places and no owners.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from connectors.registry.database import RegistryDatabase
from graph.ciphers.sealing import Sealer
from connectors.runner import sync
from graph.ledger import Reason, RunStatus
from graph.scope import Scope
from graph.sql import SqlStore
from tests.conftest import PostgresDatabases
from tests.connectors.test_registry_database import City, _houses_of, add_rows, hub_store

EVERYTHING = Scope.everything()
D = dt.date
PEOPLE = {
    "QA": ("张伟", "370202198001011236"),
    "QB": ("王芳", "370202198502023423"),
    "QC": ("李娜", "37020219900303346X"),
    "QD": ("刘洋", "370202199204045675"),
    "QE": ("陈静", "370202199505056780"),
}


def _valid(number: str) -> str:
    from graph.codes import resident_id_check_digit

    return number[:17] + resident_id_check_digit(number[:17])


HOLDERS = {qlrid: (name, _valid(number)) for qlrid, (name, number) in PEOPLE.items()}
SEALER = Sealer(data_key=b"registry-transfr", index_key=b"registry transfer tests: index ky")
"""The hub store's keys, fixed so the tests know the owner ids it makes."""
OWNER = {qlrid: SEALER.owner_ids()(number) for qlrid, (_, number) in HOLDERS.items()}


class Registry:
    """A hand-written exchange database and the hub store it syncs into."""

    def __init__(self, url: str, store: SqlStore, houses: list[str]) -> None:
        self.url = url
        self.store = store
        self.houses = houses
        self.clock = dt.datetime(2026, 1, 10, 9, 0)
        self.sequence = 0

    def _stamp(self) -> dt.datetime:
        self.clock += dt.timedelta(minutes=1)
        return self.clock

    async def holders(self, *qlrids: str) -> None:
        await add_rows(
            self.url,
            "qlr",
            [
                {"qlrid": q, "qlrmc": HOLDERS[q][0], "zjzl": "身份证", "zjhm": HOLDERS[q][1], "dh": "13912345678", "gxsj": self._stamp()}
                for q in qlrids
            ],
        )

    async def register(self, *entries: tuple[Any, ...]) -> list[str]:
        """(house index, djlx, djsj, qlrid, fe, yqlrid) each; gxsj in the order given."""
        rows, keys = [], []
        for house, kind, day, qlrid, share, previous in entries:
            self.sequence += 1
            ywh = f"YW{self.sequence:06d}"
            keys.append(ywh)
            rows.append(
                {"ywh": ywh, "bdcdyh": self.houses[house], "djlx": kind, "djsj": day, "qlrid": qlrid, "fe": share,
                 "yqlrid": previous, "gxsj": self._stamp()}
            )
        await add_rows(self.url, "djxx", rows)
        return keys

    def source(self) -> RegistryDatabase:
        return RegistryDatabase("registry", RegistryDatabase.config_schema.validate("registry", {"url": self.url}))

    async def sync(self, **options: Any) -> Any:
        source = self.source()
        try:
            run = await sync(self.store, source, **options)
        finally:
            await source.close()
        assert run.status is RunStatus.SUCCEEDED, run.error
        return run

    async def owners_on(self, house: int, day: dt.date) -> dict[str, float]:
        [spans] = await self.store.ownerships([self.houses[house]], day, EVERYTHING)
        by_owner = {owner: qlrid for qlrid, owner in OWNER.items()}
        return {by_owner[span.owner_id]: span.share for span in spans}

    async def letters(self) -> dict[str, tuple[Reason, str]]:
        page = await self.store.dead_letters("registry", first=100)
        return {letter.record_key: (letter.reason, letter.detail) for letter in page.items}


async def _registry(city: City, tmp_path: Path, hub_url: str) -> Registry:
    url = f"sqlite:///{tmp_path / 'exchange.sqlite'}"
    store = await hub_store(hub_url, city.store, city.building, SEALER)
    houses = [h.code for h in await _houses_of(city.store, city.building)][:5]
    registry = Registry(url, store, houses)
    await registry.holders(*HOLDERS)
    return registry


@pytest.fixture
async def registry(city: City, tmp_path: Path) -> AsyncIterator[Registry]:
    made = await _registry(city, tmp_path, f"sqlite:///{tmp_path / 'hub.sqlite'}")
    yield made
    await made.store.close()


CHAIN = (
    (0, "转移登记", D(2020, 7, 8), "QC", 1.0, "QB"),
    (0, "转移登记", D(2015, 3, 2), "QB", 1.0, "QA"),
    (0, "首次登记", D(2010, 5, 1), "QA", 1.0, None),
)
"""A→B→C, stamped (gxsj) newest first: the exchange wrote them out of order."""


async def _assert_chain(registry: Registry) -> None:
    assert await registry.owners_on(0, D(2009, 12, 31)) == {}
    assert await registry.owners_on(0, D(2010, 5, 1)) == {"QA": 1.0}
    assert await registry.owners_on(0, D(2015, 3, 1)) == {"QA": 1.0}
    assert await registry.owners_on(0, D(2015, 3, 2)) == {"QB": 1.0}
    assert await registry.owners_on(0, D(2020, 7, 7)) == {"QB": 1.0}
    assert await registry.owners_on(0, D(2020, 7, 8)) == {"QC": 1.0}
    assert await registry.owners_on(0, D(2026, 1, 1)) == {"QC": 1.0}
    [spans] = await registry.store.ownerships([registry.houses[0]], None, EVERYTHING)
    assert sorted((s.owner_id, s.since, s.until) for s in spans) == sorted(
        [(OWNER["QA"], D(2010, 5, 1), D(2015, 3, 2)), (OWNER["QB"], D(2015, 3, 2), D(2020, 7, 8)), (OWNER["QC"], D(2020, 7, 8), None)]
    )


async def test_a_chain_out_of_order_within_one_batch_ends_right(registry: Registry) -> None:
    await registry.register(*CHAIN)
    run = await registry.sync(batch_size=500)
    assert run.counts.dead_lettered == 0
    await _assert_chain(registry)
    again = await registry.sync(full=True)
    assert again.counts.written == 0 and again.counts.dead_lettered == 0
    await _assert_chain(registry)


async def test_a_chain_across_syncs_ends_right_and_a_full_reread_changes_nothing(registry: Registry) -> None:
    for entry in reversed(CHAIN):
        await registry.register(entry)
        await registry.sync(batch_size=1)
    await _assert_chain(registry)
    again = await registry.sync(full=True, batch_size=1)
    assert again.counts.written == 0
    await _assert_chain(registry)


async def test_a_transfer_out_of_order_across_batches_is_a_conflict_until_read_again(registry: Registry) -> None:
    [late, early, first] = await registry.register(*CHAIN)
    run = await registry.sync(batch_size=1)  # one record per batch: B→C comes before B holds anything
    assert run.counts.dead_lettered == 2
    letters = await registry.letters()
    assert letters[late][0] is Reason.CONFLICT
    assert letters[late][1] == (
        f"djxx {late}: 转移登记 of house {registry.houses[0]} on 2020-07-08 from QB, who holds nothing of it then "
        "(no current ownership to close)"
    )
    assert letters[early][0] is Reason.CONFLICT and first not in letters
    assert await registry.owners_on(0, D(2026, 1, 1)) == {"QA": 1.0}
    await registry.sync(full=True, batch_size=500)  # read again together, in date order
    await _assert_chain(registry)


async def test_couples_sell_and_buy_shares(registry: Registry) -> None:
    await registry.register(
        (1, "首次登记", D(2012, 1, 5), "QA", 0.5, None),
        (1, "首次登记", D(2012, 1, 5), "QB", 0.5, None),
        (1, "转移登记", D(2018, 6, 1), "QC", 1.0, "QA"),  # the couple sells to one buyer
        (1, "转移登记", D(2018, 6, 1), "QC", 1.0, "QB"),
        (1, "转移登记", D(2022, 9, 9), "QD", 0.5, "QC"),  # who sells to a couple
        (1, "转移登记", D(2022, 9, 9), "QE", 0.5, "QC"),
        (1, "变更登记", D(2024, 2, 2), "QD", 0.3, None),  # a share changes
        (1, "变更登记", D(2024, 2, 2), "QE", 0.7, None),
    )
    run = await registry.sync()
    assert run.counts.dead_lettered == 0
    assert await registry.owners_on(1, D(2013, 1, 1)) == {"QA": 0.5, "QB": 0.5}
    assert await registry.owners_on(1, D(2019, 1, 1)) == {"QC": 1.0}
    assert await registry.owners_on(1, D(2023, 1, 1)) == {"QD": 0.5, "QE": 0.5}
    assert await registry.owners_on(1, D(2025, 1, 1)) == {"QD": 0.3, "QE": 0.7}
    assert (await registry.sync(full=True)).counts.written == 0


async def test_cancellation_closes_and_bad_registrations_are_set_aside(registry: Registry) -> None:
    [first, cancel] = await registry.register(
        (2, "首次登记", D(2011, 1, 1), "QA", 1.0, None),
        (2, "注销登记", D(2019, 4, 4), "QA", 1.0, None),
    )
    [twice, unknown, held, wrong_share] = await registry.register(
        (3, "首次登记", D(2011, 1, 1), "QA", 1.0, None),
        (3, "首次登记", D(2011, 1, 1), "QZ", 1.0, None),
        (3, "首次登记", D(2011, 1, 1), "QB", 1.0, None),
        (4, "首次登记", D(2011, 1, 1), "QB", 1.5, None),
    )
    await add_rows(
        registry.url,
        "djxx",
        [
            {"ywh": "YWMALFORMED", "bdcdyh": registry.houses[4][:-1] + "Z", "djlx": "首次登记", "djsj": D(2011, 1, 1),
             "qlrid": "QB", "fe": 1.0, "yqlrid": None, "gxsj": dt.datetime(2026, 2, 1)},
        ],
    )
    run = await registry.sync()
    assert await registry.owners_on(2, D(2015, 1, 1)) == {"QA": 1.0}
    assert await registry.owners_on(2, D(2019, 4, 4)) == {}
    letters = await registry.letters()
    assert set(letters) == {unknown, held, wrong_share, "YWMALFORMED"} and twice not in letters
    assert letters[unknown] == (Reason.UNKNOWN_OWNER, f"djxx {unknown}: holder (qlrid) QZ is not in the registry's qlr table")
    assert letters[held] == (
        Reason.CONFLICT,
        f"djxx {held}: 首次登记 of 1 of house {registry.houses[3]} on 2011-01-01 by QB, but 1 of it is already held then",
    )
    assert letters[wrong_share] == (Reason.SCHEMA_MISMATCH, f"djxx {wrong_share}: fe (份额) 1.5 must be above 0 and at most 1")
    reason, detail = letters["YWMALFORMED"]
    assert reason is Reason.MALFORMED_CODE
    assert detail.startswith("djxx YWMALFORMED: bdcdyh (不动产单元号): ") and "characters 21-28 (fixture unit number) must be digits" in detail
    assert run.counts.dead_lettered == 4 and first and cancel


async def test_personal_data_is_sealed_in_the_sqlite_row_and_masked_when_set_aside(registry: Registry, tmp_path: Path) -> None:
    await add_rows(
        registry.url,
        "qlr",
        [{"qlrid": "QBAD", "qlrmc": "赵错号", "zjhm": "370202199001011230", "zjzl": "身份证", "dh": "13800001111", "gxsj": dt.datetime(2026, 2, 1)}],
    )
    await registry.register((0, "首次登记", D(2010, 5, 1), "QA", 1.0, None))
    await registry.sync()
    name, number = HOLDERS["QA"]
    [owner] = await registry.store.owners([OWNER["QA"]], EVERYTHING)
    assert owner is not None and (owner.name, owner.id_number, owner.phone) == (name, number, "13912345678")
    raw = sqlite3.connect(tmp_path / "hub.sqlite")
    try:
        rows = raw.execute("SELECT * FROM owner").fetchall()
    finally:
        raw.close()
    assert len(rows) == len(HOLDERS)
    text = repr(rows)
    for plain in (number, name, "13912345678", number[-6:]):
        assert plain not in text
    [letter] = (await registry.store.dead_letters("registry", first=10)).items
    assert letter.record_key == "QBAD" and letter.reason is Reason.MALFORMED_CODE
    assert letter.payload["zjhm"] == "370202********1230" and letter.payload["qlrmc"] == "赵*"
    assert letter.payload["dh"] == "138****1111"
    assert "370202199001011230" not in letter.detail and "赵错号" not in letter.detail
    assert letter.detail.startswith("qlr QBAD: zjhm (证件号码) 370202********1230 ")


async def test_personal_data_is_sealed_in_the_postgresql_row(city: City, tmp_path: Path, postgres_databases: PostgresDatabases) -> None:
    hub_url = await postgres_databases.create()
    made = await _registry(city, tmp_path, hub_url)
    try:
        await made.register((0, "首次登记", D(2010, 5, 1), "QA", 1.0, None), (1, "首次登记", D(2011, 5, 1), "QB", 1.0, None))
        await made.sync()
        assert await made.owners_on(0, D(2012, 1, 1)) == {"QA": 1.0}
        connection = await asyncpg.connect(make_url(hub_url).set(drivername="postgresql").render_as_string(hide_password=False))
        try:
            rows = [dict(row) for row in await connection.fetch("SELECT * FROM owner")]
        finally:
            await connection.close()
        assert len(rows) == len(HOLDERS)
        text = repr(rows)
        for name, number in HOLDERS.values():
            assert number not in text and name not in text
        assert "13912345678" not in text
    finally:
        await made.store.close()


def test_an_id_number_typed_with_spaces_or_lower_case_is_the_same_owner() -> None:
    number = HOLDERS["QC"][1]
    ids = SEALER.owner_ids()
    assert ids(" " + number.lower() + " ") == ids(number)
    assert ids(number).startswith("OW") and number not in ids(number)
    # keyed: another hub (another key) makes another id, and no key-less hash finds it
    assert Sealer.generate().owner_ids()(number) != ids(number)
