"""No role reads outside its scope, by any root field or nested path.

Every query here goes through `SecureHub.post`, which walks the answer's data and fails on any
place, owner or firm the role may not see (codes, parcel codes, Relay ids, cursors, owner ids,
credit codes, ID numbers), so each test is a leak probe even where it asserts something else.
Objects outside a scope must behave exactly as objects that do not exist: the whole answer for a
foreign code is compared with the answer for a well-formed code that names nothing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from graph.codes import credit_check_character, resident_id_check_digit
from graph.levels import Level
from graph.scope import Scope
from tests.security.conftest import (
    CITY,
    DISTRICT,
    NORTH,
    NORTH_ESTATE,
    NORTH_ESTATE_NAME,
    NORTH_FIRM,
    NORTH_HOUSES,
    NORTH_OWNER,
    NORTH_PARCEL,
    ROLE_NAMES,
    SHARED_OWNER,
    STREET,
    SecureHub,
)
from tests.security.world import RELAY_PLACE_TYPES, Role, World, cursor_of, leaks, masked_name, relay_id

UNKNOWN = {
    Level.CITY: "370100",
    Level.DISTRICT: "370299",
    Level.STREET: "370202099",
    Level.COMMUNITY: "370202001099",
    Level.ESTATE: "370202001001E099",
    Level.BUILDING: "370202001001GB99999F0001",
    Level.ENTRANCE: "370202001001GB99999F000101",
    Level.HOUSE: "370202001001GB99999F00010001",
}
"""Well-formed codes of each level that name nothing in the store."""
UNKNOWN_FIRM = "91370202MA00000X1" + credit_check_character("91370202MA00000X1")
UNKNOWN_OWNER = "OW0000000000000000"
UNKNOWN_ID_NUMBER = "11010519491231002" + resident_id_check_digit("11010519491231002")

PLACE = "fragment P on Place { id code name level }"
DEEP = """
fragment Deep on Place {
  ...P
  parent { ...P }
  ancestors { ...P }
  children(first: 20) {
    totalCount
    edges { cursor node { ...P } }
    pageInfo { startCursor endCursor hasNextPage hasPreviousPage }
  }
  stats { houses floorArea owners estates buildings }
}
"""
OWNER = "fragment O on Owner { id kind name idNumber phone }"
FIRM = "fragment F on PropertyFirm { id code name phone }"
STATS = "houses floorArea owners estates buildings place { ...P }"
CONNECTION = """
  totalCount
  edges { cursor node { ...P } }
  pageInfo { startCursor endCursor hasNextPage hasPreviousPage }
