"""`open311`: any Open311 GeoReport v2 server read as a source of cases (the hub's own included).

Open311 has no cursor. The `requests` stream reads by time windows instead: from the saved
cursor's time (or `start` on a first run) to now, `window_days` at a time, each window asked
with `updated_after`/`updated_before` (the extension the hub, Chicago's and SeeClickFix's
servers answer; `windows = "requested"` uses the spec's own `start_date`/`end_date` on the
request time instead, for servers without it — changes to old requests are then seen only by a
full read). A window that comes back full (1,000 requests, the spec's cap) is split in two until
it does not. Requests are deduplicated by id, ordered by (time, id), and the cursor is
`time|service_request_id`, so a window that overlaps the last one reads nothing twice.

Each request becomes a case (source OPEN311) linked to a place like a 12345 order: by
`address_id` when it is a place code the hub knows, by address, by point (WGS-84, as Open311
says). The 12345 step comes back from `status_notes` (see connectors.open311.mapping).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, ClassVar

import httpx

from connectors.base import (
    Check,
    Config,
    ConfigField,
    ConfigSchema,
    ConnectorError,
    Facts,
    FieldSpec,
    FieldType,
    RecordSchema,
    Rejected,
    SourceRecord,
    Stream,
    Verdict,
    json_record,
)
from connectors.cityops.linking import Linked, PlaceLinker, source_case_id
from connectors.cityops.streams import cursor_of, split_cursor
from connectors.open311.mapping import category_of, lifecycle_of, parse_time, title_of
from graph.cases import Case, CaseSource, Point
from graph.codes import place_code
from graph.errors import CodeError, InvalidInput
from graph.ledger import Reason
from graph.model import Batch
from graph.store import Store

CAP = 1000
"""The most requests an Open311 server returns for one query (the spec's default bound)."""

REQUEST_SCHEMA = RecordSchema(
    (
        FieldSpec("service_request_id", (str, int)),
        FieldSpec("status", str),
        FieldSpec("service_code", str, required=False),
        FieldSpec("service_name", str, required=False),
        FieldSpec("description", str, required=False),
        FieldSpec("status_notes", str, required=False),
        FieldSpec("requested_datetime", str),
        FieldSpec("updated_datetime", str, required=False),
        FieldSpec("expected_datetime", str, required=False),
        FieldSpec("address", str, required=False),
        FieldSpec("address_id", (str, int), required=False),
        FieldSpec("lat", (float, int, str), required=False),
        FieldSpec("long", (float, int, str), required=False),
    )
)


class Open311Requests:
    """Service requests, keyed by `service_request_id`, in (updated_datetime, id) order."""

    name: str = "requests"
    primary_key: tuple[str, ...] = ("service_request_id",)
    cursor_field: str = "updated_datetime"
    schema: RecordSchema = REQUEST_SCHEMA

    def __init__(self, source: Open311Source) -> None:
        self.source = source
        self._linker: PlaceLinker | None = None

    @property
    def _field(self) -> str:
        return "updated_datetime" if self.source.by_update else "requested_datetime"

    def _moment(self, request: Mapping[str, Any]) -> dt.datetime:
        value = request.get(self._field) or request.get("requested_datetime")
        return parse_time(str(value), field=self._field)

    async def read(self, after: str | None) -> AsyncIterator[SourceRecord]:
        position = split_cursor(after)
        start = position[0] if position is not None else self.source.start
        now = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)
        window = dt.timedelta(days=self.source.window_days)
        while start < now:
            end = min(start + window, now)
            latest: dict[str, tuple[dt.datetime, dict[str, Any]]] = {}
            for request in await self.source.window(start, end):
                key = str(request.get("service_request_id") or "")
                try:
                    moment = self._moment(request)
                except ValueError:
                    raise ConnectorError(
                        f"{self.source.name}: request {key or '?'} has no readable {self._field}: {request.get(self._field)!r}"
                    ) from None
                if key and (key not in latest or latest[key][0] <= moment):
                    latest[key] = (moment, request)
            for key, (moment, request) in sorted(latest.items(), key=lambda item: (item[1][0], item[0])):
                if position is not None and (moment, key) <= position:
                    continue
                position = (moment, key)
                yield SourceRecord(self.name, key, cursor_of(moment, key), request)
            start = end

    def kept(self, record: SourceRecord, store: Store) -> dict[str, Any]:
        return json_record(record.data)

    def revive(self, payload: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The request as the server gave it (JSON), which its dead letter kept whole."""
        return dict(payload)

    async def link(self, records: Sequence[SourceRecord], store: Store) -> list[Verdict]:
        if self._linker is None or self._linker.store is not store:
            self._linker = PlaceLinker(store)
        linker = self._linker
        codes: dict[str, list[str]] = {}
        for record in records:
            value = record.data.get("address_id")
            try:
                codes[record.key] = [place_code(str(value).strip(), field="address_id")[0]] if value else []
            except CodeError:
                codes[record.key] = []  # another server's address ids are its own, not place codes
        known = await linker.known([code for found in codes.values() for code in found])
        verdicts: list[Verdict] = []
        for record in records:
            verdicts.append(await self._case(record, codes[record.key], known, linker))
        return verdicts

    async def _case(self, record: SourceRecord, codes: list[str], known: set[str], linker: PlaceLinker) -> Verdict:
        data = record.data
        where = f"request {record.key}"
        try:
            reported = parse_time(str(data["requested_datetime"]), field="requested_datetime")
            updated = parse_time(str(data.get("updated_datetime") or data["requested_datetime"]), field="updated_datetime")
            deadline = parse_time(str(data["expected_datetime"]), field="expected_datetime") if data.get("expected_datetime") else None
        except ValueError as error:
            return Rejected(Reason.SCHEMA_MISMATCH, f"{where}: {error}")
        point = None
        if data.get("lat") not in (None, "") or data.get("long") not in (None, ""):
            try:
                lat, lon = float(data["lat"]), float(data["long"])
            except (KeyError, TypeError, ValueError):
                return Rejected(Reason.SCHEMA_MISMATCH, f"{where}: lat and long must both be decimal degrees")
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                return Rejected(Reason.SCHEMA_MISMATCH, f"{where}: lat {lat}, long {lon} is not a WGS-84 position")
            point = Point(lon, lat)
        address = str(data["address"]).strip() if data.get("address") else None
        found = await linker.link(codes=codes, known=known, address=address, point=point)
        if not isinstance(found, Linked):
            reason = Reason.UNKNOWN_PLACE if found.code_only else Reason.UNMATCHED_ADDRESS
            return Rejected(reason, f"{where}: {found.detail}", found.candidates)
        description = str(data.get("description") or "")
        return Facts(
            Batch(
                cases=[
                    Case(
                        id=source_case_id(self.source.name, record.key),
                        source=CaseSource.OPEN311,
                        category=category_of(data.get("service_code"), data.get("service_name")),
                        status=lifecycle_of(data.get("status"), data.get("status_notes")),
                        title=title_of(data)[:400],
                        reported_at=reported,
                        updated_at=max(updated, reported),
                        description=description,
                        place_code=found.place_code,
                        point=point,
                        address=address,
                        external_id=record.key[:128],
                        deadline=deadline,
                    )
                ]
            )
        )


class Open311Source:
    kind: ClassVar[str] = "open311"
    config_schema: ClassVar[ConfigSchema] = ConfigSchema(
        (
            ConfigField("url", FieldType.URL, "the server's GeoReport v2 base, e.g. https://hub.example/open311/v2"),
            ConfigField("api_key", FieldType.STRING, "the api_key the server gave this hub", required=False, secret=True),
            ConfigField("jurisdiction_id", FieldType.STRING, "the jurisdiction, for servers that serve several", required=False),
            ConfigField("service_codes", FieldType.STRING, "only these services (comma-separated codes)", required=False),
            ConfigField(
                "windows",
                FieldType.STRING,
                "how to read changes: 'updated' (updated_after/updated_before) or 'requested' (start_date/end_date)",
                required=False,
                default="updated",
                choices=("updated", "requested"),
            ),
            ConfigField("window_days", FieldType.INTEGER, "days per query window", required=False, default=30, bounds=(1, 366)),
            ConfigField("start", FieldType.STRING, "the earliest time a first run reads from (ISO 8601)", required=False, default="2020-01-01T00:00:00+08:00"),
            ConfigField("timeout_seconds", FieldType.INTEGER, "HTTP timeout per request", required=False, default=30),
        )
    )

    def __init__(self, name: str, config: Config) -> None:
        self.name = name
        self.config = config
        self.by_update = config["windows"] == "updated"
        self.window_days = int(config["window_days"])
        try:
            self.start = parse_time(str(config["start"]), field="start")
        except ValueError as error:
            raise InvalidInput(f"connectors.{name}.start", config["start"], "must be an ISO 8601 time") from error
        self._client: httpx.AsyncClient | None = None

    @property
    def url(self) -> str:
        return str(self.config["url"]).rstrip("/")

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self.url + "/", timeout=float(self.config["timeout_seconds"]), trust_env=False, headers={"accept": "application/json"}
            )
        return self._client

    def _params(self, extra: Mapping[str, str]) -> dict[str, str]:
        params = dict(extra)
        for name in ("api_key", "jurisdiction_id"):
            if self.config.values.get(name):
                params[name] = str(self.config[name])
        if self.config.values.get("service_codes"):
            params["service_code"] = ",".join(code.strip() for code in str(self.config["service_codes"]).split(",") if code.strip())
        return params

    def _clean(self, text: str) -> str:
        key = self.config.values.get("api_key")
        return text.replace(str(key), "***") if key else text

    async def get(self, path: str, params: Mapping[str, str]) -> Any:
        try:
            response = await self.client().get(path, params=self._params(params))
        except httpx.HTTPError as error:
            raise ConnectorError(self._clean(f"{self.name}: GET {self.url}/{path} failed: {type(error).__name__}: {error}")) from None
        if response.status_code != 200:
            raise ConnectorError(self._clean(f"{self.name}: GET {self.url}/{path} answered {response.status_code}: {response.text[:200]}"))
        try:
            return response.json()
        except ValueError:
            raise ConnectorError(f"{self.name}: GET {self.url}/{path} answered something that is not JSON") from None

    async def window(self, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
        """Every request in [start, end), splitting the window while the server's cap is hit."""
        names = ("updated_after", "updated_before") if self.by_update else ("start_date", "end_date")
        found = await self.get("requests.json", {names[0]: start.isoformat(), names[1]: end.isoformat()})
        if not isinstance(found, list):
            raise ConnectorError(f"{self.name}: requests.json answered {type(found).__name__}, not a list of requests")
        if len(found) < CAP:
            return [item for item in found if isinstance(item, dict)]
        if end - start <= dt.timedelta(seconds=1):
            raise ConnectorError(f"{self.name}: more than {CAP} requests within one second at {start.isoformat()}; cannot page further")
        middle = start + (end - start) / 2
        return await self.window(start, middle) + await self.window(middle, end)

    def streams(self) -> Sequence[Stream]:
        return [Open311Requests(self)]

    async def check(self) -> Check:
        try:
            services = await self.get("services.json", {})
            now = dt.datetime.now(dt.timezone.utc)
            names = ("updated_after", "updated_before") if self.by_update else ("start_date", "end_date")
            requests = await self.get("requests.json", {names[0]: (now - dt.timedelta(days=1)).isoformat(), names[1]: now.isoformat()})
        except ConnectorError as error:
            return Check(False, f"{self.name}: the Open311 server cannot be read: {error}")
        if not isinstance(services, list) or not isinstance(requests, list):
            return Check(False, f"{self.name}: {self.url} does not answer as an Open311 GeoReport v2 server")
        return Check(True, f"{self.name}: {self.url} answers: {len(services)} services; requests: readable ({len(requests)} changed in the last day)")

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
