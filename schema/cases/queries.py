"""Cases in GraphQL: a page of them under a place, one by id, their metrics per place; and the
workflow's mutations. Every read and every change is within the caller's scope: a case outside
it answers exactly as an unknown id.

Who may do what (the principal's role; `graph.workflow` holds the rules of the steps):

| mutation       | roles                                                                  |
|----------------|------------------------------------------------------------------------|
| openCase       | everyone, at a place in its scope; owners and committees report as OWNER |
| dispatchCase   | the administrations: admin, city, district, street, community          |
| signCase       | the property firm the case is dispatched to; the staff assigned; admin |
| resolveCase    | the property firm the case is dispatched to; the staff assigned; admin |
| arriveCase     | the member of staff assigned (schema.staff)                            |
| returnCase     | the administrations; the property firm the case is dispatched to       |
| rateCase       | owners, committees and the administrations (回访 calls); never a firm   |
| moveCase       | the administrations and property firms (one raw step)                  |
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import strawberry

from graph import cases as domain
from graph.cases import CaseSource, CaseStatus, Point
from graph.casework import Casework
from graph.errors import InvalidInput
from graph.levels import Level
from graph.scope import Scope
from graph.security import Principal, Role
from graph.store import MAX_PAGE
from graph.workflow import Workflow
from schema.arguments import cursor_argument, level_under, optional_place, page_argument, place_argument
from schema.cases.metrics import CaseMetricsRow, Since, Until, period
from schema.cases.types import Case, OpenCaseInput, case_id
from schema.context import Info
from schema.errors import require_role
from schema.fields import field
from schema.places.types import After, First
from schema.relay import Connection, connection, count_pages

ACTORS = frozenset({Role.ADMIN, Role.CITY, Role.DISTRICT, Role.STREET, Role.COMMUNITY, Role.PROPERTY_FIRM})
"""Roles that may move a case: the administrations that dispatch and the firms that do the work."""
ADMINISTRATIONS = frozenset({Role.ADMIN, Role.CITY, Role.DISTRICT, Role.STREET, Role.COMMUNITY})
"""Roles that dispatch and return cases."""
WORKERS = frozenset({Role.ADMIN, Role.PROPERTY_FIRM, Role.STAFF})
"""Roles that sign for and resolve cases (a firm only its own, a member of staff only those
assigned to it)."""
RETURNERS = ADMINISTRATIONS | {Role.PROPERTY_FIRM}
RATERS = ADMINISTRATIONS | {Role.OWNER, Role.COMMITTEE}
"""Roles that follow a case up with a rating: the residents and the offices that call them."""
RESIDENTS = frozenset({Role.OWNER, Role.COMMITTEE})
PERSON_SOURCES = frozenset({CaseSource.OWNER, CaseSource.PATROL, CaseSource.HOTLINE})
"""What a person may say a case came from; devices, feeds and Open311 open their own."""


def _workflow(info: Info) -> Workflow:
    return Workflow(info.context.store, bus=info.context.bus)


def _own_firm(principal: Principal) -> str | None:
    """A firm acts only on the cases dispatched to it; other roles are bound by scope alone."""
    return principal.scope if principal.role is Role.PROPERTY_FIRM else None


def _acting(info: Info) -> dict[str, Any]:
    """Where a worker's step reads the case: its scope; a member of staff, the case assigned to it
    (read by assignee: its scope holds no place)."""
    principal = info.context.principal
    if principal.role is Role.STAFF:
        return {"scope": Scope.everything(), "assignee": principal.scope}
    return {"scope": info.context.scope}


Note = Annotated[str | None, strawberry.argument(description="For the history (at most 2000 characters).")]


@strawberry.type
class CaseQueries:
    @field(description="Cases under a place in your scope, newest report first, filtered by status and source.")
    async def cases(
        self,
        info: Info,
        scope: Annotated[str, strawberry.argument(description="A place code: cases at it or under it.")],
        status: Annotated[list[CaseStatus] | None, strawberry.argument(description="Only these steps.")] = None,
        source: Annotated[CaseSource | None, strawberry.argument(description="Only cases from this source.")] = None,
        first: First = None,
        after: After = None,
        overdue: Annotated[
            bool | None, strawberry.argument(description="Only overdue cases (true) or only cases on time (false).")
        ] = None,
    ) -> Connection[Case]:
        within, _ = place_argument(scope, field="scope")
        size, cursor = page_argument(first), cursor_argument(after)
        context = info.context
        now = dt.datetime.now(dt.timezone.utc)
        filters: dict[str, Any] = {"within": within, "statuses": status, "source": source, "overdue": overdue, "now": now}
        page = await context.store.case_page(context.scope, size, cursor, **filters)
        histories = await context.store.case_events([case.id for case in page.items], context.scope)
        events = dict(zip((case.id for case in page.items), histories))

        async def count() -> int:
            return await count_pages(lambda position: context.store.case_page(context.scope, MAX_PAGE, position, **filters))

        return connection(page, key=lambda case: case.id, wrap=lambda case: Case.of(case, events[case.id]), counter=count, after=cursor)

    @field(description="The case with this id; null if none is seen (a member of staff sees the cases assigned to it).")
    async def case(self, info: Info, id: strawberry.ID) -> Case | None:
        principal = info.context.principal
        if principal.role is Role.STAFF:
            [found] = await info.context.store.cases([case_id(id)], Scope.everything())
            return None if found is None or found.assignee != principal.scope else Case.of(found)
        [found] = await info.context.store.cases([case_id(id)], info.context.scope)
        return None if found is None else Case.of(found)

    @field(
        description="Case figures per place of `groupBy` under `scope` (响应率, 解决率, 满意率, overdue, median "
        "time to resolve), over cases reported in the period, in your scope, by code."
    )
    async def case_metrics(
        self,
        info: Info,
        scope: Annotated[str, strawberry.argument(description="The place whose subtree is summed (a place code).")],
        group_by: Level,
        since: Since = None,
        until: Until = None,
    ) -> list[CaseMetricsRow]:
        from schema.stats.queries import bounded_rows

        code, level = place_argument(scope, field="scope")
        level_under(group_by, level, field="groupBy", top_field="scope")
        start, end = period(since, until)
        await bounded_rows(info, group_by, code, field="groupBy")
        rows = await Casework(info.context.store).case_metrics(
            code, group_by, info.context.scope, now=dt.datetime.now(dt.timezone.utc), since=start, until=end
        )
        return [CaseMetricsRow.of_row(row) for row in rows]


@strawberry.type
class CaseMutations:
    @field(description="Move a case one step along the 12345 lifecycle (with a rating at 回访); the source hears of it through the outbox.")
    async def move_case(
        self,
        info: Info,
        id: strawberry.ID,
        to: CaseStatus,
        note: Annotated[str | None, strawberry.argument(description="Why, for the history and the source (at most 2000 characters).")] = None,
        rating: Annotated[int | None, strawberry.argument(description="满意度 1–5, required when moving to FOLLOWED_UP.")] = None,
    ) -> Case:
        principal = info.context.principal
        require_role(principal, ACTORS, "move cases")
        moved = await _workflow(info).move(
            case_id(id), to, actor=principal.name, scope=info.context.scope, note=note or "", rating=rating
        )
        return Case.of(moved)

    @field(
        description="Report a case (受理) at a place in your scope; it is dispatched at once to the firm managing "
        "its estate, when one does."
    )
    async def open_case(self, info: Info, input: OpenCaseInput) -> Case:
        principal = info.context.principal
        source = input.source or (CaseSource.OWNER if principal.role in RESIDENTS else CaseSource.PATROL)
        if source not in PERSON_SOURCES or (principal.role in RESIDENTS and source is not CaseSource.OWNER):
            allowed = ["OWNER"] if principal.role in RESIDENTS else sorted(s.name for s in PERSON_SOURCES)
            raise InvalidInput("source", source.name, f"is not a source you may report as; use {', '.join(allowed)}")
        place = optional_place(input.place, field="place")
        if place is not None and place[1] < Level.ESTATE:
            raise InvalidInput("place", place[0], "must be an estate, building, entrance or house; give a point for a street or square")
        if input.address is not None and len(input.address) > 400:
            raise InvalidInput("address", input.address[:40] + "…", "must be at most 400 characters")
        if len(input.description) > 4000:
            raise InvalidInput("description", input.description[:40] + "…", "must be at most 4000 characters")
        now = dt.datetime.now(dt.timezone.utc)
        case = domain.Case(
            id="",
            source=source,
            category=input.category,
            status=CaseStatus.ACCEPTED,
            title=input.title.strip(),
            reported_at=now,
            updated_at=now,
            description=input.description,
            place_code=place[0] if place else None,
            point=Point(input.point.lon, input.point.lat) if input.point else None,
            address=input.address,
            severity=input.severity.value if input.severity else None,
        )
        opened = await _workflow(info).open_case(case, actor=principal.name, scope=info.context.scope)
        return Case.of(opened)

    @field(description="派单: send an accepted or returned case to a firm (by default the one managing its estate).")
    async def dispatch_case(
        self,
        info: Info,
        id: strawberry.ID,
        firm: Annotated[str | None, strawberry.argument(description="The firm's credit code; omitted: the estate's firm.")] = None,
        note: Note = None,
    ) -> Case:
        principal = info.context.principal
        require_role(principal, ADMINISTRATIONS, "dispatch cases")
        moved = await _workflow(info).dispatch(
            case_id(id), actor=principal.name, scope=info.context.scope, firm_code=firm, note=note or ""
        )
        return Case.of(moved)

    @field(description="签收: the firm takes on a case dispatched to it; the resolution deadline starts.")
    async def sign_case(self, info: Info, id: strawberry.ID, note: Note = None) -> Case:
        principal = info.context.principal
        require_role(principal, WORKERS, "sign for cases")
        moved = await _workflow(info).sign(
            case_id(id), actor=principal.name, note=note or "", firm_code=_own_firm(principal), **_acting(info)
        )
        return Case.of(moved)

    @field(description="办结: the work is done (a signed case passes 办理 on the way).")
    async def resolve_case(
        self,
        info: Info,
        id: strawberry.ID,
        note: Annotated[str, strawberry.argument(description="What was done (at most 2000 characters).")],
    ) -> Case:
        principal = info.context.principal
        require_role(principal, WORKERS, "resolve cases")
        moved = await _workflow(info).resolve(
            case_id(id), actor=principal.name, note=note, firm_code=_own_firm(principal), **_acting(info)
        )
        return Case.of(moved)

    @field(description="回访: rate a resolved case 1–5; 3 or more archives it, 1 or 2 reopens the work.")
    async def rate_case(self, info: Info, id: strawberry.ID, rating: int, note: Note = None) -> Case:
        principal = info.context.principal
        require_role(principal, RATERS, "rate cases")
        moved = await _workflow(info).rate(case_id(id), rating, actor=principal.name, scope=info.context.scope, note=note or "")
        return Case.of(moved)

    @field(description="退单: hand a case back with the reason; it is dispatched again afterwards.")
    async def return_case(
        self,
        info: Info,
        id: strawberry.ID,
        reason: Annotated[str, strawberry.argument(description="Why (at most 2000 characters).")],
    ) -> Case:
        principal = info.context.principal
        require_role(principal, RETURNERS, "return cases")
        moved = await _workflow(info).return_case(
            case_id(id), actor=principal.name, scope=info.context.scope, reason=reason, firm_code=_own_firm(principal)
        )
        return Case.of(moved)
