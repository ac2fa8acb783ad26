"""Facilities' life records over the API, as each kind of user meets them (a hub on loopback
over SQLite, the conformance suite's city and device fleet, real tokens): the managing firm, the
street and the city read the whole record and its events, another firm or street nothing; an
owner reads the public view of its estate's elevators (no contractor code, no contract, no one
who booked); the contractor books a maintenance on an elevator outside its own scope, the
managing firm on one it manages, another firm and the roles that do not maintain are refused;
a retired facility only reads; a place's figures answer as exact fractions. Members of staff with
their own `staff` tokens: the contractor's mechanic books, as its employer and itself, the
maintenance that clears the `maintenance.overdue` alarm the sweep raised on an elevator outside
its employer's estates, the managing firm's on one of its estates (the point checked), and a
member of another firm's staff is refused exactly as for a device that does not exist."""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from graph import open_store
from graph.ciphers.keyring import Keyring
from graph.facilities.records import InspectionResult
from graph.facilities.service import Facilities
from graph.model import Batch, PropertyFirm
from graph.scope import Scope
from graph.staff.records import Post, StaffMember
from hub.app import create_app
from hub.auth.issuing import issue_token
from hub.limits import Limits
from tests.graph.conformance import E_A, E_B, E_C, FIRM_2, FIRM_3, OWNER_B, ST_A, ST_B
from tests.graph.conformance_devices import fleet
from tests.graph.conformance_facilities import CONTRACTOR
from tests.schema.test_funds_api import FundHub as Hub
from tests.serving import serve_app, served

EVERYTHING = Scope.everything()
NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
IN_E_A = {"lon": 120.387, "lat": 36.057}
LIFE = """query($c: String!) { facility(code: $c) {
  code type placeCode registrationNumber rescueCode contractorName contractorCode contractNumber contractStart contractEnd
  installedBy lastMaintainedAt maintenanceDueAt maintenanceOverdue inspectionResult repairs retiredAt
  events(first: 10) { totalCount edges { node { seq kind kindLabel at result nextDue recordedBy byOrg byStaff lon lat key details { name value } } } }
} }"""
MAINTAIN = """mutation($c: String!, $at: DateTime!, $lon: Float, $lat: Float, $staff: String, $org: String, $key: String) {
  recordMaintenance(code: $c, at: $at, lon: $lon, lat: $lat, byStaff: $staff, byOrg: $org, key: $key) {
    code lastMaintainedAt maintenanceDueAt maintenanceOverdue version } }"""
OVERDUE = "DT-" + "9" * 61
"""An elevator of 海韵花园 under the contractor's contract, installed 20 days ago (due every 15): the sweep alarms it."""
MECHANIC, STEWARD, OUTSIDER = "AD-W-007", "BDG-YG-001", "TD-YG-001"
"""Members of staff: the contractor's, the managing firm's (八大关物业, in 海韵花园) and 台东物业's."""


