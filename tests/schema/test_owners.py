"""Who owns a house on a date, what an owner holds, and which firm manages an estate."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.schema.conftest import Hub
from tests.schema.queries import first_place

HISTORY = """
query History($within: String!, $after: String) {
  places(level: HOUSE, within: $within, first: 500, after: $after) {
    edges { node { code ... on House { ownershipHistory { owner { id } share since until source } } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
OWNERS = """
query Owners($code: String!, $asOf: Date) {
  house(code: $code) {
    owners(asOf: $asOf) { owner { id name kind idNumber } share since until source }
  }
}
"""


def _transferred_house(hub: Hub) -> tuple[str, list[dict[str, Any]]]:
    """A house whose ownership history holds an ownership that ended."""
    district = first_place(hub, "DISTRICT")["code"]
    after = None
    while True:
        page = hub.data(HISTORY, within=district, after=after)["places"]
        for edge in page["edges"]:
            history = edge["node"]["ownershipHistory"]
            if any(ownership["until"] for ownership in history):
                return edge["node"]["code"], history
        assert page["pageInfo"]["hasNextPage"], "the demo city has no house that changed hands"
        after = page["pageInfo"]["endCursor"]


def _owner_ids(hub: Hub, code: str, as_of: str | None) -> set[str]:
    owners = hub.data(OWNERS, code=code, asOf=as_of)["house"]["owners"]
    return {ownership["owner"]["id"] for ownership in owners}


def test_owners_before_and_after_a_transfer(hub: Hub) -> None:
    code, history = _transferred_house(hub)
    ended = next(ownership for ownership in history if ownership["until"])
    transfer = dt.date.fromisoformat(ended["until"])
    seller = ended["owner"]["id"]
    day_before = (transfer - dt.timedelta(days=1)).isoformat()
    before = _owner_ids(hub, code, day_before)
    after = _owner_ids(hub, code, transfer.isoformat())
    assert seller in before
    assert seller not in after, "`until` is the first day the ownership no longer holds"
    assert after, "someone holds the house from the day of the transfer"
    assert _owner_ids(hub, code, None) == {
        ownership["owner"]["id"] for ownership in history if ownership["until"] is None
    }
    assert _owner_ids(hub, code, "1900-01-01") == set()


def test_current_shares_add_up_and_the_owner_holds_the_house(hub: Hub) -> None:
    code, _ = _transferred_house(hub)
    owners = hub.data(OWNERS, code=code, asOf=None)["house"]["owners"]
    assert abs(sum(ownership["share"] for ownership in owners) - 1.0) < 1e-9
    owner = owners[0]["owner"]
    assert owner["kind"] in {"PERSON", "ORGANISATION"} and owner["name"] and owner["idNumber"]
    query = """query($id: ID!) { node(id: $id) { ... on Owner {
        houses { house { code } share } houseHistory { house { code } } } } }"""
    node = hub.data(query, id=owner["id"])["node"]
    assert code in [ownership["house"]["code"] for ownership in node["houses"]]
    assert len(node["houseHistory"]) >= len(node["houses"])


def test_estates_have_a_firm_that_manages_them(hub: Hub) -> None:
    estate = first_place(hub, "ESTATE")["code"]
    query = """query($code: String!) { place(code: $code) { ... on Estate {
        currentFirm { code name }
        managers { firm { code } since until }
        managementHistory { firm { code } since until estate { code } } } } }"""
    place = hub.data(query, code=estate)["place"]
    firm = place["currentFirm"]
    assert firm is not None
    assert firm["code"] in {management["firm"]["code"] for management in place["managers"]}
    assert all(management["until"] is None or management["until"] > dt.date.today().isoformat()
               for management in place["managers"])
    assert {management["estate"]["code"] for management in place["managementHistory"]} == {estate}
    by_code = """query($code: String!) { firm(code: $code) { code name
        estates { estate { code } } estateHistory { since } } }"""
    found = hub.data(by_code, code=firm["code"])["firm"]
    assert found["name"] == firm["name"]
    assert estate in [management["estate"]["code"] for management in found["estates"]]
    assert len(found["estateHistory"]) >= len(found["estates"])
