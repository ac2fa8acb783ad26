"""Cases, utilities and connectors stay inside each role's scope, by every root field and path.

The world (tests/security/conftest.py) holds cases at the owner's house, the committee's estate,
a house of the street outside the community, a house of 市南区 outside the street, two places of
市北区 and none at all (a 12345 case); utility accounts with bills in arrears, paid and not yet
due, at houses inside and outside each scope; outage notices of one place, of places inside and
outside a scope together, and of 市南区 as a whole; and a connector run with a dead letter.

Every query goes through `SecureHub.post`, whose leak walker now also knows case ids, account
numbers (户号), notice numbers and the cursors made from them. Foreign objects must behave
exactly as unknown ones: the whole answer for a foreign code or id is compared with the answer
for a well-formed one that names nothing, with the code or id itself replaced by a stand-in.
The case workflow is probed the same way: openCase at foreign places, each step mutation on
foreign cases, and case metrics on `caseMetrics`, `stats` rows and firms.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from graph.cases import CaseStatus
from graph.levels import Level
from graph.scope import Scope
from graph.utilities import Outage, Utility, outage_cursor
from tests.security.conftest import (
    CASE_DISTRICT,
    CASE_HOUSE,
    CASE_MOVABLE,
    CASE_NORTH_ESTATE,
    CASE_NORTH_HOUSE,
    CASE_STAFF,
    CASE_NOWHERE,
    CITY,
    CONNECTOR,
    DEAD_LETTER_KEY,
    DISTRICT,
    NORTH,
    NORTH_ESTATE,
    NORTH_HOUSES,
    RUN_ID,
    SHARED_ID_NUMBER,
    STREET,
    UNKNOWN_CASE,
    Seeded,
    SecureHub,
)
from tests.security.world import Role, cursor_of, leaks, relay_id

SEEDED_CASE = CASE_HOUSE[:-3]
"""The prefix of the cases the world seeds (tests/security/conftest.py); other files' controls
open cases of their own (test_scope_writes.py, with points, dispatched), and a worker that ran
them first holds those too."""
UNKNOWN_PLACE = {
    Level.DISTRICT: "370299",
    Level.STREET: "370202099",
    Level.ESTATE: "370202001001E099",
    Level.HOUSE: "370202001001GB99999F00010001",
}
"""Well-formed codes that name nothing in the store."""
ALLOWED_CONNECTORS = frozenset({"admin", "city"})
MOVERS = frozenset({"admin", "city", "district", "street", "community", "property_firm"})

PLACE = "fragment P on Place { id code name level }"
CASE = """
fragment C on Case {
  id source category status statusLabel closed title description
  place { ...P } point { lon lat } address externalId
  firm { id code name phone }
  reportedAt updatedAt deadline rating
  history { seq fromStatus toStatus at actor note }
}
"""
CASES = f"""
query($s: String!, $first: Int, $after: String) {{
  cases(scope: $s, first: $first, after: $after) {{
    totalCount
    edges {{ cursor node {{ ...C }} }}
    pageInfo {{ startCursor endCursor hasNextPage hasPreviousPage }}
  }}
}}
{PLACE}
{CASE}
"""
ONE_CASE = f"query($id: ID!) {{ case(id: $id) {{ ...C }} }}\n{PLACE}\n{CASE}"
OUTAGES = f"""
query($s: String!, $first: Int, $after: String) {{
  outages(scope: $s, first: $first, after: $after) {{
    totalCount
    edges {{ cursor node {{ utility noticeId startsAt endsAt reason planned placeCodes places {{ ...P }} }} }}
    pageInfo {{ startCursor endCursor hasNextPage hasPreviousPage }}
  }}
}}
{PLACE}
"""
UTILITIES = "utilityAccounts { utility accountNo } arrears { utility accountNo amountFen amount bills oldestPeriod }"
HOUSE = f"""
query($c: String!, $id: ID!) {{
  house(code: $c) {{ code {UTILITIES} }}
  place(code: $c) {{ code ... on House {{ {UTILITIES} }} }}
  node(id: $id) {{ id ... on House {{ code {UTILITIES} }} }}
  nodes(ids: [$id]) {{ id ... on House {{ code {UTILITIES} }} }}
}}
"""
MOVE = """
mutation($id: ID!) {
  moveCase(id: $id, to: DISPATCHED, note: "派往物业") { id status place { code } firm { code } history { toStatus } }
}
"""
CONNECTORS = """{ connectors { name kind scheduleSeconds settings lastRun { id status } cursors { stream cursor }
  deadLetterCount lag } }"""
RUNS = """query($c: String) { connectorRuns(connector: $c, first: 50) {
  nodes { id connector status trigger full startedAt finishedAt durationSeconds error
    counts { read written unchanged deadLettered duplicates } lease { pid host expiresAt } closedAt closedBy }
  pageInfo { startCursor endCursor hasNextPage hasPreviousPage } } }"""
LETTERS = """query($c: String) { deadLetters(connector: $c, first: 50) {
  nodes { connector stream recordKey reason detail payload candidates seen at runId lastRunId }
  pageInfo { startCursor endCursor hasNextPage hasPreviousPage } } }"""
RUN = "mutation($n: String!) { runConnector(name: $n) { id connector status trigger full } }"


def _seeded(secure_hub: SecureHub) -> Seeded:
    seeded = secure_hub.cast.seeded
    assert seeded is not None
    return seeded


def _normalised(body: dict[str, Any], *replaced: tuple[str, str]) -> str:
    text = json.dumps(body, ensure_ascii=False, sort_keys=True)
    for value, stand_in in replaced:
        text = text.replace(value, stand_in)
    return text


def _level(secure_hub: SecureHub, code: str) -> Level:
    return secure_hub.world.places[code].level


def _foreign_places(secure_hub: SecureHub, role: Role) -> list[str]:
    """Places of 市北区 and of 市南区 (outside the role's scope) to ask about."""
    seeded = _seeded(secure_hub)
    pool = (NORTH_ESTATE, NORTH_HOUSES[1], seeded.street_house, seeded.district_house, secure_hub.cast.shared_house)
    return [code for code in pool if code not in role.places]


def _unknown_for(secure_hub: SecureHub, code: str) -> str:
    return UNKNOWN_PLACE[_level(secure_hub, code)]


def _errors(body: dict[str, Any]) -> list[str]:
    return [str(error.get("message")) for error in body.get("errors") or []]


# -- the walker ------------------------------------------------------------------------


def test_the_leak_walker_catches_cases_accounts_and_notices(secure_hub: SecureHub) -> None:
    """The walker catches a foreign case id (alone or in a cursor), a place-less case shown below
    the city, a foreign account number and a foreign notice (alone or in an outage cursor), and
    lets through what the role may see."""
    world, district, cast = secure_hub.world, secure_hub.roles["district"], secure_hub.cast
    north_notice = Outage(Utility.WATER, "SEC-TZ-NORTH", (NORTH_ESTATE,), dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), None, "检修")
    caught = [
        {"case": {"id": CASE_NORTH_HOUSE}},
        {"edges": [{"cursor": cursor_of(CASE_NORTH_ESTATE)}]},
        {"id": CASE_NOWHERE},
        {"accountNo": "SECW0000000003"},
        [{"payload": {"account": "SECP0000000002"}}],
        {"noticeId": "SEC-TZ-NORTH"},
        {"cursor": outage_cursor(north_notice)},
    ]
    for sample in caught:
        assert leaks(world, district, sample), sample
    assert leaks(world, secure_hub.roles["street"], {"id": CASE_DISTRICT})
    assert leaks(world, secure_hub.roles["street"], {"noticeId": "SEC-TZ-DISTRICT"})
    fine = {
        "id": CASE_HOUSE,
        "cursor": cursor_of(CASE_HOUSE),
        "accountNo": "SECW0000000001",
        "noticeId": "SEC-TZ-ESTATES",
        "placeCodes": [cast.estate],
    }
    assert leaks(world, district, fine) == []
    assert leaks(world, secure_hub.roles["city"], {"id": CASE_NOWHERE, "n": "SEC-TZ-NORTH"}) == []


