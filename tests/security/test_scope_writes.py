"""Writes are held to the scope as reads are: no role writes at a place, an address or a point
outside its scope, and the refusal reads the same as for one that does not exist.

`PROBES` is the table: every way a write names where it lands — `openCase` (a place of each
level it takes, a point alone, a point beside a place), `registerDevice` (a place, a position
beside it), the places a shared query is shared with (`publishSharedQuery`), the place of a
vote (`organiseVote`, an estate or an entrance), the estate of a first-meeting step
(`recordMeetingStep`), the house a ballot or a proxy is for (`castBallot`, `registerProxy`, in the
suite's open vote), the estates a member of staff works in (`saveStaffMember`), and Open311's
`POST requests.json` (`address_id`, `address_string`, `lat`/`long` alone and beside an
`address_id`) — and every role sends each of them twice: naming something outside its scope (a
sibling in 市南区, something in 市北区, a point inside a foreign estate's outline, an address the
hub matches to a foreign house) and naming something that does not exist (a well-formed code of
nothing, a point in no outline, an address that matches nothing). The two whole answers, status
and body, must be the same once the value sent is blanked out, and nothing may be stored.

`WRITE_ARGUMENTS` lists every mutation argument that names a place or a point; a test walks the
schema's mutations and fails when one takes such an argument (by its name or its type) that the
table does not probe, so a mutation added later is held to the same rule (graph.reach).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import pytest

from connectors.cityops.linking import Linked, PlaceLinker
from graph.cases import Point
from graph.codes import resident_id_check_digit
from graph.geo import PlaceLocator
from graph.levels import Level
from graph.reach import point_text
from graph.scope import Scope
from tests.security.conftest import (
    NORTH_ENTRANCE,
    NORTH_ESTATE,
    NORTH_FIRM,
    NORTH_HOUSES,
    NORTH_STREET,
    SHARED_OWNER,
    SecureHub,
)
from tests.security.test_scope import UNKNOWN
from tests.security.world import Role

EVERYTHING = Scope.everything()

WRITE_ARGUMENTS: dict[str, frozenset[str]] = {
    "openCase": frozenset({"input.place", "input.point"}),
    "registerDevice": frozenset({"input.place", "input.lon", "input.lat"}),
    "publishSharedQuery": frozenset({"input.organisations"}),
    "organiseVote": frozenset({"input.place"}),
    "recordMeetingStep": frozenset({"estate"}),
    "castBallot": frozenset({"house"}),
    "registerProxy": frozenset({"house"}),
    "raiseRepairProject": frozenset({"project.part"}),
    "enterRevenue": frozenset({"estate"}),
    "reverseRevenue": frozenset({"estate"}),
    "confirmRevenue": frozenset({"estate"}),
    "objectRevenue": frozenset({"estate"}),
    "publishFundPeriod": frozenset({"estate"}),
    "foundPartyOrganisation": frozenset({"organisation.place"}),
    "saveStaffMember": frozenset({"member.estates"}),
}
"""Every argument of a mutation that names a place or a point, dotted through input types."""
KEPT_AS_TEXT: dict[str, frozenset[str]] = {"openCase": frozenset({"input.address"})}
STAFF_POSITIONS: dict[str, frozenset[str]] = {"arriveCase": frozenset({"position"}), "reportPosition": frozenset({"position"})}
"""Where a member of staff says it is: checked against its own case's point (arriveCase) or kept
as its last position (reportPosition); no write lands at a place by them, and only the staff role
may send them (tests/security/test_scope_staff.py probes both)."""
WHERE_DONE: dict[str, frozenset[str]] = {"recordMaintenance": frozenset({"lon", "lat"})}
"""Where a maintenance was done: the write lands on the facility (by its code, held to the
recorder's contract or scope), and the point is checked against that facility's estate, never
resolved to a place (tests/security/test_scope_facilities.py and tests/graph/test_facilities_service.py)."""
NOT_PLACES: dict[str, frozenset[str]] = {"recordPart": frozenset({"part"})}
"""Arguments named like a place word that are not one: the part replaced in a facility (部件)."""
"""Place-like arguments kept as the caller's words and never resolved to a place (the address
of a case as told): they decide nothing about where a write lands."""
PLACE_WORDS = frozenset({
    "place", "places", "point", "points", "lon", "lat", "long", "location", "scope", "within",
    "organisations", "address", "addressId", "city", "district", "street", "community", "estate",
    "building", "entrance", "house", "part", "estates",
})
"""Argument names that say a place or a point (as do arguments of a point's input type)."""
POINT_TYPES = frozenset({"GeoPointInput"})
VOTE_REFUSALS = {
    "registerProxy": ("only the vote's organiser", "is not in this vote's electorate"),
}
"""A house named for a ballot or a proxy is held to the vote's electorate, not only to the scope:
how a whole city's caller is refused a house that does not exist."""
FUND_REFUSALS = {
    "publishFundPeriod": ("is not an estate you can see",),
}
"""How a whole city's publisher is refused an estate that does not exist."""
STAFF_REFUSALS = {
    "saveStaffMember": ("is not an estate you can see",),
}
"""How the admin is refused a member of staff at an estate that does not exist."""

NOWHERE = Point(100.0, 30.0)
"""A point in no outline the hub holds (in Sichuan)."""
FOREIGN_ADDRESS = "青岛市市北区北岭测试花园1号楼1单元201室"
"""The hub matches it to the second 市北区 house."""
NOWHERE_ADDRESS = "青岛市市北区无此花园9号楼9单元909"
TITLE = "越界写入测试"
CASES_DOCUMENT = "query($scope: String!) { cases(scope: $scope, first: 5) { totalCount } }"
OPEN_CASE = "mutation($input: OpenCaseInput!) { openCase(input: $input) { id place { code } } }"
REGISTER = "mutation($input: DeviceInput!) { registerDevice(input: $input) { code place { code } } }"
PUBLISH = "mutation($input: PublishSharedQueryInput!) { publishSharedQuery(input: $input) { name } }"
ORGANISE = "mutation($input: OrganiseVoteInput!) { organiseVote(input: $input) { id placeCode } }"
STEP = "mutation($estate: String!) { recordMeetingStep(estate: $estate, kind: GROUP_FORMED) { estateCode } }"
CAST = 'mutation($vote: ID!, $house: String!) { castBallot(vote: $vote, house: $house, choices: [{item: 1, choice: "for"}]) { houseCode } }'
PROXY = 'mutation($vote: ID!, $house: String!, $delegate: String!) { registerProxy(vote: $vote, house: $house, delegate: $delegate, reference: "越界委托") { houseCode } }'
FOUND = "mutation($organisation: PartyOrganisationInput!) { foundPartyOrganisation(organisation: $organisation) { id } }"
RAISE = "mutation($project: RepairProjectInput!) { raiseRepairProject(project: $project) { id part } }"
ENTER = 'mutation($estate: String!) { enterRevenue(estate: $estate, entries: [{kind: COST, amountFen: 100, costItem: "越界成本"}]) { index } }'
REVERSE = "mutation($estate: String!) { reverseRevenue(estate: $estate, index: 0) { index } }"
CONFIRM = "mutation($estate: String!) { confirmRevenue(estate: $estate, index: 0) { index } }"
OBJECT = 'mutation($estate: String!) { objectRevenue(estate: $estate, index: 0, reason: "越界异议") { index } }'
SAVE_STAFF = "mutation($member: StaffMemberInput!) { saveStaffMember(member: $member) { id estates } }"
STAFF_ID_NUMBER = "37020219850505003" + resident_id_check_digit("37020219850505003")
PUBLISH_PERIOD = 'mutation($estate: String!) { publishFundPeriod(estate: $estate, period: "2025-12") { size } }'
FUND_WRITES = {"enterRevenue": ENTER, "reverseRevenue": REVERSE, "confirmRevenue": CONFIRM, "objectRevenue": OBJECT, "publishFundPeriod": PUBLISH_PERIOD}


@dataclass(frozen=True)
class Probe:
    """One way a write names where it lands: the write, the arguments it probes, and the level
    of the codes sent (None: a point or an address is sent); `beside` sends the value next to a
    place of the role's own."""

    write: str
    arguments: frozenset[str]
    level: Level | None = None
    beside: bool = False

    def __str__(self) -> str:
        where = "+".join(sorted(self.arguments))
        return f"{self.write}:{where}" + (f":{self.level.name.lower()}" if self.level else "") + (":beside" if self.beside else "")


PROBES = [
    Probe("openCase", frozenset({"input.place"}), Level.ESTATE),
    Probe("openCase", frozenset({"input.place"}), Level.HOUSE),
    Probe("openCase", frozenset({"input.point"})),
    Probe("openCase", frozenset({"input.point"}), beside=True),
    Probe("registerDevice", frozenset({"input.place"}), Level.ESTATE),
    Probe("registerDevice", frozenset({"input.place"}), Level.ENTRANCE),
    Probe("registerDevice", frozenset({"input.lon", "input.lat"}), beside=True),
    Probe("publishSharedQuery", frozenset({"input.organisations"}), Level.STREET),
    Probe("publishSharedQuery", frozenset({"input.organisations"}), Level.ESTATE),
    Probe("organiseVote", frozenset({"input.place"}), Level.ESTATE),
    Probe("organiseVote", frozenset({"input.place"}), Level.ENTRANCE),
    Probe("recordMeetingStep", frozenset({"estate"}), Level.ESTATE),
    Probe("castBallot", frozenset({"house"}), Level.HOUSE),
    Probe("registerProxy", frozenset({"house"}), Level.HOUSE),
    Probe("raiseRepairProject", frozenset({"project.part"}), Level.ESTATE),
    Probe("raiseRepairProject", frozenset({"project.part"}), Level.ENTRANCE),
    Probe("enterRevenue", frozenset({"estate"}), Level.ESTATE),
    Probe("reverseRevenue", frozenset({"estate"}), Level.ESTATE),
    Probe("confirmRevenue", frozenset({"estate"}), Level.ESTATE),
    Probe("objectRevenue", frozenset({"estate"}), Level.ESTATE),
    Probe("publishFundPeriod", frozenset({"estate"}), Level.ESTATE),
    Probe("foundPartyOrganisation", frozenset({"organisation.place"}), Level.STREET),
    Probe("saveStaffMember", frozenset({"member.estates"}), Level.ESTATE),
    Probe("open311", frozenset({"address_id"}), Level.ESTATE),
    Probe("open311", frozenset({"address_id"}), Level.HOUSE),
    Probe("open311", frozenset({"address_string"})),
    Probe("open311", frozenset({"lat", "long"})),
    Probe("open311", frozenset({"lat", "long"}), beside=True),
]
NORTH_OF = {Level.STREET: NORTH_STREET, Level.ESTATE: NORTH_ESTATE, Level.ENTRANCE: NORTH_ENTRANCE, Level.HOUSE: NORTH_HOUSES[1]}


# -- the table covers every mutation that names a place -------------------------------------

TYPE_REF = "kind name ofType { kind name ofType { kind name ofType { kind name } } }"


def _named(reference: dict[str, Any]) -> str:
    while reference.get("ofType"):
        reference = reference["ofType"]
    return str(reference["name"])


def place_arguments(secure_hub: SecureHub) -> dict[str, set[str]]:
    """Mutation → its arguments (dotted through input types) that name a place or a point."""
    schema = secure_hub.data(
        "admin",
        f"{{ __schema {{ mutationType {{ fields {{ name args {{ name type {{ {TYPE_REF} }} }} }} }} "
        f"types {{ name kind inputFields {{ name type {{ {TYPE_REF} }} }} }} }} }}",
    )["__schema"]
    inputs = {item["name"]: item["inputFields"] for item in schema["types"] if item["kind"] == "INPUT_OBJECT"}
    found: dict[str, set[str]] = {}

    def walk(mutation: str, fields: list[dict[str, Any]], prefix: str, seen: frozenset[str]) -> None:
        for item in fields:
            path, named = prefix + item["name"], _named(item["type"])
            if item["name"] in PLACE_WORDS or named in POINT_TYPES:
                found.setdefault(mutation, set()).add(path)
            elif named in inputs and named not in seen:
                walk(mutation, inputs[named], path + ".", seen | {named})

    for mutation in schema["mutationType"]["fields"]:
        walk(mutation["name"], mutation["args"], "", frozenset())
    return found


def test_every_mutation_naming_a_place_or_point_is_probed(secure_hub: SecureHub) -> None:
    """A mutation that takes a place, an address or a point fails here until the table probes
    it (and the write goes through graph.reach), and the table probes what it declares."""
    tables = (WRITE_ARGUMENTS, KEPT_AS_TEXT, STAFF_POSITIONS, WHERE_DONE, NOT_PLACES)
    declared = {name: set().union(*(table.get(name, frozenset()) for table in tables)) for name in set().union(*tables)}
    assert place_arguments(secure_hub) == declared
    for mutation, arguments in WRITE_ARGUMENTS.items():
        probed: set[str] = set()
        for probe in PROBES:
            if probe.write == mutation:
                probed |= probe.arguments
        assert probed == arguments, mutation
    assert {probe.write for probe in PROBES} == set(WRITE_ARGUMENTS) | {"open311"}


def test_the_walker_finds_place_arguments_by_name_and_by_type(secure_hub: SecureHub) -> None:
    """The check above catches what it is there to catch: openCase's place and point (its
    GeoPointInput), registerDevice's lon and lat, and nothing of the mutations naming cases."""
    found = place_arguments(secure_hub)
    assert {"input.place", "input.point"} <= found["openCase"] and {"input.lon", "input.lat"} <= found["registerDevice"]
    for mutation in ("moveCase", "dispatchCase", "ackAlarm", "runConnector", "withdrawSharedQuery", "setSafelist"):
        assert mutation not in found


# -- where each role may not write ------------------------------------------------------------


@pytest.fixture(scope="module")
def located(secure_hub: SecureHub) -> dict[str, Point]:
    """Estate → a point inside its outline that the hub's locator places in that estate."""
    world = secure_hub.world
    from shapely.geometry import shape

    async def locate() -> dict[str, Point]:
        locator = PlaceLocator(secure_hub.store)
        found: dict[str, Point] = {}
        for code in world.at(Level.ESTATE):
            geometry = world.places[code].geometry
            if geometry is None:
                continue
            inside = shape(geometry).representative_point()
            point = Point(round(inside.x, 6), round(inside.y, 6))
            if await locator.place_at(point) == code:
                found[code] = point
        assert await locator.place_at(NOWHERE) is None
        return found

    points: dict[str, Point] = secure_hub.run(locate())
    assert NORTH_ESTATE in points
    return points


@pytest.fixture(scope="module")
def addresses(secure_hub: SecureHub) -> None:
    """The addresses the probes send lead where the suite says they do."""

    async def link() -> tuple[object, object]:
        linker = PlaceLinker(secure_hub.store)
        return await linker.by_address(FOREIGN_ADDRESS), await linker.by_address(NOWHERE_ADDRESS)

    foreign, nowhere = secure_hub.run(link())
    assert isinstance(foreign, Linked) and foreign.place_code == NORTH_HOUSES[1], foreign
    assert not isinstance(nowhere, Linked), nowhere


def _outside(secure_hub: SecureHub, role: Role, level: Level) -> list[str]:
    """Codes of `level` the role may not read (nor stands under): the nearest sibling in 市南区
    and the one in 市北区."""
    world = secure_hub.world
    above = role.above_scope(world)
    pool = [code for code in world.at(level) if code not in role.places and code not in above]
    near = [code for code in pool if not code.startswith(NORTH_STREET[:6])]
    chosen = [min(near, key=lambda code: (-_common(code, role), code))] if near else []
    if NORTH_OF[level] in pool:
        chosen.append(NORTH_OF[level])
    return chosen


def _common(code: str, role: Role) -> int:
    return max((next((i for i, (a, b) in enumerate(zip(code, root)) if a != b), min(len(code), len(root))) for root in role.roots), default=0)


def _own(secure_hub: SecureHub, role: Role) -> str:
    """A place of the role's own a write may name: its house (an owner), else the cast's estate;
    the staff role has none, so its writes name an estate that does not exist beside the probe."""
    if role.name == "staff":
        return UNKNOWN[Level.ESTATE]
    cast = secure_hub.cast
    return cast.house if role.name == "owner" else cast.estate


def _pairs(secure_hub: SecureHub, role: Role, probe: Probe, located: dict[str, Point]) -> list[tuple[Any, Any]]:
    """(outside the scope, nothing) value pairs for the probe and role."""
    if probe.level is not None:
        unknown = UNKNOWN[probe.level]
        assert unknown not in secure_hub.world.places
        return [(code, unknown) for code in _outside(secure_hub, role, probe.level)]
    if probe.arguments == frozenset({"address_string"}):
        return [(FOREIGN_ADDRESS, NOWHERE_ADDRESS)] if NORTH_HOUSES[1] not in role.places else []
    above = role.above_scope(secure_hub.world)
    foreign = [code for code in sorted(located) if code not in role.places and code not in above]
    chosen = {code for code in (foreign[:1] + [NORTH_ESTATE]) if code in foreign}
    return [(located[code], NOWHERE) for code in sorted(chosen)]


def _attempt(secure_hub: SecureHub, role: Role, probe: Probe, value: Any, tag: str) -> dict[str, Any]:
    """Send the write with `value` where the probe says; the whole answer (status and body)."""
    own = _own(secure_hub, role)
    if probe.write == "open311":
        form: dict[str, str] = {"service_code": "repair", "description": TITLE}
        if probe.level is not None:
            form["address_id"] = value
        elif probe.arguments == frozenset({"address_string"}):
            form["address_string"] = value
        else:
            form.update(lat=str(value.lat), long=str(value.lon))
            if probe.beside:
                form["address_id"] = own
        response = secure_hub.client.post(
            "/open311/v2/requests.json", data=form, headers={"authorization": f"Bearer {role.token}"}
        )
        return {"status": response.status_code, "body": response.json()}
    variables: dict[str, Any]
    if probe.write == "openCase":
        fields: dict[str, Any] = {"title": TITLE, "category": "REPAIR"}
        if probe.level is not None:
            fields["place"] = value
        else:
            fields["point"] = {"lon": value.lon, "lat": value.lat}
            if probe.beside:
                fields["place"] = own
        query, variables = OPEN_CASE, {"input": fields}
    elif probe.write == "registerDevice":
        device: dict[str, Any] = {"code": f"SEC-W-{tag}", "type": "MANHOLE_COVER", "model": TITLE, "interval": 300}
        if probe.level is not None:
            device["place"] = value
        else:
            device.update(place=secure_hub.cast.estate, lon=value.lon, lat=value.lat)
        query, variables = REGISTER, {"input": device}
    elif probe.write == "publishSharedQuery":
        query = PUBLISH
        variables = {"input": {"name": f"sec-w-{tag.lower()}", "document": CASES_DOCUMENT, "organisations": [value]}}
    elif probe.write == "organiseVote":
        opens = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(days=2)
        query, variables = ORGANISE, {"input": {
            "place": value, "title": TITLE, "recordDate": (opens + dt.timedelta(hours=8)).date().isoformat(),
            "opensAt": opens.isoformat(), "closesAt": (opens + dt.timedelta(days=7)).isoformat(),
            "items": [{"klass": 9, "form": "MOTION", "title": TITLE}],
        }}
    elif probe.write == "recordMeetingStep":
        query, variables = STEP, {"estate": value}
    elif probe.write == "raiseRepairProject":
        query, variables = RAISE, {"project": {
            "id": f"SEC-W-{tag}", "part": value, "title": TITLE, "budgetFen": 10_000, "authority": "EMERGENCY",
            "authorityRef": TITLE, "emergency": "ROOF",
        }}
    elif probe.write == "foundPartyOrganisation":
        # a firm's organisation sits in the street overseeing it (属地): the firm founds its own,
        # an office one for the suite's firm of 市北区
        host = None if role.name == "property_firm" else NORTH_FIRM
        query, variables = FOUND, {"organisation": {
            "id": f"SEC-W-{tag}", "name": TITLE, "kind": "BRANCH", "hostKind": "FIRM", "host": host,
            "place": value, "foundedOn": "2026-01-01",
        }}
    elif probe.write == "saveStaffMember":
        # a firm enters its own staff (employer left out), the admin the 市北区 firm's; the
        # estates: the role's own estate beside the one probed
        employer = None if role.name == "property_firm" else NORTH_FIRM
        query, variables = SAVE_STAFF, {"member": {
            "id": f"SEC-W-{tag}", "employer": employer, "post": "steward", "name": "越界管家", "idNumber": STAFF_ID_NUMBER,
            "estates": [secure_hub.cast.estate, value],
        }}
    elif probe.write in FUND_WRITES:
        query, variables = FUND_WRITES[probe.write], {"estate": value}
    else:
        polls = secure_hub.cast.polls
        assert polls is not None
        variables = {"vote": polls.open_vote, "house": value}
        query = CAST
        if probe.write == "registerProxy":
            query, variables = PROXY, {**variables, "delegate": SHARED_OWNER}
    return {"status": 200, "body": secure_hub.post(role, query, variables)}


def _blanked(answer: dict[str, Any], value: Any) -> str:
    text = json.dumps(answer, ensure_ascii=False, sort_keys=True)
    return text.replace(point_text(value) if isinstance(value, Point) else str(value), "<WHERE>")


def _stored(secure_hub: SecureHub, tag: str) -> tuple[Any, ...]:
    """What a refused write could have left: cases, the probe's device and shared query, votes,
    first-meeting steps, the suite's open vote's board and proxies, repair projects, the fund
    and revenue journals (with their published heads) of the estates of 市北区 and the probe's
    targets, the probe's party organisation and member of staff."""
    store = secure_hub.store
    cases = sorted(case.id for case in secure_hub.run(store.case_page(EVERYTHING, 500)).items)
    polls = secure_hub.cast.polls
    assert polls is not None
    votes = sorted(vote.id for vote in secure_hub.run(store.vote_page(EVERYTHING, 500)).items)
    steps = secure_hub.run(store.meetings_under(secure_hub.world.at(Level.CITY)[0], EVERYTHING))
    board = secure_hub.run(store.log_size(f"vote:{polls.open_vote}"))
    houses = sorted(secure_hub.world.houses_under(secure_hub.world.votes[polls.open_vote].place))
    proxies = secure_hub.run(store.proxies(polls.open_vote, houses))
    projects = sorted(project.id for project in secure_hub.run(store.project_page(EVERYTHING, 500)).items)
    journals = [f"{kind}:{estate}" for estate in secure_hub.world.at(Level.ESTATE) for kind in ("fund", "revenue")]

    async def journals_now() -> list[tuple[int, int]]:
        return [(await store.log_size(log), len(await store.log_heads(log))) for log in journals]

    books = secure_hub.run(journals_now())
    organisations = secure_hub.run(store.party_organisations([f"SEC-W-{tag}"], EVERYTHING))
    staff = secure_hub.run(store.staff([f"SEC-W-{tag}"], EVERYTHING))
    return (
        cases, secure_hub.run(store.devices([f"SEC-W-{tag}"], EVERYTHING)), secure_hub.run(store.shared_versions(f"sec-w-{tag.lower()}")),
        votes, steps, board, proxies, projects, books, organisations, staff,
    )


@pytest.mark.parametrize("probe", PROBES, ids=str)
def test_a_write_outside_the_scope_answers_as_one_at_nothing(
    secure_hub: SecureHub, role: Role, probe: Probe, located: dict[str, Point], addresses: None
) -> None:
    tag = f"{role.name}-{PROBES.index(probe):02d}".replace("_", "-").upper()
    before = _stored(secure_hub, tag)
    pairs = _pairs(secure_hub, role, probe, located)
    if not pairs:
        # nothing in the store lies outside a whole city's scope: a code of nothing is refused all
        # the same (points and addresses that lead nowhere land at no place, tested below)
        assert role.name in ("admin", "city"), (role.name, probe)
        if probe.level is None:
            return
        answer = _attempt(secure_hub, role, probe, UNKNOWN[probe.level], tag)
        refusal = json.dumps(answer, ensure_ascii=False)
        refused = ("is not a place you can see", "may not", *VOTE_REFUSALS.get(probe.write, ()), *FUND_REFUSALS.get(probe.write, ()), *STAFF_REFUSALS.get(probe.write, ()))
        assert any(text in refusal for text in refused), answer
    for outside, nothing in pairs:
        foreign = _attempt(secure_hub, role, probe, outside, tag)
        absent = _attempt(secure_hub, role, probe, nothing, tag)
        assert _blanked(foreign, outside) == _blanked(absent, nothing), (str(outside), foreign, absent)
        assert foreign["status"] in (200, 400), foreign
        refusal = json.dumps(foreign["body"], ensure_ascii=False)
        assert foreign["status"] == 400 or foreign["body"].get("data") is None, foreign
        # the refusal names at most what was sent: never the place the hub found for it
        for found in (NORTH_ESTATE, NORTH_HOUSES[1], *sorted(located)):
            assert found not in refusal or found == str(outside), (found, refusal)
    assert _stored(secure_hub, tag) == before


# -- where each role may write ------------------------------------------------------------------


def _learned(secure_hub: SecureHub, case_id: str) -> str | None:
    """Tell the world of a case a control opened (every later probe counts it)."""
    [case] = secure_hub.run(secure_hub.store.cases([case_id], EVERYTHING))
    assert case is not None
    secure_hub.world.cases[case_id] = case.place_code
    secure_hub.world.case_firms[case_id] = case.firm_code
    return case.place_code


def test_each_role_writes_at_its_own_places_and_points_beside_them(
    secure_hub: SecureHub, role: Role, located: dict[str, Point]
) -> None:
    """Control: the same writes at the role's own place, with a point in the estate around it,
    are taken, so the refusals above are about scope. (The staff role has no place: its writes
    are refused everywhere, above and in test_scope_staff.py.)"""
    if role.name == "staff":
        pytest.skip("the staff role has no place of its own to write at")
    own = _own(secure_hub, role)
    estate = secure_hub.cast.estate
    body = secure_hub.post(role, OPEN_CASE, {"input": {"title": TITLE, "category": "REPAIR", "place": own, "point": {"lon": located[estate].lon, "lat": located[estate].lat}}})
    assert not body.get("errors"), body
    assert _learned(secure_hub, body["data"]["openCase"]["id"]) == own
    response = secure_hub.client.post(
        "/open311/v2/requests.json",
        data={"service_code": "repair", "address_id": own, "lat": str(located[estate].lat), "long": str(located[estate].lon)},
        headers={"authorization": f"Bearer {role.token}"},
    )
    assert response.status_code == 201, response.text
    [created] = response.json()
    assert created["service_notice"] == "已受理" and _learned(secure_hub, created["service_request_id"]) == own


def test_a_point_alone_in_scope_lands_at_its_estate(secure_hub: SecureHub, located: dict[str, Point]) -> None:
    """Control: a point alone inside an estate the role reads opens the case there."""
    estate = secure_hub.cast.estate
    for name in ("committee", "property_firm", "community"):
        point = located[estate]
        body = secure_hub.data(name, OPEN_CASE, {"input": {"title": TITLE, "category": "REPAIR", "point": {"lon": point.lon, "lat": point.lat}}})
        assert body["openCase"]["place"]["code"] == estate
        _learned(secure_hub, body["openCase"]["id"])


@pytest.mark.parametrize("name", ["admin", "city"])
def test_a_whole_city_writes_where_nothing_is(secure_hub: SecureHub, name: str) -> None:
    """A scope holding a whole city reads what has no place, and so may write there: a point
    or an address that leads nowhere opens a case linked to no place, for hand dispatch."""
    body = secure_hub.data(name, OPEN_CASE, {"input": {"title": TITLE, "category": "REPAIR", "point": {"lon": NOWHERE.lon, "lat": NOWHERE.lat}}})
    assert body["openCase"]["place"] is None
    assert _learned(secure_hub, body["openCase"]["id"]) is None
    response = secure_hub.client.post(
        "/open311/v2/requests.json",
        data={"service_code": "repair", "address_string": NOWHERE_ADDRESS},
        headers={"authorization": f"Bearer {secure_hub.roles[name].token}"},
    )
    assert response.status_code == 201, response.text
    [created] = response.json()
    assert "人工分拨" in created["service_notice"] and _learned(secure_hub, created["service_request_id"]) is None
