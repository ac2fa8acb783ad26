"""The place tree over HTTP: lookups by code, parents and ancestors, paging, search."""

from __future__ import annotations

from typing import Any

from tests.schema.conftest import Hub
from tests.schema.queries import PAGE, all_places, first_place

LEVELS = ["CITY", "DISTRICT", "STREET", "COMMUNITY", "ESTATE", "BUILDING", "ENTRANCE", "HOUSE"]

PLACE = """
query Place($code: String!) {
  place(code: $code) {
    __typename code name level levelName
    parent { code level }
    ancestors { code level }
    children(first: 500) { totalCount edges { node { code level } } }
    stats { houses }
  }
}
"""


def test_a_district_by_code(hub: Hub) -> None:
    district = first_place(hub, "DISTRICT")
    place = hub.data(PLACE, code=district["code"])["place"]
    assert place["__typename"] == "District"
    assert place["level"] == "DISTRICT" and place["levelName"] == "区(县级市)"
    assert place["parent"] == {"code": district["code"][:4] + "00", "level": "CITY"}
    assert place["ancestors"] == [place["parent"]]
    children = place["children"]
    assert children["totalCount"] == len(children["edges"]) > 0
    assert {edge["node"]["level"] for edge in children["edges"]} == {"STREET"}
    assert place["stats"]["houses"] > 0


def test_codes_are_read_whatever_their_case_and_spaces(hub: Hub) -> None:
    house = first_place(hub, "HOUSE")["code"]
    found = hub.data("query($code: String!) { house(code: $code) { code } }", code=f" {house.lower()} ")
    assert found["house"]["code"] == house


HOUSE = """
query House($code: String!) {
  house(code: $code) {
    __typename code level area floor usage
    entrance { code } building { code floors } estate { code parcelCodes }
    community { code } street { code } district { code }
    parent { code }
    ancestors { code level __typename }
    children { totalCount edges { cursor } }
  }
}
"""


def test_a_house_knows_every_place_above_it(hub: Hub) -> None:
    code = first_place(hub, "HOUSE")["code"]
    house = hub.data(HOUSE, code=code)["house"]
    assert house["__typename"] == "House" and house["level"] == "HOUSE"
    assert house["area"] > 0 and house["usage"] in {"RESIDENTIAL", "COMMERCIAL", "OFFICE", "PARKING", "OTHER"}
    ancestors = house["ancestors"]
    assert [place["level"] for place in ancestors] == LEVELS[:-1], "ancestors run from the top down"
    assert [place["__typename"] for place in ancestors] == [
        level.title() for level in LEVELS[:-1]
    ]
    by_level = {place["level"]: place["code"] for place in ancestors}
    assert house["parent"]["code"] == by_level["ENTRANCE"] == house["entrance"]["code"]
    assert house["building"]["code"] == by_level["BUILDING"] == code[:24]
    assert house["estate"]["code"] == by_level["ESTATE"]
    assert code[:19] in house["estate"]["parcelCodes"]
    assert house["community"]["code"] == by_level["COMMUNITY"]
    assert house["street"]["code"] == by_level["STREET"]
    assert house["district"]["code"] == by_level["DISTRICT"]
    assert house["children"] == {"totalCount": 0, "edges": []}


def test_a_building_lists_its_entrances(hub: Hub) -> None:
    building = first_place(hub, "BUILDING")["code"]
    query = """query($code: String!) { place(code: $code) {
        ... on Building { floors entrances { code parent { code } } }
        children(first: 500) { edges { node { code } } } } }"""
    place = hub.data(query, code=building)["place"]
    assert place["floors"] > 0
    assert [entrance["code"] for entrance in place["entrances"]] == [
        edge["node"]["code"] for edge in place["children"]["edges"]
    ]
    assert all(entrance["parent"]["code"] == building for entrance in place["entrances"])


CHILDREN = """
query Children($code: String!, $first: Int, $after: String) {
  place(code: $code) {
    children(first: $first, after: $after) {
      totalCount
      edges { cursor node { code parent { code } } }
      pageInfo { hasNextPage endCursor hasPreviousPage startCursor }
    }
  }
}
"""


