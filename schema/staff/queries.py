"""Staff in GraphQL: members in your scope (`staffMember`, `staff`), and for a member of staff
(the `staff` role) its own cases (`myCases`; `case(id)` answers its own too) and its steps:
`signCase` and `resolveCase` (schema.cases.queries) and here `arriveCase` and `reportPosition`.

A member of staff reads nothing else: its token's scope holds no place, so every other list,
figure and lookup answers empty, and its cases are read by assignee, not by scope.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import strawberry

from graph.cases import CaseStatus, Point
from graph.codes import CreditCode
from graph.errors import InvalidInput
from graph.scope import Scope
from graph.security import Principal, Role
from graph.staff.records import Position
from graph.store import MAX_PAGE
from graph.workflow import Workflow
from schema.arguments import cursor_argument, page_argument
from schema.cases.types import Case, GeoPointInput, case_id
from schema.context import Info
from schema.errors import require_role
from schema.fields import field
from schema.places.types import After, First
from schema.relay import Connection, connection, count_pages
from schema.staff.types import StaffMember

EVERYTHING = Scope.everything()
STAFF = frozenset({Role.STAFF})


def assignee_of(principal: Principal) -> str | None:
    """The staff id a principal acts as (None: not a member of staff)."""
    return principal.scope if principal.role is Role.STAFF else None


def _point(position: GeoPointInput, field_name: str = "position") -> Point:
    if not (-180 <= position.lon <= 180 and -90 <= position.lat <= 90):
        raise InvalidInput(field_name, f"{position.lon},{position.lat}", "is not a WGS-84 longitude, latitude")
    return Point(position.lon, position.lat)


@strawberry.type
class StaffQueries:
    @field(description="The member of staff with this id, if it works in an estate in your scope.")
    async def staff_member(self, info: Info, id: strawberry.ID) -> StaffMember | None:
        [found] = await info.context.store.staff([str(id)], info.context.scope)
        return None if found is None else StaffMember(record=found)

    @field(description="The staff of an employer (a credit code) who work in an estate in your scope, by id.")
    async def staff(self, info: Info, employer: str) -> list[StaffMember]:
        code = str(CreditCode.parse(employer, field="employer"))
        [members] = await info.context.store.staff_of([code], info.context.scope)
        return [StaffMember(record=member) for member in members]

    @field(description="For a member of staff: the cases assigned to it, newest report first.")
    async def my_cases(
        self,
        info: Info,
        status: Annotated[list[CaseStatus] | None, strawberry.argument(description="Only these steps.")] = None,
        first: First = None,
        after: After = None,
    ) -> Connection[Case]:
        principal = info.context.principal
        require_role(principal, STAFF, "list assigned cases (only a member of staff has them)")
        size, cursor = page_argument(first), cursor_argument(after)
        store = info.context.store
        filters: dict[str, Any] = {"statuses": status, "assignee": principal.scope}
        page = await store.case_page(EVERYTHING, size, cursor, **filters)
        histories = await store.case_events([case.id for case in page.items], EVERYTHING)
        events = dict(zip((case.id for case in page.items), histories))

        async def count() -> int:
            return await count_pages(lambda position: store.case_page(EVERYTHING, MAX_PAGE, position, **filters))

        return connection(page, key=lambda case: case.id, wrap=lambda case: Case.of(case, events[case.id]), counter=count, after=cursor)


@strawberry.type
class StaffMutations:
    @field(
        description="到场: a member of staff reports arriving at its case, at a position within the allowed distance of the "
        "case's place (refused otherwise); a signed case goes in progress (办理)."
    )
    async def arrive_case(self, info: Info, id: strawberry.ID, position: GeoPointInput) -> Case:
        principal = info.context.principal
        require_role(principal, STAFF, "report arriving at a case (only the member of staff assigned to it does)")
        workflow = Workflow(info.context.store, bus=info.context.bus)
        moved = await workflow.arrive(case_id(id), _point(position), actor=principal.name, scope=EVERYTHING, assignee=principal.scope)
        [events] = await info.context.store.case_events([moved.id], EVERYTHING)
        return Case.of(moved, events)

    @field(description="A member of staff reports where it is now (its last position, used to assign it the nearest cases).")
    async def report_position(self, info: Info, position: GeoPointInput) -> bool:
        principal = info.context.principal
        require_role(principal, STAFF, "report a position (only a member of staff does)")
        now = dt.datetime.now(dt.timezone.utc)
        return await info.context.store.report_position(principal.scope, Position(_point(position), now))
