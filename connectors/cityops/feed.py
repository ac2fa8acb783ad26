"""`cityops-feed`: the city's work-order (工单) REST feed — the 12345 hotline and the city
operations platform (城市运行管理服务平台) — read incrementally, and told of the hub's changes.

The feed's API is documented in `connectors.cityops.reference`, which serves a live copy of it
built from the demo city. Cases read here get `push_to` = this connector's name, so that moving
one in the hub (GraphQL `moveCase`) queues its new status in the outbox and `push` delivers it.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Sequence
from typing import ClassVar

import httpx

from connectors.base import Check, ConfigField, ConfigSchema, ConnectorError, FieldType, Config, Stream
from connectors.cityops.streams import OrdersStream, _get
from connectors.outbox import NOT_SENT, Refused
from graph.cases import OutboxMessage

RETRYABLE = frozenset({408, 429})
"""4xx answers worth trying again (timeout, too many requests); every other 4xx is final."""


class CityOpsFeed:
    kind: ClassVar[str] = "cityops-feed"
    config_schema: ClassVar[ConfigSchema] = ConfigSchema(
        (
            ConfigField("url", FieldType.URL, "base URL of the feed (its /api/orders lists work orders)"),
            ConfigField("token", FieldType.STRING, "the feed's API token, sent as 'Authorization: Bearer …'", secret=True),
            ConfigField("page_size", FieldType.INTEGER, "orders asked per page (1–500)", required=False, default=200, bounds=(1, 500)),
            ConfigField("timeout_seconds", FieldType.INTEGER, "HTTP timeout per request", required=False, default=30),
        )
    )

    def __init__(self, name: str, config: Config) -> None:
        self.name = name
        self.config = config
        self._client: httpx.AsyncClient | None = None

    @property
    def url(self) -> str:
        return str(self.config["url"]).rstrip("/")

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self.url,
                headers={"authorization": f"Bearer {self.config['token']}", "accept": "application/json"},
                timeout=float(self.config["timeout_seconds"]),
                trust_env=False,
            )
        return self._client

    def streams(self) -> Sequence[Stream]:
        return [OrdersStream(self.name, self.client(), page_size=int(self.config["page_size"]))]

    async def check(self) -> Check:
        try:
            body = await _get(self.client(), self.name, "/api/orders", {"limit": 1})
        except ConnectorError as error:
            return Check(False, f"{self.name}: the feed at {self.url} cannot be read: {error}")
        orders = body.get("orders")
        if not isinstance(orders, list):
            return Check(False, f"{self.name}: the feed at {self.url} answered without an 'orders' list")
        return Check(True, f"{self.name}: the feed at {self.url} answers; orders: readable ({len(orders)} on a first page of 1)")

    async def push(self, messages: Sequence[OutboxMessage]) -> list[str | None]:
        """POST each status change to `/api/orders/{order_no}/status`, in order, stopping at the
        first failure (the rest answer NOT_SENT); a 4xx other than 408/429 is `Refused`."""
        results: list[str | None] = []
        for message in messages:
            if results and results[-1] is not None:
                results.append(NOT_SENT)
                continue
            results.append(await self._push_one(message))
        return results

    async def _push_one(self, message: OutboxMessage) -> str | None:
        if not message.external_id:
            return Refused(f"case {message.case_id} has no order number at the feed")
        payload = message.payload
        body = {
            "status": payload.get("label") or payload.get("status"),
            "status_code": payload.get("status"),
            "note": payload.get("note", ""),
            "at": payload.get("at") or message.created_at.isoformat(),
            "actor": payload.get("actor", ""),
            "rating": payload.get("rating"),
            "message_id": message.id,
        }
        path = f"/api/orders/{urllib.parse.quote(message.external_id, safe='')}/status"
        try:
            response = await self.client().post(path, json=body)
        except httpx.HTTPError as error:
            return f"POST {path} failed: {type(error).__name__}: {error}"
        if 200 <= response.status_code < 300:
            return None
        answer = f"POST {path} answered {response.status_code}: {response.text[:300]}"
        if 400 <= response.status_code < 500 and response.status_code not in RETRYABLE:
            return Refused(answer)
        return answer

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
