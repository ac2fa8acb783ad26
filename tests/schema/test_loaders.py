"""No N+1: the store calls a query makes do not grow with the number of places it lists."""

from __future__ import annotations

from tests.schema.conftest import Hub
from tests.schema.counting import CountingStore

HOUSES = """
query Houses($first: Int!) {
  places(level: HOUSE, first: $first) {
    edges { node {
      ... on House { owners { owner { name } } building { name } estate { name } }
      parent { name }
      ancestors { code }
    } }
  }
}
"""
MOST_CALLS = 6


def _calls(hub: Hub, counting: CountingStore, query: str, **variables: object) -> dict[str, int]:
    counting.reset()
    data = hub.data(query, **variables)
    assert data
    return counting.snapshot()


def test_houses_with_their_owners_and_places_cost_the_same_for_10_or_100(
    hub: Hub, counting: CountingStore
) -> None:
    ten = _calls(hub, counting, HOUSES, first=10)
    hundred = _calls(hub, counting, HOUSES, first=100)
    assert ten == hundred, (ten, hundred)
    assert sum(hundred.values()) <= MOST_CALLS, hundred
    # owners come with their ownerships: no call of their own
    assert hundred["subtree"] == 1 and hundred["ownerships"] == 1 and "owners" not in hundred
    assert hundred["ancestors"] == 1
    print(f"store calls for 10 or 100 houses: {hundred}")


def test_a_page_of_children_costs_one_call_per_relation(hub: Hub, counting: CountingStore) -> None:
    query = """query($code: String!) { place(code: $code) { children(first: 500) { edges { node {
        code parent { code } stats { houses }
        children(first: 5) { edges { node { code parent { code } } } }
    } } } } }"""
    calls = _calls(hub, counting, query, code="370202")
    assert calls.get("children") == 2, calls
    assert calls.get("place_stats") == 1, calls
    assert sum(calls.values()) <= 4, calls


def test_estates_with_firms_and_history(hub: Hub, counting: CountingStore) -> None:
    query = """query($first: Int!) { places(level: ESTATE, first: $first) { edges { node {
        ... on Estate { currentFirm { name } managers { firm { code } }
          managementHistory { since firm { estates { estate { code } } } } } } } } }"""
    few = _calls(hub, counting, query, first=2)
    many = _calls(hub, counting, query, first=100)  # every estate of the small city (50)
    # Today's managers and the whole history are two dates, so two calls; the rest one each.
    # With few estates listed, the firms' other estates may not be loaded yet: one call reads them.
    assert many == {"subtree": 1, "managements": 2, "firms": 1, "estates_of": 1}, many
    assert {**few, "places": 0} == {**many, "places": 0} and few.get("places", 0) <= 1, few