"""


def test_the_world_is_the_store(secure_hub: SecureHub) -> None:
    """The suite's own account of the city is what the store holds, place for place (read with
    an unlimited scope), so what it expects each role to see is about the places the hub serves."""
    world, store, everything = secure_hub.world, secure_hub.store, Scope.everything()

    async def every(level: Level) -> list[str]:
        codes: list[str] = []
        after = None
        while True:
            page = await store.subtree(level, None, everything, 500, after)
            codes += [place.code for place in page.items]
            if not page.has_next:
                return codes
            after = page.end_cursor

    for level in Level:
        assert secure_hub.run(every(level)) == world.at(level), level
    assert world.at(Level.DISTRICT) == [DISTRICT, NORTH]
    parents = secure_hub.run(store.places(sorted(world.places), everything))
    assert all(place is not None and place.parent_code == world.places[place.code].parent_code for place in parents)


def test_every_role_sees_its_own_scope_and_not_the_others(secure_hub: SecureHub) -> None:
    """The scopes the suite built are what the issue asks for and overlap as intended."""
    roles, cast, world = secure_hub.roles, secure_hub.cast, secure_hub.world
    assert roles["admin"].places == roles["city"].places == frozenset(world.places)
    assert NORTH_ESTATE not in roles["district"].places
    assert roles["street"].places < roles["district"].places
    assert roles["community"].places < roles["street"].places
    assert cast.estate in roles["property_firm"].places and cast.estate in roles["community"].places
    assert roles["committee"].places < roles["community"].places
    assert cast.house in roles["owner"].places and cast.house in roles["committee"].places
    assert roles["owner"].places <= {code for code in world.places if world.places[code].level == Level.HOUSE}
    # the shared owner holds a house in 市北区 and one in the committee's estate
    assert world.holdings(SHARED_OWNER) == {cast.shared_house, NORTH_HOUSES[0]}
    assert SHARED_OWNER in roles["street"].owners and NORTH_OWNER not in roles["street"].owners
    assert NORTH_FIRM not in roles["district"].firms and NORTH_FIRM in roles["city"].firms


def test_the_leak_walker_catches_every_spelling(secure_hub: SecureHub) -> None:
    """The check every query of the suite passes through does catch what it is there to catch:
    a foreign place by code, Relay id, cursor or parcel, a foreign owner or firm, an ID number,
    a place above the scope, and personal data masked (or not) against the role."""
    world, roles, cast = secure_hub.world, secure_hub.roles, secure_hub.cast
    street = roles["street"]
    caught = [
        {"code": NORTH_ESTATE},
        {"id": relay_id("Estate", NORTH_ESTATE)},
        {"edges": [{"cursor": cursor_of(NORTH_ESTATE)}]},
        {"parcelCodes": [NORTH_PARCEL]},
        {"firm": {"code": NORTH_FIRM}},
        {"node": {"id": relay_id("PropertyFirm", NORTH_FIRM)}},
        ["x", {"deep": [NORTH_OWNER]}],
        {"idNumber": world.owners[NORTH_OWNER].id_number},
        {"ancestors": [{"code": DISTRICT}]},
        {"owner": {"id": relay_id("Owner", cast.owner), "name": masked_name(world.owners[cast.owner].name)}},
    ]
    for sample in caught:
        assert leaks(world, street, sample), sample
    owner = world.owners[cast.owner]
    assert leaks(world, roles["city"], {"id": relay_id("Owner", owner.id), "name": owner.name})
    assert leaks(world, roles["city"], {"idNumber": owner.id_number})
    assert leaks(world, roles["owner"], {"id": relay_id("Owner", cast.co_owner), "name": world.owners[cast.co_owner].name})
    fine = {
        "code": STREET,
        "id": relay_id("Street", STREET),
        "cursor": cursor_of(STREET),
        "owner": {"id": relay_id("Owner", owner.id), "name": owner.name, "idNumber": owner.id_number},
    }
    assert leaks(world, street, fine) == []
    assert leaks(world, roles["city"], {"id": relay_id("Owner", owner.id), "name": masked_name(owner.name)}) == []


PROBED_ROOT_FIELDS = {"place", "house", "places", "search", "levels", "stats", "geo", "firm", "owners", "node", "nodes"} | {
    # probed in tests/security/test_scope_cases_utilities.py
    "cases", "case", "outages", "connectors", "connectorRuns", "deadLetters",
} | {
    # probed in tests/security/test_scope_devices.py
    "devices", "device", "alarms", "alarm",
} | {
    # probed in tests/security/test_scope_cases_utilities.py (the case workflow)
    "caseMetrics",
} | {
    # probed in tests/security/test_scope_shared.py (shared queries)
    "sharedQuery", "sharedQueries", "runSharedQuery",
} | {
    # probed in tests/security/test_scope_map.py (the map page)
    "me",
} | {
    # probed in tests/security/test_scope_federation.py (Apollo Federation v2)
    "_entities", "_service",
} | {
    # probed in tests/security/test_scope_questions.py (graph questions)
    "impact", "path",
} | {
    # probed in tests/security/test_scope_votes.py (owners' votes)
    "votes", "myVotes", "vote", "bulletin", "inclusionProof", "consistencyProof", "committees", "firstMeeting", "governance",
} | {
    # probed in tests/security/test_scope_funds.py (the owners' money)
    "fundAccount", "fundStatement", "fundHeads", "fundConsistency", "fundTotals", "fundEstates", "repairProject",
    "repairProjects", "revenueEntries", "revenueUnconfirmed",
} | {
    # probed in tests/security/test_scope_party.py (party building)
    "partyOrganisations", "partyOrganisation", "partyClaims", "partyFigures", "partyEstates",
    # probed in tests/security/test_scope_facilities.py (facilities' life records)
    "facility", "facilities",
    # probed in tests/security/test_scope_credit.py (firms' credit)
    "firmScores",
    # probed in tests/security/test_scope_staff.py (staff of firms, the staff role)
    "staffMember", "staff", "myCases",
}
"""The root fields this suite probes (`levels` is the same for everyone and reads no store)."""
PROBED_MUTATION_FIELDS = {"moveCase", "runConnector"} | {"registerDevice", "ackAlarm"} | {
    "openCase", "dispatchCase", "signCase", "resolveCase", "rateCase", "returnCase",
} | {
    # probed in tests/security/test_scope_shared.py (shared queries)
    "publishSharedQuery", "withdrawSharedQuery", "setSafelist",
} | {
    # probed in tests/security/test_scope_votes.py (owners' votes)
    "organiseVote", "castBallot", "registerProxy", "closeVote", "cancelVote", "recordMeetingStep",
} | {
    # probed in tests/security/test_scope_funds.py (the owners' money)
    "raiseRepairProject", "completeRepairProject", "cancelRepairProject", "publishFundPeriod", "enterRevenue",
    "reverseRevenue", "confirmRevenue", "objectRevenue",
} | {
    # probed in tests/security/test_scope_party.py (party building)
    "foundPartyOrganisation", "recordPartyOrganisation", "addPartyMember", "removePartyMember", "claimCase", "recordClaimOutcome",
    # probed in tests/security/test_scope_facilities.py (facilities' life records)
    "recordInstallation", "recordRegistration", "recordContract", "recordMaintenance", "recordInspection",
    "recordRepair", "recordPart", "retireFacility",
    # probed in tests/security/test_scope_credit.py (firms' credit)
    "computeCredit",
    # probed in tests/security/test_scope_staff.py (the staff role's steps, and entering staff)
    "arriveCase", "reportPosition", "saveStaffMember",
}
"""The mutations this suite probes (in tests/security/test_scope_cases_utilities.py and
tests/security/test_scope_devices.py)."""
PROBED_SUBSCRIPTION_FIELDS = {"alarms", "caseUpdates"} | {"voteUpdates"} | {"myCaseUpdates"}
"""The subscriptions this suite probes (in tests/security/test_scope_devices.py, and voteUpdates
in tests/security/test_scope_votes.py)."""
PROBED_TYPES = {
    "Query", "City", "District", "Street", "Community", "Estate", "Building", "Entrance", "House",
    "Owner", "Ownership", "PropertyFirm", "Management", "Stats", "StatsRow", "LevelInfo",
    "PlaceConnection", "PlaceEdge", "PageInfo",
} | {
    # probed in tests/security/test_scope_cases_utilities.py
    "Mutation", "Case", "CaseConnection", "CaseEdge", "CaseEvent", "GeoPoint",
    "Outage", "OutageConnection", "OutageEdge", "UtilityAccount", "UtilityArrears",
    "Connector", "ConnectorRun", "ConnectorRunConnection", "RunCounts", "StreamCursor",
    "DeadLetter", "DeadLetterConnection", "RunLease",
} | {
    # probed in tests/security/test_scope_devices.py
    "Device", "DeviceConnection", "DeviceEdge", "Alarm", "AlarmConnection", "AlarmEdge",
    "MetricValue", "Threshold", "Reading", "Subscription", "AlarmUpdate", "CaseUpdate", "DeviceSummary",
} | {
    # probed in tests/security/test_scope_cases_utilities.py (the case workflow)
    "CaseMetrics", "CaseMetricsRow",
} | {
    # probed in tests/security/test_scope_shared.py (shared queries)
    "SharedQuery", "SharedVariable", "SharedQueryOwner", "SharedQueryRun",
} | {
    # probed in tests/security/test_scope_map.py (the map page)
    "Me",
} | {
    # probed in tests/security/test_scope_federation.py (Apollo Federation v2)
    "_Service",
} | {
    # probed in tests/security/test_scope_questions.py (graph questions)
    "Impact", "ImpactedHouse", "ImpactedHouseConnection", "ImpactedHouseEdge", "PlacePath", "DistrictFootprint",
} | {
    # probed in tests/security/test_scope_votes.py (owners' votes)
    "Vote", "VoteConnection", "VoteEdge", "VoteOrganiser", "VoteDocument", "VoteItem", "Candidate", "Electorate",
    "ItemTurnout", "VoteResult", "ItemResult", "Tally", "ChoiceTally", "CandidateTally", "TreeHead", "VoterHouse",
    "CastChoice", "BallotReceipt", "ReceiptEntry", "BulletinEntry", "InclusionProof", "ConsistencyProof", "Proxy",
    "Committee", "CommitteeMember", "MeetingStep", "GovernanceRow", "VoteUpdate",
} | {
    # probed in tests/security/test_scope_funds.py (the owners' money)
    "FundAccount", "FundEntryItem", "FundEntryProof", "FundStatement", "FundTotals", "RepairProject", "RepairProjectPage",
    "RepairShare", "RevenueEntryItem", "RevenueStatement", "UnconfirmedRevenue",
} | {
    # probed in tests/security/test_scope_party.py (party building)
    "PartyOrganisation", "PartyOrganisationPage", "PartyMember", "PersonLink", "CaseClaim", "PartyFigures",
    # probed in tests/security/test_scope_facilities.py (facilities' life records)
    "Facility", "FacilityEvent", "FacilityEventConnection", "FacilityEventEdge", "FacilityDetail", "FacilityFigures",
    # probed in tests/security/test_scope_credit.py (firms' credit)
    "CreditScore", "CreditPart", "CreditFigure",
    # probed in tests/security/test_scope_staff.py (staff of firms)
    "StaffMember", "StaffCertificate", "StaffShift", "StaffPosition",
}


def test_every_root_field_and_object_type_is_probed(secure_hub: SecureHub) -> None:
    """A root field, mutation or object type added later fails here until this suite probes it too."""
    data = secure_hub.data(
        "admin",
        "{ __schema { queryType { fields { name } } mutationType { fields { name } } "
        "subscriptionType { fields { name } } types { name kind } } }",
    )
    assert {field["name"] for field in data["__schema"]["queryType"]["fields"]} == PROBED_ROOT_FIELDS
    mutation = data["__schema"]["mutationType"]
    assert {field["name"] for field in (mutation or {}).get("fields", [])} == PROBED_MUTATION_FIELDS
    subscription = data["__schema"]["subscriptionType"]
    assert {field["name"] for field in (subscription or {}).get("fields", [])} == PROBED_SUBSCRIPTION_FIELDS
    objects = {item["name"] for item in data["__schema"]["types"] if item["kind"] == "OBJECT" and not item["name"].startswith("__")}
    assert objects == PROBED_TYPES


# -- choosing foreign codes ---------------------------------------------------------------


def _near(world: World, role: Role, pool: list[str]) -> str | None:
    """The foreign code sharing the longest prefix with one of the role's roots: a sibling."""
    if not pool:
        return None
    if not role.roots:  # the staff role reads no place: any code is foreign to it
        return min(pool)

    def closeness(code: str) -> tuple[int, str]:
        common = max(
            next((index for index, (a, b) in enumerate(zip(code, root)) if a != b), min(len(code), len(root)))
            for root in role.roots
        )
        return (-common, code)

    return min(pool, key=closeness)


