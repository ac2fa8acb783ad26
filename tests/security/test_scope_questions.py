"""The graph questions stay inside each role's scope: `impact(code)`, `path(from, to)` and
`PropertyFirm.footprint`, for all eight roles.

Every answer goes through the leak walker (places, owners whole or masked, firms, cases, notices
and devices, however spelled; an outage named `utility:notice` too). What each role should be
told is worked out here from the world's records: the houses under what a code names, cut to the
role's places, their holders today, the seeded cases at or under them. A thing outside the scope
answers exactly as a thing that does not exist.
"""

from __future__ import annotations

from typing import Any

import pytest

from graph.levels import Level
from tests.security.conftest import (
    CITY,
    DEVICE_DISTRICT,
    DEVICE_ENTRANCE,
    DEVICE_ESTATE,
    DEVICE_NORTH,
    DEVICE_STREET,
    DISTRICT,
    NORTH,
    NORTH_ESTATE,
    NORTH_FIRM,
    NORTH_HOUSES,
    STREET,
    UNKNOWN_DEVICE,
    SecureHub,
)
from tests.security.world import Role, World, leaks

FIRST = 100
IMPACT = """
query($code: String!, $first: Int) {
  impact(code: $code, first: $first) {
    kind code places { code id }
    houseCount ownerCount openCaseCount
    houses {
      totalCount
      edges { cursor node { house { code id } owners { id name idNumber phone } } }
      pageInfo { hasNextPage startCursor endCursor }
    }
    openCases { id place { code } firm { code } }
  }
}
"""
PATH = """
query($from: String!, $to: String!) {
  path(from: $from, to: $to) { source { code } target { code } common { code id } places { code id } up down }
}
"""
FOOTPRINT = """
query($firm: String!) {
  firm(code: $firm) {
    code
    footprint { district { code id name } estates { code id name } estateCount houses floorArea owners openCases }
  }
}
"""
UNKNOWN_ESTATE = "370202001001E099"
UNKNOWN_NOTICE = "water:SEC-TZ-NOBODY"
NOTHING: dict[str, Any] = {"data": {"impact": None}}


def _probed_places(secure_hub: SecureHub, role: Role) -> list[str]:
    """Places of every ring: the role's roots, the cast's, the street's and 市南区's, 市北区's."""
    cast, seeded = secure_hub.cast, secure_hub.cast.seeded
    assert seeded is not None
    codes = [*sorted(role.roots), cast.community, cast.estate, cast.house, cast.shared_house, STREET, DISTRICT, CITY]
    codes += [seeded.street_house, seeded.district_house, NORTH, NORTH_ESTATE, NORTH_HOUSES[0]]
    return list(dict.fromkeys(code for code in codes if code in secure_hub.world.places))


def _struck(world: World, role: Role, code: str) -> list[str] | None:
    """The places an impact of `code` strikes for `role` (None: it sees no such thing)."""
    if code in world.places:
        return [code] if code in role.places else None
    if code in world.devices:
        place = world.devices[code]
        return [place] if place in role.places else None
    _, _, notice = code.partition(":")
    if notice in world.notices:
        seen = [place for place in world.notices[notice] if place in role.places]
        return seen or None
    return None


def _check_impact(secure_hub: SecureHub, role: Role, code: str) -> None:
    world = secure_hub.world
    body = secure_hub.post(role, IMPACT, {"code": code, "first": FIRST})  # the leak walker reads it
    struck = _struck(world, role, code)
    if struck is None:
        assert body == NOTHING, (role.name, code, body)
        return
    assert not body.get("errors"), body["errors"]
    impact = body["data"]["impact"]
    assert sorted(place["code"] for place in impact["places"]) == sorted(struck), code
    under = {item for place in struck for item in world.subtree(place)}
    houses = world.at(Level.HOUSE, under)
    assert all(house in role.places for house in houses)
    assert impact["houseCount"] == impact["houses"]["totalCount"] == len(houses), code
    assert [edge["node"]["house"]["code"] for edge in impact["houses"]["edges"]] == houses[:FIRST], code
    assert impact["houses"]["pageInfo"]["hasNextPage"] is (len(houses) > FIRST)
    holders = {item.owner_id for house in houses for item in world.holders(house)}
    assert impact["ownerCount"] == len(holders), code
    for edge in impact["houses"]["edges"]:
        house = edge["node"]["house"]["code"]
        shown = sorted(owner["id"] for owner in edge["node"]["owners"])
        assert len(shown) == len({item.owner_id for item in world.holders(house)}), house
    # the seeded cases (all open, or moved on to dispatched) at or under the places are there;
    # cases other tests open in scope may join them, never one outside it (the walker checks)
    seeded = {key for key, place in world.cases.items() if place is not None and place in under}
    shown_cases = {case["id"] for case in impact["openCases"]}
    assert seeded <= shown_cases, code
    assert impact["openCaseCount"] == len(shown_cases) >= len(seeded)
    assert all(case["place"]["code"] in under for case in impact["openCases"])


