"""A live hub for the API's tests: uvicorn on a free loopback port, serving the `small` demo city.

The server runs in a thread with its own event loop, which opens the SQLite store, loads the
demo city (preset `small`, seed 7) and serves `create_app` over a `CountingStore`, so tests can
both query over real HTTP and count the store calls a query makes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import uvicorn

from graph.ciphers.keyring import Keyring
from graph.sql import SqlStore
from graph.store import Store
from hub.app import create_app
from hub.auth.authentication import Authenticator
from hub.auth.issuing import issue_token
from hub.demo import generate
from hub.loading import load
from tests.schema.counting import CountingStore

PRESET, SEED = "small", 7
STARTUP_SECONDS = 600.0


@dataclass
class Hub:
    """The running server: its base URL, an HTTP client, and the store's call counter."""

    url: str
    client: httpx.Client
    store: CountingStore
    server: uvicorn.Server | None = field(default=None, repr=False)

    def post(self, query: str, **variables: Any) -> dict[str, Any]:
        """The GraphQL response body of a POST (errors included), after checking it is JSON."""
        response = self.client.post("/graphql", json={"query": query, "variables": variables})
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


def _serve(url: str, sock: socket.socket, started: dict[str, Any], failed: list[BaseException]) -> None:
    async def main() -> None:
        keys = Keyring.generate()
        store = await SqlStore.open(url, sealer=keys.sealer())
        await _load(store)
        token = await issue_token(store, keys, "admin", "*", "schema tests", dt.timedelta(days=1))
        counting = CountingStore(store)
        # the gate reads tokens through the store itself, so the counter sees only the schema's reads
        app = create_app(
            cast(Store, counting), keys=keys, owns_store=True, authenticator=Authenticator(store, keys)
        )
        started["token"] = token
        config = uvicorn.Config(app, log_level="warning", lifespan="on", ws="none", http="h11")
        server = uvicorn.Server(config)
        started.update(store=counting, server=server)
        await server.serve(sockets=[sock])

    try:
        asyncio.run(main())
    except BaseException as error:  # reported to the fixture, which fails the session clearly
        failed.append(error)


@pytest.fixture(scope="session")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    database: Path = tmp_path_factory.mktemp("hub") / "hub.sqlite"
    # IPPROTO_TCP spelled out: asyncio turns Nagle off only on sockets whose proto says TCP
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    started: dict[str, Any] = {}
    failed: list[BaseException] = []
    thread = threading.Thread(
        target=_serve, args=(f"sqlite:///{database}", sock, started, failed), daemon=True
    )
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        if failed:
            raise RuntimeError("the hub did not start") from failed[0]
        server = started.get("server")
        if server is not None and server.started:
            break
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the hub did not start in time")
        time.sleep(0.05)
    client = httpx.Client(
        base_url=base, timeout=120, trust_env=False, headers={"authorization": f"Bearer {started['token']}"}
    )
    try:
        yield Hub(url=base, client=client, store=started["store"], server=server)
    finally:
        client.close()
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
        if failed:
            raise RuntimeError("the hub failed while serving") from failed[0]


@pytest.fixture
def counting(hub: Hub) -> Iterator[CountingStore]:
    """The store's call counter, zeroed for the test and never left failing."""
    hub.store.reset()
    yield hub.store
    hub.store.fail_with = None
    hub.store.reset()