def probe_codes(
    secure_hub: SecureHub, role: Role, level: Level, copied: dict[str, dict[Level, list[tuple[str, str]]]]
) -> dict[str, list[tuple[str, str]]]:
    """(code, Relay id) pairs of `level` to probe: foreign ones (a sibling, one in 市北区, one
    copied from another role's answer), ones above the scope, and one inside it."""
    world = secure_hub.world
    above = role.above_scope(world)
    codes = world.at(level)
    disjoint = [code for code in codes if code not in role.places and code not in above]
    chosen: dict[str, list[tuple[str, str]]] = {"foreign": [], "above": [], "inside": []}

    def add(kind: str, code: str | None, global_id: str | None = None) -> None:
        if code is not None and code not in [item for item, _ in chosen[kind]]:
            chosen[kind].append((code, global_id or relay_id(RELAY_PLACE_TYPES[level], code)))

    add("foreign", _near(world, role, [code for code in disjoint if not code.startswith(NORTH)]))
    add("foreign", next((code for code in disjoint if code.startswith(NORTH)), None))
    for other in ROLE_NAMES:
        for code, global_id in copied[other][level]:
            if code in disjoint:
                add("foreign", code, global_id)
                break
    for code in sorted(above & set(codes)):
        add("above", code)
    add("inside", next((code for code in codes if code in role.places), None))
    return chosen


