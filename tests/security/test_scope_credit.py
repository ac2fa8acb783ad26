"""Firms' credit stays with its readers, by every root field, the firm type's fields, the
mutation, the map and the shipped shared query.

Who sees a firm's score is worked out here from the world, not from the hub's rule: the admin and
the city every firm scored; a district, street, community or committee the firms that manage or
ever managed an estate in its scope (`World.firms_touching`); a property firm its own score only;
an owner none (its scope is houses). The firms scored for a period are those managing an estate
on a day of it (from the world's managements). A firm or a place the caller may not see answers
exactly as a code that names nothing. Only the admin and the city compute, and a refused
computation stores nothing. Every answer also goes through the leak walker.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any

import pytest

from graph.clock import CHINA_STANDARD_TIME
from graph.codes import credit_check_character
from graph.credit.periods import Period
from graph.levels import Level
from tests.security.conftest import CITY, NORTH_ESTATE, SecureHub
from tests.security.world import Role

COMPUTERS = frozenset({"admin", "city"})
UNKNOWN_FIRM = "91370299MA3Q9999" + "9" + credit_check_character("91370299MA3Q99999")
SCORES = "query($p: String, $w: String) { firmScores(period: $p, within: $w) { firmCode firm { code name } period version total totalCenti parts { name rate pointsCenti } } }"
FIRM = "query($c: String!, $p: String!) { firm(code: $c) { code credit(period: $p) { firmCode period totalCenti } creditHistory { period version } } }"
COMPUTE = "mutation($p: String!) { computeCredit(period: $p) { firmCode version } }"
GEO = "query($s: String!, $l: Level!) { geo(scope: $s, level: $l) }"


def last_month() -> Period:
    return Period.month_of(dt.datetime.now(CHINA_STANDARD_TIME).date()).previous()


def scored(secure_hub: SecureHub, period: Period) -> set[str]:
    """The firms managing an estate on a day of the period, from the world's managements."""
    return {
        m.firm_code
        for m in secure_hub.world.managements
        if m.since <= period.last_day and (m.until is None or m.until > period.first_day)
    }


def expected(secure_hub: SecureHub, role: Role, period: Period) -> set[str]:
    every = scored(secure_hub, period)
    if role.name in COMPUTERS:
        return every
    if role.name == "owner":
        return set()
    if role.name == "property_firm":
        return every & {role.scope}
    return every & set(secure_hub.world.firms_touching(role.places))


