"""Open311 GeoReport v2 on the hub, under `/open311/v2/`: the city's cases as service requests.

- `GET services.json` — the services: the case categories (repair 报修, complaint 投诉, …).
- `GET requests.json` — requests in the caller's scope, newest first, at most 1,000: filters
  `service_request_id` (a comma list; the other filters are then ignored, as the spec says),
  `service_code` (comma list), `start_date`/`end_date` (on the request time), `status`
  (open, closed, or both comma-separated); with no dates, the last 90 days. Extension:
  `updated_after`/`updated_before` (on the last update, as Chicago's and SeeClickFix's servers
  have them), which `connectors.open311.client` uses to read changes incrementally.
- `POST requests.json` — form-encoded per the spec: `service_code`, a location (`lat` and
  `long` in WGS-84, or `address_string`, or `address_id` = a place code of the hub),
  `description`, optional `attribute[...]`; opens a case (source OPEN311, 受理) linked to a place
  like the 12345 feed's orders are, within the caller's scope by the rule of writes
  (graph.reach: a location outside it is refused as one that does not exist; one that leads to
  no place is taken only from a caller holding a whole city, for hand dispatch), and answers
  `[{"service_request_id", "service_notice"}]`.
- `GET requests/{id}.json` — one request, as a one-element list.

Authentication is the hub's: a bearer token in `Authorization`, or as the `api_key` query or
form field Open311 clients send (hub.gate reads both). Every read applies the caller's scope
exactly as GraphQL does: a request outside it answers the same 404 as one that does not exist.
Errors are the spec's JSON array of `{"code", "description"}`. Only the JSON format is served:
`.xml` answers 404 saying so. Personal fields a client may post (first_name, last_name, email,
phone, device_id, account_id) are not stored: the hub has no sealed place for a reporter yet.
"""

from __future__ import annotations

import datetime as dt
import time
import urllib.parse
from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.cityops.linking import Linked, PlaceLinker
from connectors.open311.mapping import BY_CODE, category_of, parse_time, request_json, services_json
from graph.cases import Case, CaseSource, CaseStatus, Point
from graph.casework import Casework
from graph.codes import place_code
from graph.errors import HubError, InvalidInput, StoreBusy
from graph.reach import Reach
from graph.scope import Scope
from graph.store import MAX_PAGE, Store
from hub.auth.authentication import Caller
from hub.gate import BUSY_RETRY_SECONDS

PREFIX = "/open311/v2"
MAX_RESULTS = 1000
DEFAULT_DAYS = 90
LINKER_SECONDS = 300.0
"""How long the shapes and address lists read for linking POSTed requests are reused."""
EVERYTHING = Scope.everything()
STATUS_FILTERS = {"open": False, "closed": True}