# -- every root field, with codes of every level ---------------------------------------------


def _listed(level: Level) -> str:
    return f"places{level.name.title()}"


def probe_query(level: Level) -> str:
    below = level.child
    parts = [
        "place(code: $c) { ...Deep }",
        "node(id: $id) { id ... on Place { ...Deep } }",
        "nodes(ids: [$id, $id]) { id }",
        "search(text: $c, first: 50) { ...P }",
        'inside: search(text: "3702", within: $c, first: 50) { ...P }',
        f"stats(scope: $c, groupBy: {level.name}) {{ {STATS} }}",
        f"geo(scope: $c, level: {level.name})",
    ]
    if below is not None:
        parts += [
            f"belowStats: stats(scope: $c, groupBy: {below.name}) {{ {STATS} }}",
            f"belowGeo: geo(scope: $c, level: {below.name})",
        ]
    parts += [
        f"{_listed(under)}: places(level: {under.name}, within: $c, first: 50) {{ {CONNECTION} }}"
        for under in Level
        if under >= level
    ]
    if level == Level.HOUSE:
        parts.append("house(code: $c) { ...Deep owners { owner { ...O } } ownershipHistory { owner { ...O } } }")
    body = "\n  ".join(parts)
    owner = OWNER if level == Level.HOUSE else ""
    return f"query Probe($c: String!, $id: ID!) {{\n  {body}\n}}\n{PLACE}\n{DEEP}\n{owner}"


REFUSED = "query($c: String!) {{ stats(scope: $c, groupBy: {top}) {{ houses }} geo: geo(scope: $c, level: {top}) }}"
"""A query refused for the shape of its arguments (grouping by CITY under anything below a
city), whichever code it names."""


def _normalised(body: dict[str, Any], code: str, global_id: str) -> str:
    text = json.dumps(body, ensure_ascii=False, sort_keys=True)
    for value, stand_in in ((global_id, "<ID>"), (cursor_of(code), "<CURSOR>"), (code, "<CODE>")):
        text = text.replace(value, stand_in)
    return text


def _codes(items: list[dict[str, Any]]) -> list[str]:
    return [item["code"] for item in items]


def _edge_codes(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["code"] for edge in connection["edges"]]


