"""The hub as an Apollo Federation v2 subgraph, over real HTTP: `_service { sdl }` and `_entities`.

`_entities` must answer like every other read: the caller's scope applies (a foreign code is
null, exactly like an unknown one), a batch costs one store call per kind of entity, malformed
representations get the hub's clear errors at their own index, and the document limits hold.
"""

from __future__ import annotations

import re
from typing import Any

from graph.levels import Level
from graph.store import MAX_PAGE
from hub.limits import Limits
from schema.federation import MAX_REPRESENTATIONS
from tests.federation.conftest import (
    UNKNOWN_CASE,
    UNKNOWN_DEVICE,
    UNKNOWN_ESTATE,
    UNKNOWN_FIRM,
    UNKNOWN_HOUSE,
    FedHub,
)
from tests.schema.counting import CountingStore

LIMITS = Limits()
PLACE_TYPES = ("City", "District", "Street", "Community", "Estate", "Building", "Entrance", "House")
ENTITIES = """
query($r: [_Any!]!) {
  _entities(representations: $r) {
    __typename
    ... on Place { code name level }
    ... on Device { code name place { code } }
    ... on Case { id title place { code } }
    ... on PropertyFirm { code name }
  }
}
"""


def _sdl(fed_hub: FedHub, token: str = "admin") -> str:
    sdl: str = fed_hub.data(token, "{ _service { sdl } }")["_service"]["sdl"]
    return sdl


def _entities(fed_hub: FedHub, token: str, representations: list[Any]) -> dict[str, Any]:
    return fed_hub.post(token, ENTITIES, {"r": representations})


def _place(type_name: str, code: str) -> dict[str, str]:
    return {"__typename": type_name, "code": code}


def test_the_sdl_links_federation_v2_and_keys_every_entity_by_its_code(fed_hub: FedHub) -> None:
    sdl = _sdl(fed_hub)
    link = re.search(r'schema @link\(url: "https://specs\.apollo\.dev/federation/v2\.(\d+)", import: \[([^\]]*)\]\)', sdl)
    assert link is not None, sdl[:300]
    assert '"@key"' in link.group(2)
    for name in (*PLACE_TYPES, "Device", "PropertyFirm"):
        assert re.search(rf'^type {name} [^{{]*@key\(fields: "code"', sdl, re.MULTILINE), name
    assert re.search(r'^type Case [^{]*@key\(fields: "id"', sdl, re.MULTILINE)
    assert "_entities(representations: [_Any!]!): [_Entity]!" in sdl
    # every existing root field is still there, and a street office gets the very same schema
    for root in ("place", "node", "nodes", "cases", "devices", "stats"):
        assert re.search(rf"^  {root}\(", sdl, re.MULTILINE), root
    assert _sdl(fed_hub, "street") == sdl


def test_entities_resolve_every_type_by_its_key(fed_hub: FedHub) -> None:
    mine = fed_hub.mine
    representations: list[Any] = [_place(name, fed_hub.levels[Level[name.upper()]]) for name in PLACE_TYPES]
    representations += [
        {"__typename": "Device", "code": mine.device},
        {"__typename": "Case", "id": mine.case},
        {"__typename": "PropertyFirm", "code": mine.firm},
    ]
    body = _entities(fed_hub, "admin", representations)
    assert not body.get("errors"), body["errors"]
    found = body["data"]["_entities"]
    assert [item["__typename"] for item in found] == [item["__typename"] for item in representations]
    for item, asked in zip(found[: len(PLACE_TYPES)], representations):
        assert item["code"] == asked["code"] and item["level"] == asked["__typename"].upper() and item["name"]
    device, case, firm = found[len(PLACE_TYPES):]
    assert device["code"] == mine.device and device["place"] == {"code": mine.estate}
    assert case["id"] == mine.case and case["place"] == {"code": mine.estate} and case["title"] == "联邦测试工单1"
    assert firm["code"] == mine.firm and firm["name"]
    # the same entity answers as through the hub's own root field
    direct = fed_hub.data("admin", "query($c: String!) { place(code: $c) { code name level } }", {"c": mine.estate})
    [estate] = _entities(fed_hub, "admin", [_place("Estate", mine.estate)])["data"]["_entities"]
    assert {key: estate[key] for key in ("code", "name", "level")} == direct["place"]


