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


async def test_a_store_that_cannot_take_them_does_not_stop_the_hub(caplog: pytest.LogCaptureFixture) -> None:
    from hub.app import HubGraphQL
    from hub.limits import Limits
    from hub.shared import ship

    class ReadOnly:
        async def shared_versions(self, name: str) -> list[object]:
            return []

        async def publish_shared(self, *_: object) -> object:
            raise PermissionError("read-only replica")

    schema = HubGraphQL(ReadOnly(), graphiql=False, introspection=True, limits=Limits.default()).schema  # type: ignore[arg-type]
    await ship(ReadOnly(), schema)  # type: ignore[arg-type]
    assert "could not be published" in caplog.text and "read-only replica" in caplog.text


def test_a_shipped_query_the_city_withdrew_stays_withdrawn(shared_hub: SharedHub) -> None:
    """Runs last in this module: it withdraws one of the shipped queries."""
    from hub.app import HubGraphQL
    from hub.limits import Limits

    withdraw = 'mutation { withdrawSharedQuery(name: "cases-by-category", version: 1) { version versions } }'
    assert shared_hub.data("city", withdraw)["withdrawSharedQuery"] == {"version": 1, "versions": []}
    schema = HubGraphQL(shared_hub.store, graphiql=False, introspection=True, limits=Limits.default()).schema
    assert shared_hub.run(publish_shipped(shared_hub.store, schema)) == []
    assert shared_hub.data("firm_a", '{ sharedQuery(name: "cases-by-category") { version } }')["sharedQuery"] is None
    assert shared_hub.get("firm_a", "/q/cases-by-category").status_code == 404