@pytest.mark.parametrize("level", list(Level), ids=lambda level: level.name.lower())
def test_root_fields_with_codes_of_every_level(
    secure_hub: SecureHub,
    role: Role,
    level: Level,
    copied: dict[str, dict[Level, list[tuple[str, str]]]],
) -> None:
    """place, house, node, nodes, places(within), search(text, within), stats and geo, asked
    about foreign codes of one level (a sibling, one in 市北区, one copied from another role),
    codes above the scope, and a code inside it."""
    world = secure_hub.world
    query = probe_query(level)
    chosen = probe_codes(secure_hub, role, level, copied)
    unknown = UNKNOWN[level]
    assert unknown not in world.places
    unknown_id = relay_id(RELAY_PLACE_TYPES[level], unknown)
    nothing = secure_hub.post(role, query, {"c": unknown, "id": unknown_id})
    assert not nothing.get("errors"), nothing["errors"]
    assert nothing["data"]["place"] is None and nothing["data"]["node"] is None
    assert nothing["data"]["nodes"] == [None, None]
    for below in Level:
        if below >= level:
            listed = nothing["data"][_listed(below)]
            assert listed["edges"] == [] and listed["totalCount"] == 0
    assert nothing["data"]["stats"] == [] and nothing["data"]["geo"]["features"] == []
    expected_nothing = _normalised(nothing, unknown, unknown_id)

    refused = REFUSED.format(top=Level.CITY.name)
    refused_nothing = _normalised(secure_hub.post(role, refused, {"c": unknown}), unknown, unknown_id)
    assert ("BAD_USER_INPUT" in refused_nothing) is (level != Level.CITY)
    for code, global_id in chosen["foreign"]:
        body = secure_hub.post(role, query, {"c": code, "id": global_id})
        # the whole answer, errors and all, is that of a code that names nothing
        assert _normalised(body, code, global_id) == expected_nothing, code
        # and so is a refusal: the same error for a foreign code as for a code of nothing
        errors = secure_hub.post(role, refused, {"c": code})
        assert _normalised(errors, code, global_id) == refused_nothing, code

    for code, global_id in chosen["above"]:
        body = secure_hub.post(role, query, {"c": code, "id": global_id})
        assert not body.get("errors"), body["errors"]
        data = body["data"]
        assert data["place"] is None and data["node"] is None and data["nodes"] == [None, None]
        if level == Level.HOUSE:
            assert data["house"] is None
        under = world.subtree(code)
        # lists under a place above the scope hold the scope's own places of the level, no more
        for asked in Level:
            if asked < level:
                continue
            expected = world.at(asked, role.places & under)
            assert _edge_codes(data[_listed(asked)]) == expected[:50], asked
            assert data[_listed(asked)]["totalCount"] == len(expected)
        for key, grouped in (("stats", level), ("belowStats", level.child)):
            if grouped is not None:
                assert [row["place"]["code"] for row in data[key]] == world.at(grouped, role.places & under)
        assert set(_codes(data["search"])) <= role.places

    for code, global_id in chosen["inside"]:
        data = secure_hub.data(role, query, {"c": code, "id": global_id})
        assert data["place"]["code"] == code and data["node"]["code"] == code
        assert [item and item["id"] for item in data["nodes"]] == [global_id, global_id]
        assert _edge_codes(data[_listed(level)]) == [code]
        for asked in Level:
            if asked > level:
                expected = world.at(asked, world.subtree(code))
                assert data[_listed(asked)]["totalCount"] == len(expected)
                assert _edge_codes(data[_listed(asked)]) == expected[:50]
        if level == Level.HOUSE:
            assert data["house"]["code"] == code
        place = world.places[code]
        parent = place.parent_code
        assert (data["place"]["parent"] or {}).get("code") == (parent if parent in role.places else None)
        assert _codes(data["place"]["ancestors"]) == [item for item in world.lineage(code) if item in role.places]
        children = sorted(world.children.get(code, []))
        assert _edge_codes(data["place"]["children"]) == children[:20]
        assert data["place"]["children"]["totalCount"] == len(children)
        assert data["place"]["stats"]["houses"] == len(world.houses_under(code))


