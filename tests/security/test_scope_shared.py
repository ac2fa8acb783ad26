"""Shared queries stay inside the CALLER's scope, by every root field, mutation and `/q/NAME`.

Every role runs the queries the hub ships and the answers go through the leak walker (which
also walks the JSON `data` of a run); the cases, devices and alarms they list are exactly those
the role may see. A query shared with nobody answers every other role like a name that does not
exist, on every path; a foreign scope variable answers like a code that names nothing; the
result cache never serves one scope's answer to another; and the safelist mode confines a role
without touching the others.
"""

from __future__ import annotations

from typing import Any

import pytest

from graph.levels import Level
from hub.shared import SHIPPED
from tests.security.conftest import CITY, NORTH_ESTATE, ROLE_NAMES, STREET, SecureHub
from tests.security.world import Role, leaks
from tests.wsclient import live

RUN = """query($name: String!, $version: Int, $variables: JSON) {
  runSharedQuery(name: $name, version: $version, variables: $variables) { name version data errors cached }
}"""
ONE = """query($name: String!) { sharedQuery(name: $name) {
  name version versions description document csvPath publishedAt roles organisations
  owner { name role scope } variables { name type required default description } } }"""
LIST = "{ sharedQueries { name version owner { name role scope } organisations } }"
PUBLISH = "mutation($input: PublishSharedQueryInput!) { publishSharedQuery(input: $input) { name version owner { scope } } }"
WITHDRAW = "mutation($name: String!, $version: Int!) { withdrawSharedQuery(name: $name, version: $version) { version } }"
SAFELIST = "mutation($role: Role!, $on: Boolean!) { setSafelist(role: $role, enabled: $on) }"
CASES = "query($scope: String!) { cases(scope: $scope, first: 500) { totalCount edges { node { id place { code } firm { code } } } } }"
SHIPPED_TO = frozenset({"admin", "city", "district", "street", "community", "property_firm", "committee"})
PUBLISHERS = frozenset({"admin", "city", "street", "property_firm"})
OVERSEERS = frozenset({"admin", "city"})


def _error(body: dict[str, Any]) -> str | None:
    errors = body.get("errors")
    return None if not errors else str(errors[0]["message"])


