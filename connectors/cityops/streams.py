"""The work-order stream of the city's 12345 / city-operations feed: read pages in cursor
order, turn each order into a `Case` linked to a place (see `connectors.cityops.reference` for
the feed's API and `connectors.cityops.linking` for how a place is found)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import httpx

from connectors.base import ConnectorError, Facts, FieldSpec, Rejected, RecordSchema, SourceRecord, Verdict, json_record
from connectors.cityops.gcj02 import gcj_to_wgs
from connectors.cityops.linking import Linked, PlaceLinker, source_case_id
from graph.cases import Case, CaseCategory, CaseSource, CaseStatus, Point
from graph.clock import china_time
from graph.codes import place_code
from graph.errors import CodeError
from graph.ledger import Reason
from graph.model import Batch
from graph.scope import Scope
from graph.store import Store

STATUSES: dict[str, CaseStatus] = {status.label: status for status in CaseStatus} | {
    status.value: status for status in CaseStatus
}
"""The feed's status (the Chinese step, 受理 … 归档 and 退单, or the hub's code) → CaseStatus."""

CATEGORIES: dict[str, CaseCategory] = {
    "报修": CaseCategory.REPAIR,
    "投诉": CaseCategory.COMPLAINT,
    "咨询": CaseCategory.CONSULTATION,
    "建议": CaseCategory.SUGGESTION,
    "求助": CaseCategory.EMERGENCY,
    "紧急": CaseCategory.EMERGENCY,
} | {category.value: category for category in CaseCategory}

CATEGORY_LABELS: dict[CaseCategory, str] = {
    CaseCategory.REPAIR: "报修",
    CaseCategory.COMPLAINT: "投诉",
    CaseCategory.CONSULTATION: "咨询",
    CaseCategory.SUGGESTION: "建议",
    CaseCategory.EMERGENCY: "紧急",
}

CHANNELS: dict[str, CaseSource] = {
    "12345": CaseSource.HOTLINE,
    "12345热线": CaseSource.HOTLINE,
    "hotline": CaseSource.HOTLINE,
    "城运": CaseSource.CITY_OPERATIONS,
    "城市运行管理服务平台": CaseSource.CITY_OPERATIONS,
    "city_operations": CaseSource.CITY_OPERATIONS,
}

ORDER_SCHEMA = RecordSchema(
    (
        FieldSpec("order_no", str),
        FieldSpec("channel", str),
        FieldSpec("category", str),
        FieldSpec("title", str),
        FieldSpec("content", str, required=False),
        FieldSpec("address", str, required=False),
        FieldSpec("house_code", str, required=False),
        FieldSpec("place_code", str, required=False),
        FieldSpec("lng", (float, int), required=False),
        FieldSpec("lat", (float, int), required=False),
        FieldSpec("status", str),
        FieldSpec("reported_at", str),
        FieldSpec("updated_at", str),
        FieldSpec("deadline", str, required=False),
        FieldSpec("firm_code", str, required=False),
        FieldSpec("rating", int, required=False),
    )
)

EVERYTHING = Scope.everything()


def parse_time(value: str) -> dt.datetime:
    """An ISO 8601 time from the feed; one without an offset is China time (the feed's zone)."""
    return china_time(value).astimezone(dt.timezone.utc)


def cursor_of(updated: dt.datetime, key: str) -> str:
    """`updated|key` with the time in fixed-width UTC, so cursors sort as the feed does."""
    return updated.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ") + "|" + key


def split_cursor(cursor: str | None) -> tuple[dt.datetime, str] | None:
    if not cursor:
        return None
    moment, bar, key = cursor.partition("|")
    if not bar:
        raise ConnectorError(f"saved cursor {cursor!r} is not 'time|key'; reset the connector's cursors")
    try:
        return parse_time(moment), key
    except ValueError:
        raise ConnectorError(f"saved cursor {cursor!r} has no ISO time; reset the connector's cursors") from None


class OrdersStream:
    """工单: the feed's work orders, keyed by order number, in (updated_at, order_no) order."""

    name: str = "orders"
    primary_key: tuple[str, ...] = ("order_no",)
    cursor_field: str = "updated_at"
    schema: RecordSchema = ORDER_SCHEMA

    def __init__(self, connector: str, client: httpx.AsyncClient, *, page_size: int) -> None:
        self.connector = connector
        self.client = client
        self.page_size = page_size
        self._linker: PlaceLinker | None = None

    async def read(self, after: str | None) -> AsyncIterator[SourceRecord]:
        position = split_cursor(after)
        while True:
            params: dict[str, Any] = {"limit": self.page_size}
            if position is not None:
                params["updated_after"] = position[0].isoformat()
                params["after_no"] = position[1]
            body = await _get(self.client, self.connector, "/api/orders", params)
            orders = body.get("orders")
            if not isinstance(orders, list):
                raise ConnectorError(f"{self.connector}: /api/orders answered without an 'orders' list")
            for order in orders:
                if not isinstance(order, dict) or not isinstance(order.get("order_no"), str):
                    raise ConnectorError(f"{self.connector}: /api/orders gave an order without an order_no: {str(order)[:80]}")
                try:
                    updated = parse_time(str(order.get("updated_at")))
                except ValueError:
                    raise ConnectorError(
                        f"{self.connector}: order {order['order_no']} has updated_at {order.get('updated_at')!r}, not an ISO time"
                    ) from None
                position = (updated, order["order_no"])
                yield SourceRecord(self.name, order["order_no"], cursor_of(*position), order)
            if not body.get("has_more") or not orders:
                return

    def kept(self, record: SourceRecord, store: Store) -> dict[str, Any]:
        return json_record(record.data)

    def revive(self, payload: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The order as the feed gave it (JSON), which its dead letter kept whole: a retry links
        it again once its place is known."""
        return dict(payload)

    async def link(self, records: Sequence[SourceRecord], store: Store) -> list[Verdict]:
        if self._linker is None or self._linker.store is not store:
            self._linker = PlaceLinker(store)
        linker = self._linker
        parsed: list[tuple[SourceRecord, _Order] | Rejected] = []
        codes: list[str] = []
        firms: list[str] = []
        for record in records:
            order = _parse(record.data)
            if isinstance(order, Rejected):
                parsed.append(order)
                continue
            parsed.append((record, order))
            codes += order.codes
            if order.firm_code:
                firms.append(order.firm_code)
        known = await linker.known(codes)
        firm_list = sorted(set(firms))
        known_firms = {f.code for f in await store.firms(firm_list, EVERYTHING) if f is not None} if firm_list else set()
        verdicts: list[Verdict] = []
        for item in parsed:
            if isinstance(item, Rejected):
                verdicts.append(item)
                continue
            record, order = item
            found = await linker.link(codes=order.codes, known=known, address=order.address, point=order.point)
            if not isinstance(found, Linked):
                reason = Reason.UNKNOWN_PLACE if found.code_only else Reason.UNMATCHED_ADDRESS
                verdicts.append(Rejected(reason, f"order {record.key}: {found.detail}", found.candidates))
                continue
            case = order.case(self.connector, found.place_code, order.firm_code if order.firm_code in known_firms else None)
            verdicts.append(Facts(Batch(cases=[case])))
        return verdicts


class _Order:
    """An order's fields, checked and converted (times to UTC, the point to WGS-84)."""

    def __init__(self, data: Mapping[str, Any], **fields: Any) -> None:
        self.data = data
        self.no: str = fields["no"]
        self.source: CaseSource = fields["source"]
        self.category: CaseCategory = fields["category"]
        self.status: CaseStatus = fields["status"]
        self.reported: dt.datetime = fields["reported"]
        self.updated: dt.datetime = fields["updated"]
        self.deadline: dt.datetime | None = fields["deadline"]
        self.codes: list[str] = fields["codes"]
        self.point: Point | None = fields["point"]
        self.address: str | None = fields["address"]
        self.firm_code: str | None = fields["firm_code"]

    def case(self, connector: str, place: str, firm: str | None) -> Case:
        rating = self.data.get("rating")
        return Case(
            id=source_case_id(connector, self.no),
            source=self.source,
            category=self.category,
            status=self.status,
            title=str(self.data["title"]).strip()[:400],
            reported_at=self.reported,
            updated_at=self.updated,
            description=str(self.data.get("content") or ""),
            place_code=place,
            point=self.point,
            address=self.address,
            external_id=self.no,
            firm_code=firm,
            deadline=self.deadline,
            rating=rating if isinstance(rating, int) and 1 <= rating <= 5 else None,
            push_to=connector,
        )


def _parse(data: Mapping[str, Any]) -> _Order | Rejected:
    no = str(data["order_no"])

    def wrong(what: str, reason: Reason = Reason.SCHEMA_MISMATCH) -> Rejected:
        return Rejected(reason, f"order {no}: {what}")

    if len(no) > 128:
        return wrong("order_no is longer than 128 characters")
    channel = CHANNELS.get(str(data["channel"]).strip())
    if channel is None:
        return wrong(f"channel {data['channel']!r} is not one of {', '.join(sorted(CHANNELS))}")
    category = CATEGORIES.get(str(data["category"]).strip())
    if category is None:
        return wrong(f"category {data['category']!r} is not one of {', '.join(sorted(CATEGORIES))}")
    status = STATUSES.get(str(data["status"]).strip())
    if status is None:
        return wrong(f"status {data['status']!r} is not a step of the 12345 lifecycle ({', '.join(s.label for s in CaseStatus)})")
    times: dict[str, dt.datetime | None] = {}
    for name in ("reported_at", "updated_at", "deadline"):
        value = data.get(name)
        try:
            times[name] = parse_time(str(value)) if value else None
        except ValueError:
            return wrong(f"{name} {value!r} is not an ISO 8601 time")
    codes: list[str] = []
    for name in ("house_code", "place_code"):
        value = data.get(name)
        if value:
            try:
                codes.append(place_code(str(value).strip(), field=name)[0])
            except CodeError as error:
                return wrong(str(error), Reason.MALFORMED_CODE)
    point = None
    lng, lat = data.get("lng"), data.get("lat")
    if (lng is None) != (lat is None):
        return wrong("lng and lat come together or not at all")
    if lng is not None and lat is not None:
        if not (-180 <= float(lng) <= 180 and -90 <= float(lat) <= 90):
            return wrong(f"lng, lat {lng}, {lat} is not a GCJ-02 longitude, latitude")
        wgs_lon, wgs_lat = gcj_to_wgs(float(lng), float(lat))
        point = Point(round(wgs_lon, 7), round(wgs_lat, 7))
    firm = data.get("firm_code")
    reported, updated = times["reported_at"], times["updated_at"]
    assert reported is not None and updated is not None  # required by the schema
    return _Order(
        data,
        no=no,
        source=channel,
        category=category,
        status=status,
        reported=reported,
        updated=updated,
        deadline=times["deadline"],
        codes=codes,
        point=point,
        address=str(data["address"]).strip() if data.get("address") else None,
        firm_code=str(firm).strip() if firm else None,
    )


async def _get(client: httpx.AsyncClient, connector: str, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
    try:
        response = await client.get(path, params=dict(params))
    except httpx.HTTPError as error:
        raise ConnectorError(f"{connector}: GET {path} failed: {type(error).__name__}: {error}") from None
    if response.status_code != 200:
        raise ConnectorError(f"{connector}: GET {path} answered {response.status_code}: {response.text[:200]}")
    try:
        body = response.json()
    except ValueError:
        raise ConnectorError(f"{connector}: GET {path} answered something that is not JSON") from None
    if not isinstance(body, dict):
        raise ConnectorError(f"{connector}: GET {path} answered JSON that is not an object")
    return body