async def _main(folder: Path, sock: socket.socket, started: dict[str, Any]) -> None:
    keys = Keyring.generate()
    store = await open_store(f"sqlite:///{folder / 'hub.sqlite'}", sealer=keys.sealer())
    try:
        await fleet(store)
        # the contractor is a firm the hub knows (its token names it) that manages no estate
        await store.write(Batch(firms=[PropertyFirm(CONTRACTOR, "青岛安达电梯维保有限公司", None)]))
        facilities = Facilities(store)
        today = NOW.date()
        for code in ("DT-A11-01", "DT-A11-02", "DT-A12-01", "GD-B-01"):
            await facilities.record_installation(code, at=NOW - dt.timedelta(days=3), installed_by="通力电梯安装队", scope=EVERYTHING, recorded_by="admin:*")
            await facilities.record_registration(code, at=NOW - dt.timedelta(days=3), number=f"梯11-{code}", rescue_code="37021", scope=EVERYTHING, recorded_by="admin:*")
            await facilities.record_contract(
                code, at=NOW - dt.timedelta(days=3), contractor_code=CONTRACTOR, contractor_name="青岛安达电梯维保有限公司", number="WB-1",
                start=today - dt.timedelta(days=30), end=today + dt.timedelta(days=300), scope=EVERYTHING, recorded_by="admin:*",
            )
        await facilities.record_installation(OVERDUE, at=NOW - dt.timedelta(days=20), scope=EVERYTHING, recorded_by="admin:*")
        await facilities.record_contract(
            OVERDUE, at=NOW - dt.timedelta(days=20), contractor_code=CONTRACTOR, contractor_name="青岛安达电梯维保有限公司", number="WB-9",
            start=today - dt.timedelta(days=30), end=today + dt.timedelta(days=300), scope=EVERYTHING, recorded_by="admin:*",
        )
        assert (await facilities.overdue_sweep()).raised == 1
        await store.save_staff([
            StaffMember(MECHANIC, CONTRACTOR, Post.ELEVATOR_MECHANIC, "周师傅", "370202198503030011", "13700003333"),
            StaffMember(STEWARD, FIRM_2, Post.ELECTRICIAN, "吴师傅", "370202198604040022", "13700004444", (E_A,)),
            StaffMember(OUTSIDER, FIRM_3, Post.ELECTRICIAN, "郑师傅", "370203198705050033", "13700005555", (E_C,)),
        ])
        await facilities.record_inspection("DT-A11-01", at=NOW - dt.timedelta(days=2), result=InspectionResult.PASSED, scope=EVERYTHING, recorded_by="admin:*")
        await facilities.record_inspection("DT-A11-02", at=NOW - dt.timedelta(days=2), result=InspectionResult.FAILED, scope=EVERYTHING, recorded_by="admin:*")
        ttl = dt.timedelta(hours=2)
        tokens = {
            "owner_b": await issue_token(store, keys, "owner", OWNER_B, "李娜", ttl),
            "committee": await issue_token(store, keys, "committee", E_A, "海韵花园业主委员会", ttl),
            "firm": await issue_token(store, keys, "property_firm", FIRM_2, "八大关物业", ttl),
            "other_firm": await issue_token(store, keys, "property_firm", FIRM_3, "台东物业", ttl),
            "contractor": await issue_token(store, keys, "property_firm", CONTRACTOR, "安达电梯维保", ttl),
            "street": await issue_token(store, keys, "street", ST_A, "香港中路街道办事处", ttl),
            "other_street": await issue_token(store, keys, "street", ST_B, "八大关街道办事处", ttl),
            "city": await issue_token(store, keys, "city", "370200", "青岛市城市运行中心", ttl),
            "admin": await issue_token(store, keys, "admin", "*", "运维", ttl),
            "mechanic": await issue_token(store, keys, "staff", MECHANIC, "周师傅", ttl),
            "steward": await issue_token(store, keys, "staff", STEWARD, "吴师傅", ttl),
            "outsider": await issue_token(store, keys, "staff", OUTSIDER, "郑师傅", ttl),
        }
    except BaseException:
        await store.close()
        raise
    app = create_app(store, keys=keys, owns_store=True, limits=replace(Limits(), rate=1e6, burst=1_000_000))
    await serve_app(app, sock, started, store=store, tokens=tokens, public_key=keys.sm2_public)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    folder = tmp_path_factory.mktemp("facilities")

    async def main(sock: socket.socket, started: dict[str, Any]) -> None:
        await _main(folder, sock, started)

    with served(main, startup_seconds=60) as (base, started):
        with httpx.Client(base_url=base, timeout=30, trust_env=False) as client:
            yield Hub(base, started["tokens"], client, started["public_key"])


def test_readers_in_scope_see_the_whole_record_others_nothing(hub: Hub) -> None:
    for who in ("firm", "street", "city", "committee", "admin"):
        life = hub.data(who, LIFE, {"c": "DT-A11-01"})["facility"]
        assert life["contractorCode"] == CONTRACTOR and life["contractNumber"] == "WB-1", who
        assert life["registrationNumber"] == "梯11-DT-A11-01" and life["rescueCode"] == "37021" and life["inspectionResult"] == "PASSED"
        kinds = [edge["node"]["kind"] for edge in life["events"]["edges"]]
        assert kinds[:4] == ["INSPECTION", "CONTRACT", "REGISTRATION", "INSTALLATION"] and life["events"]["totalCount"] == 4
        assert life["events"]["edges"][1]["node"]["recordedBy"] == "admin:*"
    for who in ("other_firm", "other_street", "contractor"):
        assert hub.data(who, LIFE, {"c": "DT-A11-01"})["facility"] is None, who
    assert hub.data("firm", LIFE, {"c": "GD-B-01"})["facility"]["code"] == "GD-B-01"  # 八大关物业 manages E_B too
    assert hub.data("street", LIFE, {"c": "GD-B-01"})["facility"] is None


