"""One live hub for the security suite, with one token per role and what each role may see.

The server is uvicorn on a free loopback port, in a thread with its own event loop (as in
tests/schema/conftest.py). Its SQLite store holds the `small` demo (市南区) plus a second
district written here through the port: 市北区 with a street, a community, an estate managed by
a firm of its own, a building, an entrance and two houses, an owner who also holds a house in
市南区, and 502 namesakes (one of them in 市南区). Cases (工单), utility accounts with bills (some
in arrears) and outage notices are written inside and outside each role's scope
(`cases_and_utilities`), and the ledger holds a connector run with a dead letter; the app
knows one connector, `secwater`, whose runs are launched by a stand-in that only records them.
Owners' votes are organised through the vote service with a clock of the suite's choosing
(`votes_and_committees`): one open in the committee's estate with ballots cast (the owner role's
among them), one closed in an estate of another street of 市南区, one noticed as the first owners'
meeting of the 市北区 estate; with a committee in office in the committee's estate and first-meeting
steps in an estate of the street outside the community. Tokens are issued for admin, city, district,
street, community, property firm, owners' committee, owner and a member of the firm's staff (who holds
one case of its own); `World` (tests/security/world.py) works out from the same records
what each of them may see, without asking the hub.

Tests talk to the server over HTTP (`SecureHub.post`), and run coroutines on its loop
(`SecureHub.run`) to read the audit log or to serve a second app in process over the same store.
"""

from __future__ import annotations

import functools

import asyncio
import datetime as dt
import socket
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn

from connectors.config import ConnectorSet, ConnectorSpec, parse_connectors
from graph.cases import Case, CaseCategory, CaseSource, CaseStatus, Point
from graph.devices import Alarm, Device, DeviceType, Severity
from graph.events import EventBus
from graph.ciphers.keyring import Keyring
from graph.ledger import ConnectorRun, DeadLetter, Reason, RunCounts, RunStatus, StreamState
from graph.utilities import Bill, Outage, Utility, UtilityAccount
from graph.votes.records import (
    Candidate,
    Committee,
    Document,
    Item,
    ItemForm,
    MeetingStep,
    MeetingStepKind,
    Member,
    Organiser,
    Vote,
)
from graph.votes.service import Votes
from graph.staff.records import Certificate, CertificateKind, Post, StaffMember
from graph.funds.journal import EntryKind, FundEntry
from graph.funds.records import Authority, Emergency
from graph.funds.revenue import RevenueEntry, Source
from graph.funds.service import Funds
from graph.clock import CHINA_STANDARD_TIME
from graph.clock import today
from graph.codes import credit_check_character, resident_id_check_digit
from graph.levels import Level
from graph.model import (
    Batch,
    Management,
    Owner,
    OwnerKind,
    Ownership,
    Place,
    PropertyFirm,
    Provenance,
    Usage,
)
from graph.scope import Scope
from graph import open_store
from graph.sql import SqlStore
from hub.app import create_app
from hub.auth.authentication import Authenticator
from hub.auth.issuing import issue_token
from hub.auth.tokens import decode
from hub.demo import generate
from hub.limits import Limits
from hub.loading import load
from tests import backends
from tests.kept import kept
from tests.serving import serve_app, served
from tests.security.world import Role, World, WorldCommittee, WorldProject, WorldRevenue, WorldVote, leaks

PRESET, SEED = "small", 7
NEEDS = ("tokens", "audit", "ledger", "cases", "utilities", "devices", "shared queries", "votes", "merkle logs", "funds")
"""What the suite's world needs of the store beside places, owners and firms."""
GRAPH_SUITES = {
    "test_scope": NEEDS,
    "test_personal_data": NEEDS,
    "test_scope_federation": NEEDS,
    "test_scope_questions": (*NEEDS, "questions"),
    "test_scope_votes": NEEDS,
    "test_scope_funds": NEEDS,
    "test_scope_party": NEEDS,
    "test_scope_facilities": NEEDS,
    "test_scope_credit": NEEDS,
    "test_scope_staff": NEEDS,
}
"""The modules that also run with the hub on the graph stores (the leak suite, personal data,
federation entities, the graph questions, owners' votes, the owners' money, firms' credit), with what they need; the others on
SQLite only."""
STARTUP_SECONDS = 600.0
REVOCATION_SECONDS = 1.0
"""How often the suite's server rereads revocations (the default is two seconds)."""

CITY, DISTRICT, NORTH = "370200", "370202", "370203"
STREET = "370202001"  # 香港中路街道, the street role's street
NORTH_STREET = "370203005"  # 辽宁路街道
NORTH_COMMUNITY = "370203005001"  # 科技街社区居委会
NORTH_ESTATE = "370203005001E001"
NORTH_PARCEL = "370203005001GB00001"
NORTH_BUILDING = NORTH_PARCEL + "F0001"
NORTH_ENTRANCE = NORTH_BUILDING + "01"
NORTH_HOUSES = (NORTH_PARCEL + "F00010001", NORTH_PARCEL + "F00010002")
NORTH_ESTATE_NAME = "北岭测试花园"
NORTH_FIRM = "91370203MA3N4K7P1" + credit_check_character("91370203MA3N4K7P1")
SHARED_OWNER = "OWSECURITYSHARED01"
NORTH_OWNER = "OWSECURITYNORTH001"
SHARED_NAME, NORTH_NAME = "张翀", "钱多多"
SHARED_PHONE, NORTH_PHONE = "13900001234", "18655550000"
NAMESAKE = "王同名"
"""The name of 501 past owners of a 市北区 house and of one owner of a house in the committee's
estate, whose id sorts after theirs: more namesakes than a lookup returns, nearly all outside
the street's scope."""
NAMESAKES_OUTSIDE = 501
NAMESAKE_INSIDE = "OWSECURITYZZNAMESAKE"


def _id_number_ending_in_x(prefix: str) -> str:
    """An ID number whose check character is X, so the suite can look it up in lower case."""
    for sequence in range(1000):
        first17 = f"{prefix}{sequence:03d}"
        if resident_id_check_digit(first17) == "X":
            return first17 + "X"
    raise AssertionError("no sequence gives the check character X")