def test_foreign_codes_answer_like_unknown_ones(fed_hub: FedHub) -> None:
    mine, theirs = fed_hub.mine, fed_hub.theirs

    def ask(token: str, side_estate: str, house: str, device: str, case: str, firm: str) -> dict[str, Any]:
        return _entities(
            fed_hub, token, [
                _place("Estate", side_estate), _place("House", house), {"__typename": "Device", "code": device},
                {"__typename": "Case", "id": case}, {"__typename": "PropertyFirm", "code": firm},
            ],
        )

    foreign = ask("street", theirs.estate, theirs.house, theirs.device, theirs.case, UNKNOWN_FIRM)
    unknown = ask("street", UNKNOWN_ESTATE, UNKNOWN_HOUSE, UNKNOWN_DEVICE, UNKNOWN_CASE, UNKNOWN_FIRM)
    assert foreign == unknown == {"data": {"_entities": [None] * 5}}
    # the other street sees its own and not the first street's; admin sees both
    assert [item and item["__typename"] for item in ask("other", theirs.estate, theirs.house, theirs.device, theirs.case, UNKNOWN_FIRM)["data"]["_entities"]] == [
        "Estate", "House", "Device", "Case", None
    ]
    assert ask("other", mine.estate, mine.house, mine.device, mine.case, UNKNOWN_FIRM) == unknown
    own = ask("street", mine.estate, mine.house, mine.device, mine.case, mine.firm or UNKNOWN_FIRM)["data"]["_entities"]
    assert all(item is not None for item in own), own


def test_a_batch_of_representations_costs_one_store_call_per_kind(fed_hub: FedHub, counting: CountingStore) -> None:
    houses = fed_hub.data(
        "admin", "query($c: String!) { place(code: $c) { ... on Estate { stats { houses } } } }", {"c": fed_hub.mine.estate}
    )
    assert houses["place"]["stats"]["houses"] > 20
    page = fed_hub.data("street", "{ places(level: HOUSE, first: 200) { edges { node { code } } } }")
    codes = [edge["node"]["code"] for edge in page["places"]["edges"]]
    assert len(codes) == 200

    def calls(count: int) -> dict[str, int]:
        representations: list[Any] = [_place("House", code) for code in codes[:count]]
        representations += [_place("House", fed_hub.theirs.house), {"__typename": "Device", "code": fed_hub.mine.device}]
        representations += [{"__typename": "Case", "id": fed_hub.mine.case}, {"__typename": "Case", "id": fed_hub.theirs.case}]
        counting.reset()
        found = fed_hub.post("street", "query($r: [_Any!]!) { _entities(representations: $r) { __typename } }", {"r": representations})
        assert not found.get("errors"), found["errors"]
        assert [item and item["__typename"] for item in found["data"]["_entities"]] == ["House"] * count + [None, "Device", "Case", None]
        return counting.snapshot()

    few, many = calls(3), calls(200)
    assert few == many == {"places": 1, "devices": 1, "cases": 1}