def test_an_owner_sees_what_the_public_sees(hub: Hub) -> None:
    life = hub.data("owner_b", LIFE, {"c": "DT-A11-01"})["facility"]
    assert life["contractorName"] == "青岛安达电梯维保有限公司" and life["registrationNumber"] == "梯11-DT-A11-01"
    assert (life["contractorCode"], life["contractNumber"], life["contractStart"], life["contractEnd"], life["installedBy"], life["repairs"]) == (None,) * 6
    for edge in life["events"]["edges"]:
        node = edge["node"]
        assert (node["recordedBy"], node["byOrg"], node["byStaff"], node["lon"], node["key"], node["details"]) == (None, None, None, None, None, [])
    inspection = life["events"]["edges"][0]["node"]
    assert inspection["result"] == "PASSED" and inspection["nextDue"] is not None
    assert hub.data("owner_b", LIFE, {"c": "GD-B-01"})["facility"] is None  # no house in 八大关花园


def test_the_contractor_and_the_managing_firm_book_maintenance_others_are_refused(hub: Hub) -> None:
    at = (NOW - dt.timedelta(hours=2)).isoformat()
    done = hub.data("contractor", MAINTAIN, {"c": "DT-A11-01", "at": at, **IN_E_A, "staff": "W-007", "key": "安达-0001"})["recordMaintenance"]
    assert done["lastMaintainedAt"] is not None and done["version"] == 5
    again = hub.data("contractor", MAINTAIN, {"c": "DT-A11-01", "at": at, **IN_E_A, "staff": "W-007", "key": "安达-0001"})["recordMaintenance"]
    assert again["version"] == 5  # booked once
    event = hub.data("firm", LIFE, {"c": "DT-A11-01"})["facility"]["events"]["edges"][0]["node"]
    assert (event["kind"], event["byOrg"], event["byStaff"], event["recordedBy"]) == ("MAINTENANCE", CONTRACTOR, "W-007", f"property_firm:{CONTRACTOR}")
    assert hub.data("firm", MAINTAIN, {"c": "DT-A11-02", "at": at, **IN_E_A})["recordMaintenance"]["version"] == 5
    assert "is not a device you can see" in hub.error("other_firm", MAINTAIN, {"c": "DT-A11-02", "at": at, **IN_E_A})
    assert "is not a device you can see" in hub.error("contractor", MAINTAIN, {"c": "GD-A-01", "at": at, **IN_E_A})
    assert "is not at or near" in hub.error("contractor", MAINTAIN, {"c": "DT-A11-02", "at": at, "lon": 120.2, "lat": 36.2})
    for who in ("owner_b", "committee", "street", "city"):
        assert "forbidden" in hub.error(who, MAINTAIN, {"c": "DT-A11-02", "at": at, **IN_E_A}), who
    assert "byOrg" in hub.error("admin", MAINTAIN, {"c": "DT-A11-02", "at": at, **IN_E_A})
    assert hub.data("admin", MAINTAIN, {"c": "DT-A11-02", "at": at, **IN_E_A, "org": CONTRACTOR})["recordMaintenance"]["version"] == 6


INSPECT = """mutation($c: String!, $at: DateTime!) { recordInspection(code: $c, at: $at, result: PASSED_ON_RECHECK, report: "DT-0001") {
  inspectionResult inspectionDueAt } }"""
RETIRE = """mutation($c: String!, $at: DateTime!) { retireFacility(code: $c, at: $at, reason: "更新改造") { retiredAt } }"""
REGISTER = """mutation($c: String!, $at: DateTime!) { recordRegistration(code: $c, at: $at, number: "梯2") { registrationNumber } }"""


def test_writers_in_scope_book_and_a_retired_facility_only_reads(hub: Hub) -> None:
    at = (NOW - dt.timedelta(hours=1)).isoformat()
    assert hub.data("street", INSPECT, {"c": "DT-A12-01", "at": at})["recordInspection"]["inspectionResult"] == "PASSED_ON_RECHECK"
    assert "is not a device you can see" in hub.error("other_street", INSPECT, {"c": "DT-A12-01", "at": at})
    for who in ("owner_b", "committee"):
        assert "forbidden" in hub.error(who, INSPECT, {"c": "DT-A12-01", "at": at})
    assert "in the future" in hub.error("street", INSPECT, {"c": "DT-A12-01", "at": (NOW + dt.timedelta(days=1)).isoformat()})
    assert hub.data("firm", RETIRE, {"c": "DT-A12-01", "at": at})["retireFacility"]["retiredAt"] is not None
    assert "retired" in hub.error("firm", REGISTER, {"c": "DT-A12-01", "at": at})
    assert hub.data("firm", LIFE, {"c": "DT-A12-01"})["facility"]["retiredAt"] is not None


