"""`GET /q/NAME`: a shared query over plain HTTP, as JSON or CSV; and the queries the hub ships.

    GET /q/overdue-cases?version=2&format=csv        Authorization: Bearer hub1…
    GET /q/alarms-this-week?since=2026-11-01T00:00:00Z

Every query parameter other than `version` and `format` is a variable of the query, converted
by the type its document declares (Int, Float, Boolean; lists as comma-separated values or the
parameter repeated; everything else as text, which GraphQL then coerces: enums, DateTime…).
The query runs exactly as `runSharedQuery` runs it (schema.shared.running): in the CALLER's
scope, cached for a short time per scope, audited.

JSON is the default: `{"name", "version", "cached", "data"}` (and `errors` if any). CSV (with
`format=csv` or `Accept: text/csv`) flattens one list of the answer into rows — the one the
query's `csvPath` names, else the first list in the answer — with dotted column names
(`node.place.name`), in UTF-8 with a byte-order mark so that Excel opens Chinese text right.
Errors are JSON `{"error", "reason"}` with a status: 400 bad input, 404 a query not shared
with the caller (the same for one that does not exist), 406 an unknown format.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from strawberry.schema.base import BaseSchema

from graph.errors import InvalidInput
from graph.security import AuditDraft, Principal, Role
from graph.shared import Owner, SharedDraft, VariableSpec, query_name, version_number
from graph.store import Store
from schema.limits import document_limits
from schema.shared.documents import checked_document, graphql_schema
from schema.shared.running import find, run_shared, unknown

if TYPE_CHECKING:
    from hub.app import HubGraphQL

log = logging.getLogger(__name__)

BOM = "\ufeff"
RESERVED = frozenset({"version", "format"})
SYSTEM = Principal(Role.ADMIN, "*", "hub", "-")
"""The publisher of the queries the hub ships."""
SHIPPED_ROLES = frozenset({Role.DISTRICT, Role.STREET, Role.COMMUNITY, Role.PROPERTY_FIRM, Role.COMMITTEE})
"""Who the shipped queries are shared with (admin and city see every query anyway)."""
SCOPE_DESCRIPTION = "A place code: the answer covers it and what is under it, in your scope; your whole area if omitted."


def refusal(status: int, reason: str, **extra: Any) -> JSONResponse:
    label = {400: "bad request", 401: "unauthorized", 404: "not found", 406: "not acceptable"}.get(status, "error")
    return JSONResponse({"error": label, "reason": reason, **extra}, status_code=status)


# -- converting query parameters ------------------------------------------------------------


def _scalar(text: str, named: str) -> Any:
    """A parameter's text as the named type wants it; left as text when it does not parse, so
    that GraphQL's own coercion names the variable and the problem."""
    try:
        if named == "Int":
            return int(text)
        if named == "Float":
            return float(text)
    except ValueError:
        return text
    if named == "Boolean":
        lowered = text.strip().lower()
        return {"true": True, "1": True, "false": False, "0": False}.get(lowered, text)
    return text


def converted(spec: VariableSpec, texts: Sequence[str]) -> Any:
    kind = spec.type.rstrip("!")
    if kind.startswith("["):
        named = kind.strip("[]!")
        items = [part.strip() for text in texts for part in text.split(",") if part.strip()]
        return [_scalar(item, named) for item in items]
    return _scalar(texts[-1], kind)


def variables_of(params: Any, specs: Sequence[VariableSpec]) -> dict[str, Any]:
    by_name = {spec.name: spec for spec in specs}
    values: dict[str, Any] = {}
    for name in params.keys():
        if name in RESERVED:
            continue
        spec = by_name.get(name)
        # an unknown parameter goes through as it is: the run refuses it naming the variable
        values[name] = converted(spec, params.getlist(name)) if spec else params.getlist(name)[-1]
    return values


# -- CSV -------------------------------------------------------------------------------------


def first_list(value: Any) -> list[Any] | None:
    """The first list in the answer, depth first in the order of the query's fields."""
    if isinstance(value, list):
        return value
    if isinstance(value, Mapping):
        for item in value.values():
            found = first_list(item)
            if found is not None:
                return found
    return None


def listed(data: Any, path: str | None) -> list[Any]:
    if path is None:
        found = first_list(data)
        if found is None:
            raise InvalidInput("format", "csv", "needs a list in the answer, and this one has none; ask for JSON")
        return found
    value = data
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if not isinstance(value, list):
        raise InvalidInput("csvPath", path, "does not name a list in this answer")
    return value


