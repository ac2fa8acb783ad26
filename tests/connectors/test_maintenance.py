"""The maintenance contractors' record files (kind `maintenance`) on every backend of
`tests.backends`, with real files in a temp folder: the shared connector contract, then what
only these records do — each row booked once on its facility's life record (the same file sent
again, as CSV and as JSON, books nothing twice), GBK and UTF-8 files read alike, each kind of bad
row set aside with its reason while the rest is booked."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Source
from connectors.catalog import kind
from connectors.maintenance.files import MaintenanceRecords
from connectors.runner import sync
from graph.facilities.records import EventKind
from graph.facilities.service import Facilities
from graph.ledger import Reason, RunStatus
from graph.scope import Scope
from graph.store import Store
from tests import backends
from tests.connectors.harness import BATCH, ConnectorContract
from tests.graph.conformance import FIRM_3
from tests.graph.conformance_devices import FLEET, fleet
from tests.graph.conformance_facilities import CONTRACTOR

EVERYTHING = Scope.everything()
CST = dt.timezone(dt.timedelta(hours=8))
HEADER = ("记录编号", "设备编码", "维保单位代码", "维保时间", "维保人员", "经度", "纬度", "保养项目", "备注")
WORKED = ["DT-A11-01", "DT-A11-02", "DT-A12-01", "GD-A-01", "SD-A2-01", "GD-B-01", "WP-C-01"]
RETIRED = "DT-" + "9" * 61
START = dt.datetime(2025, 3, 1, 8, 0, tzinfo=CST)
NAME = "anda"


@pytest.fixture(scope="module", params=backends.params())
def backend(request: pytest.FixtureRequest) -> str:
    backends.prepare(request.param, request)
    return str(request.param)


@pytest.fixture
async def store(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    opened = await backends.open_fresh(backend, request, tmp_path)
    await fleet(opened)
    facilities = Facilities(opened)
    for device in FLEET:
        await facilities.record_contract(
            device.code, at=START - dt.timedelta(days=30), contractor_code=CONTRACTOR, contractor_name="青岛安达电梯维保有限公司",
            number="WB-2025", start=dt.date(2025, 1, 1), end=dt.date(2026, 12, 31), scope=EVERYTHING, recorded_by="test",
        )
    try:
        yield opened
    finally:
        await backends.discard(opened)


def sent(path: Path, on: dt.datetime) -> Path:
    os.utime(path, (on.timestamp(), on.timestamp()))
    return path


def csv_file(folder: Path, stem: str, rows: Sequence[Sequence[str]], on: dt.datetime, *, encoding: str = "utf-8-sig") -> Path:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.csv"
    path.write_bytes(text.getvalue().encode(encoding))
    return sent(path, on)


def json_file(folder: Path, stem: str, rows: Sequence[Sequence[str]], on: dt.datetime) -> Path:
    records = [{name: value for name, value in zip(HEADER, row) if value} for row in rows]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.json"
    path.write_text(json.dumps({"records": records}, ensure_ascii=False), encoding="utf-8")
    return sent(path, on)


def row(number: str, code: str, at: dt.datetime, *, org: str = CONTRACTOR, point: tuple[str, str] = ("", "")) -> tuple[str, ...]:
    return (number, code, org, at.strftime("%Y-%m-%d %H:%M"), "W-007", *point, "半月保养 A1-A31", "")


class RecordsFixture:
    """Four files of a contractor's records over the fleet (one GBK, one JSON), 180 rows."""

    def __init__(self, store: Store, folder: Path) -> None:
        self.store = store
        self.folder = folder
        self.total = 0
        self.last: dict[str, dt.datetime] = {}
        for index, (stem, writer) in enumerate((("2025-03", "utf"), ("2025-04", "gbk"), ("2025-05", "json"), ("2025-06", "utf"))):
            rows = []
            for n in range(45):
                code = WORKED[(index * 45 + n) % len(WORKED)]
                at = START + dt.timedelta(days=30 * index, hours=n)
                rows.append(row(f"R{index}{n:03d}", code, at, point=("120.387", "36.057") if code.startswith("DT-A11") else ("", "")))
                self.last[code] = max(self.last.get(code, at), at)
            on = dt.datetime(2025, 7, 1, tzinfo=dt.timezone.utc) + dt.timedelta(days=index)
            if writer == "json":
                json_file(folder, stem, rows, on)
            else:
                csv_file(folder, stem, rows, on, encoding="gbk" if writer == "gbk" else "utf-8-sig")
            self.total += len(rows)

    async def source(self) -> Source:
        return source_of(self.folder)

    async def down_source(self) -> Source:
        return source_of(self.folder / "not-mounted")

    async def change(self) -> int:
        rows = [row(f"C{n:03d}", code, START + dt.timedelta(days=200, hours=n)) for n, code in enumerate(WORKED)]
        csv_file(self.folder, "2025-09", rows, dt.datetime(2025, 10, 1, tzinfo=dt.timezone.utc))
        self.total += len(rows)
        return len(rows)

    async def add_bad(self) -> dict[str, Reason]:
        await Facilities(self.store).record_retirement(RETIRED, at=dt.datetime(2025, 12, 1, tzinfo=CST), scope=EVERYTHING, recorded_by="test")
        at = START + dt.timedelta(days=250)
        rows = [
            row("B1", "NO-SUCH-DEVICE", at),
            row("B2", "a/b", at),
            row("B3", "DT-A11-01", at, org="91370202MA3C0009X"),
            ("B4", "DT-A11-01", CONTRACTOR, "2025-02-30 09:00", "", "", "", "", ""),
            ("B5", "DT-A11-01", CONTRACTOR, (dt.datetime.now(CST) + dt.timedelta(days=3)).strftime("%Y-%m-%d %H:%M"), "", "", "", "", ""),
            row("B6", RETIRED, at),
            row("B7", "DT-A11-02", at, org=FIRM_3),
            row("B8", "DT-A11-02", at, point=("120.2", "36.2")),
            row("B9", "GD-A-01", at),
            row("B9", "GD-A-01", at + dt.timedelta(hours=1)),
            ("B10", "DT-A11-01", CONTRACTOR, "2025-11-01 09:00", "", "120.3", "", "", ""),
            ("坏", "DT-A11-01", CONTRACTOR, "2025-11-01 09:00", "", "", "", "", ""),
        ]
        csv_file(self.folder, "bad", rows, dt.datetime(2025, 12, 2, tzinfo=dt.timezone.utc))
        self.total += 1  # B9, the good row
        return {
            "bad:B1": Reason.UNKNOWN_DEVICE,
            "bad:B2": Reason.MALFORMED_CODE,
            "bad:B3": Reason.MALFORMED_CODE,
            "bad:B4": Reason.SCHEMA_MISMATCH,
            "bad:B5": Reason.SCHEMA_MISMATCH,
            "bad:B6": Reason.CONFLICT,
            "bad:B7": Reason.CONFLICT,
            "bad:B8": Reason.CONFLICT,
            "bad:B9@10": Reason.DUPLICATE,
            "bad:B10": Reason.SCHEMA_MISMATCH,
            "bad:坏": Reason.SCHEMA_MISMATCH,
        }

    async def snapshot(self) -> Any:
        """Each worked facility's version, last maintenance and maintenance events."""
        found = {}
        for life in await self.store.facilities(WORKED, EVERYTHING):
            assert life is not None
            page = await self.store.facility_events(life.code, EVERYTHING, 500, kinds=[EventKind.MAINTENANCE])
            found[life.code] = (life.version, life.last_maintained_at, sorted(e.key or "" for e in page.items))
        return found