SHARED_ID_NUMBER = _id_number_ending_in_x("37020319900101")
STAFF_ID_NUMBER = "37020219880808001" + resident_id_check_digit("37020219880808001")
NORTH_STAFF_ID_NUMBER = "37020319770707002" + resident_id_check_digit("37020319770707002")
NORTH_ID_NUMBER = "37020319851212003" + resident_id_check_digit("37020319851212003")

_Result = TypeVar("_Result")


def _square(lon: float, lat: float, size: float) -> dict[str, Any]:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def north_batch(shared_house: str) -> Batch:
    """市北区 and everything the suite puts in it, plus the shared owner's house in 市南区."""
    fetched = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)

    def source(record: str) -> Provenance:
        return Provenance("security-suite", record, fetched, "security-suite")

    def place(code: str, level: Level, name: str, parent: str, shape: float | None, **extra: Any) -> Place:
        geometry = None if shape is None else _square(120.37, 36.09, shape)
        return Place(code, level, name, parent, geometry, provenance=source(code), **extra)

    places = [
        place(NORTH, Level.DISTRICT, "市北区", CITY, 0.05),
        place(NORTH_STREET, Level.STREET, "辽宁路街道", NORTH, 0.02),
        place(NORTH_COMMUNITY, Level.COMMUNITY, "科技街社区居委会", NORTH_STREET, 0.01),
        place(NORTH_ESTATE, Level.ESTATE, NORTH_ESTATE_NAME, NORTH_COMMUNITY, 0.004, parcel_codes=(NORTH_PARCEL,)),
        place(NORTH_BUILDING, Level.BUILDING, "1号楼", NORTH_ESTATE, 0.001, floors=6),  # as addresses name it
        place(NORTH_ENTRANCE, Level.ENTRANCE, "1单元", NORTH_BUILDING, None),
    ]
    places += [
        place(code, Level.HOUSE, f"1单元{number}01室", NORTH_ENTRANCE, None, area_centi_m2=8850, floor=number, usage=Usage.RESIDENTIAL)
        for number, code in enumerate(NORTH_HOUSES, start=1)
    ]
    owners = [
        Owner(SHARED_OWNER, OwnerKind.PERSON, SHARED_NAME, SHARED_ID_NUMBER, SHARED_PHONE, source(SHARED_OWNER)),
        Owner(NORTH_OWNER, OwnerKind.PERSON, NORTH_NAME, NORTH_ID_NUMBER, NORTH_PHONE, source(NORTH_OWNER)),
    ]
    ownerships = [
        Ownership(NORTH_HOUSES[0], SHARED_OWNER, 1.0, dt.date(2019, 5, 1), provenance=source("o1")),
        Ownership(NORTH_HOUSES[1], NORTH_OWNER, 1.0, dt.date(2018, 3, 1), provenance=source("o2")),
        Ownership(shared_house, SHARED_OWNER, 0.5, dt.date(2021, 3, 1), provenance=source("o3")),
    ]
    for number in range(NAMESAKES_OUTSIDE + 1):
        born = dt.date(1980, 1, 1) + dt.timedelta(days=number)
        first17 = f"370203{born:%Y%m%d}007"
        inside = number == NAMESAKES_OUTSIDE
        owner_id = NAMESAKE_INSIDE if inside else f"OWSECURITYNAMESAKE{number:03d}"
        owners.append(Owner(owner_id, OwnerKind.PERSON, NAMESAKE, first17 + resident_id_check_digit(first17), None, source(owner_id)))
        if inside:
            ownerships.append(Ownership(shared_house, owner_id, 0.25, dt.date(2022, 6, 1), provenance=source(owner_id)))
        else:
            ownerships.append(
                Ownership(NORTH_HOUSES[1], owner_id, 1.0, dt.date(2010, 1, 1), dt.date(2015, 1, 1), provenance=source(owner_id))
            )
    firm = PropertyFirm(NORTH_FIRM, "青岛北岭测试物业服务有限公司", "0532-80000000", source(NORTH_FIRM))
    management = Management(NORTH_FIRM, NORTH_ESTATE, dt.date(2020, 1, 1), provenance=source("m1"))
    return Batch(places=places, owners=owners, ownerships=ownerships, firms=[firm], managements=[management])


CASE_HOUSE = "GD20260101SEC001"
"""At the owner role's house, dispatched to the firm role's firm."""
CASE_ESTATE = "GD20260101SEC002"
"""At the committee's estate, dispatched to the 市北区 firm (a firm most roles may not see)."""
CASE_STREET = "GD20260101SEC003"
"""At a house of the street outside the community."""
CASE_DISTRICT = "GD20260101SEC004"
"""At a house of 市南区 outside the street."""
CASE_NORTH_HOUSE = "GD20260101SEC005"
CASE_NORTH_ESTATE = "GD20260101SEC006"
CASE_NOWHERE = "GD20260101SEC007"
"""A 12345 case linked to no place: the whole city's alone."""
CASE_MOVABLE = "GD20260101SEC008"
"""At the committee's estate, moved by the community role in a control test."""
CASE_STAFF = "GD20260101SEC009"
"""At the owner role's house, dispatched to the firm role's firm and assigned to the staff role."""
STAFF_ID = "SEC-STAFF-01"
"""The staff role: a member of the firm role's staff working in the committee's estate. It has no
shift, so no case the suite opens is assigned to it: it holds CASE_STAFF alone."""
NORTH_STAFF = "SEC-STAFF-NORTH"
"""A member of the 市北区 firm's staff, working in the 市北区 estate (assigned CASE_NORTH_HOUSE)."""
UNKNOWN_CASE = "GD20991231SEC999"
DEVICE_ESTATE = "MH-SEC-ESTATE-01"
"""A manhole cover at the committee's estate (managed by the firm role's firm)."""
DEVICE_ENTRANCE = "EL-SEC-ENTRANCE-01"
"""An elevator at the entrance of the owner role's house (above the owner's scope)."""
DEVICE_STREET = "SD-SEC-STREET-01"
"""A smoke detector at the estate of a house of the street outside the community."""
DEVICE_DISTRICT = "GD-SEC-DISTRICT-01"
"""A gas detector at the estate of a house of 市南区 outside the street."""
DEVICE_NORTH = "WP-SEC-NORTH-01"
"""A water pump at the 市北区 estate."""
UNKNOWN_DEVICE = "XX-SEC-NOBODY-99"
UNKNOWN_ALARM = "AL20991231999999"
CONNECTOR = "secwater"
RUN_ID = "SEC-RUN-0001"
DEAD_LETTER_KEY = "SEC-DL-0001"


