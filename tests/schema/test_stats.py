"""Roll-ups and maps: stats rows add up level by level, geo returns valid RFC 7946 collections."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest

from tests.schema.conftest import Hub
from tests.schema.queries import first_place

STATS = """
query Stats($scope: String!, $groupBy: Level!) {
  stats(scope: $scope, groupBy: $groupBy) {
    place { code level parent { code } }
    houses floorArea floorAreaText owners estates buildings
  }
}
"""
ADDITIVE = ("houses", "estates", "buildings")


def _rows(hub: Hub, scope: str, group_by: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = hub.data(STATS, scope=scope, groupBy=group_by)["stats"]
    return rows


def test_street_rows_add_up_to_the_district_row(hub: Hub) -> None:
    district = first_place(hub, "DISTRICT")["code"]
    [whole] = _rows(hub, district, "DISTRICT")
    streets = _rows(hub, district, "STREET")
    assert whole["place"]["code"] == district and whole["houses"] > 0
    assert len(streets) > 1
    assert all(row["place"]["parent"]["code"] == district for row in streets)
    for metric in ADDITIVE:
        assert sum(row[metric] for row in streets) == whole[metric], metric
    # floor areas are summed in whole hundredths of a m²: the parts add up exactly
    assert sum(Decimal(row["floorAreaText"]) for row in streets) == Decimal(whole["floorAreaText"])
    assert math.isclose(sum(row["floorArea"] for row in streets), whole["floorArea"], rel_tol=1e-9)
    assert all(Decimal(row["floorAreaText"]) == Decimal(str(row["floorArea"])) for row in [whole, *streets])
    # An owner of flats in two streets counts once in the district.
    assert max(row["owners"] for row in streets) <= whole["owners"] <= sum(row["owners"] for row in streets)


def test_estate_rows_add_up_to_their_street(hub: Hub) -> None:
    street = first_place(hub, "STREET")["code"]
    [whole] = _rows(hub, street, "STREET")
    estates = _rows(hub, street, "ESTATE")
    assert len(estates) == whole["estates"] > 0
    for metric in ("houses", "buildings"):
        assert sum(row[metric] for row in estates) == whole[metric], metric
    assert sum(Decimal(row["floorAreaText"]) for row in estates) == Decimal(whole["floorAreaText"])


def test_a_place_stats_field_matches_its_row(hub: Hub) -> None:
    district = first_place(hub, "DISTRICT")["code"]
    rows = {row["place"]["code"]: row for row in _rows(hub, district, "STREET")}
    query = """query($code: String!) { place(code: $code) { children(first: 500) { edges { node {
        code stats { houses floorArea owners estates buildings } } } } } }"""
    edges = hub.data(query, code=district)["place"]["children"]["edges"]
    assert len(edges) == len(rows)
    for edge in edges:
        row = rows[edge["node"]["code"]]
        assert edge["node"]["stats"] == {key: row[key] for key in edge["node"]["stats"]}


def test_stats_cannot_group_above_the_scope(hub: Hub) -> None:
    street = first_place(hub, "STREET")["code"]
    [error] = hub.errors(STATS, scope=street, groupBy="DISTRICT")
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "groupBy"}


def test_stats_and_geo_refuse_more_rows_than_a_dashboard_carries(hub: Hub) -> None:
    # the small city has about 10,000 houses: grouping the district by house is an export
    [error] = hub.errors(STATS, scope="370202", groupBy="HOUSE")
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "groupBy"}
    assert "rows under 370202 (at most 5,000)" in error["message"]
    [error] = hub.errors(GEO, scope="370202", level="HOUSE")
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "level"}
    street = first_place(hub, "STREET")["code"]
    assert "errors" not in hub.post(STATS, scope=street, groupBy="BUILDING")


GEO = "query Geo($scope: String!, $level: Level!) { geo(scope: $scope, level: $level) }"
PROPERTIES = {"code", "name", "level", "houses", "floorArea", "floorAreaCentiM2", "owners", "estates", "buildings", "housesInArrears"} | {
    "openCases", "overdueCases", "activeAlarms", "satisfactionRate", "fundBalance", "fundLowAccounts",
    "firmCredit", "firmCreditPeriod", "firmCode",
}


def _positions(geometry: dict[str, Any]) -> list[list[list[float]]]:
    """The linear rings of a Polygon or MultiPolygon."""
    if geometry["type"] == "Polygon":
        rings: list[list[list[float]]] = geometry["coordinates"]
        return rings
    assert geometry["type"] == "MultiPolygon", geometry["type"]
    return [ring for polygon in geometry["coordinates"] for ring in polygon]


@pytest.mark.parametrize("level", ["STREET", "COMMUNITY", "ESTATE"])
def test_geo_is_a_feature_collection_of_the_level(hub: Hub, level: str) -> None:
    district = first_place(hub, "DISTRICT")["code"]
    collection = hub.data(GEO, scope=district, level=level)["geo"]
    assert collection["type"] == "FeatureCollection"
    features = collection["features"]
    assert features, f"no {level} shapes in {district}"
    rows = {row["place"]["code"]: row for row in _rows(hub, district, level)}
    for feature in features:
        assert feature["type"] == "Feature"
        properties = feature["properties"]
        assert set(properties) == PROPERTIES
        assert feature["id"] == properties["code"] and properties["level"] == level
        row = rows[properties["code"]]
        assert properties["houses"] == row["houses"]
        assert properties["floorArea"] == row["floorArea"]
        assert properties["floorAreaCentiM2"] == Decimal(row["floorAreaText"]) * 100  # the exact integer beside it
        for ring in _positions(feature["geometry"]):
            assert len(ring) >= 4 and ring[0] == ring[-1], "RFC 7946 rings are closed"
            for longitude, latitude, *_ in ring:
                assert 119 < longitude < 122 and 35 < latitude < 38, "WGS-84 lon/lat in Qingdao"
    codes = [feature["id"] for feature in features]
    assert codes == sorted(codes) and set(codes) <= set(rows)


def test_geo_of_an_unknown_place_is_empty(hub: Hub) -> None:
    collection = hub.data(GEO, scope="370299", level="STREET")["geo"]
    assert collection == {"type": "FeatureCollection", "features": []}