def _run(secure_hub: SecureHub, role: Role, name: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    body = secure_hub.post(role, RUN, {"name": name, "variables": variables})
    assert not body.get("errors"), body["errors"]
    run: dict[str, Any] = body["data"]["runSharedQuery"]
    assert run["errors"] is None, run["errors"]
    return run


def _published(secure_hub: SecureHub, who: str, **fields: Any) -> None:
    body = secure_hub.post(who, PUBLISH, {"input": fields})
    assert not body.get("errors"), body["errors"]


@pytest.mark.parametrize("name", [item.name for item in SHIPPED])
def test_every_shipped_query_answers_each_role_with_its_own_scope(secure_hub: SecureHub, role: Role, name: str) -> None:
    body = secure_hub.post(role, RUN, {"name": name, "variables": {"since": "2020-01-01T00:00:00Z"} if name == "alarms-this-week" else None})
    if role.name not in SHIPPED_TO:
        assert _error(body) == f"no shared query {name} is shared with you"
        return
    assert not body.get("errors"), body["errors"]
    run = body["data"]["runSharedQuery"]
    assert run["errors"] is None, run["errors"]
    data = run["data"]
    world = secure_hub.world
    if name in ("overdue-cases", "cases-by-category"):
        shown = {edge["node"]["id"] for edge in data["cases"]["edges"]}
        assert all(role.may_see_case(world, key) for key in shown)
        if name == "cases-by-category":  # every case of the role's scope is listed
            placed = {key for key, place in world.cases.items() if place is not None and place in role.places}
            assert placed <= shown
    elif name == "alarms-this-week":
        shown = {edge["node"]["id"] for edge in data["alarms"]["edges"]}
        assert shown == {key for key, place in world.alarms.items() if place in role.places}
    elif name == "devices-offline":
        assert all(world.devices[edge["node"]["code"]] in role.places for edge in data["devices"]["edges"])
    elif name == "fund-balance-per-estate":
        # every estate of the role's scope, each with its own estate's balance; none other
        rows = {row["place"]: row for row in data["fundEstates"]}
        assert set(rows) == {code for code in world.at(Level.ESTATE) if code in role.places}, role.name
        for estate in world.fund_estates() & set(rows):
            houses = [house for house in world.balances if world.estate_of(house) == estate]
            assert rows[estate]["accounts"] == len(houses)
            assert rows[estate]["balanceFen"] == sum(world.balances[house] for house in houses), (role.name, estate)
        assert world.fund_estates() & set(rows), role.name  # every role it is shared with reads the committee's estate
    elif name == "repairs-this-year":
        shown = {item["id"] for item in data["repairProjects"]["items"]}
        assert shown == {key for key, project in world.projects.items() if role.may_read_books(world, project.part)}, role.name
    elif name == "revenue-unconfirmed":
        shown = {(row["estate"], row["entry"]["index"]) for row in data["revenueUnconfirmed"]}
        expected = {
            (estate, entry.index)
            for estate, entries in world.revenue.items()
            for entry in entries
            if entry.status == "unconfirmed" and role.may_read_books(world, estate)
        }
        assert shown == expected, role.name
    elif name == "party-per-estate":
        # the offices read the estates of their scope (the first 100 by code); the firm and the committee no rows
        rows = [row["place"] for row in data["partyEstates"]]
        if role.name in ("property_firm", "committee"):
            assert rows == []
        else:
            assert rows and rows == sorted(code for code in world.at(Level.ESTATE) if code in role.places)[:100], role.name
    elif name == "firm-credit":
        # last month's scores (computed or not yet): only firms of the role's scope, a firm its own
        shown = {row["firmCode"] for row in data["firmScores"]}
        allowed = {role.scope} if role.name == "property_firm" else set(role.firms)
        assert shown <= allowed, role.name
    else:
        rows = data["stats"] if name == "houses-in-arrears" else data["caseMetrics"]
        assert rows and all(row["place"]["code"] in role.places for row in rows)


def test_a_query_shared_with_nobody_answers_like_an_unknown_one(secure_hub: SecureHub, role: Role) -> None:
    _published(secure_hub, "city", name="sec-hidden-cases", document=CASES, description="市级自用")
    for name in ("sec-hidden-cases", "sec-never-published"):
        body = secure_hub.post(role, ONE.replace("$name", "$name"), {"name": name})
        listed = {item["name"] for item in secure_hub.data(role, LIST)["sharedQueries"]}
        ran = _error(secure_hub.post(role, RUN, {"name": name, "variables": {"scope": CITY}}))
        fetched = secure_hub.client.get(f"/q/{name}", params={"scope": CITY}, headers={"authorization": f"Bearer {role.token}"})
        if role.name in OVERSEERS and name == "sec-hidden-cases":
            assert body["data"]["sharedQuery"]["name"] == name and name in listed and ran is None and fetched.status_code == 200
            continue
        assert body == {"data": {"sharedQuery": None}} and name not in listed
        assert ran == f"no shared query {name} is shared with you"
        assert fetched.status_code == 404 and fetched.json() == {"error": "not found", "reason": ran}


def test_a_foreign_scope_variable_answers_like_a_code_that_names_nothing(secure_hub: SecureHub, role: Role) -> None:
    _published(secure_hub, "city", name="sec-cases-everyone", document=CASES, roles=sorted(name.upper() for name in ROLE_NAMES if name != "staff"))
    if role.name == "staff":  # never shared with staff (test_scope_staff.py): it runs nothing
        ran = secure_hub.post(role, RUN, {"name": "sec-cases-everyone", "variables": {"scope": CITY}})
        assert _error(ran) == "no shared query sec-cases-everyone is shared with you", ran
        return
    foreign = _run(secure_hub, role, "sec-cases-everyone", {"scope": NORTH_ESTATE})["data"]
    nothing = _run(secure_hub, role, "sec-cases-everyone", {"scope": "370203005001E099"})["data"]
    if NORTH_ESTATE in role.places:
        assert foreign["cases"]["totalCount"] >= 1
    else:
        assert foreign == nothing
    # the whole city, named by anyone, shows only the role's own cases
    shown = {edge["node"]["id"] for edge in _run(secure_hub, role, "sec-cases-everyone", {"scope": CITY})["data"]["cases"]["edges"]}
    assert all(role.may_see_case(secure_hub.world, key) for key in shown)


def test_q_answers_each_role_in_its_own_scope(secure_hub: SecureHub, role: Role) -> None:
    headers = {"authorization": f"Bearer {role.token}"}
    for name in ("overdue-cases", "devices-offline", "houses-in-arrears"):
        response = secure_hub.client.get(f"/q/{name}", headers=headers)
        if role.name not in SHIPPED_TO:
            assert response.status_code == 404
            continue
        assert response.status_code == 200, response.text
        problems = leaks(secure_hub.world, role, response.json()["data"])
        assert not problems, problems[:5]
        text = secure_hub.client.get(f"/q/{name}", params={"format": "csv"}, headers=headers).content.decode("utf-8-sig")
        assert not leaks(secure_hub.world, role, text.replace(",", "\n").splitlines())


def test_the_cache_never_serves_one_scope_to_another(secure_hub: SecureHub) -> None:
    _published(secure_hub, "city", name="sec-cached-cases", document=CASES, roles=["STREET", "COMMUNITY", "PROPERTY_FIRM", "COMMITTEE"])
    answers = {}
    for name in ("street", "community", "committee", "property_firm"):
        role = secure_hub.roles[name]
        first = _run(secure_hub, role, "sec-cached-cases", {"scope": STREET})
        again = _run(secure_hub, role, "sec-cached-cases", {"scope": STREET})
        assert (first["cached"], again["cached"]) == (False, True) and first["data"] == again["data"]
        answers[name] = {edge["node"]["id"] for edge in first["data"]["cases"]["edges"]}
    assert answers["community"] < answers["street"] and answers["committee"] <= answers["community"]
    entries = [entry for entry in secure_hub.run(secure_hub.store.audit_tail(200)) if entry.action == "shared.run" and entry.target == "sec-cached-cases@1"]
    assert [(entry.role, entry.detail["cached"]) for entry in entries[-8:]] == [
        (name, cached) for name in ("street", "community", "committee", "property_firm") for cached in (False, True)
    ]


def test_publishing_is_for_the_roles_that_may(secure_hub: SecureHub, role: Role) -> None:
    name = f"sec-by-{role.name.replace('_', '-')}"
    roles = ["PROPERTY_FIRM"]
    body = secure_hub.post(role, PUBLISH, {"input": {"name": name, "document": CASES, "roles": roles}})
    if role.name in PUBLISHERS:
        assert not body.get("errors"), body["errors"]
        assert body["data"]["publishSharedQuery"]["owner"]["scope"] == role.scope
    else:
        assert "may not publish shared queries" in (_error(body) or "")
        assert secure_hub.data("admin", ONE, {"name": name})["sharedQuery"] is None


def test_withdrawing_and_switching_the_safelist_are_the_citys(secure_hub: SecureHub, role: Role) -> None:
    name = f"sec-withdraw-{role.name.replace('_', '-')}"
    _published(secure_hub, "city", name=name, document=CASES, roles=[] if role.name == "staff" else [role.name.upper()])
    _published(secure_hub, "city", name=f"{name}-hidden", document=CASES)
    hidden = _error(secure_hub.post(role, WITHDRAW, {"name": f"{name}-hidden", "version": 1}))
    withdrawn = secure_hub.post(role, WITHDRAW, {"name": name, "version": 1})
    switched = secure_hub.post(role, SAFELIST, {"role": "OWNER", "on": False})
    if role.name in OVERSEERS:
        assert hidden is None and not withdrawn.get("errors") and switched["data"]["setSafelist"] == []
    elif role.name == "staff":  # nothing is shared with staff: both answer as unknown, and stay
        assert hidden == f"no shared query {name}-hidden v1 is shared with you"
        assert _error(withdrawn) == f"no shared query {name} v1 is shared with you"
        assert "forbidden" in (_error(switched) or "")
        assert secure_hub.data(role, ONE, {"name": name})["sharedQuery"] is None
        assert secure_hub.data("city", ONE, {"name": name})["sharedQuery"]["version"] == 1
    else:
        assert hidden == f"no shared query {name}-hidden v1 is shared with you"
        assert "forbidden" in (_error(withdrawn) or "") and "forbidden" in (_error(switched) or "")
        assert secure_hub.data(role, ONE, {"name": name})["sharedQuery"]["version"] == 1


def test_a_safelisted_role_is_confined_and_the_others_are_not(secure_hub: SecureHub) -> None:
    adhoc = '{ places(level: HOUSE, first: 1) { totalCount } }'
    assert secure_hub.data("city", SAFELIST, {"role": "OWNER", "on": True})["setSafelist"] == ["OWNER"]
    try:
        refused = secure_hub.post("owner", adhoc)
        assert refused["errors"][0]["extensions"]["code"] == "SAFELISTED" and refused.get("data") is None
        assert secure_hub.data("owner", LIST)["sharedQueries"] is not None
        for name in ROLE_NAMES:
            if name != "owner":
                assert secure_hub.data(name, adhoc)["places"]["totalCount"] >= 0
    finally:
        assert secure_hub.data("city", SAFELIST, {"role": "OWNER", "on": False})["setSafelist"] == []
    assert secure_hub.data("owner", adhoc)["places"]["totalCount"] >= 1


async def test_a_safelisted_role_cannot_subscribe_either(secure_hub: SecureHub) -> None:
    owner = secure_hub.roles["owner"]
    query = 'subscription { caseUpdates(scope: "370200") { kind } }'
    assert secure_hub.data("city", SAFELIST, {"role": "OWNER", "on": True})["setSafelist"] == ["OWNER"]
    try:
        async with live(secure_hub.url) as client:
            assert (await client.init(owner.token))["type"] == "connection_ack"
            key = await client.subscribe(query)
            message = await client.receive(10)
            assert message["type"] == "error" and message["id"] == key
            assert message["payload"][0]["extensions"]["code"] == "SAFELISTED"
    finally:
        assert secure_hub.data("city", SAFELIST, {"role": "OWNER", "on": False})["setSafelist"] == []
    async with live(secure_hub.url) as client:  # switched off, the same subscription is taken
        assert (await client.init(owner.token))["type"] == "connection_ack"
        await client.subscribe(query)
        assert await client.quiet(0.5) == []