@dataclass
class Seeded:
    """The cases, accounts and notices the suite wrote, by what they are for."""

    street_house: str
    """A house of the street outside the community."""
    district_house: str
    """A house of 市南区 outside the street."""
    accounts: dict[str, str] = field(default_factory=dict)
    """Account number → house."""
    alarms: dict[str, str] = field(default_factory=dict)
    """Device code → the id of the active alarm raised on it."""


class RecordingLauncher:
    """Starts no sync: saves the run RUNNING and hands it back, as a launcher must."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self.launched = 0

    async def launch(self, spec: ConnectorSpec, *, full: bool, trigger: str, retry: bool = False) -> ConnectorRun:
        self.launched += 1
        run = ConnectorRun(
            f"SEC-RUN-API-{self.launched:04d}", spec.name, dt.datetime.now(dt.timezone.utc), full=full, trigger=trigger
        )
        await self.store.save_run(run)
        return run


def cases_and_utilities(world: World, cast: Cast) -> tuple[Batch, Seeded]:
    """Cases, accounts, bills and outage notices inside and outside the roles' scopes."""
    fetched = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    source = Provenance("security-suite", "utilities", fetched, "security-suite")
    street_house = min(world.houses_under(STREET) - world.houses_under(cast.community))
    district_house = min(world.houses_under(DISTRICT) - world.houses_under(STREET))
    seeded = Seeded(street_house, district_house)

    def case(key: str, place: str | None, number: int, firm: str | None = None, **extra: Any) -> Case:
        at = fetched + dt.timedelta(hours=number)
        return Case(
            key, CaseSource.HOTLINE if place is None else CaseSource.OWNER, CaseCategory.REPAIR, CaseStatus.ACCEPTED,
            f"安全测试工单{number}", at, at, description="楼道灯不亮", place_code=place, firm_code=firm,
            external_id=f"12345-SEC-{number:03d}", provenance=source, **extra,
        )

    cases = [
        case(CASE_HOUSE, cast.house, 1, cast.firm, point=Point(120.38, 36.07)),
        case(CASE_ESTATE, cast.estate, 2, NORTH_FIRM),
        case(CASE_STREET, street_house, 3),
        case(CASE_DISTRICT, district_house, 4),
        case(CASE_NORTH_HOUSE, NORTH_HOUSES[1], 5, NORTH_FIRM, point=Point(120.37, 36.09)),
        case(CASE_NORTH_ESTATE, NORTH_ESTATE, 6, NORTH_FIRM),
        case(CASE_NOWHERE, None, 7, address="青岛市某处"),
        case(CASE_MOVABLE, cast.estate, 8, cast.firm),
        replace(
            case(CASE_STAFF, cast.house, 9, cast.firm, point=Point(120.38, 36.07)),
            status=CaseStatus.DISPATCHED, assignee=STAFF_ID, sign_by=fetched + dt.timedelta(days=3650),
        ),
    ]
    cases[4] = replace(cases[4], assignee=NORTH_STAFF)
    day = world.today
    overdue, paid, pending = day - dt.timedelta(days=40), day - dt.timedelta(days=10), day + dt.timedelta(days=20)
    accounts: list[UtilityAccount] = []
    bills: list[Bill] = []

    def account(utility: Utility, number: str, house: str, *periods: tuple[str, int, int, dt.date]) -> None:
        accounts.append(UtilityAccount(utility, number, house, source))
        seeded.accounts[number] = house
        bills.extend(Bill(utility, number, period, amount, paid_, due, source) for period, amount, paid_, due in periods)

    account(Utility.WATER, "SECW0000000001", cast.house, ("2026-01", 8850, 0, overdue), ("2026-02", 4000, 4000, paid))
    account(Utility.POWER, "SECP0000000001", cast.house, ("2026-01", 12000, 12000, paid))
    account(Utility.GAS, "SECG0000000001", cast.shared_house, ("2026-02", 6000, 0, pending))
    account(Utility.WATER, "SECW0000000002", street_house, ("2026-01", 3000, 1000, overdue))
    account(Utility.HEATING, "SECH0000000001", district_house, ("2025-12", 210000, 0, overdue))
    account(Utility.WATER, "SECW0000000003", NORTH_HOUSES[0], ("2026-01", 5500, 0, overdue))
    account(Utility.POWER, "SECP0000000002", NORTH_HOUSES[1], ("2025-11", 30000, 10000, overdue))
    starts = dt.datetime.combine(day, dt.time(8), tzinfo=dt.timezone.utc)

    def outage(number: str, *places: str, hours: int = 0) -> Outage:
        return Outage(Utility.WATER, number, places, starts - dt.timedelta(hours=hours), None, "管网检修", provenance=source)

    outages = [
        outage("SEC-TZ-ESTATES", cast.estate, NORTH_ESTATE),
        outage("SEC-TZ-NORTH", NORTH_ESTATE, NORTH_HOUSES[0], hours=1),
        outage("SEC-TZ-HOUSE", cast.house, hours=2),
        outage("SEC-TZ-DISTRICT", DISTRICT, hours=3),
        outage("SEC-TZ-STREET", street_house, hours=4),
        outage("SEC-TZ-SOUTHHOUSE", district_house, hours=5),
    ]
    return Batch(accounts=accounts, bills=bills, outages=outages, cases=cases), seeded


