"""A graphql-transport-ws client for tests: connect, init with a token, subscribe, read events.

It speaks the protocol by hand over the `websockets` package (what uvicorn serves WebSockets
with), so the tests see exactly the frames a browser's graphql-ws client would.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

PROTOCOL = "graphql-transport-ws"


class LiveClient:
    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self._next = 0

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(message))

    async def receive(self, timeout: float = 10) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.connection.recv(), timeout)
        message: dict[str, Any] = json.loads(raw)
        return message

    async def init(self, token: str | None) -> dict[str, Any]:
        payload = {} if token is None else {"Authorization": f"Bearer {token}"}
        await self.send({"type": "connection_init", "payload": payload})
        return await self.receive()

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        self._next += 1
        key = str(self._next)
        await self.send({"id": key, "type": "subscribe", "payload": {"query": query, "variables": variables or {}}})
        return key

    async def next_data(self, key: str, timeout: float = 10) -> dict[str, Any]:
        """The next `next` payload's data for subscription `key` (errors raise)."""
        while True:
            message = await self.receive(timeout)
            if message.get("id") != key:
                continue
            if message["type"] == "next":
                payload = message["payload"]
                if payload.get("errors"):
                    raise AssertionError(f"subscription {key} errors: {payload['errors']}")
                data: dict[str, Any] = payload["data"]
                return data
            raise AssertionError(f"subscription {key} ended: {message}")

    async def quiet(self, seconds: float) -> list[dict[str, Any]]:
        """Every message that arrives within `seconds` (to show that nothing does)."""
        seen: list[dict[str, Any]] = []
        try:
            while True:
                seen.append(await self.receive(seconds))
        except (TimeoutError, asyncio.TimeoutError):
            return seen


@asynccontextmanager
async def live(base_url: str, headers: dict[str, str] | None = None) -> AsyncIterator[LiveClient]:
    url = base_url.replace("http://", "ws://") + "/graphql"
    async with connect(url, subprotocols=[PROTOCOL], additional_headers=headers or {}) as connection:  # type: ignore[list-item]
        yield LiveClient(connection)
