"""The ASGI app around the schema: GraphiQL for browsers, GET queries, health, the root."""

from __future__ import annotations

from typing import cast

import httpx
import pytest
from starlette.applications import Starlette

from graph.store import Store
from graph.ciphers.keyring import Keyring
from hub.app import create_app
from hub.gate import Gate
from tests.schema.conftest import Hub


KEYS = Keyring.generate()


def test_graphiql_is_served_to_browsers(hub: Hub) -> None:
    response = hub.client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


def test_queries_over_get(hub: Hub) -> None:
    response = hub.client.get("/graphql", params={"query": "{ levels { level } }"})
    assert response.status_code == 200
    assert response.json()["data"]["levels"][0] == {"level": "CITY"}


def test_health(hub: Hub) -> None:
    response = hub.client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_the_root_leads_to_graphql(hub: Hub) -> None:
    response = hub.client.get("/", follow_redirects=False)
    assert response.is_redirect and response.headers["location"].endswith("/graphql")


class _ClosingStore:
    """Just enough of a store to see whether the app closes it."""

    def __init__(self) -> None:
        self.closed = False

    async def close(self) -> None:
        self.closed = True


async def _get(gate: Gate, path: str, **headers: str) -> httpx.Response:
    """One request through the app in process, inside its lifespan."""
    app = cast(Starlette, gate.app)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=gate)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
            return await client.get(path, headers=headers)


@pytest.mark.parametrize("owns_store", [True, False])
async def test_the_store_is_closed_only_by_its_owner(owns_store: bool) -> None:
    store = _ClosingStore()
    app = cast(Starlette, create_app(cast(Store, store), keys=KEYS, owns_store=owns_store).app)
    async with app.router.lifespan_context(app):
        assert not store.closed
    assert store.closed is owns_store


async def test_graphiql_can_be_turned_off() -> None:
    app = create_app(cast(Store, _ClosingStore()), keys=KEYS, graphiql=False)
    response = await _get(app, "/graphql", Accept="text/html")
    assert response.status_code == 404
    assert "graphiql" not in response.text.lower()
