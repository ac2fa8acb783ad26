"""Relay global ids: every type's id resolves back to the same object through node and nodes."""

from __future__ import annotations

import base64

from tests.schema.conftest import Hub
from tests.schema.queries import first_place

NODE = """
query Node($id: ID!) {
  node(id: $id) {
    __typename id
    ... on Place { code }
    ... on Owner { name }
    ... on PropertyFirm { code }
  }
}
"""
LEVELS = ["CITY", "DISTRICT", "STREET", "COMMUNITY", "ESTATE", "BUILDING", "ENTRANCE", "HOUSE"]


def _ids(hub: Hub) -> dict[str, str]:
    """A global id of each node type, as the API hands them out."""
    ids = {}
    for level in LEVELS:
        place = first_place(hub, level)
        ids[place["__typename"]] = place["id"]
    house = first_place(hub, "HOUSE")["code"]
    query = """query($code: String!) { house(code: $code) {
        owners { owner { id } } estate { currentFirm { id } } } }"""
    found = hub.data(query, code=house)["house"]
    ids["Owner"] = found["owners"][0]["owner"]["id"]
    ids["PropertyFirm"] = found["estate"]["currentFirm"]["id"]
    return ids


def test_every_type_round_trips_through_node(hub: Hub) -> None:
    ids = _ids(hub)
    assert set(ids) == {
        "City", "District", "Street", "Community", "Estate", "Building", "Entrance", "House",
        "Owner", "PropertyFirm",
    }
    for type_name, global_id in ids.items():
        node = hub.data(NODE, id=global_id)["node"]
        assert node["__typename"] == type_name and node["id"] == global_id
        decoded = base64.b64decode(global_id).decode()
        assert decoded.startswith(f"{type_name}:")
        if "code" in node:
            assert decoded == f"{type_name}:{node['code']}"


def test_nodes_answers_in_order_with_null_for_the_unknown(hub: Hub) -> None:
    ids = list(_ids(hub).values())
    missing = base64.b64encode(b"District:370299").decode()
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    nodes = hub.data(query, ids=[*ids, missing])["nodes"]
    assert [node["id"] if node else None for node in nodes] == [*ids, None]


def test_a_well_formed_id_of_nothing_is_null(hub: Hub) -> None:
    for key in ("House:370202001001GB00001F99999999", "Owner:nobody", "PropertyFirm:91350100M000100Y43"):
        assert hub.data(NODE, id=base64.b64encode(key.encode()).decode())["node"] is None
