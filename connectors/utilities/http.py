"""A utility's HTTP JSON API as a source (kind `utilities-http`).

The API pages by time: `GET {url}/v1/{stream}?updated_after=…&after_key=…&limit=…`, then
`page_token=…` until `next_page_token` is null (the reference utility in
`connectors.utilities.reference` documents it). The saved cursor is `updated|key` of the last
record checkpointed, so a resumed sync asks for what came after it.

Requests carry the token in a header (`Authorization: Bearer …` by default); a refused token is
a ConnectorError that says so and never shows the token. 5xx answers and connection failures
are retried a few times with a growing pause; then the run fails with the cause, keeping every
checkpoint already saved.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from decimal import Decimal
from typing import Any, ClassVar

import httpx

from connectors.base import Check, Config, ConfigField, ConfigSchema, ConnectorError, FieldType, SourceRecord, Stream
from connectors.utilities.streams import STREAMS, record_key, utility_streams
from graph.utilities import Utility

RETRIES = (0.2, 0.6, 1.5)
"""Pauses (seconds) before each retry of a 5xx answer or a failed connection."""


class UtilitiesHttp:
    kind: ClassVar[str] = "utilities-http"
    config_schema: ClassVar[ConfigSchema] = ConfigSchema(
        (
            ConfigField("url", FieldType.URL, "the API's base URL (https://api.example-water.cn)"),
            ConfigField("token", FieldType.STRING, "the API token the utility issued", secret=True),
            ConfigField("utility", FieldType.STRING, "which utility this is", choices=tuple(u.value for u in Utility)),
            ConfigField("header", FieldType.STRING, "the header carrying the token", required=False, default="Authorization"),
            ConfigField("scheme", FieldType.STRING, "the word before the token in an Authorization header", required=False, default="Bearer"),
            ConfigField("page_size", FieldType.INTEGER, "records per request (1..1000)", required=False, default=500),
            ConfigField("timeout_seconds", FieldType.INTEGER, "per-request timeout", required=False, default=30),
            ConfigField("within", FieldType.STRING, "a place code bounding address matching (the utility's district)", required=False),
        )
    )

    def __init__(self, name: str, config: Config) -> None:
        self.name = name
        self.config = config
        self.utility = Utility(config["utility"])
        self.base = str(config["url"]).rstrip("/")
        self.page_size = max(1, min(int(config["page_size"]), 1000))

    def _headers(self) -> dict[str, str]:
        header, token = str(self.config["header"]), str(self.config["token"])
        value = f"{self.config['scheme']} {token}" if header.lower() == "authorization" and self.config["scheme"] else token
        return {header: value, "Accept": "application/json"}

    def client(self) -> httpx.AsyncClient:
        """A client for one read or check, closed when it ends: a run the runner abandons
        mid-read (a crash, a failed write) leaves no connection behind."""
        seconds = float(self.config["timeout_seconds"])
        return httpx.AsyncClient(
            base_url=self.base, headers=self._headers(), timeout=httpx.Timeout(seconds, connect=min(seconds, 10.0)), trust_env=False
        )

    async def get(self, client: httpx.AsyncClient, path: str, params: dict[str, Any]) -> Any:
        """One GET, retried on 5xx and connection failures; the JSON body."""
        where = f"{self.name}: GET {self.base}{path}"
        for attempt, pause in enumerate((*RETRIES, None)):
            try:
                response = await client.get(path, params=params)
            except httpx.HTTPError as error:
                cause = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
                if pause is None:
                    raise ConnectorError(f"{where} failed after {attempt + 1} attempts: {cause}") from None
                await asyncio.sleep(pause)
                continue
            if response.status_code in (401, 403):
                raise ConnectorError(
                    f"{where}: the utility refused the token (HTTP {response.status_code}); check connectors.{self.name}.token"
                )
            if response.status_code >= 500:
                if pause is None:
                    raise ConnectorError(f"{where} answered HTTP {response.status_code} {attempt + 1} times; the source is down")
                await asyncio.sleep(pause)
                continue
            if response.status_code != 200:
                raise ConnectorError(f"{where} answered HTTP {response.status_code}: {response.text[:200]}")
            try:
                # decimals as Decimal: a bill's 123.45 is read as written, never as a float
                return json.loads(response.content, parse_float=Decimal)
            except ValueError:
                raise ConnectorError(f"{where} answered something that is not JSON: {response.text[:80]!r}") from None
        raise AssertionError("unreachable")

    async def pages(
        self, client: httpx.AsyncClient, stream: str, after: str | None, limit: int | None = None
    ) -> AsyncGenerator[list[dict[str, Any]], None]:
        params: dict[str, Any] = {"limit": limit or self.page_size}
        if after:
            updated, _, key = after.partition("|")
            params.update(updated_after=updated, after_key=key)
        while True:
            body = await self.get(client, f"/v1/{stream}", params)
            items = body.get("items") if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise ConnectorError(f"{self.name}: /v1/{stream} answered without an items list")
            yield [item for item in items if isinstance(item, dict)]
            token = body.get("next_page_token")
            if not token or limit is not None:
                return
            params = {"limit": self.page_size, "page_token": token}

    def _reader(self, stream: str) -> Any:
        async def read(after: str | None) -> AsyncIterator[SourceRecord]:
            async with self.client() as client:
                pages = self.pages(client, stream, after)
                try:
                    async for items in pages:
                        for item in items:
                            key = record_key(stream, item)
                            yield SourceRecord(stream, key, f"{item.get('updated', '')}|{key}", item)
                finally:
                    await pages.aclose()

        return read

    def streams(self) -> Sequence[Stream]:
        return utility_streams(self.utility, self._reader, within=self.config.values.get("within"))

    async def check(self) -> Check:
        lines: list[str] = []
        try:
            async with self.client() as client:
                for stream in STREAMS:
                    async for items in self.pages(client, stream, None, limit=1):
                        lines.append(f"{stream}: readable ({'records' if items else 'empty'})")
        except ConnectorError as error:
            return Check(False, str(error))
        return Check(True, f"{self.name}: {self.base} answers for {self.utility.value}; " + "; ".join(lines))

    async def close(self) -> None:
        """Nothing stays open between reads (each read has its own client)."""
