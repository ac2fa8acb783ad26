"""A live hub for the API's tests: uvicorn on a free loopback port, serving the `small` demo city.

The server runs in a thread with its own event loop, which opens the store, loads the demo city
(preset `small`, seed 7) and serves `create_app` over a `CountingStore`, so tests can both query
over real HTTP and count the store calls a query makes.

The hub is served from SQLite and, for the suites in `GRAPH_SUITES` (what the API answers from
places, owners, firms and roll-ups), from FalkorDB too: one city per backend per session.
"""

from __future__ import annotations

import asyncio
import functools
import datetime as dt
import socket
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn

from graph.ciphers.keyring import Keyring
from graph import open_store
from graph.store import Store
from hub.auth.issuing import issue_token
from hub.demo import generate
from hub.loading import load
from tests import backends
from tests.kept import kept
from tests.schema.counting import CountingStore, serve_counting
from tests.serving import served

PRESET, SEED = "small", 7
NEEDS = ("tokens", "audit")
"""What the hub fixture needs of the store beside places, owners and firms: issuing its token."""
GRAPH_SUITES = {
    "test_places": NEEDS,
    "test_stats": NEEDS,
    "test_stats::test_geo_is_a_feature_collection_of_the_level": (*NEEDS, "devices", "funds"),  # device summaries, fund totals per shape
    "test_stats_funds": (*NEEDS, "devices", "funds", "merkle logs"),  # journals booked, folded and rolled up
    "test_owners": NEEDS,
    "test_nodes": NEEDS,
    "test_loaders": NEEDS,
    "test_errors": NEEDS,
}
"""The modules (and tests) that also run on the graph stores, with the parts of the store they
need (tests.backends.keep_graph_params); the others run on SQLite only."""
_Result = TypeVar("_Result")
STARTUP_SECONDS = 600.0


@dataclass
class Hub:
    """The running server: its base URL, an HTTP client, and the store's call counter."""

    url: str
    client: httpx.Client
    store: CountingStore
    keys: Keyring | None = field(default=None, repr=False)
    """The hub's keys, to issue tokens of other roles than the admin's the client sends."""
    server: uvicorn.Server | None = field(default=None, repr=False)
    loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)
    """The server's event loop: the store belongs to it (`run` a coroutine there)."""

    def run(self, coroutine: Coroutine[Any, Any, _Result], timeout: float = 60) -> _Result:
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def post(self, query: str, **variables: Any) -> dict[str, Any]:
        """The GraphQL response body of a POST (errors included), after checking it is JSON."""
        response = self.client.post("/graphql", json={"query": query, "variables": variables})
        assert response.status_code == 200, (response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/json"), response.text
        body: dict[str, Any] = response.json()
        return body

    def data(self, query: str, **variables: Any) -> dict[str, Any]:
        """The `data` of a query that must succeed."""
        body = self.post(query, **variables)
        assert not body.get("errors"), body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    def errors(self, query: str, **variables: Any) -> list[dict[str, Any]]:
        """The errors of a query that must fail."""
        body = self.post(query, **variables)
        assert body.get("errors"), body
        errors: list[dict[str, Any]] = body["errors"]
        return errors


async def _load(store: Store) -> None:
    await load(store, generate(PRESET, seed=SEED), progress=False)


async def _main(url: str, sock: socket.socket, started: dict[str, Any]) -> None:
    keys = Keyring.generate()
    store = await open_store(url, sealer=keys.sealer())
    try:
        await _load(store)
        token = await issue_token(store, keys, "admin", "*", "schema tests", dt.timedelta(days=1))
    except BaseException:
        await store.close()
        raise
    await serve_counting(store, keys, sock, started, token=token, keyring=keys)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    backends.keep_graph_params(config, items, "hub", GRAPH_SUITES)



@pytest.fixture(scope="session", params=backends.api_params())
def hub(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Hub:
    """The served hub on the param's backend: one per worker and backend for the session
    (tests.kept), however often pytest switches between backends."""
    backend: str = request.param
    backends.prepare(backend, request)
    return kept(backend, request).get("schema_hub", lambda: _hub(backend, request, tmp_path_factory))


@contextmanager
def _hub(backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    folder: Path = tmp_path_factory.mktemp("hub")
    url = asyncio.run(backends.url_for(backend, request, folder))
    with served(functools.partial(_main, url), startup_seconds=STARTUP_SECONDS) as (base, started):
        client = httpx.Client(
            base_url=base, timeout=120, trust_env=False, headers={"authorization": f"Bearer {started['token']}"}
        )
        try:
            yield Hub(
                url=base, client=client, store=started["store"], keys=started["keyring"], server=started["server"], loop=started["loop"]
            )
        finally:
            client.close()


@pytest.fixture
def counting(hub: Hub) -> Iterator[CountingStore]:
    """The store's call counter, zeroed for the test and never left failing."""
    hub.store.reset()
    yield hub.store
    hub.store.fail_with = None
    hub.store.reset()
