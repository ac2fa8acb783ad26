"""Composition with Apollo's own library: the hub's SDL, read over HTTP from `_service { sdl }`,
composes with the civil affairs subgraph's (`composeServices` from `@apollo/composition`, in
Node), and a subgraph that clashes with the hub is refused with Apollo's error."""

from __future__ import annotations

import httpx

from tests.federation.conftest import Apollo, FedHub, Subgraph


def _sdl(url: str, token: str | None = None) -> str:
    headers = {} if token is None else {"authorization": f"Bearer {token}"}
    response = httpx.post(url, json={"query": "{ _service { sdl } }"}, headers=headers, timeout=60, trust_env=False)
    assert response.status_code == 200, response.text
    sdl: str = response.json()["data"]["_service"]["sdl"]
    return sdl


def _hub(fed_hub: FedHub) -> dict[str, str]:
    url = f"{fed_hub.url}/graphql"
    return {"name": "hub", "url": url, "sdl": _sdl(url, fed_hub.tokens["street"])}


def test_the_hub_composes_with_the_civil_subgraph(apollo: Apollo, fed_hub: FedHub, civil: Subgraph) -> None:
    status, answer = apollo.compose([_hub(fed_hub), {"name": "civil", "url": civil.url, "sdl": _sdl(civil.url)}])
    assert status == 0 and answer["ok"], answer.get("errors")
    supergraph: str = answer["supergraphSdl"]
    # both subgraphs join the estate and the house by code; the civil fields come from civil only
    for name in ("Estate", "House"):
        block = supergraph[supergraph.index(f"type {name} implements Place & Node\n"):]
        block = block[: block.index("\n}\n")]
        assert '@join__type(graph: HUB, key: "code"' in block and '@join__type(graph: CIVIL, key: "code")' in block
        assert "residentsRegistered: Int @join__field(graph: CIVIL)" in block
        assert "gridMember: String @join__field(graph: CIVIL)" in block
    assert 'type Case\n  @join__type(graph: HUB, key: "id"' in supergraph
    assert "civilRegistry: String! @join__field(graph: CIVIL)" in supergraph
    assert "place(code: String!): Place @join__field(graph: HUB)" in supergraph


def test_the_hub_composes_alone(apollo: Apollo, fed_hub: FedHub) -> None:
    status, answer = apollo.compose([_hub(fed_hub)])
    assert status == 0 and answer["ok"], answer.get("errors")


def test_a_subgraph_that_clashes_with_the_hub_fails_composition(
    apollo: Apollo, fed_hub: FedHub, broken_civil: Subgraph
) -> None:
    status, answer = apollo.compose([_hub(fed_hub), {"name": "civil", "url": broken_civil.url, "sdl": _sdl(broken_civil.url)}])
    assert status == 1 and not answer["ok"]
    shown = "\n".join(f"{error['code']}: {error['message']}" for error in answer["errors"])
    # Apollo says what clashes and where: the type of Estate.name differs between the subgraphs
    assert any(error["code"] == "FIELD_TYPE_MISMATCH" for error in answer["errors"]), shown
    assert 'Type of field "Estate.name" is incompatible across subgraphs' in shown, shown


def test_input_that_is_not_sdl_is_reported(apollo: Apollo) -> None:
    status, answer = apollo.compose([{"name": "x", "url": "http://127.0.0.1:9/graphql", "sdl": "type {"}])
    assert status == 2 and answer["errors"][0]["code"] == "BAD_INPUT"
    assert "Syntax Error" in answer["errors"][0]["message"]