async def devices_and_alarms(store: SqlStore, world: World, cast: Cast, seeded: Seeded) -> None:
    """One device with an active alarm in each ring of scopes; the alarms of the committee's
    estate and of 市北区 opened cases (the seeded ones at the same places)."""

    def estate_of(house: str) -> str:
        return next(code for code in world.lineage(house) if world.places[code].level == Level.ESTATE)

    planted = [
        (DEVICE_ESTATE, DeviceType.MANHOLE_COVER, cast.estate, "manhole.overturned", CASE_ESTATE),
        (DEVICE_ENTRANCE, DeviceType.ELEVATOR, world.places[cast.house].parent_code or "", "elevator.trapped", None),
        (DEVICE_STREET, DeviceType.SMOKE_DETECTOR, estate_of(seeded.street_house), "smoke.alarm", None),
        (DEVICE_DISTRICT, DeviceType.GAS_DETECTOR, estate_of(seeded.district_house), "gas.high", None),
        (DEVICE_NORTH, DeviceType.WATER_PUMP, NORTH_ESTATE, "pump.stopped", CASE_NORTH_ESTATE),
    ]
    devices = [
        Device(code, kind, "安全测试型", place, 60, Point(120.38, 36.07), name=f"安全测试{kind.label}")
        for code, kind, place, _, _ in planted
    ]
    await store.register_devices(devices)
    raised_at = dt.datetime(2026, 1, 3, 2, tzinfo=dt.timezone.utc)
    for (code, kind, place, rule, case), device in zip(planted, devices):
        world.devices[code] = place
        alarm = await store.raise_alarm(
            Alarm("", code, kind, rule, Severity.CRITICAL, f"安全测试告警 {rule}", raised_at, place, device.point, "1")
        )
        assert alarm is not None
        world.alarms[alarm.id] = place
        seeded.alarms[code] = alarm.id
        if case is not None:
            await store.link_alarm_case(alarm.id, case)


def connector_set(store: SqlStore) -> ConnectorSet:
    text = (
        f'[connectors.{CONNECTOR}]\nkind = "tests.connectors.sample:SampleFirms"\n'
        'url = "sqlite+aiosqlite:///file:/nonexistent/security.sqlite?mode=ro&uri=true"\n'
    )
    return ConnectorSet(parse_connectors(text), launcher=RecordingLauncher(store))


async def _ledger(store: SqlStore) -> None:
    at = dt.datetime(2026, 1, 2, 3, tzinfo=dt.timezone.utc)
    run = ConnectorRun(
        RUN_ID, CONNECTOR, at, RunStatus.SUCCEEDED, at + dt.timedelta(minutes=1), RunCounts(read=3, written=2, dead_lettered=1)
    )
    await store.save_run(run)
    letter = DeadLetter(
        CONNECTOR, "accounts", DEAD_LETTER_KEY, Reason.UNMATCHED_ADDRESS, "地址无法匹配到房屋",
        {"address": "辽宁路某号"}, RUN_ID, at, candidates=NORTH_HOUSES,
    )
    await store.set_aside([letter])
    await store.save_states([StreamState(CONNECTOR, "accounts", "2026-01-02T03:00:00Z", at, RUN_ID)])


@dataclass
class Polls:
    """The votes the suite organised and the places they are about."""

    open_vote: str
    """Open, in the committee's estate, organised by the committee; the owner role has cast."""
    closed_vote: str
    """Closed with its result, in `other_estate`, organised by the office of `other_street`."""
    noticed_vote: str
    """Noticed, not open yet: the first owners' meeting of the 市北区 estate, by 辽宁路街道."""
    other_street: str
    """A street of 市南区 other than the street role's."""
    other_estate: str
    meeting_estate: str
    """An estate of the street outside the community with first-meeting steps recorded."""
    committee: str
    """The id of the committee in office in the committee's estate."""
    member: str
    """A member of that committee who is not among the owner role's house's holders."""
    past_owners: tuple[tuple[str, str], ...]
    """(owner, vote): an owner who held a house of the vote's area before its record date and
    holds none there now, nor on the record date."""
    voters: tuple[str, ...]
    """Houses of the open vote's electorate cast by the suite (the owner role's first)."""
    delegated: str
    """A house of the open vote not cast yet, delegated to the 市北区 owner (NORTH_OWNER)."""


@dataclass
class Cast:
    """The particular places and people the tests name."""

    community: str
    estate: str
    """The committee's estate: in the community, managed today by the firm role's firm."""
    firm: str
    other_firm: str
    """A demo firm that is not the firm role's."""
    house: str
    """The owner role's house in the estate, held today by two owners."""
    owner: str
    co_owner: str
    shared_house: str
    """A second house of the estate, which the shared owner holds with its owners."""
    seeded: Seeded | None = None
    """The cases, accounts and notices written for the utilities and cases probes."""
    polls: Polls | None = None
    """The votes, committees and first-meeting steps written for the vote probes."""
    books: Books | None = None
    """The owners' money booked for the fund probes."""


@dataclass
class Books:
    """What the suite booked of the owners' money, by what it is for."""

    estates: tuple[str, ...]
    """The estates with fund accounts: the committee's, the closed vote's, one of the street
    outside the community (`street_estate`) and the 市北区 one."""
    street_estate: str
    completed: str
    """The repair completed in the owner role's entrance (emergency use), its accounts left low."""
    approved: str
    """The repair approved in the closed vote's estate, by that vote."""
    north: str
    """The repair approved in the 市北区 estate (emergency use)."""
    entrance: str
    """The owner role's entrance: the part the completed repair served."""


