"""Facilities' life records stay with their readers, by every root field, mutation and
`Place.facilities`.

The world: the five planted devices of tests/security/conftest.py (one in each ring of scopes:
the committee's estate, the owner role's entrance, an estate of the street outside the
community, one of the district outside the street, the 市北区 estate) get a life record here —
installation, registration, a contract with a contractor the world does not otherwise know,
an inspection — booked once through the service (keyed, so a second seeding books nothing).

Who reads a facility is worked out from the world (schema/facilities/access.py's rule): the
admin; the administrations, committee and managing firm whose scope holds the device's place;
an owner the public view of the facilities of the estates it holds a house in (no contractor
code, contract, booker, point, case or key). Whatever a caller may not read answers exactly as
a code that names nothing; writes outside the writer's scope are refused the same way, and the
record reads back unchanged. A maintenance is booked by the managing firm and by a member of its
staff (the staff role: booked as its employer and itself); a member of another employer's staff
is refused as for a code that names nothing. Every answer goes through the leak walker.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from typing import Any

import pytest

from graph.codes import credit_check_character
from graph.facilities.records import InspectionResult
from graph.facilities.service import Facilities
from graph.levels import Level
from graph.scope import Scope
from hub.auth.issuing import issue_token
from tests.security.conftest import (
    DEVICE_DISTRICT,
    DEVICE_ENTRANCE,
    DEVICE_ESTATE,
    DEVICE_NORTH,
    DEVICE_STREET,
    NORTH_STAFF,
    STAFF_ID,
    SecureHub,
)
from tests.security.world import Role, leaks

PLANTED = (DEVICE_ESTATE, DEVICE_ENTRANCE, DEVICE_STREET, DEVICE_DISTRICT, DEVICE_NORTH)
UNKNOWN = "XX-SEC-NOTHING-01"
CONTRACTOR = "91370202MA3CEKW81" + credit_check_character("91370202MA3CEKW81")
WRITERS = frozenset({"admin", "city", "district", "street", "community", "property_firm"})
FULL = """query($c: String!) { facility(code: $c) {
  code type placeCode version installedAt installedBy registrationNumber rescueCode contractorName contractorCode
  contractNumber contractStart contractEnd maintenanceDays lastMaintainedAt maintenanceDueAt maintenanceOverdue
  lastInspectedAt inspectionResult inspectionDueAt inspectionOverdue repairs retiredAt
  events(first: 50) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node {
    seq kind kindLabel at result nextDue part recordedBy byOrg byStaff lon lat caseId projectId key note details { name value } } } }
} }"""
FIGURES_FIELDS = "code facilities retired dueThisWeek overdue maintenanceOverdue inspectionOverdue inspected passed passRate elevators elevatorRepairs repairsPerElevator year"
FIGURES = "query($p: String!) { facilities(place: $p) { %s } }" % FIGURES_FIELDS
PLACE = "query($p: String!) { place(code: $p) { code facilities { %s } } }" % FIGURES_FIELDS
STATS = "query($s: String!, $g: Level!) { stats(scope: $s, groupBy: $g) { place { code } facilities { %s } } }" % FIGURES_FIELDS
HIDDEN = ("installedBy", "contractorCode", "contractNumber", "contractStart", "contractEnd", "repairs")
EVENT_HIDDEN = ("recordedBy", "byOrg", "byStaff", "lon", "lat", "caseId", "projectId", "key")


@pytest.fixture(scope="module")
def planted(secure_hub: SecureHub) -> dict[str, str]:
    """Device code → its place, each with a life record."""
    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)

    async def seed() -> None:
        facilities = Facilities(secure_hub.store)
        everything = Scope.everything()
        today = now.date()
        for code in PLANTED:
            await facilities.record_installation(code, at=now - dt.timedelta(days=2), installed_by="安全测试安装队", scope=everything, recorded_by="security", key="sec-install")
            await facilities.record_registration(code, at=now - dt.timedelta(days=2), number=f"登记-{code}", rescue_code="37020", scope=everything, recorded_by="security", key="sec-register")
            await facilities.record_contract(
                code, at=now - dt.timedelta(days=2), contractor_code=CONTRACTOR, contractor_name="安全测试维保公司", number="SEC-WB-1",
                start=today - dt.timedelta(days=30), end=today + dt.timedelta(days=300), scope=everything, recorded_by="security", key="sec-contract",
            )
            await facilities.record_inspection(code, at=now - dt.timedelta(days=1), result=InspectionResult.PASSED, inspector="安全测试检验所", scope=everything, recorded_by="security", key="sec-inspect")

    secure_hub.run(seed())
    return {code: secure_hub.world.devices[code] for code in PLANTED}


def reader_of(secure_hub: SecureHub, role: Role, place: str) -> str | None:
    """How `role` reads the facility of a device at `place`: "full", "public" or None."""
    world = secure_hub.world
    if role.name == "owner":
        assert role.self_owner is not None
        estate = world.estate_of(place) if world.places[place].level >= Level.ESTATE else None
        return "public" if estate in world.owner_estates(role.self_owner) else None
    return "full" if role.name == "admin" or place in role.places else None


def seen_through(secure_hub: SecureHub, role: Role) -> Role:
    """The role as the leak walker judges facility answers: an owner reads the facilities of the
    estates it holds a house in, so their devices and places are shown to it."""
    if role.name != "owner":
        return role
    assert role.self_owner is not None
    world = secure_hub.world
    places = {code for estate in world.owner_estates(role.self_owner) for code in world.subtree(estate)}
    return replace(role, places=role.places | places)


def maintained(secure_hub: SecureHub, role: Role) -> frozenset[str]:
    """The places where `role` may book a maintenance of a planted facility (whose contractor
    the world does not know): a firm's own estates; a member of staff its employer's."""
    if role.name == "property_firm":
        return role.places
    if role.name == "staff":
        employer = secure_hub.world.staff[role.scope].employer
        firm = secure_hub.roles["property_firm"]
        return firm.places if employer == firm.scope else frozenset()
    return frozenset()


def ask(secure_hub: SecureHub, role: Role, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = secure_hub.request(role.token, query, variables)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    problems = leaks(secure_hub.world, seen_through(secure_hub, role), body.get("data"))
    assert not problems, "\n".join(problems[:20])
    return body


def normalised(body: dict[str, Any], code: str) -> str:
    return json.dumps(body, ensure_ascii=False, sort_keys=True).replace(code, "<code>")


def test_a_facility_reads_in_scope_whole_for_an_owner_public_elsewhere_as_nothing(secure_hub: SecureHub, role: Role, planted: dict[str, str]) -> None:
    nothing = normalised(ask(secure_hub, role, FULL, {"c": UNKNOWN}), UNKNOWN)
    assert json.loads(nothing)["data"] == {"facility": None}
    for code, place in planted.items():
        body = ask(secure_hub, role, FULL, {"c": code})
        how = reader_of(secure_hub, role, place)
        if how is None:
            assert normalised(body, code) == nothing, (role.name, code)
            continue
        life = body["data"]["facility"]
        assert life["code"] == code and life["registrationNumber"] == f"登记-{code}" and life["contractorName"] == "安全测试维保公司"
        assert life["inspectionResult"] == "PASSED" and life["events"]["edges"]
        if how == "public":
            assert all(life[name] is None for name in HIDDEN), (role.name, code, life)
            for edge in life["events"]["edges"]:
                node = edge["node"]
                assert all(node[name] is None for name in EVENT_HIDDEN) and node["details"] == [] and node["note"] == ""
        else:
            assert life["contractorCode"] == CONTRACTOR and life["contractNumber"] == "SEC-WB-1"
            assert any(edge["node"]["key"] == "sec-inspect" for edge in life["events"]["edges"])


def test_an_owner_reads_only_the_public_view_and_only_its_estates(secure_hub: SecureHub, planted: dict[str, str]) -> None:
    owner = secure_hub.roles["owner"]
    readable = [code for code, place in planted.items() if reader_of(secure_hub, owner, place)]
    assert DEVICE_ENTRANCE in readable and DEVICE_NORTH not in readable and DEVICE_DISTRICT not in readable


def test_place_figures_answer_in_scope_only(secure_hub: SecureHub, role: Role, planted: dict[str, str]) -> None:
    world = secure_hub.world
    places = sorted({code for place in planted.values() for code in [place, *world.lineage(place)]})
    unknown = "370202001099E099"
    nothing = normalised(ask(secure_hub, role, FIGURES, {"p": unknown}), unknown)
    for code in places:
        body = ask(secure_hub, role, FIGURES, {"p": code})
        if role.name == "owner":
            assert role.self_owner is not None
            visible = any(code in world.subtree(estate) for estate in world.owner_estates(role.self_owner))
        else:
            visible = role.name == "admin" or code in role.places
        if not visible:
            assert normalised(body, code) == nothing, (role.name, code)
            continue
        figures = body["data"]["facilities"]
        # everything under a place the caller reads is readable: the planted records under it count
        under = [device for device, place in planted.items() if place in world.subtree(code)]
        assert (figures["facilities"], figures["inspected"], figures["passed"]) == (len(under),) * 3, (role.name, code)
        ask(secure_hub, role, PLACE, {"p": code})


MUTATIONS = {
    "recordInstallation": 'mutation($c: String!, $at: DateTime!) { recordInstallation(code: $c, at: $at, installedBy: "安全测试") { code version } }',
    "recordRegistration": 'mutation($c: String!, $at: DateTime!) { recordRegistration(code: $c, at: $at, number: "安全测试登记") { code version } }',
    "recordContract": f'mutation($c: String!, $at: DateTime!) {{ recordContract(code: $c, at: $at, contractorCode: "{CONTRACTOR}", contractorName: "安全测试维保公司", number: "SEC-WB-1", start: "2026-01-01", end: "2027-12-31") {{ code version }} }}',
    "recordMaintenance": "mutation($c: String!, $at: DateTime!) { recordMaintenance(code: $c, at: $at) { code version } }",
    "recordInspection": "mutation($c: String!, $at: DateTime!) { recordInspection(code: $c, at: $at, result: PASSED) { code version } }",
    "recordRepair": 'mutation($c: String!, $at: DateTime!) { recordRepair(code: $c, at: $at, caseId: "GD20991231NOTHING") { code version } }',
    "recordPart": 'mutation($c: String!, $at: DateTime!) { recordPart(code: $c, at: $at, part: "安全测试部件") { code version } }',
    "retireFacility": "mutation($c: String!, $at: DateTime!) { retireFacility(code: $c, at: $at) { code version } }",
}


def test_writes_outside_scope_are_refused_as_for_nothing_and_change_nothing(secure_hub: SecureHub, role: Role, planted: dict[str, str]) -> None:
    at = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=30)).isoformat()
    admin = secure_hub.roles["admin"]
    for name, mutation in MUTATIONS.items():
        nothing = normalised(ask(secure_hub, role, mutation, {"c": UNKNOWN, "at": at}), UNKNOWN)
        assert json.loads(nothing).get("errors"), (role.name, name)
        for code, place in planted.items():
            may = role.name in WRITERS and (role.name == "admin" or place in role.places)
            if name == "recordMaintenance":
                may = place in maintained(secure_hub, role)
            if may:
                continue  # an allowed write would change the world the other probes read
            before = ask(secure_hub, admin, FULL, {"c": code})["data"]["facility"]
            body = ask(secure_hub, role, mutation, {"c": code, "at": at})
            assert body.get("errors"), (role.name, name, code)
            if role.name in WRITERS or (name == "recordMaintenance" and role.name in ("admin", "property_firm", "staff")):
                assert normalised(body, code) == nothing, (role.name, name, code)
            else:
                assert "forbidden" in body["errors"][0]["message"], (role.name, name, body)
            assert ask(secure_hub, admin, FULL, {"c": code})["data"]["facility"] == before


def test_the_managing_firm_books_a_maintenance_in_its_estate(secure_hub: SecureHub, planted: dict[str, str]) -> None:
    firm = secure_hub.roles["property_firm"]
    mine = [code for code, place in planted.items() if place in firm.places]
    assert mine
    at = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=20)).isoformat()
    before = ask(secure_hub, firm, FULL, {"c": mine[0]})["data"]["facility"]["version"]
    body = ask(secure_hub, firm, MUTATIONS["recordMaintenance"], {"c": mine[0], "at": at})
    assert not body.get("errors"), body
    assert body["data"]["recordMaintenance"]["version"] == before + 1


LAST_EVENT = "query($c: String!) { facility(code: $c) { version events(first: 50) { edges { node { seq kind byOrg byStaff recordedBy } } } } }"
STAFF_MAINTENANCE = """mutation($c: String!, $at: DateTime!, $s: String, $o: String, $lon: Float, $lat: Float) {
  recordMaintenance(code: $c, at: $at, byStaff: $s, byOrg: $o, lon: $lon, lat: $lat) { code version } }"""


def test_a_member_of_the_managing_firms_staff_books_a_maintenance_as_itself(secure_hub: SecureHub, planted: dict[str, str]) -> None:
    staff, admin, firm = secure_hub.roles["staff"], secure_hub.roles["admin"], secure_hub.roles["property_firm"]
    mine = [code for code, place in planted.items() if place in maintained(secure_hub, staff)]
    assert mine and secure_hub.world.staff[STAFF_ID].employer == firm.scope
    code = mine[0]
    at = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=10)).isoformat()
    judged = replace(staff, places=staff.places | maintained(secure_hub, staff))  # it may see what it booked
    before = ask(secure_hub, admin, LAST_EVENT, {"c": code})["data"]["facility"]
    refusals = (
        ({"s": "SEC-STAFF-SOMEONE"}, "byStaff"),  # it books as itself only
        ({"o": secure_hub.cast.other_firm}, "byOrg"),  # and for its employer only
        ({"lon": 117.0, "lat": 30.0}, "point"),  # far from the facility: checked as for a firm
    )
    for extra, field in refusals:
        body = ask(secure_hub, judged, STAFF_MAINTENANCE, {"c": code, "at": at, **extra})
        assert body["data"] is None and body["errors"][0]["message"].startswith(f"{field}: "), (extra, body)
        assert ask(secure_hub, admin, LAST_EVENT, {"c": code})["data"]["facility"] == before
    body = ask(secure_hub, judged, STAFF_MAINTENANCE, {"c": code, "at": at, "s": STAFF_ID, "o": firm.scope})
    assert not body.get("errors"), body
    assert body["data"]["recordMaintenance"] == {"code": code, "version": before["version"] + 1}
    after = ask(secure_hub, admin, LAST_EVENT, {"c": code})["data"]["facility"]
    last = next(edge["node"] for edge in after["events"]["edges"] if edge["node"]["seq"] == after["version"])
    assert (last["kind"], last["byOrg"], last["byStaff"], last["recordedBy"]) == ("MAINTENANCE", firm.scope, STAFF_ID, f"staff:{STAFF_ID}")
    assert ask(secure_hub, staff, FULL, {"c": code})["data"] == {"facility": None}  # it still reads no facility


def test_a_member_of_another_employers_staff_is_refused_as_for_nothing(secure_hub: SecureHub, planted: dict[str, str]) -> None:
    """The 市北区 firm's member of staff: the committee's estate is not its employer's, nor is its
    employer the contractor; the answer is the one for a code that names nothing."""
    world, admin = secure_hub.world, secure_hub.roles["admin"]
    employer = world.staff[NORTH_STAFF].employer
    token = secure_hub.run(issue_token(secure_hub.store, secure_hub.keys, "staff", NORTH_STAFF, "钟师傅", dt.timedelta(hours=1)))
    north = replace(secure_hub.roles["staff"], scope=NORTH_STAFF, token=token)
    at = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=10)).isoformat()
    nothing = normalised(ask(secure_hub, north, STAFF_MAINTENANCE, {"c": UNKNOWN, "at": at}), UNKNOWN)
    assert json.loads(nothing)["errors"]
    foreign = [code for code, place in planted.items() if world.estate_of(place) not in world.managed(employer)]
    assert DEVICE_ESTATE in foreign
    for code in foreign:
        before = ask(secure_hub, admin, FULL, {"c": code})["data"]["facility"]
        assert normalised(ask(secure_hub, north, STAFF_MAINTENANCE, {"c": code, "at": at}), code) == nothing, code
        assert ask(secure_hub, admin, FULL, {"c": code})["data"]["facility"] == before


def test_stats_rows_carry_the_figures_of_their_own_subtree_only(secure_hub: SecureHub, role: Role, planted: dict[str, str]) -> None:
    world = secure_hub.world
    for root in sorted(role.roots)[:3]:
        level = world.places[root].level
        if level >= Level.HOUSE:
            continue  # an owner's houses: stats rows of houses carry no facilities of their own
        for group in (level, Level.ESTATE):
            body = ask(secure_hub, role, STATS, {"s": root, "g": group.name})
            assert not body.get("errors"), body
            for row in body["data"]["stats"]:
                code, figures = row["place"]["code"], row["facilities"]
                assert figures is not None and figures["code"] == code
                under = [device for device, place in planted.items() if place in world.subtree(code)]
                assert figures["facilities"] == len(under), (role.name, code)