def test_the_walker_catches_an_outage_named_by_utility(secure_hub: SecureHub) -> None:
    street = secure_hub.roles["street"]
    assert leaks(secure_hub.world, street, {"code": "water:SEC-TZ-NORTH"})
    assert not leaks(secure_hub.world, street, {"code": "water:SEC-TZ-ESTATES"})


def test_impact_of_places_of_every_ring(secure_hub: SecureHub, role: Role) -> None:
    assert secure_hub.post(role, IMPACT, {"code": UNKNOWN_ESTATE, "first": FIRST}) == NOTHING
    for code in _probed_places(secure_hub, role):
        _check_impact(secure_hub, role, code)


def test_impact_of_every_device(secure_hub: SecureHub, role: Role) -> None:
    assert secure_hub.post(role, IMPACT, {"code": UNKNOWN_DEVICE, "first": FIRST}) == NOTHING
    for code in (DEVICE_ESTATE, DEVICE_ENTRANCE, DEVICE_STREET, DEVICE_DISTRICT, DEVICE_NORTH):
        _check_impact(secure_hub, role, code)


def test_impact_of_every_outage(secure_hub: SecureHub, role: Role) -> None:
    assert secure_hub.post(role, IMPACT, {"code": UNKNOWN_NOTICE, "first": FIRST}) == NOTHING
    for notice in sorted(secure_hub.world.notices):
        _check_impact(secure_hub, role, f"water:{notice}")


def _expected_path(world: World, role: Role, start: str, end: str) -> tuple[list[str], str | None]:
    climb = [code for code in [*world.lineage(start), start] if code in role.places]
    descent = [code for code in [*world.lineage(end), end] if code in role.places]
    shared = [code for code in climb if code in descent]
    if not shared:
        return [*reversed(climb), *descent], None
    common = shared[-1]
    return [*reversed(climb[climb.index(common):]), *descent[descent.index(common) + 1 :]], common


def test_paths_between_places_of_every_ring(secure_hub: SecureHub, role: Role) -> None:
    world = secure_hub.world
    codes = _probed_places(secure_hub, role)
    nothing = secure_hub.post(role, PATH, {"from": codes[0], "to": UNKNOWN_ESTATE})
    assert nothing == {"data": {"path": None}}
    for start in codes:
        for end in codes:
            body = secure_hub.post(role, PATH, {"from": start, "to": end})
            if start not in role.places or end not in role.places:
                assert body == nothing, (role.name, start, end)
                continue
            found = body["data"]["path"]
            places, common = _expected_path(world, role, start, end)
            assert [place["code"] for place in found["places"]] == places, (role.name, start, end)
            assert (found["common"] or {}).get("code") == common


def test_footprints_of_firms_in_and_out_of_scope(secure_hub: SecureHub, role: Role) -> None:
    world, cast = secure_hub.world, secure_hub.cast
    for firm in (cast.firm, cast.other_firm, NORTH_FIRM):
        body = secure_hub.post(role, FOOTPRINT, {"firm": firm})
        if firm not in role.firms:
            assert body == {"data": {"firm": None}}, (role.name, firm)
            continue
        assert not body.get("errors"), body["errors"]
        estates = sorted(code for code in world.managed(firm) if code in role.places)
        rows = body["data"]["firm"]["footprint"]
        assert [[estate["code"] for estate in row["estates"]] for row in rows] == [
            [code for code in estates if code[:6] == key] for key in sorted({code[:6] for code in estates})
        ], (role.name, firm)
        for row in rows:
            codes = [estate["code"] for estate in row["estates"]]
            district = codes[0][:6]
            assert (row["district"] or {}).get("code") == (district if district in role.places else None)
            houses = {house for code in codes for house in world.houses_under(code)}
            assert row["houses"] == len(houses) and row["estateCount"] == len(codes)
            assert row["owners"] == len({item.owner_id for house in houses for item in world.holders(house)})


@pytest.mark.parametrize("code", ["a/b", "steam:SEC-TZ-NORTH", ""])
def test_bad_codes_are_refused_alike_for_every_role(secure_hub: SecureHub, code: str) -> None:
    answers = {name: secure_hub.post(name, IMPACT, {"code": code}) for name in secure_hub.roles}
    assert len({str(body) for body in answers.values()}) == 1, answers
    [error] = answers["admin"]["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "code"}