def _walk_children(hub: Hub, code: str, first: int) -> tuple[list[str], list[dict[str, Any]]]:
    codes: list[str] = []
    pages: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        page = hub.data(CHILDREN, code=code, first=first, after=after)["place"]["children"]
        pages.append(page)
        codes.extend(edge["node"]["code"] for edge in page["edges"])
        assert all(edge["node"]["parent"]["code"] == code for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return codes, pages
        after = page["pageInfo"]["endCursor"]
        assert len(pages) < 1000, "paging does not end"


def test_children_paging_visits_every_child_exactly_once(hub: Hub) -> None:
    district = first_place(hub, "DISTRICT")["code"]
    codes, pages = _walk_children(hub, district, first=3)
    total = pages[0]["totalCount"]
    assert len(pages) == -(-total // 3) > 1
    assert len(codes) == len(set(codes)) == total
    assert codes == sorted(codes)
    everything = hub.data(CHILDREN, code=district, first=500)["place"]["children"]
    assert codes == [edge["node"]["code"] for edge in everything["edges"]]
    first, second = pages[0], pages[1]
    assert first["pageInfo"]["hasPreviousPage"] is False
    assert second["pageInfo"]["hasPreviousPage"] is True
    assert first["pageInfo"]["startCursor"] == first["edges"][0]["cursor"]
    assert first["pageInfo"]["endCursor"] == first["edges"][-1]["cursor"]


def test_places_paging_matches_the_counts_below(hub: Hub) -> None:
    district = first_place(hub, "DISTRICT")["code"]
    estates = all_places(hub, "ESTATE", within=district, first=7)
    assert len(estates) == len(set(estates)) > 7
    assert estates == sorted(estates)
    total = hub.data(PAGE, level="ESTATE", within=district, first=1)["places"]["totalCount"]
    assert total == len(estates)
    streets = all_places(hub, "STREET", within=district)
    per_street = [
        hub.data(PAGE, level="ESTATE", within=street, first=1)["places"]["totalCount"]
        for street in streets
    ]
    assert sum(per_street) == total
    houses = hub.data(PAGE, level="HOUSE", within=district, first=1)["places"]["totalCount"]
    stats = hub.data(PLACE, code=district)["place"]["stats"]
    assert houses == stats["houses"]


def test_the_last_page_has_no_next(hub: Hub) -> None:
    page = hub.data(PAGE, level="CITY", first=500)["places"]
    assert page["pageInfo"]["hasNextPage"] is False
    assert page["totalCount"] == len(page["edges"]) == 1


SEARCH = """
query Search($text: String!, $within: String, $first: Int) {
  search(text: $text, within: $within, first: $first) { code name level }
}
"""


def test_search_by_name(hub: Hub) -> None:
    estate = first_place(hub, "ESTATE")
    hits = hub.data(SEARCH, text=estate["name"], first=500)["search"]
    assert estate["code"] in [hit["code"] for hit in hits]
    assert all(estate["name"] in hit["name"] for hit in hits)
    fragment = estate["name"][:2]
    assert all(fragment in hit["name"] for hit in hub.data(SEARCH, text=fragment)["search"])


def test_search_by_code_prefix_and_within(hub: Hub) -> None:
    street = first_place(hub, "STREET")["code"]
    hits = hub.data(SEARCH, text=street, first=50)["search"]
    assert hits and hits[0]["code"] == street
    assert all(hit["code"].startswith(street) for hit in hits)
    district = street[:6]
    inside = hub.data(SEARCH, text="街道", within=district, first=500)["search"]
    assert inside and all(hit["code"].startswith(district) for hit in inside)
    assert len(hub.data(SEARCH, text=street, first=3)["search"]) == 3


def test_levels_are_listed_with_their_chinese_names(hub: Hub) -> None:
    levels = hub.data("{ levels { level levelName } }")["levels"]
    assert [level["level"] for level in levels] == LEVELS
    assert levels[4]["levelName"] == "小区"