FIGURES = """query($p: String!) { facilities(place: $p) { code facilities dueThisWeek overdue inspected passed passRate elevators repairsPerElevator year } }"""
PLACE = """query($p: String!) { place(code: $p) { code facilities { facilities passRate } } }"""


def test_place_figures_are_exact_and_scoped(hub: Hub) -> None:
    figures = hub.data("street", FIGURES, {"p": E_A})["facilities"]
    assert figures["inspected"] >= 2 and figures["passRate"] in ("1/2", "2/3")
    assert figures["repairsPerElevator"] == "0" and figures["year"] >= 2026
    assert hub.data("other_street", FIGURES, {"p": E_A})["facilities"] is None
    assert hub.data("owner_b", FIGURES, {"p": E_A})["facilities"]["code"] == E_A
    assert hub.data("owner_b", FIGURES, {"p": E_B})["facilities"] is None
    place = hub.data("firm", PLACE, {"p": E_A})["place"]
    assert place["facilities"]["facilities"] >= 2


ALARMS = """query($s: String!) { alarms(scope: $s, first: 50) { edges { node { rule active device { code } } } } }"""
BOOKED = """query($c: String!) { facility(code: $c) { version maintenanceOverdue
  events(first: 1) { edges { node { kind byOrg byStaff recordedBy lon lat } } } } }"""


def overdue_alarms(hub: Hub) -> dict[str, bool]:
    """Device code → whether its `maintenance.overdue` alarm is active (the admin's view)."""
    edges = hub.data("admin", ALARMS, {"s": ST_A})["alarms"]["edges"]
    return {edge["node"]["device"]["code"]: edge["node"]["active"] for edge in edges if edge["node"]["rule"] == "maintenance.overdue"}


def test_members_of_staff_book_maintenance_as_their_employer_others_as_for_nothing(hub: Hub) -> None:
    at = (NOW - dt.timedelta(minutes=30)).isoformat()
    assert overdue_alarms(hub) == {OVERDUE: True}
    # another firm's member of staff: every facility answers as a code that names nothing, and nothing changes
    before = {code: hub.data("admin", BOOKED, {"c": code})["facility"] for code in (OVERDUE, "DT-A11-01", "GD-B-01")}
    nothing = hub.error("outsider", MAINTAIN, {"c": "DT-A11-77", "at": at, **IN_E_A})
    assert nothing == "code: 'DT-A11-77' is not a device you can see"
    for code in before:
        assert hub.error("outsider", MAINTAIN, {"c": code, "at": at, **IN_E_A}) == nothing.replace("DT-A11-77", code)
        assert hub.data("admin", BOOKED, {"c": code})["facility"] == before[code]
    assert overdue_alarms(hub) == {OVERDUE: True}
    # the contractor's mechanic: not its employer's estate, its employer's contract; booked as both, the alarm clears
    assert "byStaff" in hub.error("mechanic", MAINTAIN, {"c": OVERDUE, "at": at, **IN_E_A, "staff": "W-007"})
    done = hub.data("mechanic", MAINTAIN, {"c": OVERDUE, "at": at, **IN_E_A})["recordMaintenance"]
    assert done["code"] == OVERDUE and done["maintenanceOverdue"] is False
    event = hub.data("admin", BOOKED, {"c": OVERDUE})["facility"]["events"]["edges"][0]["node"]
    assert (event["kind"], event["byOrg"], event["byStaff"], event["recordedBy"]) == ("MAINTENANCE", CONTRACTOR, MECHANIC, f"staff:{MECHANIC}")
    assert (event["lon"], event["lat"]) == (IN_E_A["lon"], IN_E_A["lat"])
    assert overdue_alarms(hub) == {OVERDUE: False}
    assert hub.error("mechanic", MAINTAIN, {"c": "GD-A-01", "at": at, **IN_E_A}) == "code: 'GD-A-01' is not a device you can see"
    # the managing firm's member of staff, on a facility of its employer's estate, the point checked as for a firm
    assert "is not at or near" in hub.error("steward", MAINTAIN, {"c": OVERDUE, "at": at, "lon": 120.2, "lat": 36.2})
    done = hub.data("steward", MAINTAIN, {"c": OVERDUE, "at": at, **IN_E_A})["recordMaintenance"]
    assert done["version"] == before[OVERDUE]["version"] + 2
    event = hub.data("admin", BOOKED, {"c": OVERDUE})["facility"]["events"]["edges"][0]["node"]
    assert (event["byOrg"], event["byStaff"]) == (FIRM_2, STEWARD)
    assert hub.data("steward", LIFE, {"c": OVERDUE})["facility"] is None  # staff still read no facility