@dataclass
class SecureHub:
    url: str
    client: httpx.Client
    world: World
    cast: Cast
    roles: dict[str, Role]
    store: SqlStore
    keys: Keyring
    database: Path
    """The SQLite file (on another backend: a path that does not exist)."""
    loop: asyncio.AbstractEventLoop
    backend: str = "sqlite"
    server: uvicorn.Server | None = field(default=None, repr=False)
    bus: EventBus | None = field(default=None, repr=False)
    """The served app's event bus: a test publishes on it (on the server's loop) to feed subscriptions."""

    def run(self, coroutine: Coroutine[Any, Any, _Result], timeout: float = 120) -> _Result:
        """Run a coroutine on the server's loop (the store belongs to it) and wait for it."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def request(
        self, token: str | None, query: str, variables: dict[str, Any] | None = None, **headers: str
    ) -> httpx.Response:
        sent = dict(headers)
        if token is not None:
            sent["authorization"] = f"Bearer {token}"
        return self.client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=sent)

    def post(
        self, role: Role | str, query: str, variables: dict[str, Any] | None = None, **headers: str
    ) -> dict[str, Any]:
        """The JSON body of a query sent as `role`, after checking its data shows nothing the
        role may not see (so every query of the suite is also a leak probe)."""
        who = self.roles[role] if isinstance(role, str) else role
        response = self.request(who.token, query, variables, **headers)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json"), response.text
        body: dict[str, Any] = response.json()
        problems = leaks(self.world, who, body.get("data"))
        assert not problems, "\n".join(problems[:20])
        return body

    def data(self, role: Role | str, query: str, variables: dict[str, Any] | None = None, **headers: str) -> dict[str, Any]:
        body = self.post(role, query, variables, **headers)
        assert not body.get("errors"), body["errors"]
        data: dict[str, Any] = body["data"]
        return data


SUITE_COMMITTEE = "security suite committee"
"""The committee token's holder: the open vote's organiser is the committee of its estate."""
OPEN_ITEMS = (
    Item(1, 9, ItemForm.MOTION, "安全测试：增设电动自行车充电桩", "在地下车库增设充电桩二十个。"),
    Item(2, 3, ItemForm.ELECTION, "安全测试：增补业主委员会委员一名", "从两名候选人中选出一名。", (), 1),
)


def _estate_of(world: World, code: str) -> str:
    return next(item for item in [*world.lineage(code), code] if world.places[item].level == Level.ESTATE)


async def votes_and_committees(store: SqlStore, keys: Keyring, world: World, cast: Cast) -> Polls:
    """The suite's votes, made through `Votes` with the clock of each step (as hub.demo.votes
    does), and the committees and meeting steps written through the port; recorded in `world`."""
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    everything = Scope.everything()

    def service(days: float) -> Votes:
        moment = now + dt.timedelta(days=days)
        return Votes(store, keys, clock=lambda: moment)

    def day_of(days: float) -> dt.date:
        return (now + dt.timedelta(days=days)).astimezone(CHINA_STANDARD_TIME).date()

    def electorate(place: str, day: dt.date) -> list[tuple[str, list[str]]]:
        found = []
        for house in sorted(world.houses_under(place)):
            holders = sorted(item.owner_id for item in world.holders(house, day))
            if holders and world.places[house].area_centi_m2:
                found.append((house, holders))
        return found

    # the open vote of the committee's estate: the owner role casts its jointly held house
    record = day_of(-3)
    voters = electorate(cast.estate, record)
    assert cast.house in dict(voters) and cast.owner in dict(voters)[cast.house], "the owner role votes"
    cast_people = {cast.owner, cast.co_owner, SHARED_OWNER, NAMESAKE_INSIDE}
    others = [(house, holders) for house, holders in voters if not cast_people & set(holders)]
    candidates = tuple(Candidate(str(n), f"候选人{n}", owner_id=holders[0]) for n, (_, holders) in enumerate(others[:2], start=1))
    organiser = Organiser("committee", cast.estate, SUITE_COMMITTEE, "业主委员会")
    opened = await service(-3).organise(
        Vote(
            "pending", cast.estate, cast.estate, organiser, "安全测试：充电桩与增补委员", record, now, now + dt.timedelta(days=-2),
            now + dt.timedelta(days=5), (OPEN_ITEMS[0], replace(OPEN_ITEMS[1], candidates=candidates)),
            (Document("充电桩方案", "安全测试文件。", "chongdian.pdf"),),
        ),
        everything,
    )
    await service(-2).open(opened)
    [opened] = await store.votes([opened.id], everything)
    assert opened is not None
    ballots: dict[str, tuple[str, dict[int, Any]]] = {cast.house: (cast.owner, {1: "for", 2: ("1",)})}
    for number, (house, holders) in enumerate(others[2:5]):
        ballots[house] = (holders[0], {1: ("against", "abstain", "for")[number % 3]})
    casting = service(-1)
    for house, (owner, choices) in ballots.items():
        await casting.cast(opened, house, owner, choices)
    # a house delegated to the 市北区 owner, who holds nothing in the estate (委托 needs no house)
    delegated = others[5][0]
    await casting.register_proxy(opened, delegated, NORTH_OWNER, "安全测试委托书 SEC-WT-001", SUITE_COMMITTEE)
    world.votes[opened.id] = WorldVote(
        opened.id, cast.estate, cast.estate, record, "open", ("committee", cast.estate), ballots, {delegated: NORTH_OWNER}
    )

    # a vote of another street of 市南区, closed ten days ago with its result
    streets = [code for code in world.at(Level.STREET, world.subtree(DISTRICT)) if code != STREET]
    estates = [code for street in streets for code in world.at(Level.ESTATE, world.subtree(street))]
    record = day_of(-21)
    sized = [(len(electorate(code, record)), code) for code in estates]
    other_estate = min(code for size, code in sized if size >= 6 and size == min(s for s, _ in sized if s >= 6))
    other_street = next(code for code in world.lineage(other_estate) if world.places[code].level == Level.STREET)
    organiser = Organiser("street", other_street, "security suite street b", "换届小组")
    closing = await service(-30).organise(
        Vote(
            "pending", other_estate, other_estate, organiser, "安全测试：使用维修资金维修屋面", record, now,
            now + dt.timedelta(days=-20), now + dt.timedelta(days=-10),
            (Item(1, 5, ItemForm.MOTION, "使用专项维修资金维修屋面防水", "预算 38 万元。"),),
        ),
        everything,
    )
    await service(-20).open(closing)
    [closing] = await store.votes([closing.id], everything)
    assert closing is not None
    ballots = {}
    for number, (house, holders) in enumerate(electorate(other_estate, record)):
        ballots[house] = (holders[0], {1: "against" if number % 5 == 4 else "for"})
    casting = service(-15)
    for house, (owner, choices) in ballots.items():
        await casting.cast(closing, house, owner, choices)
    closed = await service(-10 + 1 / 1440).close(closing)
    assert closed.status.value == "closed"
    world.votes[closed.id] = WorldVote(closed.id, other_estate, other_estate, record, "closed", ("street", other_street), ballots)

    # the first owners' meeting of the 市北区 estate: the 筹备组 formed, the vote noticed
    await store.add_meeting_step(
        MeetingStep(NORTH_ESTATE, MeetingStepKind.GROUP_FORMED, now - dt.timedelta(days=2), "辽宁路街道 筹备组", "street", '{"by": "security suite"}')
    )
    organiser = Organiser("street", NORTH_STREET, "辽宁路街道 筹备组", "筹备组")
    noticed = await service(-1 / 24).organise(
        Vote(
            "pending", NORTH_ESTATE, NORTH_ESTATE, organiser, "安全测试：首次业主大会", day_of(19), now,
            now + dt.timedelta(days=20), now + dt.timedelta(days=27),
            (Item(1, 1, ItemForm.MOTION, "通过《业主大会议事规则》"), Item(2, 2, ItemForm.MOTION, "通过《管理规约》")),
            first_meeting=True,
        ),
        everything,
    )
    world.votes[noticed.id] = WorldVote(noticed.id, NORTH_ESTATE, NORTH_ESTATE, day_of(19), "noticed", ("street", NORTH_STREET))
    world.meeting_steps[NORTH_ESTATE] = ["group_formed", "notice_given"]

    # first-meeting steps in an estate of the street outside the community
    meeting_estate = min(
        code for code in world.at(Level.ESTATE, world.subtree(STREET)) if code not in world.subtree(cast.community)
    )
    for kind, days in ((MeetingStepKind.GROUP_FORMED, -9), (MeetingStepKind.DOCUMENTS_PUBLISHED, -5)):
        await store.add_meeting_step(
            MeetingStep(meeting_estate, kind, now + dt.timedelta(days=days), "香港中路街道 筹备组", "street", '{"by": "security suite"}')
        )
    world.meeting_steps[meeting_estate] = ["group_formed", "documents_published"]

    # the committee in office in the committee's estate, and the one before it
    day = world.today
    holders_of_house = {item.owner_id for item in world.holders(cast.house)}
    member = next(holders[0] for _, holders in others if holders[0] not in holders_of_house)
    sitting = WorldCommittee("SEC-WY-2", cast.estate, (cast.owner, member), day - dt.timedelta(days=400), day + dt.timedelta(days=1400))
    former = WorldCommittee("SEC-WY-1", cast.estate, (member,), day - dt.timedelta(days=2200), day - dt.timedelta(days=401))
    for item in (former, sitting):
        await store.save_committee(
            Committee(
                item.id, item.estate, tuple(Member(owner, post) for owner, post in zip(item.members, ("主任", "委员"))),
                item.term_start, item.term_end, None, item.term_start + dt.timedelta(days=20),
            )
        )
        world.committees.setdefault(item.estate, []).append(item)

    # owners who held a house of a vote's area before its record date and hold none there now:
    # a namesake of the 市北区 house (2010–2015) and, if the demo has one, a seller in the estate
    estate_houses = world.houses_under(cast.estate)
    record = world.votes[opened.id].record_date
    sellers = sorted(
        item.owner_id
        for house in estate_houses
        for item in world.by_house.get(house, [])
        if item.until is not None and item.until <= record
        and not world.holdings(item.owner_id) & estate_houses
        and not world.holdings(item.owner_id, record) & estate_houses
    )
    past = ((f"OWSECURITYNAMESAKE{0:03d}", noticed.id), *((owner, opened.id) for owner in sellers[:1]))
    return Polls(
        opened.id, closed.id, noticed.id, other_street, other_estate, meeting_estate, sitting.id, member, past,
        tuple(world.votes[opened.id].ballots), delegated,
    )


DEPOSIT_FEN_PER_CENTI_M2 = 40
"""首次缴存 at 40 yuan a m²: the deposits follow the areas, so a repair's shares (by area) fall
alike on every account of its part."""
REPAIR_SHARE = (3, 4)
"""The completed repair costs three quarters of its part's deposits: every account there is left
under 30% of its first deposit (low, 续筹 due)."""


async def funds_and_revenue(store: SqlStore, keys: Keyring, world: World, cast: Cast, seeded: Seeded) -> Books:
    """The owners' money, booked through graph.funds as the hub books it (see the module
    docstring), and recorded in `world`."""
    polls = cast.polls
    assert polls is not None
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    funds = Funds(store, keys, clock=lambda: now)
    street_estate = _estate_of(world, seeded.street_house)
    estates = (cast.estate, polls.other_estate, street_estate, NORTH_ESTATE)
    assert len(set(estates)) == len(estates), estates
    for number, estate in enumerate(estates):
        areas = {house: world.places[house].area_centi_m2 or 0 for house in world.houses_under(estate)}
        entries = [
            FundEntry(
                estate, house, EntryKind.DEPOSIT, areas[house] * DEPOSIT_FEN_PER_CENTI_M2,
                now - dt.timedelta(hours=2), f"statement:sec-centre:{number}-{line}", "首次缴存",
            )
            for line, house in enumerate(sorted(house for house, area in areas.items() if area))
        ]
        await funds.ledger.book(entries)
        for entry in entries:
            world.deposits[entry.house] = world.balances[entry.house] = entry.amount_fen

    # a repair completed in the owner role's entrance: an emergency use, its accounts left low
    entrance = world.places[cast.house].parent_code
    assert entrance is not None and world.places[entrance].level == Level.ENTRANCE
    served = sorted(world.houses_under(entrance))
    assert served and all(world.places[house].area_centi_m2 for house in served), "every house of the entrance has an area"
    cost = sum(world.deposits[house] for house in served) * REPAIR_SHARE[0] // REPAIR_SHARE[1]
    raised = await funds.raise_project(
        project_id="SEC-WX-LIFT", part=entrance, title="安全测试：电梯曳引机抢修", budget_fen=cost,
        authority=Authority.EMERGENCY, authority_ref="电梯困人，制动器失效", raised_by=f"committee:{cast.estate}",
        scope=Scope.everything(), emergency=Emergency.LIFT,
    )
    completed, debit = await funds.complete_project(raised.id, cost, Scope.everything())
    for house, share in debit.shares.items():
        world.balances[house] -= share
    world.projects[completed.id] = WorldProject(completed.id, cast.estate, entrance, "completed", cost)
    # repairs approved: by the closed vote (class 5 passed) in its estate, and an emergency in 市北区
    approved = await funds.raise_project(
        project_id="SEC-WX-ROOF", part=polls.other_estate, title="安全测试：屋面防水", budget_fen=38_000_000,
        authority=Authority.VOTE, authority_ref=polls.closed_vote, raised_by=f"street:{polls.other_street}", scope=Scope.everything(),
    )
    world.projects[approved.id] = WorldProject(approved.id, polls.other_estate, polls.other_estate, "approved", authority=polls.closed_vote)
    north = await funds.raise_project(
        project_id="SEC-WX-NORTH", part=NORTH_ESTATE, title="安全测试：二次供水泵房漏水", budget_fen=1_200_000,
        authority=Authority.EMERGENCY, authority_ref="泵房漏水", raised_by=f"property_firm:{NORTH_FIRM}",
        scope=Scope.everything(), emergency=Emergency.WATER,
    )
    world.projects[north.id] = WorldProject(north.id, NORTH_ESTATE, NORTH_ESTATE, "approved")

    # public revenue: the managing firms enter, the committee confirms the first income
    start, end = dt.date(now.year, 1, 1), dt.date(now.year, 6, 30)
    firms = {cast.estate: cast.firm, NORTH_ESTATE: NORTH_FIRM}
    other_firms = sorted(world.managers(polls.other_estate))
    if other_firms:
        firms[polls.other_estate] = other_firms[0]
    for estate, firm in firms.items():
        made = [
            RevenueEntry.income(estate, firm, now - dt.timedelta(hours=1), Source.LIFT_AD, f"HT-SEC-{estate[-4:]}-1", start, end, 1_200_000),
            RevenueEntry.cost(estate, firm, now - dt.timedelta(hours=1), "广告屏电费", 80_000),
            RevenueEntry.income(estate, firm, now - dt.timedelta(hours=1), Source.PARKING, f"HT-SEC-{estate[-4:]}-2", start, end, 350_000),
        ]
        appended = await funds.enter_revenue(made)
        world.revenue[estate] = [
            WorldRevenue(appended.first + n, str(entry.kind), firm, entry.amount_fen, "unconfirmed") for n, entry in enumerate(made)
        ]
    first = world.revenue[cast.estate][0]
    decided = await funds.decide_revenue(cast.estate, first.index, polls.committee)
    first.status = "confirmed"
    world.revenue[cast.estate].append(WorldRevenue(decided.first, "confirmation", polls.committee, None, None))
    return Books(estates, street_estate, completed.id, approved.id, north.id, entrance)


async def _world_and_store(store: SqlStore, keys: Keyring) -> tuple[World, Cast]:
    world = World(today=today())

    def recorded(batches: Iterator[Batch]) -> Iterator[Batch]:
        for batch in batches:
            world.add(batch)
            yield batch

    await load(store, recorded(generate(PRESET, seed=SEED)), progress=False)
    everything = Scope.everything()
    # the community: one of the street's with two or more estates; the estate: one of its
    # estates managed today, with a house held by two owners today and another house held
    communities = world.at(Level.COMMUNITY, world.subtree(STREET))
    candidates = sorted(communities, key=lambda code: -len(world.at(Level.ESTATE, world.subtree(code))))
    for community in candidates:
        for estate in world.at(Level.ESTATE, world.subtree(community)):
            [managing] = await store.managements([estate], world.today, everything)
            if not managing:
                continue
            firm = max(managing, key=lambda item: item.since).firm_code
            houses = sorted(world.houses_under(estate))
            shared = [house for house in houses if len(world.holders(house)) >= 2]
            # prefer two-character names: their masks (张*) are the same however one reads the rule
            shared.sort(key=lambda house: max(len(world.owners[item.owner_id].name) for item in world.holders(house)))
            held = [house for house in houses if world.holders(house)]
            if not shared or len(held) < 2:
                continue
            house = shared[0]
            first, second = sorted(world.holders(house), key=lambda item: item.owner_id)[:2]
            shared_house = next(item for item in held if item != house)
            other_firm = next(code for code in sorted(world.firms) if code != firm)
            cast = Cast(community, estate, firm, other_firm, house, first.owner_id, second.owner_id, shared_house)
            extra = north_batch(shared_house)
            world.add(extra)
            await store.write(extra)
            utilities, seeded = cases_and_utilities(world, cast)
            world.add(utilities)
            await store.write(utilities)
            for member in security_staff(cast):
                world.staff[member.id] = member
                world.staff_numbers[member.id_number] = member.id
            await store.save_staff(list(world.staff.values()))
            await _ledger(store)
            await devices_and_alarms(store, world, cast, seeded)
            cast.polls = await votes_and_committees(store, keys, world, cast)
            cast.books = await funds_and_revenue(store, keys, world, cast, seeded)
            await store.refresh_stats()
            cast.seeded = seeded
            return world, cast
    raise AssertionError(f"street {STREET} has no estate the suite can use")


def security_staff(cast: Cast) -> list[StaffMember]:
    """The staff role's member (of the firm role's firm, in the committee's estate, no shift) and
    a member of the 市北区 firm's staff."""
    day = today()
    lift = (Certificate(CertificateKind.ELEVATOR_REPAIR, "T-SEC-0001", day - dt.timedelta(days=100), day + dt.timedelta(days=10)),)
    return [
        StaffMember(STAFF_ID, cast.firm, Post.ELEVATOR_MECHANIC, "梁师傅", STAFF_ID_NUMBER, "13700001111", (cast.estate,), lift),
        StaffMember(NORTH_STAFF, NORTH_FIRM, Post.ELECTRICIAN, "钟师傅", NORTH_STAFF_ID_NUMBER, "13700002222", (NORTH_ESTATE,)),
    ]


