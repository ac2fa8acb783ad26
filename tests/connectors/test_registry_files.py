"""The registry's exports (kind `registry-files`): the shared contract over CSV and JSON-lines
folders exported from a reference exchange database, then what only files do (BOM, GBK, a key
twice, a line that is not JSON, a missing column)."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from connectors.registry.files import RegistryFiles
from connectors.registry.reference import build_exchange, export_files, record_changes
from connectors.runner import sync
from graph.ledger import Reason, RunStatus
from graph.scope import Scope
from graph.sql import SqlStore
from tests.connectors.harness import ConnectorContract
from tests.connectors.test_registry_database import (
    CHANGED_AT,
    City,
    _houses_of,
    add_rows,
    bad_inputs,
    hub_store,
    snapshot,
)

EVERYTHING = Scope.everything()


class FilesFixture:
    def __init__(self, exchange_url: str, folder: Path, fmt: str, store: SqlStore, city: City, houses: list[str], total: int) -> None:
        self.exchange_url = exchange_url
        self.folder = folder
        self.fmt = fmt
        self.store = store
        self.city = city
        self.houses = houses
        self.total = total
        self.changes = 0

    def config(self, **values: Any) -> RegistryFiles:
        config = RegistryFiles.config_schema.validate("registry", {"path": str(self.folder), **values})
        return RegistryFiles("registry", config)

    async def source(self) -> RegistryFiles:
        return self.config()

    async def down_source(self) -> RegistryFiles:
        config = RegistryFiles.config_schema.validate("registry", {"path": str(self.folder / "not-mounted")})
        return RegistryFiles("registry", config)

    async def export(self, **options: Any) -> None:
        await export_files(self.exchange_url, self.folder, self.fmt, **options)

    async def change(self) -> int:
        self.changes += 1
        changed = await record_changes(self.exchange_url, fraction=0.1, seed=self.changes, at=CHANGED_AT + dt.timedelta(days=self.changes))
        await self.export()
        return changed

    async def add_bad(self) -> dict[str, Reason]:
        rows, expected = await bad_inputs(self.exchange_url, self.city)
        for table, items in rows.items():
            await add_rows(self.exchange_url, table, items)
        await self.export()
        return expected

    async def snapshot(self) -> Any:
        return await snapshot(self.store, self.houses)


async def files_fixture(city: City, tmp_path: Path, fmt: str) -> FilesFixture:
    exchange_url = f"sqlite:///{tmp_path / 'exchange.sqlite'}"
    total = await build_exchange(exchange_url, city.store, within=city.building)
    store = await hub_store(f"sqlite:///{tmp_path / 'hub.sqlite'}", city.store, city.building)
    houses = [h.code for h in await _houses_of(city.store, city.building)]
    made = FilesFixture(exchange_url, tmp_path / "exports", fmt, store, city, houses, total)
    await made.export()
    return made


class TestRegistryFilesContract(ConnectorContract):
    @pytest.fixture(params=["csv", "jsonl"])
    async def fixture(self, request: pytest.FixtureRequest, city: City, tmp_path: Path) -> AsyncIterator[FilesFixture]:
        made = await files_fixture(city, tmp_path, request.param)
        yield made
        await made.store.close()


@pytest.fixture
async def csv_files(city: City, tmp_path: Path) -> AsyncIterator[FilesFixture]:
    made = await files_fixture(city, tmp_path, "csv")
    yield made
    await made.store.close()


async def test_utf8_with_a_bom_and_gbk_read_the_same(csv_files: FilesFixture, city: City) -> None:
    await csv_files.export(bom=True)
    assert (csv_files.folder / "qlr.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    run = await sync(csv_files.store, csv_files.config(), batch_size=100)
    assert run.status is RunStatus.SUCCEEDED and run.counts.dead_lettered == 0, run.error
    assert await csv_files.snapshot() == await snapshot(city.store, csv_files.houses)

    await csv_files.export(encoding="gbk")
    wrong = await sync(csv_files.store, csv_files.config(), full=True)
    assert wrong.status is RunStatus.FAILED
    assert wrong.error and wrong.error.startswith("registry: bdcdy.csv is not utf-8 text (byte ")
    assert "set encoding to one of utf-8, gbk, gb18030" in wrong.error
    right = await sync(csv_files.store, csv_files.config(encoding="gbk"), full=True)
    assert right.status is RunStatus.SUCCEEDED, right.error
    assert right.counts.read == csv_files.total and right.counts.written == 0


async def test_a_registration_twice_in_an_export_counts_once_and_the_later_wins(csv_files: FilesFixture) -> None:
    path = csv_files.folder / "djxx.csv"
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    first = next(row for row in rows if row["djlx"] == "首次登记" and row["fe"] == "1.0")
    again = dict(first, fe="0.5")  # the same ywh re-exported with a corrected share, same gxsj
    with path.open("a", encoding="utf-8", newline="") as handle:
        csv.DictWriter(handle, fieldnames=list(first)).writerow(again)
    run = await sync(csv_files.store, csv_files.config(), batch_size=1000)
    assert run.status is RunStatus.SUCCEEDED, run.error
    assert run.counts.duplicates == 1 and run.counts.dead_lettered == 0
    assert run.counts.read == csv_files.total + 1
    [spans] = await csv_files.store.ownerships([first["bdcdyh"]], dt.date.fromisoformat(first["djsj"]), EVERYTHING)
    assert [span.share for span in spans] == [0.5]


async def test_a_line_that_is_not_json_is_set_aside_with_its_text(city: City, tmp_path: Path) -> None:
    made = await files_fixture(city, tmp_path, "jsonl")
    try:
        with (made.folder / "bdcdy.jsonl").open("a", encoding="utf-8") as handle:
            handle.write('{"bdcdyh": "370202001004GB00022F00010001", "jzmj": 80.5,\n')
            handle.write(json.dumps({"bdcdyh": "370202001004GB00022F00010002", "jzmj": "八十", "ghyt": "住宅", "gxsj": "2026-01-05 09:00:00"}) + "\n")
            handle.write(json.dumps({"bdcdyh": "370202001004GB00022F00010003", "jzmj": 80, "ghyt": "住宅", "gxsj": "下周一"}) + "\n")
        lines = len((made.folder / "bdcdy.jsonl").read_text(encoding="utf-8").splitlines())
        run = await sync(made.store, made.config())
        assert run.status is RunStatus.SUCCEEDED, run.error
        letters = {letter.record_key: letter for letter in (await made.store.dead_letters("registry", first=10)).items}
        broken = letters[f"bdcdy.jsonl:{lines - 2}"]
        assert broken.reason is Reason.SCHEMA_MISMATCH and broken.payload["text"].startswith('{"bdcdyh": "370202001004GB00022F00010001"')
        words = letters["370202001004GB00022F00010002"]
        assert words.reason is Reason.SCHEMA_MISMATCH and "field 'jzmj' must be float or int or Decimal, not str '八十'" in words.detail
        when = letters["370202001004GB00022F00010003"]
        assert when.reason is Reason.SCHEMA_MISMATCH and "gxsj (更新时间) '下周一' is not a timestamp" in when.detail
        assert len(letters) == 3
    finally:
        await made.store.close()


async def test_a_missing_file_or_column_fails_the_check_and_the_run(csv_files: FilesFixture) -> None:
    (csv_files.folder / "qlr.csv").rename(csv_files.folder / "qlr.bak")
    check = await csv_files.config().check()
    assert not check.ok and check.detail == f"registry: no qlr.csv or qlr.jsonl in {csv_files.folder}"
    (csv_files.folder / "qlr.bak").rename(csv_files.folder / "qlr.csv")
    text = (csv_files.folder / "bdcdy.csv").read_text(encoding="utf-8")
    (csv_files.folder / "bdcdy.csv").write_text(text.replace("jzmj", "mj", 1), encoding="utf-8")
    check = await csv_files.config().check()
    assert not check.ok and check.detail.startswith("registry: bdcdy.csv has no column jzmj (its header: bdcdyh, zl, mj")
    run = await sync(csv_files.store, csv_files.config())
    assert run.status is RunStatus.FAILED and run.counts.read == 0
    assert run.error and "bdcdy.csv has no column jzmj" in run.error