# -- cases -----------------------------------------------------------------------------


def _expected_cases(secure_hub: SecureHub, role: Role, root: str) -> set[str]:
    world = secure_hub.world
    under = world.subtree(root)
    # a case linked to no place is the city's as a whole: listed under the city, for city-wide roles
    whole_city = world.places[root].level == Level.CITY and role.city_wide(world)
    return {
        key
        for key, place in world.cases.items()
        if (place is None and whole_city) or (place is not None and place in under and place in role.places)
    }


def test_cases_of_a_scope_are_the_roles_own(secure_hub: SecureHub, role: Role) -> None:
    """`cases(scope:)` under each of the role's roots lists exactly the cases at places it may
    see, whole and page by page; place-less cases appear under the city alone."""
    for root in sorted(role.roots):
        expected = _expected_cases(secure_hub, role, root)
        data = secure_hub.data(role, CASES, {"s": root, "first": 50})["cases"]
        assert {edge["node"]["id"] for edge in data["edges"]} == expected, root
        assert data["totalCount"] == len(expected)
        for edge in data["edges"]:
            node = edge["node"]
            assert node["firm"] is None or node["firm"]["code"] in role.firms
            # linked to no place: the seeded CASE_NOWHERE, or one a whole city's control opened (test_scope_writes.py)
            assert node["place"]["code"] in role.places if node["place"] else secure_hub.world.cases[node["id"]] is None
            assert node["place"] or not node["id"].startswith(SEEDED_CASE) or node["id"] == CASE_NOWHERE
            if node["id"].startswith(SEEDED_CASE):  # controls of other files open cases with points too
                assert (node["point"] is not None) == (node["id"] in (CASE_HOUSE, CASE_NORTH_HOUSE, CASE_STAFF))
        paged = _case_pages(secure_hub, role, root)
        assert sorted(paged) == sorted(expected), root  # page by page: each case once