async def make_role(
    store: SqlStore, keys: Keyring, world: World, name: str, scope: str, roots: frozenset[str], whole: bool,
    self_owner: str | None = None, holder: str | None = None,
) -> Role:
    """Issue a token of role `name` for `scope` and work out from the world what it may see."""
    holder = holder or f"security suite {name}"
    token = await issue_token(store, keys, name, scope, holder, dt.timedelta(days=1))
    places = frozenset(world.places) if name == "admin" else frozenset(code for root in roots for code in world.subtree(root))
    return Role(
        name=name,
        scope=scope,
        holder=holder,
        token=token,
        token_id=decode(keys.token_key, token, dt.datetime.now(dt.timezone.utc)).token_id,
        roots=roots,
        places=places,
        owners=frozenset(world.owners) if name == "admin" else world.owners_touching(places),
        firms=frozenset(world.firms) if name == "admin" else world.firms_touching(places),
        whole=whole,
        self_owner=self_owner,
    )


async def _roles(store: SqlStore, keys: Keyring, world: World, cast: Cast) -> dict[str, Role]:
    scopes: dict[str, tuple[str, frozenset[str], bool]] = {
        "admin": ("*", frozenset({CITY}), True),
        "city": (CITY, frozenset({CITY}), False),
        "district": (DISTRICT, frozenset({DISTRICT}), False),
        "street": (STREET, frozenset({STREET}), True),
        "community": (cast.community, frozenset({cast.community}), True),
        "property_firm": (cast.firm, frozenset(world.managed(cast.firm)), True),
        "committee": (cast.estate, frozenset({cast.estate}), True),
        "owner": (cast.owner, frozenset(world.holdings(cast.owner)), False),
        "staff": (STAFF_ID, frozenset(), False),
    }
    roles = {
        name: await make_role(store, keys, world, name, scope, roots, whole, cast.owner if name == "owner" else None)
        for name, (scope, roots, whole) in scopes.items()
    }
    roles["staff"] = replace(roles["staff"], cases=frozenset(key for key, held in world.case_assignees.items() if held == STAFF_ID))
    return roles


