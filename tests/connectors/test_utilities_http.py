"""A utility's HTTP API (kind `utilities-http`) against the reference utility served by uvicorn on
loopback: the shared connector contract, then what only this source does (addresses matched or
set aside with candidates, a refused token, the API going down mid-sync, duplicate rows).

The demo city (`small`, seed 7) is built once per session into a SQLite file; each test gets a
copy of it as its hub store, and the served utility's records are reset to a pristine dataset of
50 houses and 3 months of bills. The helpers here are shared with the drop-folder tests.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import shutil
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from connectors.base import Source
from connectors.runner import sync
from connectors.utilities.http import UtilitiesHttp
from connectors.utilities.reference import Faults, UtilityData, utility_app
from graph.ciphers.sealing import Sealer
from graph.ledger import Reason, RunStatus
from graph.levels import Level
from graph.scope import Scope
from graph import open_store
from graph.sql import SqlStore
from graph.utilities import Utility, fen_of
from tests.connectors.harness import BATCH, ConnectorContract
from tests.serving import served

EVERYTHING = Scope.everything()
TOKEN = "s3cret-water-token-7f2a"
CHANGE_AT = dt.datetime(2100, 1, 1, 9, 0, tzinfo=dt.timezone.utc)
"""After every record of the dataset, whatever today is."""


@dataclasses.dataclass
class City:
    template: Path
    data: UtilityData


async def hub_store(city: City, directory: Path) -> SqlStore:
    """A fresh hub store holding the demo city (a copy of the session's file)."""
    target = directory / "hub.sqlite"
    shutil.copyfile(city.template, target)
    return await open_store(f"sqlite:///{target}", sealer=Sealer.generate())


async def snapshot(store: SqlStore, data: UtilityData) -> Any:
    houses = sorted({house.code for house, _ in data.houses})
    accounts = await store.utility_accounts(houses, EVERYTHING)
    arrears = await store.arrears(houses, dt.date(2100, 1, 1), EVERYTHING)
    outages = await store.outages(EVERYTHING, 500)
    return (
        [[(a.utility, a.account_no, a.house_code) for a in line] for line in accounts],
        arrears,
        [dataclasses.replace(o, provenance=None) for o in outages.items],
    )


@dataclasses.dataclass
class Served:
    url: str
    data: UtilityData
    faults: Faults


@pytest.fixture(scope="module")
def server(utility_city: City) -> Iterator[Served]:
    live = copy.deepcopy(utility_city.data)
    faults = Faults()

    async def main(sock: socket.socket, started: dict[str, Any]) -> None:
        app = utility_app(live, token=TOKEN, faults=faults)
        config = uvicorn.Config(app, log_level="warning", lifespan="off", ws="none", http="h11")
        server = uvicorn.Server(config)
        started["server"] = server
        await server.serve(sockets=[sock])

    with served(main, startup_seconds=30) as (url, _):
        yield Served(url, live, faults)


def closed_port() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


def http_source(url: str, token: str = TOKEN, name: str = "water") -> UtilitiesHttp:
    config = UtilitiesHttp.config_schema.validate(name, {"url": url, "token": token, "utility": "water", "timeout_seconds": 5})
    return UtilitiesHttp(name, config)


class HttpFixture:
    def __init__(self, store: SqlStore, server: Served, pristine: UtilityData) -> None:
        self.store = store
        self.server = server
        self.data = server.data
        for name in ("accounts", "bills", "outages"):
            setattr(self.data, name, copy.deepcopy(getattr(pristine, name)))
        self.data.latest = pristine.latest
        server.faults.fail_after, server.faults.served = None, 0
        self.total = self.data.total

    async def source(self) -> Source:
        return http_source(self.server.url)

    async def down_source(self) -> Source:
        return http_source(closed_port())

    async def change(self) -> int:
        return self.data.change(0.1, seed=3, at=CHANGE_AT)

    async def add_bad(self) -> dict[str, Reason]:
        return self.data.add_bad(CHANGE_AT)

    async def snapshot(self) -> Any:
        return await snapshot(self.store, self.data)


@pytest.fixture
async def fixture(utility_city: City, server: Served, tmp_path: Path) -> AsyncIterator[HttpFixture]:
    store = await hub_store(utility_city, tmp_path)
    try:
        yield HttpFixture(store, server, utility_city.data)
    finally:
        await store.close()


class TestContract(ConnectorContract):
    pass


async def test_the_seeded_source_is_big_enough_and_mixes_codes_and_addresses(fixture: HttpFixture) -> None:
    assert fixture.total > 3 * BATCH
    by_address = [a for a in fixture.data.accounts if "address" in a]
    assert by_address and len(by_address) < len(fixture.data.accounts)
    assert any("bdcdyh" in a for a in fixture.data.accounts)
    assert any(fen_of(b["paid"]) < fen_of(b["amount"]) for b in fixture.data.bills)


async def test_addresses_are_matched_to_the_houses_they_name(fixture: HttpFixture) -> None:
    run = await sync(fixture.store, await fixture.source(), batch_size=BATCH)
    assert run.status is RunStatus.SUCCEEDED, run.error
    houses = {house.code for house, _ in fixture.data.houses}
    by_number = {
        a.account_no: a.house_code
        for line in await fixture.store.utility_accounts(sorted(houses), EVERYTHING)
        for a in line
    }
    for account in fixture.data.accounts:
        expected = account.get("bdcdyh")
        if expected is None:
            # the dataset renders each address from its own house
            index = fixture.data.accounts.index(account)
            expected = fixture.data.houses[index][0].code
        assert by_number[account["account_no"]] == expected, account


async def test_unmatched_and_ambiguous_addresses_are_set_aside_with_candidates(fixture: HttpFixture) -> None:
    house, lineage = next(
        (h, line) for h, line in fixture.data.houses if h.name.startswith("2单元")
    )  # a building with two entrances or more
    by_level = {p.level: p for p in lineage}
    district, estate, building = by_level[Level.DISTRICT].name, by_level[Level.ESTATE].name, by_level[Level.BUILDING].name
    room = house.name.removeprefix("2单元").removesuffix("室")
    stamp = (CHANGE_AT + dt.timedelta(seconds=5)).isoformat()
    fixture.data.accounts.extend(
        [
            {"account_no": "AMBIGUOUS-ENTRANCE", "utility": "water", "address": f"{district}{estate}{building}{room}室", "updated": stamp},
            {"account_no": "TYPO-ESTATE", "utility": "water", "address": f"{district}{estate[:-1]}X{building}2单元{room}室", "updated": stamp},
            {"account_no": "NO-BUILDING", "utility": "water", "address": f"{district}{estate}2单元{room}室", "updated": stamp},
        ]
    )
    run = await sync(fixture.store, await fixture.source(), batch_size=BATCH)
    assert run.status is RunStatus.SUCCEEDED, run.error
    letters = {l.record_key: l for l in (await fixture.store.dead_letters("water", 50)).items}
    assert set(letters) == {"water|AMBIGUOUS-ENTRANCE", "water|TYPO-ESTATE", "water|NO-BUILDING"}
    assert all(l.reason is Reason.UNMATCHED_ADDRESS for l in letters.values())
    ambiguous = letters["water|AMBIGUOUS-ENTRANCE"]
    assert house.code in ambiguous.candidates and len(ambiguous.candidates) >= 2
    assert "more than one entrance" in ambiguous.detail
    assert by_level[Level.ESTATE].code in letters["water|TYPO-ESTATE"].candidates
    assert "no estate named" in letters["water|TYPO-ESTATE"].detail
    assert "no building number" in letters["water|NO-BUILDING"].detail


async def test_a_refused_token_fails_the_run_without_showing_it(fixture: HttpFixture) -> None:
    source = http_source(fixture.server.url, token="wrong-token-123456")
    check = await source.check()
    assert not check.ok and "refused the token" in check.detail and "wrong-token-123456" not in check.detail
    run = await sync(fixture.store, source, batch_size=BATCH)
    await source.close()
    assert run.status is RunStatus.FAILED and run.error is not None
    assert "refused the token" in run.error and "wrong-token-123456" not in run.error
    assert run.counts.read == 0


async def test_the_api_going_down_mid_sync_keeps_what_was_checkpointed(fixture: HttpFixture) -> None:
    source = http_source(fixture.server.url)
    fixture.server.faults.fail_after = 2  # two pages of 500: all accounts, then bills fail
    source.page_size = 40
    run = await sync(fixture.store, source, batch_size=BATCH)
    assert run.status is RunStatus.FAILED and run.error is not None
    assert "503" in run.error and "down" in run.error
    assert 0 < run.counts.read <= 80
    states = {s.stream: s.cursor for s in await fixture.store.stream_states("water")}
    assert states.get("accounts")
    fixture.server.faults.fail_after = None
    resumed = await sync(fixture.store, source, batch_size=BATCH)
    await source.close()
    assert resumed.status is RunStatus.SUCCEEDED, resumed.error
    assert run.counts.read + resumed.counts.read >= fixture.total
    full = await sync(fixture.store, http_source(fixture.server.url), batch_size=BATCH, full=True)
    assert full.counts.written == 0


async def test_duplicate_rows_count_once_and_the_later_wins(fixture: HttpFixture) -> None:
    first = fixture.data.accounts[0]
    other_house = fixture.data.houses[1][0].code
    twin = {**first, "bdcdyh": other_house, "updated": first["updated"]}
    twin.pop("address", None)
    fixture.data.accounts.insert(1, twin)  # the API lists a key twice (a join gone wrong upstream)
    run = await sync(fixture.store, await fixture.source(), batch_size=BATCH)
    assert run.status is RunStatus.SUCCEEDED, run.error
    assert run.counts.duplicates == 1 and run.counts.dead_lettered == 0
    [found] = await fixture.store.accounts([(Utility.WATER, first["account_no"])], EVERYTHING)
    assert found is not None and found.house_code == other_house


async def test_arrears_add_up_to_the_fen_of_what_the_source_billed(fixture: HttpFixture) -> None:
    """The source sends yuan (decimal text, or JSON numbers read as written): every house's
    arrears are exactly the fen its bills leave unpaid, as ints; a JSON number with a third
    decimal is set aside naming the field and the record."""
    number = fixture.data.bills[0]["account_no"]
    late = "2030-01-01T09:00:00+08:00"
    for period, amount, paid in (("2001-01", 0.29, 0), ("2001-02", 19.99, 0.01), ("2001-03", 7, 0), ("2001-04", 12.345, 0)):
        fixture.data.bills.append(
            {"account_no": number, "utility": "water", "period": period, "amount": amount, "paid": paid, "due": "2001-12-25", "updated": late}
        )
    run = await sync(fixture.store, await fixture.source(), batch_size=BATCH)
    assert run.status is RunStatus.SUCCEEDED and run.counts.dead_lettered == 1, run.counts
    [letter] = (await fixture.store.dead_letters("water", 10)).items
    assert letter.reason is Reason.SCHEMA_MISMATCH and letter.record_key == f"water|{number}|2001-04"
    assert "field 'amount'" in letter.detail and "12.345" in letter.detail
    fixture.data.bills.pop()  # the set-aside bill is not the hub's
    by_number = {
        a.account_no: a.house_code
        for line in await fixture.store.utility_accounts(sorted({h.code for h, _ in fixture.data.houses}), EVERYTHING)
        for a in line
    }
    owed: dict[str, int] = {}
    for bill in fixture.data.bills:
        unpaid = fen_of(bill["amount"]) - fen_of(bill["paid"])
        if unpaid > 0 and bill["account_no"] in by_number:
            owed[by_number[bill["account_no"]]] = owed.get(by_number[bill["account_no"]], 0) + unpaid
    houses = sorted(owed)
    found = await fixture.store.arrears(houses, dt.date(2100, 1, 1), EVERYTHING)
    assert {code: sum(a.amount_fen for a in line) for code, line in zip(houses, found)} == owed
    assert all(type(a.amount_fen) is int for line in found for a in line)
    assert owed[by_number[number]] >= 29 + 1998 + 700