def flattened(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted column, cell) pairs: nested objects spread into columns, lists of plain values
    joined with '; ', lists of objects kept as JSON text in one cell."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from flattened(item, f"{prefix}.{key}" if prefix else str(key))
        return
    name = prefix or "value"
    if isinstance(value, list):
        if all(not isinstance(item, Mapping | list) for item in value):
            yield name, "; ".join("" if item is None else str(item) for item in value)
        else:
            yield name, json.dumps(value, ensure_ascii=False, sort_keys=True)
        return
    if isinstance(value, bool):
        yield name, "true" if value else "false"
    else:
        yield name, "" if value is None else value


def csv_text(rows: Sequence[Any]) -> str:
    """The rows as CSV with a header of dotted columns (in first-seen order), BOM first."""
    records = [dict(flattened(row)) for row in rows]
    columns: dict[str, None] = {}
    for record in records:
        columns.update(dict.fromkeys(record))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(list(columns))
    for record in records:
        writer.writerow([record.get(column, "") for column in columns])
    return BOM + out.getvalue()


# -- the route -------------------------------------------------------------------------------


@dataclass(slots=True)
class SharedRoute:
    graphql: HubGraphQL

    async def answer(self, request: Request) -> Response:
        if request.scope.get("state", {}).get("caller") is None:
            return refusal(401, "a bearer token is required")
        fmt = request.query_params.get("format")
        if fmt is None:
            fmt = "csv" if "text/csv" in request.headers.get("accept", "") else "json"
        if fmt not in ("json", "csv"):
            return refusal(406, f"format {fmt!r} is not served: use json or csv")
        response = Response()
        context = await self.graphql.get_context(request, response)
        name = request.path_params["name"]
        try:
            query_name(name)
            text = request.query_params.get("version")
            version = version_number(int(text)) if text is not None and text.isdigit() else None
            if text is not None and version is None:
                raise InvalidInput("version", text, "must be a version number (1, 2, …)")
            found = await find(context.store, context.principal, name, version)
            if found is None:
                return refusal(404, str(unknown(name, version)))
            result = await run_shared(
                self.graphql.schema, context, found, variables_of(request.query_params, found.variables), via="http"
            )
            if result.errors:
                status = 400 if result.data is None else 200
                if fmt == "csv" or status != 200:
                    reasons = "; ".join(str(error.get("message")) for error in result.errors)
                    return refusal(400, reasons, errors=result.errors)
            if fmt == "csv":
                body = csv_text(listed(result.data, found.csv_path))
                filename = f"{found.name}-v{found.version}.csv"
                return Response(
                    body.encode("utf-8"),
                    media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{filename}"', "x-hub-cached": str(result.cached).lower()},
                )
        except InvalidInput as error:
            return refusal(400, str(error), field=error.field)
        answer: dict[str, Any] = {"name": found.name, "version": found.version, "cached": result.cached, "data": result.data}
        if result.errors:
            answer["errors"] = result.errors
        return JSONResponse(answer)


def shared_routes(graphql: HubGraphQL) -> list[Route]:
    """The `/q/NAME` route for `create_app`."""
    return [Route("/q/{name}", SharedRoute(graphql).answer, methods=["GET"])]


# -- the queries the hub ships ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Shipped:
    name: str
    description: str
    document: str
    descriptions: Mapping[str, str]
    defaults: Mapping[str, Any]
    csv_path: str | None = None