def test_malformed_representations_get_clear_errors_at_their_index(fed_hub: FedHub) -> None:
    mine = fed_hub.mine
    body = _entities(
        fed_hub, "street", [
            _place("Estate", mine.estate),
            _place("Estate", mine.house),
            _place("House", "3702"),
            {"__typename": "Owner", "id": "OW1"},
            {"__typename": "Device", "code": "a/b"},
            {"__typename": "Estate"},
            {"__typename": "Estate", "code": 42},
            "Estate",
            {"__typename": "PropertyFirm", "code": "9137-not-a-credit-code"},
            {"__typename": "Estate", "code": mine.estate, "name": "x"},
        ],
    )
    found = body["data"]["_entities"]
    assert found[0]["code"] == mine.estate and found[1:] == [None] * 9
    errors = {error["path"][1]: error for error in body["errors"]}
    assert sorted(errors) == list(range(1, 10))
    assert all(error["extensions"]["code"] == "BAD_USER_INPUT" for error in errors.values())
    assert "names a Estate but holds a HOUSE code" in errors[1]["message"]
    assert "is not a place code" in errors[2]["message"]
    assert "is not an entity type of this subgraph" in errors[3]["message"] and "Estate" in errors[3]["message"]
    assert "MQTT topics" in errors[4]["message"]
    assert "lacks the key field 'code' of Estate" in errors[5]["message"]
    assert "must be a string" in errors[6]["message"]
    assert "must be an object" in errors[7]["message"]
    assert errors[8]["extensions"]["field"] == "representations"
    assert "not the key 'code'" in errors[9]["message"]
    assert errors[4]["extensions"]["field"] == "representations"
    assert errors[5]["extensions"]["field"] == "representations[5]"


def test_too_many_representations_are_refused(fed_hub: FedHub) -> None:
    assert MAX_REPRESENTATIONS == MAX_PAGE
    body = _entities(fed_hub, "street", [_place("Estate", UNKNOWN_ESTATE)] * (MAX_REPRESENTATIONS + 1))
    [error] = body["errors"]
    assert error["message"] == f"representations: '{MAX_REPRESENTATIONS + 1} representations' may hold at most {MAX_REPRESENTATIONS}"
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert _entities(fed_hub, "street", [_place("Estate", UNKNOWN_ESTATE)] * MAX_REPRESENTATIONS)["data"]["_entities"] == [None] * MAX_REPRESENTATIONS


def test_the_document_limits_apply_to_entities(fed_hub: FedHub) -> None:
    variables = {"r": [_place("Estate", fed_hub.mine.estate)]}

    def nested(depth: int) -> str:
        inner = "parent { " * (depth - 1) + "code" + " }" * (depth - 1)  # as graphql-depth-limit counts
        return "query($r: [_Any!]!) { _entities(representations: $r) { ... on Estate { " + inner + " } } }"

    assert not fed_hub.post("admin", nested(LIMITS.depth), variables).get("errors")
    [deep] = fed_hub.post("admin", nested(LIMITS.depth + 1), variables)["errors"]
    assert f"exceeds maximum operation depth of {LIMITS.depth}" in deep["message"]
    aliased = "query($r: [_Any!]!) { " + " ".join(
        f"a{index}: _entities(representations: $r) {{ __typename }}" for index in range(LIMITS.aliases + 1)
    ) + " }"
    [aliases] = fed_hub.post("admin", aliased, variables)["errors"]
    assert aliases["message"] == f"{LIMITS.aliases + 1} aliases found. Allowed: {LIMITS.aliases}"
    long = "query($r: [_Any!]!) { _entities(representations: $r) { " + "__typename " * LIMITS.tokens + "} }"
    [tokens] = fed_hub.post("admin", long, variables)["errors"]
    assert f"more than {LIMITS.tokens} tokens" in tokens["message"]


def test_node_ids_still_resolve(fed_hub: FedHub) -> None:
    estate = fed_hub.data("street", "query($c: String!) { place(code: $c) { id code } }", {"c": fed_hub.mine.estate})["place"]
    node = fed_hub.data("street", "query($i: ID!) { node(id: $i) { id ... on Estate { code } } }", {"i": estate["id"]})
    assert node["node"] == estate
    theirs = fed_hub.data("other", "query($c: String!) { place(code: $c) { id } }", {"c": fed_hub.theirs.estate})["place"]
    assert fed_hub.data("street", "query($i: ID!) { node(id: $i) { id } }", {"i": theirs["id"]}) == {"node": None}


def test_entities_need_a_token(fed_hub: FedHub) -> None:
    response = fed_hub.client.post(
        "/graphql", json={"query": ENTITIES, "variables": {"r": [_place("Estate", fed_hub.mine.estate)]}}
    )
    assert response.status_code == 401
