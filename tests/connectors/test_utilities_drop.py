"""A utility's CSV drop folder (kind `utilities-csv`) on a real temp folder: the shared contract,
then encodings, incremental drops and files still being written."""

from __future__ import annotations

import copy
import datetime as dt
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Source
from connectors.runner import sync
from connectors.utilities.drop import UtilitiesDrop
from connectors.utilities.reference import UtilityData, write_drop
from graph.ledger import Reason, RunStatus
from graph.scope import Scope
from graph.sql import SqlStore
from graph.utilities import fen_of
from tests.connectors.harness import BATCH, ConnectorContract
from tests.connectors.test_utilities_http import CHANGE_AT, City, hub_store, snapshot


EVERYTHING = Scope.everything()


def drop_source(folder: Path, name: str = "water-drop") -> UtilitiesDrop:
    config = UtilitiesDrop.config_schema.validate(name, {"folder": str(folder), "utility": "water", "settle_seconds": 2})
    return UtilitiesDrop(name, config)


class DropFixture:
    def __init__(self, store: SqlStore, data: UtilityData, folder: Path) -> None:
        self.store = store
        self.data = data
        self.folder = folder
        self.drops = 0
        write_drop(data, folder)
        self.total = data.total

    async def source(self) -> Source:
        return drop_source(self.folder)

    async def down_source(self) -> Source:
        return drop_source(self.folder / "not-mounted")

    def _drop(self, since: dt.datetime) -> None:
        self.drops += 1
        write_drop(self.data, self.folder, suffix=f"-{self.drops:03d}", updated_after=since, age_seconds=30 - self.drops)

    async def change(self) -> int:
        since = self.data.latest
        changed = self.data.change(0.1, seed=3, at=CHANGE_AT)
        self._drop(since)
        return changed

    async def add_bad(self) -> dict[str, Reason]:
        since = self.data.latest
        bad = self.data.add_bad(CHANGE_AT)
        self._drop(since)
        return bad

    async def snapshot(self) -> Any:
        return await snapshot(self.store, self.data)


@pytest.fixture
async def fixture(utility_city: City, tmp_path: Path) -> AsyncIterator[DropFixture]:
    store = await hub_store(utility_city, tmp_path)
    try:
        yield DropFixture(store, copy.deepcopy(utility_city.data), tmp_path / "drop")
    finally:
        await store.close()


class TestContract(ConnectorContract):
    pass


async def test_files_come_in_three_encodings(fixture: DropFixture) -> None:
    raw = {path.name: path.read_bytes() for path in fixture.folder.iterdir()}
    assert raw["accounts.csv"].startswith(b"\xef\xbb\xbf")  # Excel's BOM
    with pytest.raises(UnicodeDecodeError):
        raw["outages.csv"].decode("utf-8")  # GBK, as a Windows export (its reasons are Chinese)
    run = await sync(fixture.store, await fixture.source(), batch_size=BATCH)
    assert run.status is RunStatus.SUCCEEDED and run.counts.read == fixture.total and run.counts.dead_lettered == 0


async def test_a_file_still_being_written_waits_for_the_next_run(fixture: DropFixture) -> None:
    source = await fixture.source()
    await sync(fixture.store, source, batch_size=BATCH)
    since = fixture.data.latest
    changed = fixture.data.change(0.2, seed=9, at=CHANGE_AT)
    [growing] = write_drop(fixture.data, fixture.folder, suffix="-late", updated_after=since, age_seconds=0)
    run = await sync(fixture.store, source, batch_size=BATCH)
    assert run.status is RunStatus.SUCCEEDED and run.counts.read == 0
    stamp = growing.stat().st_mtime - 10
    os.utime(growing, (stamp, stamp))  # the utility finished writing it
    run = await sync(fixture.store, source, batch_size=BATCH)
    assert run.status is RunStatus.SUCCEEDED and run.counts.read == changed and run.counts.written == changed