def _case_pages(secure_hub: SecureHub, role: Role, root: str) -> list[str]:
    paged: list[str] = []
    after = None
    for _ in range(4 * len(secure_hub.world.cases)):
        page = secure_hub.data(role, CASES, {"s": root, "first": 2, "after": after})["cases"]
        paged += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return paged
        after = page["pageInfo"]["endCursor"]
    raise AssertionError(f"cases under {root} never reach their last page: {paged}")


def test_case_pages_do_not_repeat_the_case_of_the_cursor(secure_hub: SecureHub) -> None:
    paged = _case_pages(secure_hub, secure_hub.roles["street"], STREET)
    assert len(paged) == len(set(paged)), paged


def test_cases_of_a_foreign_scope_answer_as_an_unknown_one(secure_hub: SecureHub, role: Role) -> None:
    for code in _foreign_places(secure_hub, role):
        unknown = _unknown_for(secure_hub, code)
        for first in (50, 1):
            foreign = secure_hub.post(role, CASES, {"s": code, "first": first})
            absent = secure_hub.post(role, CASES, {"s": unknown, "first": first})
            assert foreign["data"]["cases"]["totalCount"] == 0, code
            assert _normalised(foreign, (code, "<CODE>")) == _normalised(absent, (unknown, "<CODE>")), code


def test_case_by_id_is_seen_only_in_scope(secure_hub: SecureHub, role: Role) -> None:
    """`case(id:)` gives the role's cases; a foreign one answers exactly as an unknown id."""
    world = secure_hub.world
    absent = secure_hub.post(role, ONE_CASE, {"id": UNKNOWN_CASE})
    assert absent == {"data": {"case": None}}
    for key in sorted(world.cases):
        body = secure_hub.post(role, ONE_CASE, {"id": key})
        if role.may_see_case(world, key):
            case = body["data"]["case"]
            assert case is not None and case["id"] == key, key
            firm = world.case_firms[key]
            assert (case["firm"] is not None) == (firm is not None and firm in role.firms), key
        elif key != CASE_NOWHERE or role.name not in ALLOWED_CONNECTORS:
            assert _normalised(body, (key, "<ID>")) == _normalised(absent, (UNKNOWN_CASE, "<ID>")), key


def test_the_whole_city_sees_every_case(secure_hub: SecureHub) -> None:
    """Control: the admin reads every seeded case by id, 市北区's and the place-less one too."""
    for key in secure_hub.world.cases:
        assert secure_hub.data("admin", ONE_CASE, {"id": key})["case"]["id"] == key


# -- moving cases ------------------------------------------------------------------------