async def _main(url: str, sock: socket.socket, started: dict[str, Any]) -> None:
    keys = Keyring.generate()
    store = await open_store(url, sealer=keys.sealer())
    try:
        world, cast = await _world_and_store(store, keys)
        roles = await _roles(store, keys, world, cast)
    except BaseException:
        await store.close()
        raise
    limits = replace(Limits(), rate=1e6, burst=1_000_000)  # the suite sends many queries fast
    authenticator = Authenticator(store, keys, revocation_seconds=REVOCATION_SECONDS)
    connectors = connector_set(store)
    bus = EventBus()
    app = create_app(
        store, keys=keys, owns_store=True, limits=limits, authenticator=authenticator, connectors=connectors, bus=bus
    )
    await serve_app(app, sock, started, world=world, cast=cast, roles=roles, store=store, keys=keys, connectors=connectors, bus=bus)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    backends.keep_graph_params(config, items, "secure_hub", GRAPH_SUITES)


@pytest.fixture(scope="session", params=backends.api_params())
def secure_hub(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> SecureHub:
    """The served hub over the security world on the param's backend: one per worker and
    backend for the session (tests.kept), however often pytest switches between backends."""
    backend: str = request.param
    backends.prepare(backend, request)
    return kept(backend, request).get("secure_hub", lambda: _secure_hub(backend, request, tmp_path_factory))


@contextmanager
def _secure_hub(backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureHub]:
    database = tmp_path_factory.mktemp("security") / "hub.sqlite"
    url = f"sqlite:///{database}"
    if backend != "sqlite":
        url = asyncio.run(backends.url_for(backend, request, database.parent))
    with served(functools.partial(_main, url), startup_seconds=STARTUP_SECONDS) as (base, started):
        client = httpx.Client(base_url=base, timeout=120, trust_env=False)
        try:
            yield SecureHub(
                url=base,
                client=client,
                world=started["world"],
                cast=started["cast"],
                roles=started["roles"],
                store=started["store"],
                keys=started["keys"],
                database=database,
                loop=started["loop"],
                backend=backend,
                server=started["server"],
                bus=started["bus"],
            )
        finally:
            client.close()


ROLE_NAMES = ("admin", "city", "district", "street", "community", "property_firm", "committee", "owner", "staff")


@pytest.fixture(params=ROLE_NAMES)
def role(request: pytest.FixtureRequest, secure_hub: SecureHub) -> Role:
    return secure_hub.roles[request.param]


@pytest.fixture(scope="session")
def copied(secure_hub: SecureHub) -> dict[str, dict[Level, list[tuple[str, str]]]]:
    """Codes and ids other roles were shown, by role and level: copied between scopes."""
    seen: dict[str, dict[Level, list[tuple[str, str]]]] = {}
    for name in ROLE_NAMES:
        levels = " ".join(
            f"{level.name.lower()}: places(level: {level.name}, first: 3) {{ edges {{ node {{ code id }} }} }}"
            for level in Level
        )
        data = secure_hub.data(name, f"{{ {levels} }}")
        seen[name] = {
            level: [(edge["node"]["code"], edge["node"]["id"]) for edge in data[level.name.lower()]["edges"]]
            for level in Level
        }
    return seen
