"""A hub served by uvicorn in a thread on a loopback socket, for suites that test over real HTTP."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

Main = Callable[[socket.socket, dict[str, Any]], Awaitable[None]]
"""Builds the app, puts its `uvicorn.Server` (and anything the tests need) in the dict, serves."""


def loopback_socket() -> socket.socket:
    # IPPROTO_TCP spelled out: asyncio turns Nagle off only on sockets whose proto says TCP, and
    # with Nagle on, every response on a kept-alive connection waits 40 ms for a delayed ACK
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def served(main: Main, *, startup_seconds: float) -> Iterator[tuple[str, dict[str, Any]]]:
    """The base URL and what `main` shared, once its server answers; stopped afterwards."""
    sock = loopback_socket()
    port = sock.getsockname()[1]
    started: dict[str, Any] = {}
    failed: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(main(sock, started))
        except BaseException as error:  # reported to the fixture, which fails the session clearly
            failed.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_seconds
    while True:
        if failed:
            sock.close()
            raise RuntimeError("the hub did not start") from failed[0]
        server = started.get("server")
        if server is not None and server.started:
            break
        if time.monotonic() > deadline or not thread.is_alive():
            sock.close()
            raise RuntimeError("the hub did not start in time")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", started
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
        if failed:
            raise RuntimeError("the hub failed while serving") from failed[0]


async def serve_app(app: Any, sock: socket.socket, started: dict[str, Any], **shared: Any) -> None:
    """Serve `app` on `sock` as every suite does (h11; WebSockets through the websockets
    package's sans-I/O implementation, whose legacy one warns), after putting the server, the
    running loop and `shared` where the test thread reads them (`served`)."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", ws="websockets-sansio", http="h11"))
    started.update(server=server, loop=asyncio.get_running_loop(), **shared)
    await server.serve(sockets=[sock])


async def serve_with_ingestion(
    store: Any, keys: Any, db: str, prefix: str, sock: socket.socket, started: dict[str, Any], **options: Any
) -> None:
    """Serve the hub over `store` with device ingestion reading the real Mosquitto under the
    topic prefix `prefix` (the run's own), sharing the store, its event bus and the keys;
    `options` go to `create_app` (map settings, say) or, prefixed `shared_`, to the test."""
    from graph.events import EventBus
    from hub.app import create_app
    from hub.settings import Settings
    from tests.services import MOSQUITTO

    shared = {key[len("shared_"):]: value for key, value in options.items() if key.startswith("shared_")}
    app_options = {key: value for key, value in options.items() if not key.startswith("shared_")}
    bus = EventBus()
    settings = Settings(db=db, mqtt=f"mqtt://{MOSQUITTO.host}:{MOSQUITTO.port}", mqtt_prefix=prefix, mqtt_client_id=f"hub-{prefix}")
    app = create_app(store, keys=keys, owns_store=True, bus=bus, background=settings, **app_options)
    await serve_app(app, sock, started, store=store, bus=bus, keys=keys, **shared)


class TokenHolders:
    """GraphQL over HTTP as the holder of one of `tokens`, for a served hub's test handle (a
    dataclass with `tokens` and an `httpx.Client` on the hub's base URL)."""

    tokens: dict[str, str]
    client: httpx.Client

    def ask(self, who: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The whole GraphQL answer (data and errors) to `who`'s query."""
        response = self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers={"authorization": f"Bearer {self.tokens[who]}"}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def data(self, who: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The data of an answer that must carry no error."""
        body = self.ask(who, query, variables)
        assert not body.get("errors"), body
        data: dict[str, Any] = body["data"]
        return data

    def error(self, who: str, query: str, variables: dict[str, Any] | None = None) -> str:
        """The first error's message of an answer that must carry one."""
        body = self.ask(who, query, variables)
        assert body.get("errors"), body
        return str(body["errors"][0]["message"])