def _case_state(secure_hub: SecureHub, key: str) -> tuple[CaseStatus, int]:
    store, everything = secure_hub.store, Scope.everything()
    [case] = secure_hub.run(store.cases([key], everything))
    [events] = secure_hub.run(store.case_events([key], everything))
    assert case is not None
    return case.status, len(events)


def test_move_case_on_a_foreign_case_answers_as_an_unknown_one(secure_hub: SecureHub, role: Role) -> None:
    """`moveCase` on a case outside the scope answers exactly as on an unknown id, and the case
    does not move (status and history unchanged in the store)."""
    world = secure_hub.world
    absent = secure_hub.post(role, MOVE, {"id": UNKNOWN_CASE})
    assert absent["data"] is None and _errors(absent), absent
    if role.name not in MOVERS:
        assert all("forbidden" in message for message in _errors(absent)), absent
    foreign = [key for key in sorted(world.cases) if not role.may_see_case(world, key)]
    if role.name not in ALLOWED_CONNECTORS:
        assert foreign
    for key in foreign:
        before = _case_state(secure_hub, key)
        assert before[0] is CaseStatus.ACCEPTED or not key.startswith(SEEDED_CASE), key
        body = secure_hub.post(role, MOVE, {"id": key})
        assert _normalised(body, (key, "<ID>")) == _normalised(absent, (UNKNOWN_CASE, "<ID>")), key
        assert _case_state(secure_hub, key) == before, key


def test_roles_that_may_not_move_cases_are_refused_on_their_own(secure_hub: SecureHub) -> None:
    """The committee and the owner see the owner's case but may not move it."""
    for name in ("committee", "owner"):
        before = _case_state(secure_hub, CASE_HOUSE)
        body = secure_hub.post(name, MOVE, {"id": CASE_HOUSE})
        assert body["data"] is None and any("forbidden" in message for message in _errors(body)), body
        assert _case_state(secure_hub, CASE_HOUSE) == before


def test_a_case_in_scope_does_move(secure_hub: SecureHub) -> None:
    """Control: the community moves a case of its estate, so the refusals above are about scope."""
    before = _case_state(secure_hub, CASE_MOVABLE)
    moved = secure_hub.data("community", MOVE, {"id": CASE_MOVABLE})["moveCase"]
    assert moved["id"] == CASE_MOVABLE and moved["status"] == "DISPATCHED"
    assert _case_state(secure_hub, CASE_MOVABLE) == (CaseStatus.DISPATCHED, before[1] + 1)


# -- outages ---------------------------------------------------------------------------


def _expected_notices(secure_hub: SecureHub, role: Role, root: str) -> dict[str, set[str]]:
    """Notice → the places it shows: notices touching a visible place under `root` or above it."""
    world = secure_hub.world
    reach = world.subtree(root) | set(world.lineage(root))
    found: dict[str, set[str]] = {}
    for notice, places in world.notices.items():
        if any(code in reach and code in role.places for code in places):
            found[notice] = {code for code in places if code in role.places}
    return found


