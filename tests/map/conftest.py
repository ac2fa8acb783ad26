"""A served hub for the map page's browser tests, and Debian's Chromium driven by Playwright.

The hub (uvicorn in a thread on loopback, as tests/hub/test_live_devices.py) holds a small city
with shapes at every level from the district down to buildings: two streets, the first with two
communities, three estates and four buildings; devices with positions; open, overdue and rated
cases; an active alarm on each street; every estate's maintenance fund, one estate's repaired
down under 30% of its deposits. Its ingestion reads the real Mosquitto under a per-run
topic prefix, so a test publishes a device's message with `mosquitto_pub` and watches the page.

Chromium is Debian's (`/usr/bin/chromium`), launched by its path: Playwright downloads nothing.
When it is missing and apt-get can install it (as root), it is installed once for the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from graph.cases import Case, CaseCategory, CaseSource, CaseStatus, Point
from graph.ciphers.keyring import Keyring
from graph.codes import credit_check_character
from graph.devices import Alarm, Device, DeviceType, Severity
from graph.events import EventBus
from graph.funds.journal import EntryKind, FundEntry
from graph.funds.ledger import FundLedger
from graph.levels import Level
from graph.clock import CHINA_STANDARD_TIME
from graph.credit.periods import Period
from graph.credit.service import Credit
from graph.model import Batch, Management, Place, PropertyFirm
from graph import open_store
from graph.sql import SqlStore
from hub.auth.issuing import issue_token
from hub.auth.tokens import decode
from hub.map import MapSettings
from tests.services import MOSQUITTO, run_id
from tests.serving import serve_with_ingestion, served

CHROMIUM = Path("/usr/bin/chromium")

CITY, DISTRICT = "370200", "370202"
STREET, OTHER_STREET = "370202001", "370202002"
COMMUNITY, SECOND_COMMUNITY, OTHER_COMMUNITY = "370202001001", "370202001002", "370202002001"
ESTATE, SMALL_ESTATE, SECOND_ESTATE = "370202001001E001", "370202001001E002", "370202001002E001"
OTHER_ESTATE = "370202002001E001"
BUILDINGS = {
    ESTATE: ("370202001001GB00001F0001", "370202001001GB00001F0002"),
    SMALL_ESTATE: ("370202001001GB00002F0001",),
    SECOND_ESTATE: ("370202001002GB00001F0001",),
    OTHER_ESTATE: ("370202002001GB00001F0001",),
}
HOUSES_PER_BUILDING = {
    "370202001001GB00001F0001": 4,
    "370202001001GB00001F0002": 2,
    "370202001001GB00002F0001": 2,
    "370202001002GB00001F0001": 1,
    "370202002001GB00001F0001": 3,
}
NAMES = {
    STREET: "香港中路街道",
    OTHER_STREET: "八大峡街道",
    COMMUNITY: "八大湖社区",
    SECOND_COMMUNITY: "浮山所社区",
    OTHER_COMMUNITY: "团岛社区",
    ESTATE: "海信花园",
    SMALL_ESTATE: "银都花园",
    SECOND_ESTATE: "浮山新苑",
    OTHER_ESTATE: "团岛小区",
}
FIRM = "91370202MA06EM7T05"
SECOND_FIRM = "91370202MA3N4K7P1" + credit_check_character("91370202MA3N4K7P1")
"""Manages two estates in two communities: a scope of several roots."""
ELEVATOR, SMOKE, OTHER_ELEVATOR = "EL-MAP-0001", "SD-MAP-0001", "EL-MAP-9001"
OPEN_CASE, OVERDUE_CASE, UNHAPPY_CASE, HAPPY_CASE, OTHER_CASE = (
    "GD20260101MAP001", "GD20260101MAP002", "GD20260101MAP003", "GD20260101MAP004", "GD20260101MAP009",
)
OTHER_CASE_TITLE = "团岛小区楼道漏水"

FOREIGN = (OTHER_STREET, OTHER_COMMUNITY, OTHER_ESTATE, *BUILDINGS[OTHER_ESTATE], OTHER_ELEVATOR, OTHER_CASE,
           NAMES[OTHER_STREET], NAMES[OTHER_COMMUNITY], NAMES[OTHER_ESTATE], OTHER_CASE_TITLE)
"""What the first street's office must never be shown: the other street's places, device and case
(the other street's alarm ids are added once they exist)."""


def square(lon: float, lat: float, size: float) -> dict[str, Any]:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def city() -> Batch:
    places = [
        Place(CITY, Level.CITY, "青岛市", None),
        Place(DISTRICT, Level.DISTRICT, "市南区", CITY, square(120.29, 36.04, 0.14)),
        Place(STREET, Level.STREET, NAMES[STREET], DISTRICT, square(120.38, 36.06, 0.045)),
        Place(OTHER_STREET, Level.STREET, NAMES[OTHER_STREET], DISTRICT, square(120.30, 36.05, 0.03)),
        Place(COMMUNITY, Level.COMMUNITY, NAMES[COMMUNITY], STREET, square(120.38, 36.06, 0.02)),
        Place(SECOND_COMMUNITY, Level.COMMUNITY, NAMES[SECOND_COMMUNITY], STREET, square(120.40, 36.06, 0.02)),
        Place(OTHER_COMMUNITY, Level.COMMUNITY, NAMES[OTHER_COMMUNITY], OTHER_STREET, square(120.30, 36.05, 0.02)),
    ]
    estates = {
        ESTATE: (COMMUNITY, 120.381, 36.061, 0.008),
        SMALL_ESTATE: (COMMUNITY, 120.391, 36.061, 0.006),
        SECOND_ESTATE: (SECOND_COMMUNITY, 120.401, 36.061, 0.008),
        OTHER_ESTATE: (OTHER_COMMUNITY, 120.301, 36.051, 0.008),
    }
    for estate, (community, lon, lat, size) in estates.items():
        parcels = tuple(sorted({building[:19] for building in BUILDINGS[estate]}))
        places.append(Place(estate, Level.ESTATE, NAMES[estate], community, square(lon, lat, size), parcel_codes=parcels))
        for number, building in enumerate(BUILDINGS[estate]):
            outline = square(lon + 0.001 + number * 0.003, lat + 0.001, 0.002)
            places.append(Place(building, Level.BUILDING, f"{NAMES[estate]}{number + 1}号楼", estate, outline, floors=6))
            entrance = building + "01"
            places.append(Place(entrance, Level.ENTRANCE, "1单元", building))
            for house in range(1, HOUSES_PER_BUILDING[building] + 1):
                code = f"{building}{house:02d}01"
                places.append(Place(code, Level.HOUSE, f"1单元{house}01室", entrance, area_centi_m2=8800))
    return Batch(
        places=places,
        firms=[PropertyFirm(FIRM, "青岛海信物业服务有限公司"), PropertyFirm(SECOND_FIRM, "青岛浮山物业服务有限公司")],
        managements=[
            Management(FIRM, ESTATE, dt.date(2020, 1, 1)),
            Management(SECOND_FIRM, SMALL_ESTATE, dt.date(2021, 1, 1)),
            Management(SECOND_FIRM, SECOND_ESTATE, dt.date(2021, 1, 1)),
        ],
    )


def first_house(estate: str) -> str:
    return f"{BUILDINGS[estate][0]}0101"


def houses_of(estate: str) -> list[str]:
    return [f"{building}{house:02d}01" for building in BUILDINGS[estate] for house in range(1, HOUSES_PER_BUILDING[building] + 1)]


FIRST_DEPOSIT = {ESTATE: 600_000, SMALL_ESTATE: 500_000, SECOND_ESTATE: 250_000, OTHER_ESTATE: 777_777}
"""Each house's first deposit (首次缴存), fen, by estate."""
SMALL_ESTATE_REPAIR = 800_000
"""A repair of 银都花园 over its two houses of equal area: each keeps 100,000 of 500,000 fen, under 30%."""
FUND_BALANCE = {
    COMMUNITY: 6 * 600_000 + 2 * 500_000 - SMALL_ESTATE_REPAIR,  # 3,800,000 fen: 38,000.00 yuan
    SECOND_COMMUNITY: 250_000,
    STREET: 6 * 600_000 + 2 * 500_000 - SMALL_ESTATE_REPAIR + 250_000,
    OTHER_STREET: 3 * 777_777,  # never to be shown to the first street's office
}
LOW_ACCOUNTS = {COMMUNITY: 2, SECOND_COMMUNITY: 0, STREET: 2}


async def book_funds(store: SqlStore, now: dt.datetime) -> None:
    """The maintenance fund of every estate: each house's first deposit, then a repair of the
    small estate that leaves both its houses under 30% (FUND_BALANCE, LOW_ACCOUNTS)."""
    ledger = FundLedger(store)
    line = 0
    for estate, amount in FIRST_DEPOSIT.items():
        entries = []
        for house in houses_of(estate):
            line += 1
            entries.append(FundEntry(estate, house, EntryKind.DEPOSIT, amount, now, f"statement:map-fund-centre.csv:{line}", "首次缴存"))
        await ledger.book(entries)
    await ledger.debit_repair(SMALL_ESTATE, "MAP-WX-1", SMALL_ESTATE_REPAIR, {house: 8800 for house in houses_of(SMALL_ESTATE)})


def cases(now: dt.datetime) -> list[Case]:
    def case(key: str, estate: str, status: CaseStatus, category: CaseCategory, title: str, hours: float, **extra: Any) -> Case:
        at = now - dt.timedelta(hours=hours)
        return Case(key, CaseSource.OWNER, category, status, title, at, at, place_code=extra.pop("place", estate), **extra)

    return [
        # at a house, with no point: drawn at the centre of the shape holding it
        case(OPEN_CASE, ESTATE, CaseStatus.ACCEPTED, CaseCategory.REPAIR, "海信花园路灯不亮", 2, place=first_house(ESTATE)),
        case(
            OVERDUE_CASE, SMALL_ESTATE, CaseStatus.DISPATCHED, CaseCategory.COMPLAINT, "银都花园噪音扰民", 72,
            point=Point(120.393, 36.063), firm_code=FIRM, dispatched_at=now - dt.timedelta(hours=72),
            sign_by=now - dt.timedelta(hours=70),
        ),
        case(
            UNHAPPY_CASE, ESTATE, CaseStatus.ARCHIVED, CaseCategory.REPAIR, "海信花园水管维修", 400, rating=2,
            resolved_at=now - dt.timedelta(hours=390),
        ),
        case(
            HAPPY_CASE, SECOND_ESTATE, CaseStatus.ARCHIVED, CaseCategory.REPAIR, "浮山新苑电梯保养", 400, rating=5,
            resolved_at=now - dt.timedelta(hours=390),
        ),
        case(OTHER_CASE, OTHER_ESTATE, CaseStatus.ACCEPTED, CaseCategory.REPAIR, OTHER_CASE_TITLE, 1, point=Point(120.304, 36.054)),
    ]


@dataclass
class MapHub:
    url: str
    prefix: str
    tokens: dict[str, str]
    store: SqlStore
    bus: EventBus
    loop: asyncio.AbstractEventLoop
    client: httpx.Client
    seeded_alarms: dict[str, str]
    """Device code → the id of the alarm seeded on it."""
    keys: Keyring

    def revoke(self, token: str) -> None:
        """Revoke a token in the store, as `hub token revoke` does."""
        token_id = decode(self.keys.token_key, token, dt.datetime.now(dt.timezone.utc)).token_id
        at = dt.datetime.now(dt.timezone.utc)
        asyncio.run_coroutine_threadsafe(self.store.revoke_token(token_id, "测试吊销", at), self.loop).result(30)

    def publish(self, code: str, channel: str, payload: str, *, retain: bool = False) -> None:
        """What a device does, with the broker's own client."""
        command = ["mosquitto_pub", "-h", MOSQUITTO.host, "-p", str(MOSQUITTO.port), "-q", "1"]
        command += ["-t", f"{self.prefix}/devices/{code}/{channel}", "-m", payload]
        subprocess.run(command + (["-r"] if retain else []), check=True, timeout=10)

    def graphql(self, who: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers={"authorization": f"Bearer {self.tokens[who]}"}
        )
        body: dict[str, Any] = response.json()
        assert response.status_code == 200 and not body.get("errors"), body
        data: dict[str, Any] = body["data"]
        return data


async def _main(folder: Path, prefix: str, map_settings: MapSettings, sock: socket.socket, started: dict[str, Any]) -> None:
    keys = Keyring.generate()
    db = f"sqlite:///{folder / 'hub.sqlite'}"
    store = await open_store(db, sealer=keys.sealer())
    now = dt.datetime.now(dt.timezone.utc)
    await store.write(city())
    await store.write(Batch(cases=cases(now)))
    await book_funds(store, now)
    # this month's firms' credit (its cases are this month's): the map colours estates by it
    await Credit(store).compute(Period.month_of(now.astimezone(CHINA_STANDARD_TIME).date()), now=now)
    await store.register_devices([
        Device(ELEVATOR, DeviceType.ELEVATOR, "日立 HGP-1000", BUILDINGS[ESTATE][0] + "01", 3600, Point(120.383, 36.063), name="海信花园1号楼电梯"),
        Device(SMOKE, DeviceType.SMOKE_DETECTOR, "海湾 JTY-GD", SMALL_ESTATE, 3600, Point(120.392, 36.062), name="银都花园烟感"),
        Device(OTHER_ELEVATOR, DeviceType.ELEVATOR, "日立 HGP-1000", OTHER_ESTATE, 3600, Point(120.303, 36.053), name="团岛小区电梯"),
    ])
    seeded: dict[str, str] = {}
    for code, kind, place, rule, message in (
        (SMOKE, DeviceType.SMOKE_DETECTOR, SMALL_ESTATE, "smoke.alarm", "烟雾报警"),
        (OTHER_ELEVATOR, DeviceType.ELEVATOR, OTHER_ESTATE, "elevator.fault", "团岛小区电梯故障"),
    ):
        alarm = await store.raise_alarm(Alarm("", code, kind, rule, Severity.MAJOR, message, now - dt.timedelta(hours=1), place))
        assert alarm is not None
        seeded[code] = alarm.id
    await store.refresh_stats()
    ttl = dt.timedelta(hours=2)
    tokens = {
        "street": await issue_token(store, keys, "street", STREET, "香港中路街道办事处", ttl),
        "other_street": await issue_token(store, keys, "street", OTHER_STREET, "八大峡街道办事处", ttl),
        "firm": await issue_token(store, keys, "property_firm", FIRM, "海信物业", ttl),
        "second_firm": await issue_token(store, keys, "property_firm", SECOND_FIRM, "浮山物业", ttl),
        "revoked_street": await issue_token(store, keys, "street", STREET, "香港中路街道值班", ttl),
    }
    await serve_with_ingestion(
        store, keys, db, prefix, sock, started, map_settings=map_settings, shared_tokens=tokens, shared_seeded=seeded
    )


@contextlib.contextmanager
def serve_map_hub(folder: Path, map_settings: MapSettings) -> Iterator[MapHub]:
    if not MOSQUITTO.ensure() or shutil.which("mosquitto_pub") is None:
        pytest.fail("Mosquitto (and mosquitto_pub) must run on 127.0.0.1:1883 or be installed to be started")
    prefix = f"map{run_id()}"
    with served(functools.partial(_main, folder, prefix, map_settings), startup_seconds=60) as (base, started):
        with httpx.Client(base_url=base, timeout=30, trust_env=False) as client:
            yield MapHub(base, prefix, started["tokens"], started["store"], started["bus"], started["loop"], client, started["seeded"], started["keys"])


@pytest.fixture(scope="module")
def map_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MapHub]:
    """The hub as deployed by default: no base map."""
    with serve_map_hub(tmp_path_factory.mktemp("map"), MapSettings()) as hub:
        yield hub