@pytest.mark.parametrize("level", list(Level), ids=lambda level: level.name.lower())
def test_places_of_each_level(secure_hub: SecureHub, role: Role, level: Level) -> None:
    """`places(level)` lists exactly the role's places of the level, with `within` omitted, the
    city, or a place above the scope; paging after a foreign code's cursor stays inside."""
    world = secure_hub.world
    expected = world.at(level, role.places)
    query = f"""query($within: String, $after: String) {{
      places(level: {level.name}, within: $within, first: 500, after: $after) {{ {CONNECTION} }}
    }} {PLACE}"""
    for within in (None, CITY, *sorted(role.roots)[:1]):
        if within is not None and world.places[within].level > level:
            continue
        listed = secure_hub.data(role, query, {"within": within})["places"]
        wanted = expected if within is None else [code for code in expected if code in world.subtree(within)]
        assert _edge_codes(listed) == wanted[:500], within
        assert listed["totalCount"] == len(wanted)
        assert listed["pageInfo"]["hasNextPage"] is (len(wanted) > 500)
    # a cursor made from a code of another scope only says where to start
    foreign = [code for code in world.at(level) if code not in role.places]
    if foreign:
        middle = foreign[len(foreign) // 2]
        listed = secure_hub.data(role, query, {"after": cursor_of(middle)})["places"]
        assert _edge_codes(listed) == [code for code in expected if code > middle][:500]
    else:
        assert role.name in ("admin", "city") or level == Level.CITY and not expected


STATS_LEVELS = [Level.CITY, Level.DISTRICT, Level.STREET, Level.COMMUNITY, Level.ESTATE, Level.BUILDING, Level.ENTRANCE, Level.HOUSE]


def _figures(world: World, code: str) -> dict[str, Any]:
    """A place's roll-up as the suite counts it from the records."""
    below = world.subtree(code)
    houses = [item for item in below if world.places[item].level == Level.HOUSE]
    owners = {item.owner_id for house in houses for item in world.holders(house)}
    return {
        "houses": len(houses),
        "floorArea": sum(world.places[house].area_centi_m2 or 0 for house in houses) / 100,  # exact hundredths over 100
        "owners": len(owners),
        "estates": sum(1 for item in below if world.places[item].level == Level.ESTATE),
        "buildings": sum(1 for item in below if world.places[item].level == Level.BUILDING),
    }


@pytest.mark.parametrize("level", STATS_LEVELS, ids=lambda level: level.name.lower())
def test_stats_and_geo_of_the_city(secure_hub: SecureHub, role: Role, level: Level) -> None:
    """`stats(scope: city, groupBy)` and `geo(scope: city, level)`: rows and features only for
    the role's places, and figures counting only houses inside them (the suite recounts)."""
    world = secure_hub.world
    expected = world.at(level, role.places)
    stats = f'{{ stats(scope: "{CITY}", groupBy: {level.name}) {{ {STATS} }} }} {PLACE}'
    geo = f'{{ geo(scope: "{CITY}", level: {level.name}) }}'
    if len(expected) > 5000:  # a dashboard answer is bounded: the error says so and names the field
        for query, argument in ((stats, "groupBy"), (geo, "level")):
            body = secure_hub.post(role, query)
            assert body["data"] is None
            [error] = body["errors"]
            assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": argument}
            assert f"{len(expected):,} rows" in error["message"]
        return
    data = secure_hub.data(role, stats) | secure_hub.data(role, geo)
    assert [row["place"]["code"] for row in data["stats"]] == expected
    for row in data["stats"]:
        figures = {key: row[key] for key in ("houses", "floorArea", "owners", "estates", "buildings")}
        assert figures == _figures(world, row["place"]["code"]), row["place"]["code"]
    features = data["geo"]["features"]
    shaped = [code for code in expected if world.places[code].geometry is not None]
    assert [feature["id"] for feature in features] == shaped
    for feature in features:
        assert feature["properties"]["houses"] == _figures(world, feature["id"])["houses"]
    if role.name == "street" and level == Level.COMMUNITY:
        assert expected and all(code.startswith(role.scope) for code in expected)


# -- search --------------------------------------------------------------------------------


def test_search_by_code_prefix_and_by_name(secure_hub: SecureHub, role: Role) -> None:
    """Search finds only the role's places, by code prefix or by a foreign place's name."""
    world = secure_hub.world
    query = f"query($t: String!, $w: String) {{ search(text: $t, within: $w, first: 500) {{ ...P }} }} {PLACE}"

    def hits(text: str, within: str | None = None) -> list[str]:
        return _codes(secure_hub.data(role, query, {"t": text, "w": within})["search"])

    for prefix in ("3702", "370202", "370203", "370203005001GB"):
        found = hits(prefix)
        expected = sorted(code for code in role.places if code.startswith(prefix))
        assert found == expected[:500], prefix
    north = hits(NORTH_ESTATE_NAME)
    if NORTH_ESTATE in role.places:
        assert north[:1] == [NORTH_ESTATE]
    else:
        assert north == [] == hits("这个名字谁也没有")
    foreign_streets = [code for code in world.at(Level.STREET) if code not in role.places]
    for code in foreign_streets[:2]:
        found = hits(world.places[code].name)
        assert code not in found and set(found) <= role.places
    # LIKE's wildcards are searched for as text, so they match no name rather than every name
    for wildcard in ("%", "_", "\\", "%街道%"):
        assert set(hits(wildcard)) <= role.places and NORTH not in hits(wildcard)
    assert hits("%") == hits("_") == []
    # within a foreign place: nothing, as within a place that does not exist
    for code in foreign_streets[:2]:
        if code not in role.above_scope(world):
            assert hits("3702", code) == [] == hits("3702", UNKNOWN[Level.STREET])


# -- people and firms ----------------------------------------------------------------------


def _people(secure_hub: SecureHub, role: Role) -> list[str]:
    """Owners to ask about: the cast, the 市北区 owner, and owners of other scopes."""
    world, cast = secure_hub.world, secure_hub.cast
    chosen = [cast.owner, cast.co_owner, SHARED_OWNER, NORTH_OWNER]
    for other in secure_hub.roles.values():
        outside = sorted(other.owners - role.owners)
        if outside:
            chosen.append(outside[0])
    chosen.append(next((owner for owner in sorted(world.owners) if owner not in role.owners), cast.owner))
    return list(dict.fromkeys(chosen))


LOOKERS = frozenset({"admin", "street", "community", "property_firm", "committee"})
"""Roles that may look owners up by exact personal data (they see it whole); the others see it
masked and are refused, whatever the value."""
WHY = {"x-hub-reason": "%E6%8A%A5%E4%BF%AE%E8%81%94%E7%B3%BB"}  # 报修联系, URL-encoded


def test_owners_by_id_number_phone_name_and_node_id(secure_hub: SecureHub, role: Role) -> None:
    """`owners(idNumber|phone|name)`, `node(id)` and `nodes(ids)` of owners: those outside the
    scope are absent, answered exactly as for an owner that does not exist. Roles that see
    owners masked may not look them up at all: the refusal is the same for every value."""
    world = secure_hub.world
    lookups = "byNumber: owners(idNumber: $n) { ...O houses { house { code } } } byPhone: owners(phone: $p) { id } byName: owners(name: $m) { id }"
    looks = role.name in LOOKERS
    query = f"""query({"$n: String, $p: String, $m: String, " if looks else ""}$id: ID!) {{
      {lookups if looks else ""}
      node(id: $id) {{ ...O }}
    }} {OWNER}"""

    def asked(number: str, phone: str, name: str, global_id: str) -> dict[str, str]:
        return {"n": number, "p": phone, "m": name, "id": global_id} if looks else {"id": global_id}

    absent = secure_hub.data(role, query, asked(UNKNOWN_ID_NUMBER, "13000000000", "无此人", relay_id("Owner", UNKNOWN_OWNER)), **WHY)
    if role.name in LOOKERS:
        assert absent == {"byNumber": [], "byPhone": [], "byName": [], "node": None}
    else:
        assert absent == {"node": None}
    people = _people(secure_hub, role)
    for owner_id in people:
        owner = world.owners[owner_id]
        global_id = relay_id("Owner", owner_id)
        data = secure_hub.data(role, query, asked(owner.id_number, owner.phone or "13000000000", owner.name, global_id), **WHY)
        if owner_id in role.owners:
            assert data["node"]["id"] == global_id
            if role.name in LOOKERS:
                assert global_id in [item["id"] for item in data["byNumber"]]
                assert global_id in [item["id"] for item in data["byName"]]
                houses = {item["house"]["code"] for item in data["byNumber"][0]["houses"]}
                assert houses == world.holdings(owner_id) & role.places
        else:
            assert data["node"] is None
            assert global_id not in json.dumps(data)
    ids = [relay_id("Owner", owner_id) for owner_id in people]
    listed = secure_hub.data(role, "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ids})["nodes"]
    assert [item and item["id"] for item in listed] == [
        global_id if owner_id in role.owners else None for owner_id, global_id in zip(people, ids)
    ]
    if role.name not in LOOKERS:
        # refused the same for an owner in its scope, one outside it and one that does not exist
        refusals = set()
        for owner_id in [people[0], NORTH_OWNER]:
            owner = world.owners[owner_id]
            for argument, value in (("idNumber", owner.id_number), ("phone", owner.phone or "13000000000"), ("name", owner.name)):
                body = secure_hub.post(role, f"query($v: String!) {{ owners({argument}: $v) {{ id }} }}", {"v": value}, **WHY)
                assert body["data"] is None
                refusals.add(json.dumps(body["errors"], sort_keys=True, ensure_ascii=False))
        body = secure_hub.post(role, "query($v: String!) { owners(idNumber: $v) { id } }", {"v": UNKNOWN_ID_NUMBER}, **WHY)
        refusals.add(json.dumps(body["errors"], sort_keys=True, ensure_ascii=False))
        assert len(refusals) == 1, refusals
        assert "sees owners' personal data masked" in refusals.pop()


def test_the_shared_owner_shows_only_houses_in_scope(secure_hub: SecureHub, role: Role) -> None:
    """An owner with a house in 市南区 and one in 市北区 is visible to whoever sees one of its
    houses, with only those houses, today and in its history."""
    world = secure_hub.world
    query = f"""query($id: ID!) {{ node(id: $id) {{ ...O ... on Owner {{
      houses {{ share house {{ code ancestors {{ code }} }} }}
      houseHistory {{ house {{ code }} }}
    }} }} }} {OWNER}"""
    data = secure_hub.data(role, query, {"id": relay_id("Owner", SHARED_OWNER)})
    inside = world.holdings(SHARED_OWNER) & role.places
    if not inside:
        assert data["node"] is None and SHARED_OWNER not in role.owners
        return
    assert {item["house"]["code"] for item in data["node"]["houses"]} == inside
    assert {item["house"]["code"] for item in data["node"]["houseHistory"]} == inside
    if role.name not in ("admin", "city"):
        assert len(inside) == 1 and not any(code.startswith(NORTH) for code in inside)


def test_firms_by_code_and_node_id(secure_hub: SecureHub, role: Role) -> None:
    """`firm(code)` and `node(id)` of firms: a firm is seen only by roles it manages (or
    managed) an estate of; its `estates` and `estateHistory` stay inside the scope."""
    world, cast = secure_hub.world, secure_hub.cast
    query = f"""query($c: String!, $id: ID!) {{
      firm(code: $c) {{ ...F
        estates {{ since estate {{ ...P parent {{ ...P }} ancestors {{ ...P }} }} firm {{ code }} }}
        estateHistory {{ estate {{ code }} }}
      }}
      node(id: $id) {{ id }}
    }} {FIRM} {PLACE}"""
    absent = secure_hub.post(role, query, {"c": UNKNOWN_FIRM, "id": relay_id("PropertyFirm", UNKNOWN_FIRM)})
    for code in (cast.firm, cast.other_firm, NORTH_FIRM):
        global_id = relay_id("PropertyFirm", code)
        body = secure_hub.post(role, query, {"c": code, "id": global_id})
        if code in role.firms:
            firm = body["data"]["firm"]
            assert firm["code"] == code and body["data"]["node"]["id"] == global_id
            assert {item["estate"]["code"] for item in firm["estates"]} == world.managed(code) & role.places
            for item in firm["estates"]:
                estate = item["estate"]
                assert _codes(estate["ancestors"]) == [c for c in world.lineage(estate["code"]) if c in role.places]
        else:
            assert json.dumps(body).replace(code, "<C>").replace(global_id, "<ID>") == json.dumps(absent).replace(
                UNKNOWN_FIRM, "<C>"
            ).replace(relay_id("PropertyFirm", UNKNOWN_FIRM), "<ID>")


def test_nodes_of_every_type_from_other_scopes(
    secure_hub: SecureHub, role: Role, copied: dict[str, dict[Level, list[tuple[str, str]]]]
) -> None:
    """`nodes(ids)` with ids of every type copied from other roles' answers or made by hand:
    null exactly where the role may not see the object."""
    world = secure_hub.world
    ids: list[tuple[str, bool]] = []
    for other in ROLE_NAMES:
        for level in Level:
            for code, global_id in copied[other][level][:1]:
                ids.append((global_id, code in role.places))
    for code in (NORTH, NORTH_ESTATE, secure_hub.cast.house, secure_hub.cast.shared_house):
        ids.append((relay_id(RELAY_PLACE_TYPES[world.places[code].level], code), code in role.places))
    for owner in (NORTH_OWNER, SHARED_OWNER, secure_hub.cast.owner):
        ids.append((relay_id("Owner", owner), owner in role.owners))
    for firm in (NORTH_FIRM, secure_hub.cast.firm, secure_hub.cast.other_firm):
        ids.append((relay_id("PropertyFirm", firm), firm in role.firms))
    unique = list(dict.fromkeys(ids))[:100]
    listed = secure_hub.data(
        role, "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": [global_id for global_id, _ in unique]}
    )["nodes"]
    assert [item and item["id"] for item in listed] == [global_id if seen else None for global_id, seen in unique]
    assert any(not seen for _, seen in unique) or role.name in ("admin", "city")


# -- nested paths ----------------------------------------------------------------------------

NESTED = f"""
query($c: String!) {{
  place(code: $c) {{
    ...Deep
    ... on Estate {{
      parcelCodes
      managers {{ since firm {{ ...F estates {{ estate {{ ...P parent {{ ...P }} ancestors {{ ...P }} }} }} estateHistory {{ estate {{ ...P }} }} }} estate {{ ...P }} }}
      managementHistory {{ firm {{ ...F }} estate {{ ...P }} }}
      currentFirm {{ ...F }}
    }}
    ... on Building {{ entrances {{ ...P }} }}
    ... on House {{
      owners {{ share owner {{ ...O houses {{ house {{ ...P ancestors {{ ...P }} }} }} houseHistory {{ house {{ ...P }} }} }} house {{ ...P }} }}
      ownershipHistory {{ owner {{ ...O }} house {{ ...P }} }}
      entrance {{ ...P }} building {{ ...P }} estate {{ ...P }} community {{ ...P }} street {{ ...P }} district {{ ...P }}
    }}
  }}
}}
{PLACE} {DEEP} {OWNER} {FIRM}
"""


def test_nested_paths_from_places_in_scope(secure_hub: SecureHub, role: Role) -> None:
    """parent, ancestors, children, stats, estate.managers → firm.estates, house.owners →
    owner.houses, ownershipHistory, Ownership.house, Management.estate: from the role's own
    places and from the cast's estate and houses, nothing outside the scope."""
    world, cast = secure_hub.world, secure_hub.cast
    starts = sorted(role.roots)[:3] + [cast.estate, cast.house, cast.shared_house, NORTH_ESTATE, NORTH]
    checked = 0
    for code in dict.fromkeys(starts):
        body = secure_hub.post(role, NESTED, {"c": code})
        assert not body.get("errors"), body["errors"]
        place = body["data"]["place"]
        if code not in role.places:
            assert place is None
            continue
        checked += 1
        assert _codes(place["ancestors"]) == [item for item in world.lineage(code) if item in role.places]
        level = world.places[code].level
        if level == Level.ESTATE:
            assert {item["firm"]["code"] for item in place["managers"]} == world.managers(code)
            for item in place["managers"]:
                estates = {entry["estate"]["code"] for entry in item["firm"]["estates"]}
                assert estates == world.managed(item["firm"]["code"]) & role.places
                assert item["estate"]["code"] == code
        if level == Level.HOUSE:
            holders = world.holders(code)
            assert sorted(item["owner"]["id"] for item in place["owners"]) == sorted(
                relay_id("Owner", item.owner_id) for item in holders
            )
            for item in place["owners"]:
                owner_id = next(h.owner_id for h in holders if relay_id("Owner", h.owner_id) == item["owner"]["id"])
                houses = {entry["house"]["code"] for entry in item["owner"]["houses"]}
                assert houses == world.holdings(owner_id) & role.places
                assert item["house"]["code"] == code
            for name in ("entrance", "building", "estate", "community", "street", "district"):
                above = place[name]
                assert above is None or above["code"] in role.places
    assert checked >= 1 if role.places else checked == 0  # the staff role has no place to start from


def world_line(secure_hub: SecureHub, code: str, top: str) -> list[str]:
    """The places above `code` from `top` down."""
    line = secure_hub.world.lineage(code)
    return line[line.index(top):]


def test_owner_and_firm_roles_see_no_ancestors(secure_hub: SecureHub) -> None:
    """Roles scoped below a street see nothing above their roots: no parent, no ancestors,
    no estate or district of their house."""
    cast = secure_hub.cast
    owner = secure_hub.data("owner", NESTED, {"c": cast.house})["place"]
    assert owner["parent"] is None and owner["ancestors"] == []
    assert all(owner[name] is None for name in ("entrance", "building", "estate", "community", "street", "district"))
    firm = secure_hub.data("property_firm", NESTED, {"c": cast.estate})["place"]
    assert firm["parent"] is None and firm["ancestors"] == []
    committee = secure_hub.data("committee", NESTED, {"c": cast.house})["place"]
    assert [item["code"] for item in committee["ancestors"]] == world_line(secure_hub, cast.house, cast.estate)
    assert committee["estate"]["code"] == cast.estate and committee["community"] is None
