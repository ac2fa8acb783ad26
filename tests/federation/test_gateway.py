"""An Apollo Gateway (Node, `@apollo/gateway` served by `@apollo/server`) in front of the hub and
the civil affairs subgraph: one query spans both, and the hub's scope holds through the gateway.

The gateway composes the supergraph itself from both subgraphs' `_service { sdl }` and forwards
each client's Authorization header to the hub (`RemoteGraphQLDataSource.willSendRequest`), so the
hub answers every plan step, `_entities` included, in the client's own scope; the civil subgraph
records the codes it was asked about, which must all lie inside that scope.
"""

from __future__ import annotations

from typing import Any

from tests.federation.conftest import FedHub, Gateway, Subgraph, civil_records

ESTATE = """
query($c: String!) {
  place(code: $c) {
    code
    ... on Estate { name stats { houses } residentsRegistered gridMember currentFirm { code } }
  }
}
"""
HOUSE = "query($c: String!) { house(code: $c) { code area residentsRegistered gridMember estate { code name residentsRegistered } } }"


def _data(body: dict[str, Any]) -> dict[str, Any]:
    assert not body.get("errors"), body["errors"]
    data: dict[str, Any] = body["data"]
    return data


def test_a_query_spanning_both_subgraphs(gateway: Gateway, fed_hub: FedHub, civil: Subgraph) -> None:
    mine = fed_hub.mine
    records = civil_records(fed_hub)
    assert civil.registry is not None
    civil.registry.forget()
    through = _data(gateway.post(fed_hub.tokens["street"], ESTATE, {"c": mine.estate}))["place"]
    direct = fed_hub.data("street", "query($c: String!) { place(code: $c) { code ... on Estate { name stats { houses } currentFirm { code } } } }", {"c": mine.estate})["place"]
    # the hub's fields are the hub's own answer, the civil fields the civil registry's
    assert {key: through[key] for key in ("code", "name", "stats", "currentFirm")} == direct
    assert direct["stats"]["houses"] > 0 and direct["currentFirm"] == {"code": mine.firm}
    assert through["residentsRegistered"] == records[mine.estate].residents == 1287
    assert through["gridMember"] == records[mine.estate].grid_member
    house = _data(gateway.post(fed_hub.tokens["street"], HOUSE, {"c": mine.house}))["house"]
    assert house["code"] == mine.house and house["residentsRegistered"] == records[mine.house].residents
    assert house["estate"]["code"] == mine.estate and house["estate"]["residentsRegistered"] == 1287
    assert house["area"] is not None


def test_the_gateway_keeps_the_hubs_scope(gateway: Gateway, fed_hub: FedHub, civil: Subgraph) -> None:
    assert civil.registry is not None
    street, theirs = fed_hub.tokens["street"], fed_hub.theirs
    civil.registry.forget()
    # the street office asking for another street's estate and house gets null, as from the hub
    assert _data(gateway.post(street, ESTATE, {"c": theirs.estate})) == {"place": None}
    assert _data(gateway.post(street, HOUSE, {"c": theirs.house})) == {"house": None}
    # a page of estates through the gateway: only the street's own, each joined with civil data
    page = _data(
        gateway.post(
            street, "{ places(level: ESTATE, first: 50) { edges { node { code ... on Estate { residentsRegistered } } } } }"
        )
    )
    codes = [edge["node"]["code"] for edge in page["places"]["edges"]]
    assert codes and all(code.startswith(fed_hub.mine.street) for code in codes)
    joined = {edge["node"]["code"]: edge["node"]["residentsRegistered"] for edge in page["places"]["edges"]}
    assert joined[fed_hub.mine.estate] == 1287
    # nothing outside the street ever reached the civil subgraph
    assert civil.registry.asked and all(code.startswith(fed_hub.mine.street) for code in civil.registry.asked)
    # the other street's office sees its own estate, joined with its civil data
    other = _data(gateway.post(fed_hub.tokens["other"], ESTATE, {"c": theirs.estate}))["place"]
    assert other["code"] == theirs.estate and other["residentsRegistered"] == 954


def test_the_gateway_forwards_no_token_when_the_client_sends_none(gateway: Gateway, fed_hub: FedHub) -> None:
    body = gateway.post(None, ESTATE, {"c": fed_hub.mine.estate})
    assert body.get("data") in (None, {"place": None})
    assert body["errors"], body
    assert "401" in str(body["errors"]) or "unauthorized" in str(body["errors"]).lower()


def test_entities_asked_directly_with_foreign_codes_answer_null(fed_hub: FedHub) -> None:
    theirs = fed_hub.theirs
    representations = [
        {"__typename": "Estate", "code": theirs.estate},
        {"__typename": "House", "code": theirs.house},
        {"__typename": "Device", "code": theirs.device},
        {"__typename": "Case", "id": theirs.case},
    ]
    body = fed_hub.post(
        "street", "query($r: [_Any!]!) { _entities(representations: $r) { __typename } }", {"r": representations}
    )
    assert body == {"data": {"_entities": [None, None, None, None]}}
    mine = fed_hub.post(
        "other", "query($r: [_Any!]!) { _entities(representations: $r) { __typename } }", {"r": representations}
    )
    assert mine == {"data": {"_entities": [{"__typename": "Estate"}, {"__typename": "House"}, {"__typename": "Device"}, {"__typename": "Case"}]}}
