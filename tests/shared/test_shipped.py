"""Every query the hub ships is published at startup (once) and runs for the roles it is shared
with, each in its own scope."""

from __future__ import annotations

import pytest

from hub.shared import SHIPPED, publish_shipped
from tests.shared.conftest import SharedHub

RUN = "query($name: String!, $variables: JSON) { runSharedQuery(name: $name, variables: $variables) { name version data errors cached } }"


def test_the_shipped_queries_are_published_once(shared_hub: SharedHub) -> None:
    listed = shared_hub.data("firm_a", "{ sharedQueries { name version owner { name role scope } roles } }")["sharedQueries"]
    shipped = {item["name"]: item for item in listed if item["owner"]["name"] == "hub"}
    assert set(shipped) == {item.name for item in SHIPPED}
    assert all(item["version"] == 1 and item["owner"] == {"name": "hub", "role": "ADMIN", "scope": None} for item in shipped.values())
    assert all("PROPERTY_FIRM" in item["roles"] and "STREET" in item["roles"] for item in shipped.values())
    # a hub starting again publishes nothing new
    schema = None
    from hub.app import HubGraphQL  # the app's own schema validates the documents
    from hub.limits import Limits

    schema = HubGraphQL(shared_hub.store, graphiql=False, introspection=True, limits=Limits.default()).schema
    assert shared_hub.run(publish_shipped(shared_hub.store, schema)) == []


@pytest.mark.parametrize("who", ["firm_a", "firm_b", "street", "city", "admin"])
@pytest.mark.parametrize("name", [item.name for item in SHIPPED])
def test_every_shipped_query_runs(shared_hub: SharedHub, who: str, name: str) -> None:
    run = shared_hub.data(who, RUN, {"name": name})["runSharedQuery"]
    assert run["errors"] is None, run["errors"]
    assert run["name"] == name and run["data"]