def body_of(secure_hub: SecureHub, role: Role | str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    return secure_hub.post(role, query, variables)


@pytest.fixture(scope="module")
def computed(secure_hub: SecureHub) -> Period:
    """Last month computed once by the admin (what the monthly sweep does)."""
    period = last_month()
    if not secure_hub.data("admin", SCORES, {"p": period.key})["firmScores"]:
        stored = secure_hub.data("admin", COMPUTE, {"p": period.key})["computeCredit"]
        assert {row["firmCode"] for row in stored} == scored(secure_hub, period)
    return period


def test_only_the_admin_and_the_city_compute(secure_hub: SecureHub, role: Role, computed: Period) -> None:
    before = secure_hub.data("admin", SCORES, {"p": computed.key})["firmScores"]
    if role.name in COMPUTERS:
        return  # they computed in `computed`; computing again adds versions (tests/schema/test_credit_api.py)
    body = body_of(secure_hub, role, COMPUTE, {"p": computed.key})
    assert body["data"] is None and "may not compute firms' credit" in body["errors"][0]["message"]
    assert secure_hub.data("admin", SCORES, {"p": computed.key})["firmScores"] == before


def test_firm_scores_shows_each_role_the_firms_of_its_scope(secure_hub: SecureHub, role: Role, computed: Period) -> None:
    rows = secure_hub.data(role, SCORES, {"p": computed.key})["firmScores"]
    assert {row["firmCode"] for row in rows} == expected(secure_hub, role, computed), role.name
    for row in rows:
        assert sum(part["pointsCenti"] for part in row["parts"]) == row["totalCenti"]
    default = secure_hub.data(role, SCORES, {})["firmScores"]  # last month when no period is given
    assert [row["firmCode"] for row in default] == [row["firmCode"] for row in rows]


def test_a_foreign_place_or_firm_answers_like_one_that_names_nothing(secure_hub: SecureHub, role: Role, computed: Period) -> None:
    world = secure_hub.world
    if NORTH_ESTATE not in role.places:
        foreign = body_of(secure_hub, role, SCORES, {"p": computed.key, "w": NORTH_ESTATE})
        nothing = body_of(secure_hub, role, SCORES, {"p": computed.key, "w": "370203005001E099"})
        assert foreign == nothing == {"data": {"firmScores": []}}
    shown = expected(secure_hub, role, computed)
    for firm in sorted(scored(secure_hub, computed)):
        answer = body_of(secure_hub, role, FIRM, {"c": firm, "p": computed.key})
        found = answer["data"]["firm"]
        if firm in shown:
            assert found["credit"]["firmCode"] == firm and found["creditHistory"], (role.name, firm)
            continue
        if found is None:  # the firm itself is not seen: exactly as an unknown code
            unknown = body_of(secure_hub, role, FIRM, {"c": UNKNOWN_FIRM, "p": computed.key})
            assert json.dumps(answer).replace(firm, "X") == json.dumps(unknown).replace(UNKNOWN_FIRM, "X")
        else:  # a firm seen (a predecessor, for a firm's token) whose score is not
            assert firm in role.firms and found["credit"] is None and found["creditHistory"] == [], (role.name, firm)
    assert world.firms  # the world has firms to probe


def test_the_map_shows_the_scores_of_the_estates_in_scope(secure_hub: SecureHub, role: Role, computed: Period) -> None:
    if role.name == "owner":
        return  # an owner's map is its houses: no estate shape
    if role.name == "staff":  # it reads no place: the city's map shows it nothing
        body = body_of(secure_hub, role, GEO, {"s": CITY, "l": "ESTATE"})
        assert not ((body.get("data") or {}).get("geo") or {}).get("features"), body
        return
    world = secure_hub.world
    top = CITY if role.name == "admin" else sorted(role.roots)[0]
    level = world.places[top].level
    if level < Level.STREET:
        top = sorted(code for code in role.places if world.places[code].level == Level.STREET)[0]
    features = secure_hub.data(role, GEO, {"s": top, "l": "ESTATE"})["geo"]["features"]
    shown = expected(secure_hub, role, computed)
    by_firm = {row["firmCode"]: row["totalCenti"] for row in secure_hub.data("admin", SCORES, {"p": computed.key})["firmScores"]}
    for feature in features:
        assert feature["id"] in role.places
        firm = feature["properties"]["firmCode"]
        managers = world.managers(feature["id"])
        if firm is None:
            assert not (managers & shown), (role.name, feature["id"])
            assert feature["properties"]["firmCredit"] is None
            continue
        assert firm in managers and firm in shown
        assert feature["properties"]["firmCredit"] == by_firm[firm] and feature["properties"]["firmCreditPeriod"] == computed.key
    if NORTH_ESTATE not in role.places:
        foreign = body_of(secure_hub, role, GEO, {"s": NORTH_ESTATE, "l": "ESTATE"})
        nothing = body_of(secure_hub, role, GEO, {"s": "370203005001E099", "l": "ESTATE"})
        assert json.dumps(foreign).replace(NORTH_ESTATE, "X") == json.dumps(nothing).replace("370203005001E099", "X")


def test_the_shipped_firm_credit_query_answers_each_role_in_its_scope(secure_hub: SecureHub, role: Role, computed: Period) -> None:
    headers = {"authorization": f"Bearer {role.token}"}
    fetched = secure_hub.client.get("/q/firm-credit", params={"scope": CITY, "period": computed.key, "format": "csv"}, headers=headers)
    if fetched.status_code == 404:  # not shared with the role
        assert role.name not in ("admin", "city", "district", "street", "community", "property_firm", "committee")
        return
    assert fetched.status_code in (200, 400), fetched.text
    if fetched.status_code == 400:  # a scope the role does not hold: refused, nothing shown
        assert "firmCode" not in fetched.text
        fetched = secure_hub.client.get(
            "/q/firm-credit", params={"period": computed.key, "format": "csv"}, headers=headers
        )
        assert fetched.status_code == 200, fetched.text
    rows = list(csv.DictReader(io.StringIO(fetched.content.decode("utf-8-sig"))))
    assert {row["firmCode"] for row in rows} <= expected(secure_hub, role, computed)