SHIPPED = (
    Shipped(
        "houses-in-arrears",
        "欠费户数 per estate: houses with a utility bill overdue and not paid in full today, beside all houses.",
        """query HousesInArrears($scope: String!) {
  stats(scope: $scope, groupBy: ESTATE) { place { code name } houses housesInArrears }
}""",
        {"scope": SCOPE_DESCRIPTION},
        {"scope": "@area"},
        "stats",
    ),
    Shipped(
        "overdue-cases",
        "超期工单: cases overdue now (unsigned past 签收时限, or open past 办结时限), newest report first.",
        """query OverdueCases($scope: String!, $first: Int = 500) {
  cases(scope: $scope, overdue: true, first: $first) {
    totalCount
    edges { node { id title category statusLabel reportedAt place { code name } firm { name } } }
  }
}""",
        {"scope": SCOPE_DESCRIPTION, "first": "How many cases, 1 to 500."},
        {"scope": "@area"},
        "cases.edges",
    ),
    Shipped(
        "devices-offline",
        "离线设备: devices that stopped reporting, with where they are and when they were last heard from.",
        """query DevicesOffline($scope: String!, $first: Int = 500) {
  devices(scope: $scope, status: [OFFLINE], first: $first) {
    totalCount
    edges { node { code name typeLabel statusLabel lastSeen place { code name } } }
  }
}""",
        {"scope": SCOPE_DESCRIPTION, "first": "How many devices, 1 to 500."},
        {"scope": "@area"},
        "devices.edges",
    ),
    Shipped(
        "alarms-this-week",
        "本周告警: alarms raised in the last seven days (or since the time given), newest first.",
        """query AlarmsThisWeek($scope: String!, $since: DateTime!, $first: Int = 500) {
  alarms(scope: $scope, since: $since, first: $first) {
    totalCount
    edges { node { id severityLabel message raisedAt active device { code name } place { code name } } }
  }
}""",
        {"scope": SCOPE_DESCRIPTION, "since": "From this moment; seven days ago if omitted.", "first": "How many alarms, 1 to 500."},
        {"scope": "@area", "since": "@now-7d"},
        "alarms.edges",
    ),
    Shipped(
        "cases-by-category",
        "工单分类: the newest cases with their category (分类) and step; the CSV pivots by node.category.",
        """query CasesByCategory($scope: String!, $status: [CaseStatus!], $first: Int = 500) {
  cases(scope: $scope, status: $status, first: $first) {
    totalCount
    edges { node { id category source statusLabel title reportedAt place { code name } } }
  }
}""",
        {"scope": SCOPE_DESCRIPTION, "status": "Only these steps (all if omitted).", "first": "How many cases, 1 to 500."},
        {"scope": "@area"},
        "cases.edges",
    ),
    Shipped(
        "satisfaction-per-estate",
        "满意率 per estate, with 响应率 and 解决率, over cases reported since the time given (all if omitted).",
        """query SatisfactionPerEstate($scope: String!, $since: DateTime) {
  caseMetrics(scope: $scope, groupBy: ESTATE, since: $since) {
    place { code name }
    cases rated satisfied satisfactionRate responseRate resolutionRate
  }
}""",
        {"scope": SCOPE_DESCRIPTION, "since": "Only cases reported from this moment."},
        {"scope": "@area"},
        "caseMetrics",
    ),
    Shipped(
        "fund-balance-per-estate",
        "维修资金余额: each estate's maintenance-fund balance, accounts, accounts under 30% of their first deposit, and this year's repairs and public revenue.",
        """query FundBalancePerEstate($scope: String!, $first: Int = 500) {
  fundEstates(scope: $scope, first: $first) {
    place name accounts balanceFen balanceYuan balancePerAccountFen lowAccounts repairsFen revenueFen confirmedRevenueFen
  }
}""",
        {"scope": SCOPE_DESCRIPTION, "first": "How many estates, 1 to 500."},
        {"scope": "@area"},
        "fundEstates",
    ),
    Shipped(
        "repairs-this-year",
        "本年维修项目: repairs paid from the maintenance fund raised this year, with their authority (应急使用 flagged), budget and cost.",
        """query RepairsThisYear($scope: String!, $first: Int = 500) {
  repairProjects(within: $scope, thisYear: true, first: $first) {
    items { id estate part title authority authorityText emergencyUse status budgetFen costFen raisedAt completedAt }
  }
}""",
        {"scope": SCOPE_DESCRIPTION, "first": "How many projects, 1 to 500."},
        {"scope": "@area"},
        "repairProjects.items",
    ),
    Shipped(
        "revenue-unconfirmed",
        "公共收益待确认: the firms' public-revenue entries still awaiting the owners' committee, by estate.",
        """query RevenueUnconfirmed($scope: String!, $first: Int = 500) {
  revenueUnconfirmed(scope: $scope, first: $first) {
    estate estateName entry { index kindLabel amountFen sourceLabel contract periodStart periodEnd costItem dispositionLabel at by }
  }
}""",
        {"scope": SCOPE_DESCRIPTION, "first": "How many entries, 1 to 500."},
        {"scope": "@area"},
        "revenueUnconfirmed",
    ),
    Shipped(
        "party-per-estate",
        "党建 per estate: committee members who are party members, firms managing it now with a party organisation, and party members' claims of cases made and handled in the period (all time if omitted). The community, street and district offices read it; others get no rows.",
        """query PartyPerEstate($scope: String!, $period: String, $first: Int = 100) {
  partyEstates(within: $scope, period: $period, first: $first) {
    place name estates committeeMembers committeePartyMembers firmsManaging firmsWithOrganisation
    claimsMade claimsHandled claimsResolved claimsHandedBack
  }
}""",
        {"scope": SCOPE_DESCRIPTION, "period": "2026-11, 2026-Q4, 2026-H2 or 2026-Y; all time if omitted.", "first": "How many estates, 1 to 100."},
        {"scope": "@area"},
        "partyEstates",
    ),
    Shipped(
        "firm-credit",
        "物业服务企业信用评价: each firm's credit score for a period (last month when not given), 0-100, and each part's rate and points: 三率, overdue and escalated cases, 12345 complaints per 1,000 houses, facilities' maintenance and inspections, owners' ratings, dismissals by vote, staff certificates.",
        """query FirmCredit($scope: String!, $period: String) {
  firmScores(period: $period, within: $scope) {
    firmCode firm { name } period version total totalCenti estates houses
    response: part(name: "response") { ratePercent points }
    resolution: part(name: "resolution") { ratePercent points }
    satisfaction: part(name: "satisfaction") { ratePercent points }
    overdue: part(name: "overdue") { ratePercent points }
    escalated: part(name: "escalated") { ratePercent points }
    complaints: part(name: "complaints") { ratePercent points }
    maintenance: part(name: "maintenance") { ratePercent points }
    inspection: part(name: "inspection") { ratePercent points }
    ratings: part(name: "ratings") { ratePercent points }
    dismissals: part(name: "dismissals") { ratePercent points }
    certificates: part(name: "certificates") { ratePercent points }
  }
}""",
        {"scope": SCOPE_DESCRIPTION, "period": "A month YYYY-MM or a year YYYY (China Standard Time); last month when omitted."},
        {"scope": "@area"},
        "firmScores",
    ),
)