def errors(status: int, description: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse([{"code": status, "description": description}], status_code=status, headers=headers)


def _caller(request: Request) -> Caller | None:
    caller: Caller | None = request.scope.get("state", {}).get("caller")
    return caller


class Open311:
    """The Open311 face over a store; one per app (it keeps a place linker for POSTs)."""

    def __init__(self, store: Store, *, clock: Any = None) -> None:
        self.store = store
        self.clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))
        self._linker: tuple[float, PlaceLinker] | None = None

    def routes(self) -> list[Route]:
        return [
            Route(f"{PREFIX}/services.json", self.services, methods=["GET"]),
            Route(f"{PREFIX}/requests.json", self.requests, methods=["GET", "POST"]),
            Route(f"{PREFIX}/requests/{{id}}.json", self.one, methods=["GET"]),
            Route(PREFIX + "/{rest:path}", self.unknown),
        ]

    def linker(self) -> PlaceLinker:
        now = time.monotonic()
        if self._linker is None or now - self._linker[0] > LINKER_SECONDS:
            self._linker = (now, PlaceLinker(self.store))
        return self._linker[1]

    async def unknown(self, request: Request) -> Response:
        path = request.url.path
        if path.endswith(".xml"):
            return errors(404, f"{path}: this server speaks the JSON format only; ask for the .json path")
        return errors(404, f"{path} is not an Open311 GeoReport v2 resource of this server (services.json, requests.json, requests/{{id}}.json)")

    async def services(self, request: Request) -> Response:
        return JSONResponse(services_json())

    async def requests(self, request: Request) -> Response:
        caller = _caller(request)
        if caller is None:
            return errors(401, "an api_key or a bearer token is required")
        try:
            if request.method == "POST":
                return await self._create(request, caller)
            return JSONResponse(await self._list(request.query_params, caller.scope))
        except InvalidInput as error:
            return errors(400, str(error))
        except StoreBusy as error:  # nothing was written: the same request may pass in a moment
            return errors(503, str(error), {"retry-after": str(BUSY_RETRY_SECONDS)})
        except HubError as error:
            return errors(400, str(error))

    async def one(self, request: Request) -> Response:
        caller = _caller(request)
        if caller is None:
            return errors(401, "an api_key or a bearer token is required")
        key = request.path_params["id"]
        [case] = await self.store.cases([key], caller.scope) if 0 < len(key) <= 64 else [None]
        if case is None:
            return errors(404, f"service request {key} was not found")
        return JSONResponse(await self._shown([case]))

    async def _list(self, params: Any, scope: Scope) -> list[dict[str, Any]]:
        wanted = params.get("service_request_id")
        if wanted:
            ids = [item.strip() for item in wanted.split(",") if item.strip()][:MAX_RESULTS]
            found = [case for case in await self.store.cases(ids, scope) if case is not None]
            return await self._shown(found)
        categories = None
        if params.get("service_code"):
            codes = [code.strip() for code in params["service_code"].split(",") if code.strip()]
            unknown = [code for code in codes if code not in BY_CODE]
            if unknown:
                raise InvalidInput("service_code", ",".join(unknown), f"is not a service here; use {', '.join(BY_CODE)}")
            categories = [BY_CODE[code].category for code in codes]
        statuses = None
        if params.get("status"):
            names = {name.strip().lower() for name in params["status"].split(",") if name.strip()}
            if not names <= set(STATUS_FILTERS):
                raise InvalidInput("status", params["status"], "must be open, closed or both (comma-separated)")
            statuses = [s for s in CaseStatus if s.closed in {STATUS_FILTERS[n] for n in names}]
        bounds = {}
        for name in ("start_date", "end_date", "updated_after", "updated_before"):
            if params.get(name):
                try:
                    bounds[name] = parse_time(params[name], field=name)
                except ValueError as error:
                    raise InvalidInput(name, params[name], "is not a W3C datetime such as 2026-03-02T09:30:00+08:00") from error
        by_update = "updated_after" in bounds or "updated_before" in bounds
        if by_update:
            since, until = bounds.get("updated_after"), bounds.get("updated_before")
        else:
            since, until = bounds.get("start_date"), bounds.get("end_date")
            if since is None and until is None:
                since = self.clock() - dt.timedelta(days=DEFAULT_DAYS)
            elif until is not None:
                until += dt.timedelta(microseconds=1)  # end_date is inclusive in the spec
        if since is not None and until is not None and until <= since:
            raise InvalidInput("end_date", params.get("end_date") or params.get("updated_before"), "must be after the start")
        chosen: list[Case] = []
        after = None
        while len(chosen) < MAX_RESULTS:
            page = await self.store.case_page(
                scope,
                min(MAX_PAGE, MAX_RESULTS - len(chosen)),
                after,
                statuses=statuses,
                categories=categories,
                since=since,
                until=until,
                by_update=by_update,
            )
            chosen += page.items
            if not page.has_next:
                break
            after = page.end_cursor
        return await self._shown(chosen)

    async def _shown(self, cases: Sequence[Case]) -> list[dict[str, Any]]:
        if not cases:
            return []
        histories = await self.store.case_events([case.id for case in cases], EVERYTHING)
        firm_codes = sorted({case.firm_code for case in cases if case.firm_code})
        names = {firm.code: firm.name for firm in await self.store.firms(firm_codes, EVERYTHING) if firm is not None} if firm_codes else {}
        shown = []
        for case, history in zip(cases, histories):
            last = next((event.note for event in reversed(history) if event.note and not event.note.startswith("read from ")), None)
            shown.append(request_json(case, agency=names.get(case.firm_code or ""), last_note=last))
        return shown

    async def _create(self, request: Request, caller: Caller) -> Response:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/x-www-form-urlencoded":
            return errors(400, "POST requests.json takes a form (application/x-www-form-urlencoded), as Open311 says")
        try:
            form = urllib.parse.parse_qs((await request.body()).decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            return errors(400, "the form is not UTF-8")
        values = {key: items[-1].strip() for key, items in form.items()}
        code = values.get("service_code", "")
        if code not in BY_CODE:
            return errors(400, f"service_code {code!r} is not a service here; see services.json ({', '.join(BY_CODE)})")
        description = values.get("description", "")
        if len(description) > 4000:
            return errors(400, "description is longer than 4000 characters")
        attributes = [f"{key[10:-1]}={value}" for key, value in sorted(values.items()) if key.startswith("attribute[") and key.endswith("]") and value]
        point = None
        if values.get("lat") or values.get("long"):
            try:
                lat, lon = float(values["lat"]), float(values["long"])
            except (KeyError, ValueError):
                return errors(400, "lat and long must both be given as decimal degrees (WGS-84)")
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                return errors(400, f"lat {lat}, long {lon} is not a WGS-84 position")
            point = Point(lon, lat)
        address = values.get("address_string") or None
        named = place_code(values["address_id"], field="address_id")[0] if values.get("address_id") else None
        if point is None and address is None and named is None:
            return errors(400, "a location is required: lat and long, address_string or address_id")
        place = await self._landing(caller, named, address, point)
        service = BY_CODE[code]
        text = description or service.name
        if attributes:
            text += "\n" + "; ".join(attributes)
        now = self.clock()
        case = Case(
            id="",
            source=CaseSource.OPEN311,
            category=category_of(code, None),
            status=CaseStatus.ACCEPTED,
            title=f"{service.name}：{text.splitlines()[0][:40]}",
            reported_at=now,
            updated_at=now,
            description=text,
            place_code=place,
            point=point,
            address=address,
        )
        opened = await Casework(self.store).open_case(case, actor=caller.principal.name)
        notice = "已受理" if place is not None else "已受理；位置未能关联到小区或社区，由市级平台人工分拨"
        return JSONResponse([{"service_request_id": opened.id, "service_notice": notice, "account_id": None}], status_code=201)

    async def _landing(self, caller: Caller, named: str | None, address: str | None, point: Point | None) -> str | None:
        """Where a POSTed request lands, by the rule of writes (graph.reach): the place its
        `address_id` names, else the place its address or its point leads to (the first that
        is certain, as the 12345 feed's orders are linked), in the caller's scope; None (to be
        dispatched by hand) only for a caller that holds a whole city. OutOfReach otherwise,
        worded the same whether the location lies outside the scope or leads nowhere."""
        linker = self.linker()
        reach = Reach(self.store, caller.scope, linker.locator)
        if named is not None:
            place = await reach.place(named, field="address_id")
            if point is not None:
                await reach.point(point, field="lat/long", beside=place)
            return place.code
        if address is not None:
            matched = await linker.by_address(address)
            if isinstance(matched, Linked):
                landed = await reach.found(matched.place_code, field="address_string", given=address)
                if landed is not None and point is not None:
                    [beside] = await self.store.places([landed], caller.scope)
                    await reach.point(point, field="lat/long", beside=beside)
                return landed
        if point is not None:
            return await reach.point(point, field="lat/long")
        return await reach.found(None, field="address_string", given=address)


def open311_routes(store: Store) -> list[Route]:
    """The Open311 routes for `create_app`."""
    return Open311(store).routes()
