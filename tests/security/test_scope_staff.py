"""The staff role and staff records, probed over HTTP on the security world.

A member of staff (the `staff` role; its token's scope is its staff id) sees and acts on the cases
assigned to it and nothing else: every other case answers as an unknown id, every list, figure,
place, owner, device, firm, vote, book, shared query and federation entity answers empty, null or
refused, and `myCaseUpdates` carries its own cases' events only. Staff records (`staffMember`,
`staff`) are seen by whoever sees an estate the member works in, with personal data masked unless
the role sees it whole (each whole read audited under `staff/<id>`), judged by `World`.

Entering staff (`saveStaffMember`) is for a property firm — its own staff, at the estates it
manages today, never under an id another employer's member holds — and the admin (any firm's);
every other role is refused whoever it names. An estate outside a firm's scope is answered as
one that does not exist (tests/security/test_scope_writes.py probes that for every role too).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from graph.codes import resident_id_check_digit
from graph.events import Event, Topic
from graph.levels import Level
from graph.scope import Scope
from tests.security.conftest import (
    CASE_HOUSE,
    CASE_NORTH_HOUSE,
    CASE_STAFF,
    CITY,
    NORTH_ESTATE,
    NORTH_FIRM,
    NORTH_STAFF,
    STAFF_ID,
    UNKNOWN_CASE,
    SecureHub,
)
from graph.staff.records import Post, StaffMember
from tests.security.world import Role, relay_id
from tests.wsclient import live

EVERYTHING = Scope.everything()
MEMBER_FIELDS = "id employer post postLabel name idNumber phone estates certificates { kind kindLabel number issued expiry standing flagged } shifts { weekday startTime endTime startsAt endsAt } onShift position { lon lat at }"
MEMBER = "query($id: ID!) { staffMember(id: $id) { %s } }" % MEMBER_FIELDS
STAFF_OF = "query($e: String!) { staff(employer: $e) { %s } }" % MEMBER_FIELDS
CASE = "query($id: ID!) { case(id: $id) { id status assignee arriveBy arrivedAt place { code } firm { code } history { toStatus actor note } } }"
MY_CASES = "{ myCases(first: 50) { totalCount edges { cursor node { id assignee status } } } }"
ARRIVE = "mutation($id: ID!, $lon: Float!, $lat: Float!) { arriveCase(id: $id, position: {lon: $lon, lat: $lat}) { id status arrivedAt } }"
REPORT = "mutation { reportPosition(position: {lon: 120.38, lat: 36.07}) }"


def _errors(body: dict[str, Any]) -> list[str]:
    return [str(error["message"]) for error in body.get("errors") or []]


def test_records_of_staff_show_as_the_world_says(secure_hub: SecureHub, role: Role) -> None:
    """`staffMember` and `staff`: a member is shown to the roles that see one of its estates,
    masked unless the role sees personal data whole (`leaks` checks every value)."""
    world = secure_hub.world

    def readable(key: str) -> bool:  # the staff role reads no record, its own neither (its cases name it)
        return role.name != "staff" and role.may_see_staff(world, key)

    for key, member in world.staff.items():
        found = secure_hub.data(role, MEMBER, {"id": key})["staffMember"]
        assert (found is not None) == readable(key), (role.name, key)
        listed = secure_hub.data(role, STAFF_OF, {"e": member.employer})["staff"]
        assert [item["id"] for item in listed] == sorted(k for k, m in world.staff.items() if m.employer == member.employer and readable(k))
    assert secure_hub.data(role, MEMBER, {"id": "SEC-STAFF-NOBODY"})["staffMember"] is None


def test_whole_reads_of_staff_are_audited(secure_hub: SecureHub) -> None:
    member = secure_hub.world.staff[STAFF_ID]
    found = secure_hub.data("property_firm", MEMBER, {"id": STAFF_ID})["staffMember"]
    assert (found["name"], found["phone"], found["idNumber"]) == (member.name, member.phone, member.id_number)
    entries = secure_hub.run(secure_hub.store.audit_tail(20))
    entry = next(item for item in reversed(entries) if item.action == "pii.read" and item.role == "property_firm")
    assert entry.detail["owners"] == [f"staff/{STAFF_ID}"] and set(entry.detail["fields"]) == {"name", "id_number", "phone"}
    masked = secure_hub.data("city", MEMBER, {"id": STAFF_ID})["staffMember"]
    assert masked is not None and masked["name"] == member.name[:1] + "*" and masked["idNumber"] != member.id_number


def test_the_staff_role_sees_its_own_case_and_no_other(secure_hub: SecureHub) -> None:
    world, staff = secure_hub.world, secure_hub.roles["staff"]
    assert staff.cases == frozenset({CASE_STAFF})
    own = secure_hub.data("staff", CASE, {"id": CASE_STAFF})["case"]
    assert own["id"] == CASE_STAFF and own["assignee"] == STAFF_ID and own["place"] is None and own["firm"] is None
    assert own["history"]
    mine = secure_hub.data("staff", MY_CASES)["myCases"]
    assert mine["totalCount"] == 1 and [edge["node"]["id"] for edge in mine["edges"]] == [CASE_STAFF]
    for key in sorted(world.cases) + [UNKNOWN_CASE]:
        if key != CASE_STAFF:
            assert secure_hub.data("staff", CASE, {"id": key})["case"] is None, key


def _empty(value: Any) -> bool:
    """Nothing in an answer: null, false, zero, an empty list or string, or a mapping of those."""
    if isinstance(value, dict):
        return all(_empty(item) for key, item in value.items() if key not in ("__typename", "hasNextPage", "hasPreviousPage"))
    if isinstance(value, list):
        return not value
    return value in (None, 0, False, "")


def test_the_staff_role_reads_nothing_else(secure_hub: SecureHub) -> None:
    """Every root read, on codes inside and outside the firm's scope, answers nothing (or is
    refused); `post` checks each answer for leaks besides."""
    world, cast = secure_hub.world, secure_hub.cast
    estate, house = cast.estate, cast.house
    queries: list[tuple[str, dict[str, Any]]] = [
        ('query($c: String!) { place(code: $c) { code name } }', {"c": estate}),
        ('query($c: String!) { house(code: $c) { code } }', {"c": house}),
        ("{ places(level: ESTATE, first: 5) { totalCount edges { node { code } } } }", {}),
        ("{ places(level: HOUSE, first: 5) { totalCount edges { node { code } } } }", {}),
        ('query($t: String!) { search(text: $t) { code } }', {"t": estate[:9]}),
        ('query($c: String!) { stats(scope: $c, groupBy: ESTATE) { place { code } houses } }', {"c": CITY}),
        ('query($c: String!) { geo(scope: $c, level: ESTATE) { features { id } } }', {"c": CITY}),
        ('query($c: String!) { firm(code: $c) { code name } }', {"c": cast.firm}),
        ('query($c: String!) { firm(code: $c) { code name } }', {"c": NORTH_FIRM}),
        ('query($id: ID!) { node(id: $id) { id } }', {"id": relay_id("Estate", estate)}),
        ('query($c: String!) { cases(scope: $c, first: 50) { totalCount edges { node { id } } } }', {"c": CITY}),
        ('query($c: String!) { cases(scope: $c, first: 50) { totalCount edges { node { id } } } }', {"c": estate}),
        ('query($c: String!) { caseMetrics(scope: $c, groupBy: DISTRICT) { cases onSiteDue } }', {"c": CITY}),
        ('query($c: String!) { devices(scope: $c) { totalCount } alarms(scope: $c) { totalCount } }', {"c": CITY}),
        ('query($c: String!) { outages(scope: $c) { totalCount } }', {"c": CITY}),
        ("{ sharedQueries { name } }", {}),
        ('query($e: String!) { staff(employer: $e) { id } }', {"e": cast.firm}),
        ('query($id: ID!) { staffMember(id: $id) { id } }', {"id": STAFF_ID}),
        ('query($id: ID!) { staffMember(id: $id) { id } }', {"id": NORTH_STAFF}),
        (
            'query($r: [_Any!]!) { _entities(representations: $r) { ... on Case { id } ... on Estate { code } } }',
            {"r": [{"__typename": "Case", "id": CASE_STAFF}, {"__typename": "Case", "id": CASE_HOUSE}, {"__typename": "Estate", "code": estate}]},
        ),
    ]
    for query, variables in queries:
        body = secure_hub.post("staff", query, variables)
        data = body.get("data")
        if data is None:
            assert _errors(body), (query, body)
            continue
        if "_entities" in data:
            assert data["_entities"] == [None, None, None], body
            continue
        assert _empty(data), (query, body)
    refused = [
        ('{ owners(name: "梁师傅") { id } }', {}),
        ('query($c: String!) { connectorRuns(connector: $c) { totalCount } }', {"c": "secwater"}),
        ("{ votes(scope: \"370200\") { totalCount } }", {}),
        ('query($p: [String!]!) { fundTotals(places: $p) { accounts } }', {"p": [estate]}),
        ('query($n: String!) { runSharedQuery(name: $n, variables: {}) { data } }', {"n": "overdue-cases"}),
    ]
    for query, variables in refused:
        body = secure_hub.post("staff", query, variables)
        assert _errors(body) or _empty(body.get("data")), (query, body)
    assert world.places[estate].level == Level.ESTATE


def test_the_staff_role_acts_on_its_case_only(secure_hub: SecureHub) -> None:
    """Other cases answer as unknown to its steps; a position far from its case is refused with
    the distance; its own case it signs, reaches and resolves (one test: the steps are in order)."""
    for key in (CASE_HOUSE, CASE_NORTH_HOUSE, UNKNOWN_CASE):
        body = secure_hub.post("staff", ARRIVE, {"id": key, "lon": 120.38, "lat": 36.07})
        assert _errors(body) == [f"id: '{key}' is not a case you can see"], body
    assert secure_hub.data("staff", "mutation($id: ID!) { signCase(id: $id) { status } }", {"id": CASE_STAFF})["signCase"]["status"] == "SIGNED"
    far = secure_hub.post("staff", ARRIVE, {"id": CASE_STAFF, "lon": 120.40, "lat": 36.07})
    [message] = _errors(far)
    assert message.startswith("position: '120.4,36.07' is ") and "at most 300 m" in message
    arrived = secure_hub.data("staff", ARRIVE, {"id": CASE_STAFF, "lon": 120.3801, "lat": 36.0701})["arriveCase"]
    assert arrived["status"] == "IN_PROGRESS" and arrived["arrivedAt"]
    done = secure_hub.data("staff", 'mutation($id: ID!) { resolveCase(id: $id, note: "已修复") { status } }', {"id": CASE_STAFF})
    assert done["resolveCase"]["status"] == "RESOLVED"
    assert secure_hub.data("staff", REPORT)["reportPosition"] is True


def test_staff_steps_are_refused_to_every_other_role(secure_hub: SecureHub, role: Role) -> None:
    if role.name == "staff":
        return
    for query, variables in ((MY_CASES, {}), (ARRIVE, {"id": CASE_STAFF, "lon": 120.38, "lat": 36.07}), (REPORT, {})):
        body = secure_hub.post(role, query, variables)
        assert body["data"] is None and _errors(body) and all(m.startswith("forbidden") for m in _errors(body)), (role.name, body)


def test_nobody_may_share_a_query_with_staff(secure_hub: SecureHub) -> None:
    publish = (
        'mutation { publishSharedQuery(input: {name: "sec-staff-share", description: "x", '
        'document: "{ me { role } }", roles: [STAFF]}) { name } }'
    )
    body = secure_hub.post("city", publish)
    assert _errors(body) and "never shared with staff" in _errors(body)[0], body


async def test_my_case_updates_carry_its_own_cases_only(secure_hub: SecureHub) -> None:
    staff = secure_hub.roles["staff"]
    async with live(secure_hub.url) as client:
        assert (await client.init(staff.token))["type"] == "connection_ack"
        key = await client.subscribe("subscription { myCaseUpdates { kind case { id assignee place { code } } } }")
        for _ in range(100):
            if secure_hub.bus is not None and secure_hub.bus.listeners(Topic.CASES) >= 1:
                break
            await asyncio.sleep(0.02)
        assert secure_hub.bus is not None
        bus = secure_hub.bus

        async def publish() -> None:
            for case in (CASE_HOUSE, CASE_NORTH_HOUSE, CASE_STAFF):
                bus.publish(Event(Topic.CASES, case, "moved", secure_hub.world.cases[case]))

        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(publish(), secure_hub.loop))
        messages = await client.quiet(1.5)
    heard = [m["payload"]["data"]["myCaseUpdates"]["case"] for m in messages if m.get("id") == key and m["type"] == "next"]
    assert heard == [{"id": CASE_STAFF, "assignee": STAFF_ID, "place": None}], json.dumps(messages, ensure_ascii=False)[:500]
    other = secure_hub.roles["street"]
    async with live(secure_hub.url) as client:
        assert (await client.init(other.token))["type"] == "connection_ack"
        key = await client.subscribe("subscription { myCaseUpdates { kind } }")
        message = await client.receive(10)
        assert message["id"] == key and "forbidden: the street role may not follow assigned cases" in json.dumps(message), message
        assert message["type"] == "error" or not (message["payload"].get("data") or {}).get("myCaseUpdates"), message
    assert NORTH_ESTATE


# -- entering staff ----------------------------------------------------------------------------

SAVE = "mutation($m: StaffMemberInput!) { saveStaffMember(member: $m) { %s } }" % MEMBER_FIELDS
ENTERED_NUMBER = "37020219950303004" + resident_id_check_digit("37020219950303004")
NOT_AN_ESTATE = "370202999999E999"


def _entry(key: str, estates: list[str], employer: str | None = None, number: str = ENTERED_NUMBER) -> dict[str, Any]:
    """A steward without shifts (so no case the suite opens is ever assigned to it)."""
    return {"id": key, "employer": employer, "post": "steward", "name": "孔管家", "idNumber": number, "phone": "13600003333", "estates": estates}


def _learn(secure_hub: SecureHub, entered: dict[str, Any]) -> None:
    """Tell the world of a member a control entered (every later probe judges it)."""
    member = StaffMember(entered["id"], entered["employer"], Post.STEWARD, "孔管家", entered["idNumber"], entered["phone"], tuple(entered["estates"]))
    secure_hub.world.staff[member.id] = member
    secure_hub.world.staff_numbers[member.id_number] = member.id


def _stored(secure_hub: SecureHub, *keys: str) -> list[Any]:
    return list(secure_hub.run(secure_hub.store.staff(list(keys), EVERYTHING)))


def test_entering_staff_is_refused_to_every_role_but_the_firm_and_the_admin(secure_hub: SecureHub, role: Role) -> None:
    if role.name in ("admin", "property_firm"):
        return
    cast = secure_hub.cast
    key = f"SEC-ENTRY-{role.name.upper().replace('_', '-')}"
    for employer, estate in ((cast.firm, cast.estate), (NORTH_FIRM, NORTH_ESTATE), (cast.firm, NOT_AN_ESTATE)):
        body = secure_hub.post(role, SAVE, {"m": _entry(key, [estate], employer)})
        assert body["data"] is None and _errors(body) == [f"forbidden: the {role.name} role may not enter staff (a property firm its own, the admin any firm's)"], body
    assert _stored(secure_hub, key) == [None]


def test_a_firm_enters_its_own_staff_at_its_own_estates_only(secure_hub: SecureHub) -> None:
    world, cast = secure_hub.world, secure_hub.cast
    before = _stored(secure_hub, STAFF_ID, NORTH_STAFF, "SEC-ENTRY-FIRM")
    # another employer, whoever it is
    for employer in (NORTH_FIRM, cast.other_firm):
        body = secure_hub.post("property_firm", SAVE, {"m": _entry("SEC-ENTRY-FIRM", [cast.estate], employer)})
        assert _errors(body) == [f"member.employer: '{employer}' a property firm enters its own staff only"], body
    # an estate of another firm in 市南区, one in 市北区: answered as an estate that does not exist
    managed = world.managed(cast.firm)
    foreign = [min(code for code in world.managed(cast.other_firm) if code not in managed), NORTH_ESTATE]
    absent = secure_hub.post("property_firm", SAVE, {"m": _entry("SEC-ENTRY-FIRM", [cast.estate, NOT_AN_ESTATE])})
    for estate in foreign:
        body = secure_hub.post("property_firm", SAVE, {"m": _entry("SEC-ENTRY-FIRM", [cast.estate, estate])})
        assert json.dumps(body).replace(estate, "<E>") == json.dumps(absent).replace(NOT_AN_ESTATE, "<E>"), body
        assert _errors(body) == [f"member.estates[1]: '{estate}' is not an estate you can see"], body
    # a place of its own that is not an estate, and another firm's member's id
    building = min(code for code in world.subtree(cast.estate) if world.places[code].level == Level.BUILDING)
    assert _errors(secure_hub.post("property_firm", SAVE, {"m": _entry("SEC-ENTRY-FIRM", [building])})) == [f"member.estates[0]: '{building}' is not an estate you can see"]
    taken = secure_hub.post("property_firm", SAVE, {"m": _entry(NORTH_STAFF, [cast.estate])})
    assert _errors(taken) == [f"member.id: '{NORTH_STAFF}' is not an id you can use: another employer's member holds it"], taken
    assert _stored(secure_hub, STAFF_ID, NORTH_STAFF, "SEC-ENTRY-FIRM") == before
    # control: at its own estate, for itself; the answer whole to it and read back masked to the city
    entered = _entry("SEC-ENTRY-FIRM", [cast.estate], None)
    _learn(secure_hub, {**entered, "employer": cast.firm})
    saved = secure_hub.data("property_firm", SAVE, {"m": entered})["saveStaffMember"]
    assert (saved["employer"], saved["name"], saved["idNumber"], saved["estates"]) == (cast.firm, "孔管家", ENTERED_NUMBER, [cast.estate])
    masked = secure_hub.data("city", MEMBER, {"id": "SEC-ENTRY-FIRM"})["staffMember"]
    assert masked["name"] == "孔*" and masked["idNumber"] != ENTERED_NUMBER


def test_the_admin_enters_any_firms_staff_anywhere(secure_hub: SecureHub) -> None:
    number = "37020319960404005" + resident_id_check_digit("37020319960404005")
    entered = _entry("SEC-ENTRY-ADMIN", [NORTH_ESTATE], NORTH_FIRM, number)
    refused = secure_hub.post("admin", SAVE, {"m": {**entered, "estates": [NORTH_ESTATE, NOT_AN_ESTATE]}})
    assert _errors(refused) == [f"member.estates[1]: '{NOT_AN_ESTATE}' is not an estate you can see"]
    assert _stored(secure_hub, "SEC-ENTRY-ADMIN") == [None]
    _learn(secure_hub, entered)
    saved = secure_hub.data("admin", SAVE, {"m": entered})["saveStaffMember"]
    assert (saved["employer"], saved["idNumber"], saved["estates"]) == (NORTH_FIRM, number, [NORTH_ESTATE])
    assert secure_hub.data("property_firm", MEMBER, {"id": "SEC-ENTRY-ADMIN"})["staffMember"] is None