async def publish_shipped(store: Store, schema: BaseSchema) -> list[str]:
    """Publish the shipped queries the store does not hold as they are (idempotent: a hub that
    starts again publishes nothing; a changed shipped query becomes the name's next version).
    Returns `name@version` of what it published."""
    published: list[str] = []
    for item in SHIPPED:
        document, specs = checked_document(
            graphql_schema(schema), item.document, item.descriptions, item.defaults, item.csv_path, document_limits(schema)
        )
        draft = SharedDraft(
            item.name, item.description, document, specs, Owner(SYSTEM.name, SYSTEM.role, SYSTEM.scope), SHIPPED_ROLES, frozenset(), item.csv_path
        )
        versions = await store.shared_versions(item.name)
        if versions and not any(query.authored_by(SYSTEM) for query in versions):
            log.warning("shared query %s is taken by another publisher: the shipped one is not published", item.name)
            continue
        # the latest of its own, withdrawn or not: a shipped query the city withdrew stays withdrawn
        latest = next((query for query in reversed(versions) if query.authored_by(SYSTEM)), None)
        if latest is not None and (
            latest.document, latest.description, latest.variables, latest.roles, latest.csv_path
        ) == (draft.document, draft.description, draft.variables, draft.roles, draft.csv_path):
            continue
        query = await store.publish_shared(draft, dt.datetime.now(dt.timezone.utc))
        published.append(f"{query.name}@{query.version}")
    if published:
        await store.append_audit(
            [AuditDraft(SYSTEM.name, SYSTEM.role.value, "shared.publish", ",".join(published), {"shipped": published})]
        )
    return published


async def ship(store: Store, schema: BaseSchema) -> None:
    """`publish_shipped` at startup. A hub whose store cannot take them (a read-only replica, a
    database that is down for a moment) still serves everything else: the failure is logged, and
    the next start publishes them."""
    try:
        published = await publish_shipped(store, schema)
    except Exception:
        log.exception("the shipped shared queries could not be published; the hub serves without them")
        return
    if published:
        log.info("published the shipped shared queries %s", ", ".join(published))