def source_of(folder: Path, name: str = NAME) -> MaintenanceRecords:
    return MaintenanceRecords(name, MaintenanceRecords.config_schema.validate(name, {"folder": str(folder), "settle_seconds": 2}))


@pytest.fixture
async def fixture(store: Store, tmp_path: Path) -> RecordsFixture:
    return RecordsFixture(store, tmp_path / "records")


class TestContract(ConnectorContract):
    pass


def test_the_catalog_knows_the_kind() -> None:
    assert kind("maintenance") is MaintenanceRecords


async def test_every_row_is_booked_on_its_facility_once(fixture: RecordsFixture) -> None:
    assert fixture.total > 3 * BATCH
    run = await sync(fixture.store, await fixture.source(), batch_size=BATCH)
    assert run.status is RunStatus.SUCCEEDED, run.error
    assert (run.counts.read, run.counts.written, run.counts.dead_lettered) == (fixture.total, fixture.total, 0)
    lives = {life.code: life for life in await fixture.store.facilities(WORKED, EVERYTHING) if life}
    assert {code: life.last_maintained_at for code, life in lives.items()} == fixture.last
    assert lives["DT-A11-01"].maintenance_due_at == fixture.last["DT-A11-01"] + dt.timedelta(days=15)
    [event] = (await fixture.store.facility_events("DT-A11-01", EVERYTHING, 1)).items
    newest = max(n for n in range(45) if WORKED[(135 + n) % len(WORKED)] == "DT-A11-01")  # its last row in the last file
    assert (event.by_org, event.by_staff, event.key) == (CONTRACTOR, "W-007", f"{NAME}:2025-06:R3{newest:03d}")
    assert event.recorded_by == f"connector:{NAME} run {run.id}" and event.point is not None
    # the same file sent again, as JSON under the same name: read, booked nothing
    json_file(fixture.folder, "2025-06", [row(f"R3{n:03d}", WORKED[(135 + n) % 7], START + dt.timedelta(days=90, hours=n)) for n in range(45)],
              dt.datetime(2025, 8, 1, tzinfo=dt.timezone.utc))
    before = await fixture.snapshot()
    again = await sync(fixture.store, await fixture.source(), batch_size=BATCH)
    assert again.status is RunStatus.SUCCEEDED and (again.counts.read, again.counts.written, again.counts.unchanged) == (45, 0, 45)
    assert await fixture.snapshot() == before


async def test_a_file_that_is_not_a_record_file_is_one_dead_letter(fixture: RecordsFixture) -> None:
    (fixture.folder / "junk.csv").write_text("设备,时间\nDT-A11-01,2025-01-01\n", encoding="utf-8")
    sent(fixture.folder / "junk.csv", dt.datetime(2025, 12, 1, tzinfo=dt.timezone.utc))
    run = await sync(fixture.store, await fixture.source(), batch_size=BATCH)
    assert run.status is RunStatus.SUCCEEDED and run.counts.dead_lettered == 1
    page = await fixture.store.dead_letters(NAME, first=10)
    [letter] = page.items
    assert letter.reason is Reason.SCHEMA_MISMATCH and "记录编号" in letter.detail
