"""`stats`, `place { stats }` and `geo` say what every write path wrote, at once, over real HTTP.

A hub is served on loopback over the conformance suite's fixture city, written and never
refreshed, with a registry connector over an exchange database (SQLite) written by hand. Each
test writes through one path — a connector sync, the `runConnector` mutation, `registerDevice` and
`openCase`, device ingestion, utility bills through the store port — and then reads every figure
that path can change through the three fields, comparing each with a count worked out
independently: the roll-ups (houses, floor area, owners, estates, buildings) with the
conformance oracle over everything written, the live figures (devices, alarms, cases, houses in
arrears) with the records the test wrote.

Tests run in file order and build on each other's writes (one module-scoped hub): the oracle is
kept in `World.written`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from connectors.config import ConnectorSet, parse_connectors
from connectors.registry.database import RegistryDatabase
from connectors.runner import sync
from devices.pipeline import Pipeline
from graph.ciphers.keyring import Keyring
from graph.codes import resident_id_check_digit
from graph.events import EventBus
from graph.ledger import RunStatus
from graph.levels import Level
from graph.model import Batch, Owner, OwnerKind, Ownership
from graph.rules import RuleEngine
from graph import open_store
from graph.sql import SqlStore
from graph.utilities import Bill, Utility, UtilityAccount
from graph.workflow import Workflow
from hub.app import create_app
from hub.auth.issuing import issue_token
from hub.limits import Limits
from tests.connectors.test_registry_database import add_rows
from tests.graph.conformance import (
    B_A1,
    B_C1,
    CITY,
    E_A,
    EN_A11,
    FACTS,
    SHINAN,
    ST_A,
    T_HOUSE,
    UNOWNED,
    CityFacts,
    fixture_city,
    merged,
)
from tests.serving import served

ROLLED_UP = ("houses", "floorArea", "owners", "estates", "buildings")
LEVELS = [level for level in Level if level < Level.HOUSE]
STATS = """query($scope: String!, $groupBy: Level!) { stats(scope: $scope, groupBy: $groupBy) {
  place { code } houses floorArea owners estates buildings housesInArrears
  devices { total online alarm activeAlarms } cases { cases resolved } } }"""
PLACE = """query($code: String!) { place(code: $code) { stats {
  houses floorArea owners estates buildings housesInArrears devices { total alarm activeAlarms } cases { cases } } } }"""
GEO = """query($scope: String!, $level: Level!) { geo(scope: $scope, level: $level) }"""
RUNS = "{ connectorRuns(connector: \"registry\", first: 50) { nodes { id status error } } }"
RUN = 'mutation { runConnector(name: "registry") { id status } }'
REGISTER = "mutation($i: DeviceInput!) { registerDevice(input: $i) { code } }"
OPEN = "mutation($i: OpenCaseInput!) { openCase(input: $i) { id } }"


def _number(first17: str) -> str:
    return first17 + resident_id_check_digit(first17)


HOLDERS = {"QX": ("吴敏", _number("37020219860606011")), "QY": ("郑凯", _number("37020319880808022"))}
X_SECOND_HOUSE = B_C1 + "0401"  # in 市北区: nobody holds it in the fixture city
STAMP = dt.datetime(2026, 1, 10, 9, 0)


@dataclasses.dataclass
class World:
    url: str
    tokens: dict[str, str]
    shared: dict[str, Any]
    exchange: str
    written: list[Batch]
    """What the store holds, as batches: the oracle for the roll-ups."""

    @property
    def store(self) -> SqlStore:
        store: SqlStore = self.shared["store"]
        return store

    def run(self, coroutine: Any, timeout: float = 120) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.shared["loop"]).result(timeout)

    def data(self, query: str, role: str = "admin", **variables: Any) -> dict[str, Any]:
        response = httpx.post(
            f"{self.url}/graphql", json={"query": query, "variables": variables},
            headers={"authorization": f"Bearer {self.tokens[role]}"}, timeout=60, trust_env=False,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert not body.get("errors"), body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    def owner_id(self, qlrid: str) -> str:
        return self.store.owner_ids(HOLDERS[qlrid][1])

    # -- what the three fields say ----------------------------------------------------------

    def rows(self, level: Level) -> dict[str, dict[str, Any]]:
        return {row["place"]["code"]: row for row in self.data(STATS, scope=CITY, groupBy=level.name)["stats"]}

    def features(self, scope: str, level: Level) -> dict[str, dict[str, Any]]:
        geo = self.data(GEO, scope=scope, level=level.name)["geo"]
        collection = json.loads(geo) if isinstance(geo, str) else geo
        return {feature["id"]: feature["properties"] for feature in collection["features"]}

    def place_stats(self, code: str) -> dict[str, Any]:
        stats: dict[str, Any] = self.data(PLACE, code=code)["place"]["stats"]
        return stats

    def assert_rollups_current(self) -> None:
        """Every place's roll-up, as `stats` rows of every level, `place { stats }` and `geo`
        features, equals the oracle over everything written."""
        facts = CityFacts(merged(self.written))
        every: dict[str, dict[str, Any]] = {}
        for level in LEVELS:
            rows = self.rows(level)
            every.update(rows)
            assert sorted(rows) == facts.level(level, CITY)
            features = self.features(CITY, level)
            for code, row in rows.items():
                houses, area, owners, estates, buildings = facts.stats(code)
                # the exact hundredths of a m² over 100, as the API shows them
                expected = {"houses": houses, "floorArea": area / 100, "owners": owners, "estates": estates, "buildings": buildings}
                assert {key: row[key] for key in ROLLED_UP} == expected, code
                if code in features:  # places with a shape
                    assert {key: features[code][key] for key in ROLLED_UP} == expected, code
        for code in (CITY, SHINAN, ST_A, E_A, B_A1, EN_A11):
            stats = self.place_stats(code)
            assert {key: stats[key] for key in ROLLED_UP} == {key: every[code][key] for key in ROLLED_UP}

    def live(self, code: str) -> dict[str, Any]:
        """A place's live figures as its `stats` row says them, checked against `place { stats }`
        and (when it has a shape) its `geo` feature."""
        level = FACTS.places[code].level
        row = self.rows(level)[code]
        stats = self.place_stats(code)
        assert stats["housesInArrears"] == row["housesInArrears"]
        assert stats["devices"] == {key: row["devices"][key] for key in ("total", "alarm", "activeAlarms")}
        assert stats["cases"]["cases"] == row["cases"]["cases"]
        feature = self.features(CITY, level).get(code)
        if feature is not None:
            assert feature["housesInArrears"] == row["housesInArrears"]
            assert feature["activeAlarms"] == row["devices"]["activeAlarms"]
            assert feature["openCases"] == row["cases"]["cases"] - row["cases"]["resolved"]
        return row

    def wait_for(self, run_id: str, seconds: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for run in self.data(RUNS)["connectorRuns"]["nodes"]:
                if run["id"] == run_id and run["status"] != "RUNNING":
                    return dict(run)
            time.sleep(0.05)
        raise AssertionError(f"run {run_id} did not finish in {seconds}s")


async def _main(home: Path, exchange: str, sock: socket.socket, started: dict[str, Any]) -> None:
    keys = Keyring.generate()
    store = await open_store(str(home / "hub.sqlite"), sealer=keys.sealer())
    await store.write(fixture_city())  # and nothing else: no refresh, ever
    specs = parse_connectors(f'[connectors.registry]\nkind = "registry-db"\nurl = "{exchange}"\n')
    ttl = dt.timedelta(hours=1)
    started["tokens"] = {"admin": await issue_token(store, keys, "admin", "*", "ops", ttl)}
    bus = EventBus()
    app = create_app(
        store, keys=keys, owns_store=True, connectors=ConnectorSet(specs), bus=bus,
        limits=dataclasses.replace(Limits(), rate=1e6, burst=1_000_000),
    )
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", ws="none", http="h11"))
    started.update(server=server, store=store, bus=bus, loop=asyncio.get_running_loop())
    await server.serve(sockets=[sock])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("stats-current")
    exchange = f"sqlite:///{home / 'exchange.sqlite'}"
    holders = [
        {"qlrid": q, "qlrmc": name, "zjzl": "身份证", "zjhm": number, "dh": None, "gxsj": STAMP}
        for q, (name, number) in HOLDERS.items()
    ]
    asyncio.run(add_rows(exchange, "qlr", holders))  # holders alone: nobody holds anything yet
    with served(lambda sock, started: _main(home, exchange, sock, started), startup_seconds=120) as (url, started):
        yield World(url, started["tokens"], started, exchange, [fixture_city()])


def test_the_fixture_city_as_written_is_counted_without_a_refresh(world: World) -> None:
    world.assert_rollups_current()



def test_a_connector_sync_is_counted_at_once(world: World) -> None:
    """The registry brings its two holders, X's first registrations of two houses (one per
    district) and a house measured again: owners and floor area move at every place above."""
    world.run(add_rows(world.exchange, "bdcdy", [
        {"bdcdyh": UNOWNED, "zl": "海韵花园1号楼2单元302室", "jzmj": 101.5, "ghyt": "住宅", "szc": 3, "gxsj": STAMP},
    ]))
    world.run(add_rows(world.exchange, "djxx", [
        {"ywh": "YW000001", "bdcdyh": UNOWNED, "djlx": "首次登记", "djsj": dt.date(2021, 1, 4), "qlrid": "QX", "fe": 1.0, "yqlrid": None, "gxsj": STAMP},
        {"ywh": "YW000002", "bdcdyh": X_SECOND_HOUSE, "djlx": "首次登记", "djsj": dt.date(2022, 2, 8), "qlrid": "QX", "fe": 1.0, "yqlrid": None, "gxsj": STAMP},
    ]))
    source = RegistryDatabase("registry", RegistryDatabase.config_schema.validate("registry", {"url": world.exchange}))

    async def run() -> Any:
        try:
            return await sync(world.store, source)
        finally:
            await source.close()

    done = world.run(run())
    assert done.status is RunStatus.SUCCEEDED, done.error
    assert done.counts.dead_lettered == 0
    x = world.owner_id("QX")
    world.written.append(Batch(
        places=[dataclasses.replace(FACTS.places[UNOWNED], area_centi_m2=10150)],
        owners=[Owner(x, OwnerKind.PERSON, *HOLDERS["QX"])],
        ownerships=[Ownership(UNOWNED, x, 1.0, dt.date(2021, 1, 4)), Ownership(X_SECOND_HOUSE, x, 1.0, dt.date(2022, 2, 8))],
    ))
    world.assert_rollups_current()
    # by hand, for one reader: X holds a house in each district, and counts once in the city
    city = world.rows(Level.CITY)[CITY]
    assert city["owners"] == FACTS.stats(CITY)[2] + 1
    assert world.rows(Level.DISTRICT)[SHINAN]["owners"] == FACTS.stats(SHINAN)[2] + 1


def test_a_registry_transfer_run_by_the_mutation_is_counted_at_once(world: World) -> None:
    """X sells the house in 市南区 to Y (转移登记), run through `runConnector`: Y is counted
    where X no longer is, X still in the city through its house in 市北区."""
    stamp = STAMP + dt.timedelta(hours=1)
    world.run(add_rows(world.exchange, "djxx", [
        {"ywh": "YW000003", "bdcdyh": UNOWNED, "djlx": "转移登记", "djsj": dt.date(2024, 3, 1), "qlrid": "QY", "fe": 1.0, "yqlrid": "QX", "gxsj": stamp},
    ]))
    started = world.data(RUN)["runConnector"]
    finished = world.wait_for(started["id"])
    assert finished["status"] == "SUCCEEDED", finished
    x, y = world.owner_id("QX"), world.owner_id("QY")
    world.written.append(Batch(
        owners=[Owner(y, OwnerKind.PERSON, *HOLDERS["QY"])],
        ownerships=[Ownership(UNOWNED, x, 1.0, dt.date(2021, 1, 4), dt.date(2024, 3, 1)), Ownership(UNOWNED, y, 1.0, dt.date(2024, 3, 1))],
    ))
    world.assert_rollups_current()
    assert world.rows(Level.CITY)[CITY]["owners"] == FACTS.stats(CITY)[2] + 2


def test_registered_devices_and_opened_cases_are_counted_at_once(world: World) -> None:
    """`registerDevice` and `openCase`: devices and cases are counted when read."""
    before = {code: world.live(code) for code in (CITY, ST_A, E_A, B_A1, EN_A11)}
    for code, place in (("ST-GAS-01", E_A), ("ST-SMOKE-01", B_A1)):
        world.data(REGISTER, i={"code": code, "type": "GAS_DETECTOR" if "GAS" in code else "SMOKE_DETECTOR", "model": "测试", "place": place, "interval": 60})
    world.data(OPEN, i={"title": "楼道灯不亮", "category": "REPAIR", "place": T_HOUSE})
    devices = {CITY: 2, ST_A: 2, E_A: 2, B_A1: 1, EN_A11: 0}
    cases = {CITY: 1, ST_A: 1, E_A: 1, B_A1: 1, EN_A11: 1}
    for code, row in before.items():
        now = world.live(code)
        assert now["devices"]["total"] == row["devices"]["total"] + devices[code], code
        assert now["cases"]["cases"] == row["cases"]["cases"] + cases[code], code
    world.assert_rollups_current()  # and the roll-ups, untouched


def test_device_ingestion_alarms_are_counted_at_once(world: World) -> None:
    """A gas leak ingested through the pipeline: the detector is in alarm, its alarm active, and
    the case it opened counted, at once, at every place above it."""
    world.data(REGISTER, i={"code": "ST-GAS-02", "type": "GAS_DETECTOR", "model": "测试", "place": EN_A11, "interval": 60})
    before = {code: world.live(code) for code in (CITY, SHINAN, E_A, EN_A11)}

    async def leak() -> None:
        bus: EventBus = world.shared["bus"]
        pipeline = Pipeline(
            world.store, RuleEngine(), Workflow(world.store, bus=bus), bus,
            prefix="hub", batch_wait=0.01, sweep_every=3600, refresh_every=0.0,
        )
        await pipeline.start()
        try:
            now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
            await pipeline.submit("hub/devices/ST-GAS-02/status", b"online", now)
            payload = json.dumps({"ts": now.isoformat(), "values": {"lel": 80.0}}).encode()
            await pipeline.submit("hub/devices/ST-GAS-02/events", payload, now)
            await pipeline.drain()
        finally:
            await pipeline.stop()

    world.run(leak())
    for code, row in before.items():
        now = world.live(code)
        assert now["devices"]["alarm"] == row["devices"]["alarm"] + 1, code
        assert now["devices"]["activeAlarms"] == row["devices"]["activeAlarms"] + 1, code
        assert now["cases"]["cases"] == row["cases"]["cases"] + 1, code


def test_utility_arrears_written_through_the_port_are_counted_at_once(world: World) -> None:
    """Bills as a utility connector writes them: houses in arrears are counted when read."""
    before = {code: world.live(code) for code in (CITY, SHINAN, E_A, EN_A11)}
    due = dt.date.today() - dt.timedelta(days=40)
    houses = [T_HOUSE, B_A1 + "0201", X_SECOND_HOUSE]  # two under 1号楼1单元, one in 市北区
    accounts = [UtilityAccount(Utility.WATER, f"SW{index:07d}", house) for index, house in enumerate(houses)]
    bills = [Bill(Utility.WATER, account.account_no, due.strftime("%Y-%m"), 8640, 0, due) for account in accounts]
    world.run(world.store.write(Batch(accounts=accounts, bills=bills)))
    owing = {CITY: 3, SHINAN: 2, E_A: 2, EN_A11: 2}
    for code, row in before.items():
        assert world.live(code)["housesInArrears"] == row["housesInArrears"] + owing[code], code
    world.assert_rollups_current()