async def test_a_row_that_breaks_the_schema_is_set_aside(fixture: DropFixture) -> None:
    source = await fixture.source()
    path = fixture.folder / "bills-bad.csv"
    path.write_text(
        "account_no,utility,period,amount,paid,due,updated\n"
        f"{fixture.data.accounts[0]['account_no']},water,2024-05,十二元,0,2024-06-25,2024-06-01T09:00:00+08:00\n",
        encoding="gbk",
    )
    os.utime(path, (path.stat().st_mtime - 20, path.stat().st_mtime - 20))
    run = await sync(fixture.store, source, batch_size=BATCH)
    assert run.status is RunStatus.SUCCEEDED and run.counts.dead_lettered == 1
    [letter] = (await fixture.store.dead_letters("water-drop", 10)).items
    assert letter.reason is Reason.SCHEMA_MISMATCH and "amount" in letter.detail


def _owed_fen(data: UtilityData, number: str) -> int:
    """What the source's own bills of account `number` leave unpaid, in whole fen."""
    return sum(
        max(fen_of(b["amount"]) - fen_of(b["paid"]), 0) for b in data.bills if b["account_no"] == number
    )


async def test_money_is_read_in_whole_fen_and_a_fraction_of_a_fen_is_set_aside(fixture: DropFixture) -> None:
    """Amounts are decimal text read exactly into fen: 0.29 is 29 fen (not 28.999… yuan), and
    sums of many bills add up to the fen. A third decimal, a thousands separator or a word is a
    schema mismatch naming the field and the record; the good rows are kept."""
    source = await fixture.source()
    run = await sync(fixture.store, source, batch_size=BATCH)
    assert run.status is RunStatus.SUCCEEDED and run.counts.dead_lettered == 0
    account = next(a for a in fixture.data.accounts if "bdcdyh" in a)
    number, house = account["account_no"], account["bdcdyh"]
    path = fixture.folder / "bills-money.csv"
    rows = [
        ("2001-01", "0.29", "0"),  # 29 fen
        ("2001-02", "0.1", "0.00"),  # 10 fen
        ("2001-03", "20", "19.99"),  # one fen short
        ("2001-04", " 100.50 ", "0.5"),  # 10000 fen
        ("2001-05", "12.345", "0"),  # a fraction of a fen
        ("2001-06", "1,234.00", "0"),  # not a number as written
        ("2001-07", "10.00", "七元"),  # paid is not a number
        ("2001-08", "NaN", "0"),
    ]
    path.write_text(
        "account_no,utility,period,amount,paid,due,updated\n"
        + "".join(f'{number},water,{period},"{amount}",{paid},2001-12-25,2030-01-01T09:00:00+08:00\n' for period, amount, paid in rows),
        encoding="utf-8",
    )
    os.utime(path, (path.stat().st_mtime - 20, path.stat().st_mtime - 20))
    run = await sync(fixture.store, source, batch_size=BATCH)
    assert run.status is RunStatus.SUCCEEDED and run.counts.dead_lettered == 4, run.counts
    letters = {letter.record_key: letter for letter in (await fixture.store.dead_letters("water-drop", 10)).items}
    assert {key.rsplit("|", 1)[1] for key in letters} == {"2001-05", "2001-06", "2001-07", "2001-08"}
    for key, letter in letters.items():
        assert letter.reason is Reason.SCHEMA_MISMATCH and key in letter.detail
    assert "field 'amount'" in letters[f"water|{number}|2001-05"].detail and "at most 2 decimals" in letters[f"water|{number}|2001-05"].detail
    assert "field 'amount'" in letters[f"water|{number}|2001-06"].detail
    assert "field 'paid'" in letters[f"water|{number}|2001-07"].detail
    [[owed]] = await fixture.store.arrears([house], dt.date(2100, 1, 1), EVERYTHING)
    assert owed.amount_fen == _owed_fen(fixture.data, number) + 29 + 10 + 1 + 10000
    assert type(owed.amount_fen) is int and owed.oldest_period == "2001-01"