def test_outages_of_a_scope_show_only_visible_places(secure_hub: SecureHub, role: Role) -> None:
    for root in sorted(role.roots):
        expected = _expected_notices(secure_hub, role, root)
        data = secure_hub.data(role, OUTAGES, {"s": root, "first": 50})["outages"]
        shown = {edge["node"]["noticeId"]: set(edge["node"]["placeCodes"]) for edge in data["edges"]}
        assert shown == expected, root
        assert data["totalCount"] == len(expected)
        for edge in data["edges"]:
            assert {place["code"] for place in edge["node"]["places"]} == set(edge["node"]["placeCodes"])
        paged: list[str] = []
        after = None
        while True:
            page = secure_hub.data(role, OUTAGES, {"s": root, "first": 1, "after": after})["outages"]
            paged += [edge["node"]["noticeId"] for edge in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert sorted(paged) == sorted(expected)


def test_outages_of_a_foreign_scope_answer_as_an_unknown_one(secure_hub: SecureHub, role: Role) -> None:
    for code in _foreign_places(secure_hub, role):
        unknown = _unknown_for(secure_hub, code)
        foreign = secure_hub.post(role, OUTAGES, {"s": code, "first": 50})
        absent = secure_hub.post(role, OUTAGES, {"s": unknown, "first": 50})
        assert foreign["data"]["outages"]["totalCount"] == 0, code
        assert _normalised(foreign, (code, "<CODE>")) == _normalised(absent, (unknown, "<CODE>")), code


# -- a house's accounts and arrears ------------------------------------------------------


def test_house_accounts_and_arrears_are_seen_only_in_scope(secure_hub: SecureHub, role: Role) -> None:
    """A house's `utilityAccounts` and `arrears`, by `house`, `place`, `node` and `nodes`: the
    role's houses show their accounts; a foreign house answers exactly as an unknown one."""
    world, seeded = secure_hub.world, _seeded(secure_hub)
    owing = world.houses_in_arrears()
    unknown = UNKNOWN_PLACE[Level.HOUSE]
    unknown_id = relay_id("House", unknown)
    absent = secure_hub.post(role, HOUSE, {"c": unknown, "id": unknown_id})
    for house in sorted(set(seeded.accounts.values()) | set(NORTH_HOUSES)):
        global_id = relay_id("House", house)
        body = secure_hub.post(role, HOUSE, {"c": house, "id": global_id})
        if house in role.places:
            shown = body["data"]["house"]
            accounts = {item["accountNo"] for item in shown["utilityAccounts"]}
            assert accounts == {number for number, code in seeded.accounts.items() if code == house}, house
            assert bool(shown["arrears"]) == (house in owing), house
            assert body["data"]["node"] == {"id": global_id, "code": house, **{k: shown[k] for k in ("utilityAccounts", "arrears")}}
        else:
            assert _normalised(body, (global_id, "<ID>"), (house, "<CODE>")) == _normalised(
                absent, (unknown_id, "<ID>"), (unknown, "<CODE>")
            ), house


def test_accounts_through_owners_and_lists_stay_in_scope(secure_hub: SecureHub, role: Role) -> None:
    """The shared owner's houses (one in 市北区) and the houses listed under the role's roots show
    only accounts of houses the role may see (the walker checks every account number)."""
    secure_hub.post(
        role,
        f"query($n: String!) {{ owners(idNumber: $n) {{ id houses {{ house {{ code {UTILITIES} }} }} }} }}",
        {"n": SHARED_ID_NUMBER},
        **{"x-hub-reason": "utilities"},
    )
    for root in sorted(role.roots):
        data = secure_hub.data(
            role,
            f"query($c: String!) {{ places(level: HOUSE, within: $c, first: 500) {{ edges {{ node {{ code ... on House {{ {UTILITIES} }} }} }} }} }}",
            {"c": root},
        )
        owing = secure_hub.world.houses_in_arrears()
        for edge in data["places"]["edges"]:
            assert bool(edge["node"]["arrears"]) == (edge["node"]["code"] in owing)


# -- housesInArrears ---------------------------------------------------------------------


def _arrears_under(secure_hub: SecureHub, role: Role, code: str) -> int:
    world = secure_hub.world
    return len(world.houses_in_arrears() & world.subtree(code) & role.places)


STATS = "query($c: String!) {{ stats(scope: $c, groupBy: {level}) {{ houses housesInArrears place {{ code }} }} }}"
GEO = "query($c: String!) {{ geo(scope: $c, level: {level}) }}"


def test_houses_in_arrears_never_count_foreign_houses(secure_hub: SecureHub, role: Role) -> None:
    """`housesInArrears` on every stats row and map feature counts the role's houses only."""
    rows_seen = 0
    for root in sorted(role.roots) + [CITY]:
        top = _level(secure_hub, root)
        for level in (level for level in Level if level >= top and level <= max(top, Level.ESTATE) + 1):
            for row in secure_hub.data(role, STATS.format(level=level.name), {"c": root})["stats"]:
                rows_seen += 1
                assert row["housesInArrears"] == _arrears_under(secure_hub, role, row["place"]["code"]), (root, row)
            geo = secure_hub.data(role, GEO.format(level=level.name), {"c": root})["geo"]
            for feature in geo["features"]:
                expected = _arrears_under(secure_hub, role, feature["id"]) if feature["id"] in role.places else None
                assert feature["properties"]["housesInArrears"] == expected, (root, feature["id"])
    assert rows_seen if role.places else rows_seen == 0  # the staff role sees no row


def test_houses_in_arrears_of_a_foreign_district_answer_as_an_unknown_one(secure_hub: SecureHub, role: Role) -> None:
    if NORTH in role.places:
        rows = secure_hub.data(role, STATS.format(level="DISTRICT"), {"c": CITY})["stats"]
        counts = {row["place"]["code"]: row["housesInArrears"] for row in rows}
        assert counts == {DISTRICT: _arrears_under(secure_hub, role, DISTRICT), NORTH: 2}
        return
    unknown = UNKNOWN_PLACE[Level.DISTRICT]
    for query in (STATS.format(level="DISTRICT"), STATS.format(level="HOUSE"), GEO.format(level="DISTRICT")):
        foreign = secure_hub.post(role, query, {"c": NORTH})
        absent = secure_hub.post(role, query, {"c": unknown})
        assert _normalised(foreign, (NORTH, "<CODE>")) == _normalised(absent, (unknown, "<CODE>")), query


# -- connectors ------------------------------------------------------------------------


def _runs(secure_hub: SecureHub) -> list[str]:
    page = secure_hub.run(secure_hub.store.runs(None, 200))
    return [run.id for run in page.items]


def test_connectors_are_for_admin_and_city_only(secure_hub: SecureHub, role: Role) -> None:
    """`connectors`, `connectorRuns`, `deadLetters` and `runConnector` answer admin and city;
    every other role is refused, the same whether the connector named exists or not, and
    `runConnector` starts nothing for it."""
    if role.name in ALLOWED_CONNECTORS:
        [connector] = secure_hub.data(role, CONNECTORS)["connectors"]
        assert connector["name"] == CONNECTOR and connector["deadLetterCount"] == 1
        assert connector["cursors"] == [{"stream": "accounts", "cursor": "2026-01-02T03:00:00Z"}]
        assert "nonexistent" not in json.dumps(connector["settings"])
        for name in (CONNECTOR, None):
            runs = secure_hub.data(role, RUNS, {"c": name})["connectorRuns"]["nodes"]
            assert RUN_ID in {run["id"] for run in runs}
            letters = secure_hub.data(role, LETTERS, {"c": name})["deadLetters"]["nodes"]
            assert [letter["recordKey"] for letter in letters] == [DEAD_LETTER_KEY]
        before = _runs(secure_hub)
        run = secure_hub.data(role, RUN, {"n": CONNECTOR})["runConnector"]
        assert run["connector"] == CONNECTOR and run["status"] == "RUNNING" and run["trigger"] == "api"
        assert set(_runs(secure_hub)) - set(before) == {run["id"]}
        return
    before = _runs(secure_hub)
    answers: list[dict[str, Any]] = [secure_hub.post(role, CONNECTORS)]
    for query, field in ((RUNS, "connectorRuns"), (LETTERS, "deadLetters")):
        for name in (None, CONNECTOR):
            answers.append(secure_hub.post(role, query, {"c": name}))
        known = secure_hub.post(role, query, {"c": CONNECTOR})
        unknown = secure_hub.post(role, query, {"c": "nosuchconnector"})
        assert _normalised(known, (CONNECTOR, "<N>")) == _normalised(unknown, ("nosuchconnector", "<N>")), field
    known_run = secure_hub.post(role, RUN, {"n": CONNECTOR})
    unknown_run = secure_hub.post(role, RUN, {"n": "nosuchconnector"})
    assert _normalised(known_run, (CONNECTOR, "<N>")) == _normalised(unknown_run, ("nosuchconnector", "<N>"))
    answers.append(known_run)
    for body in answers:
        assert body["data"] is None or all(value is None for value in body["data"].values()), body
        messages = _errors(body)
        assert messages and all("forbidden" in message for message in messages), body
        text = json.dumps(body, ensure_ascii=False)
        assert RUN_ID not in text and DEAD_LETTER_KEY not in text and "SampleFirms" not in text
    assert _runs(secure_hub) == before


@pytest.mark.parametrize("name", ["committee", "owner"])
def test_refused_connector_reads_do_not_depend_on_the_ledger(secure_hub: SecureHub, name: str) -> None:
    """The refusal is the same text for every refused role: nothing of the ledger shapes it."""
    first = secure_hub.post(name, LETTERS, {"c": None})
    second = secure_hub.post("district", LETTERS, {"c": None})
    assert first == second


# -- the case workflow: openCase, dispatch/sign/resolve/rate/return, metrics --------------------

WORKFLOW_CASE = "id status place { code } firm { code } signBy overdue escalation history { toStatus actor }"
WORKFLOW = {
    "dispatchCase": f'mutation($id: ID!) {{ dispatchCase(id: $id, note: "派单") {{ {WORKFLOW_CASE} }} }}',
    "signCase": f'mutation($id: ID!) {{ signCase(id: $id, note: "签收") {{ {WORKFLOW_CASE} }} }}',
    "resolveCase": f'mutation($id: ID!) {{ resolveCase(id: $id, note: "已办结") {{ {WORKFLOW_CASE} }} }}',
    "rateCase": f'mutation($id: ID!) {{ rateCase(id: $id, rating: 5) {{ {WORKFLOW_CASE} }} }}',
    "returnCase": f'mutation($id: ID!) {{ returnCase(id: $id, reason: "非本单位") {{ {WORKFLOW_CASE} }} }}',
}
WORKFLOW_ROLES = {
    "dispatchCase": frozenset({"admin", "city", "district", "street", "community"}),
    "signCase": frozenset({"admin", "property_firm", "staff"}),
    "resolveCase": frozenset({"admin", "property_firm", "staff"}),
    "rateCase": frozenset({"admin", "city", "district", "street", "community", "committee", "owner"}),
    "returnCase": frozenset({"admin", "city", "district", "street", "community", "property_firm"}),
}
OPEN_CASE = f"mutation($input: OpenCaseInput!) {{ openCase(input: $input) {{ {WORKFLOW_CASE} }} }}"
METRIC_FIELDS = "cases due signedInTime resolved rated satisfied overdue responseRate resolutionRate satisfactionRate medianResolveSeconds"
CASE_METRICS = f"query($s: String!, $by: Level!) {{ caseMetrics(scope: $s, groupBy: $by) {{ place {{ ...P }} {METRIC_FIELDS} }} }}\n{PLACE}"
STATS_CASES = f"query($s: String!, $by: Level!) {{ stats(scope: $s, groupBy: $by) {{ place {{ code }} cases {{ {METRIC_FIELDS} }} }} }}"
FIRM_CASES = f"query($c: String!) {{ firm(code: $c) {{ code caseMetrics {{ {METRIC_FIELDS} }} }} }}"


def _store_cases(secure_hub: SecureHub) -> list[str]:
    page = secure_hub.run(secure_hub.store.case_page(Scope.everything(), 500))
    return sorted(case.id for case in page.items)


@pytest.mark.parametrize("mutation", sorted(WORKFLOW))
def test_workflow_mutations_on_a_foreign_case_answer_as_an_unknown_one(secure_hub: SecureHub, role: Role, mutation: str) -> None:
    """Each workflow mutation on a case outside the scope answers exactly as on an unknown id
    and changes nothing; a role the mutation is not for is refused the same way for both."""
    world, query = secure_hub.world, WORKFLOW[mutation]
    absent = secure_hub.post(role, query, {"id": UNKNOWN_CASE})
    assert absent["data"] is None and _errors(absent), absent
    if role.name not in WORKFLOW_ROLES[mutation]:
        assert all(message.startswith("forbidden") for message in _errors(absent)), absent
    else:
        assert _errors(absent) == [f"id: '{UNKNOWN_CASE}' is not a case you can see"]
    for key in sorted(world.cases):
        if role.may_see_case(world, key):
            continue
        before = _case_state(secure_hub, key)
        body = secure_hub.post(role, query, {"id": key})
        assert _normalised(body, (key, "<ID>")) == _normalised(absent, (UNKNOWN_CASE, "<ID>")), (mutation, key)
        assert _case_state(secure_hub, key) == before, (mutation, key)


def test_open_case_at_a_foreign_place_answers_as_at_an_unknown_one(secure_hub: SecureHub, role: Role) -> None:
    """`openCase` at an estate or house outside the scope answers exactly as at a code that
    names nothing, and stores nothing."""
    before = _store_cases(secure_hub)
    for code in _foreign_places(secure_hub, role):
        unknown = _unknown_for(secure_hub, code)
        fields = {"title": "安全测试报修", "category": "REPAIR"}
        foreign = secure_hub.post(role, OPEN_CASE, {"input": {**fields, "place": code}})
        absent = secure_hub.post(role, OPEN_CASE, {"input": {**fields, "place": unknown}})
        assert foreign["data"] is None and _errors(foreign), foreign
        assert _normalised(foreign, (code, "<CODE>")) == _normalised(absent, (unknown, "<CODE>")), code
    assert _store_cases(secure_hub) == before


def test_a_case_opened_in_scope_is_dispatched_and_signed_by_the_firm(secure_hub: SecureHub) -> None:
    """Control: the owner opens a case at its own house (dispatched to the firm managing the
    estate) and the firm role signs it, so the refusals above are about scope. The world learns
    of the case, so every other probe counts it."""
    cast = secure_hub.cast
    opened = secure_hub.data("owner", OPEN_CASE, {"input": {"title": "安全测试报修", "category": "REPAIR", "place": cast.house}})["openCase"]
    key = opened["id"]
    secure_hub.world.cases[key] = cast.house
    [case] = secure_hub.run(secure_hub.store.cases([key], Scope.everything()))
    assert case is not None
    secure_hub.world.case_firms[key] = case.firm_code
    assert opened["status"] == "DISPATCHED" and case.firm_code == cast.firm
    refused = secure_hub.post("committee", WORKFLOW["signCase"], {"id": key})
    assert _errors(refused) == ["forbidden: the committee role may not sign for cases"]
    signed = secure_hub.data("property_firm", WORKFLOW["signCase"], {"id": key})["signCase"]
    assert signed["status"] == "SIGNED"
    assert _case_state(secure_hub, key) == (CaseStatus.SIGNED, 3)


def _visible_cases(secure_hub: SecureHub, role: Role, code: str) -> list[str]:
    world = secure_hub.world
    under = world.subtree(code)
    return [key for key, place in world.cases.items() if place is not None and place in under and place in role.places]


def test_case_metrics_count_only_the_roles_cases(secure_hub: SecureHub, role: Role) -> None:
    """`caseMetrics` rows and the `cases` figures of `stats` rows, under each of the role's
    roots (and the city), show places the role may see and count only cases at them."""
    rows_seen = 0
    for root in sorted(role.roots) + [CITY]:
        top = _level(secure_hub, root)
        for level in (level for level in Level if top <= level <= max(top, Level.ESTATE)):
            rows = secure_hub.data(role, CASE_METRICS, {"s": root, "by": level.name})["caseMetrics"]
            for row in rows:
                rows_seen += 1
                code = row["place"]["code"]
                assert code in role.places, (root, code)
                assert row["cases"] == len(_visible_cases(secure_hub, role, code)), (root, code)
            stats = secure_hub.data(role, STATS_CASES, {"s": root, "by": level.name})["stats"]
            for row in stats:
                expected = len(_visible_cases(secure_hub, role, row["place"]["code"]))
                assert row["cases"]["cases"] == expected, (root, row)
    assert rows_seen if role.places else rows_seen == 0  # the staff role sees no row


def test_case_metrics_of_a_foreign_scope_answer_as_an_unknown_one(secure_hub: SecureHub, role: Role) -> None:
    for code in _foreign_places(secure_hub, role):
        unknown = _unknown_for(secure_hub, code)
        level = _level(secure_hub, code).name
        foreign = secure_hub.post(role, CASE_METRICS, {"s": code, "by": level})
        absent = secure_hub.post(role, CASE_METRICS, {"s": unknown, "by": level})
        assert foreign == {"data": {"caseMetrics": []}}, code
        assert _normalised(foreign, (code, "<CODE>")) == _normalised(absent, (unknown, "<CODE>")), code


def test_firm_case_metrics_count_only_cases_in_scope(secure_hub: SecureHub, role: Role) -> None:
    """A firm's `caseMetrics` counts its cases at places the role may see; a firm the role may
    not see answers null, like an unknown firm."""
    world = secure_hub.world
    for firm in sorted(world.firms):
        body = secure_hub.post(role, FIRM_CASES, {"c": firm})
        if firm not in role.firms:
            assert body == {"data": {"firm": None}}, firm
            continue
        expected = [key for key, place in world.cases.items() if world.case_firms.get(key) == firm and role.may_see_case(world, key)]
        assert body["data"]["firm"]["caseMetrics"]["cases"] == len(expected), firm