TILES = MapSettings(tiles="/tiles/{z}/{x}/{y}.png", attribution="测试底图")
"""A deployment with a tile server (here a path on the hub, which the browser test answers)."""


@pytest.fixture(scope="module")
def tiled_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MapHub]:
    with serve_map_hub(tmp_path_factory.mktemp("tiled"), TILES) as hub:
        yield hub


def ensure_chromium() -> Path:
    """Debian's Chromium, installed with apt-get when it is missing and this process may."""
    if CHROMIUM.exists():
        return CHROMIUM
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium) to run the map tests")
    done = subprocess.run([apt, "install", "-y", "chromium"], capture_output=True, text=True, timeout=1800)
    if done.returncode != 0 or not CHROMIUM.exists():
        pytest.fail(f"apt-get install -y chromium failed ({done.returncode}): {done.stderr[-2000:]}")
    return CHROMIUM


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    return ensure_chromium()


@pytest.fixture(scope="module")
def browser(chromium_path: Path) -> Iterator[Any]:
    """Chromium for one module. Not for the session: Playwright's sync API keeps an event loop
    running on the main thread while it is open, and every later test that runs `asyncio.run`
    (the CLI, the schedulers, the store opened in a thread) would find it and fail."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # --no-sandbox: the tests may run as root, where Chromium's sandbox refuses to start
        launched = playwright.chromium.launch(executable_path=str(chromium_path), headless=True, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()
