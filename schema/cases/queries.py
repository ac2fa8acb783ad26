"""Reading cases: a page of them under a place, or one by id; both within the caller's scope."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry

from graph.cases import CaseSource, CaseStatus
from graph.errors import HubError, InvalidInput
from graph.security import Role
from graph.store import MAX_PAGE
from schema.arguments import cursor_argument, page_argument, place_argument
from schema.cases.types import Case
from schema.context import Info
from schema.fields import field
from schema.places.types import After, First
from schema.relay import Connection, connection

ACTORS = frozenset({Role.ADMIN, Role.CITY, Role.DISTRICT, Role.STREET, Role.COMMUNITY, Role.PROPERTY_FIRM})
"""Roles that may move a case: the administrations that dispatch and the firms that do the work."""

COUNT_LIMIT = 100_000
"""`totalCount` pages through the list; beyond this many it stops counting."""


class Forbidden(HubError):
    """The caller's role may not change cases."""


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
    ) -> Connection[Case]:
        within, _ = place_argument(scope, field="scope")
        size, cursor = page_argument(first), cursor_argument(after)
        context = info.context
        page = await context.store.case_page(context.scope, size, cursor, within=within, statuses=status, source=source)
        histories = await context.store.case_events([case.id for case in page.items], context.scope)
        events = dict(zip((case.id for case in page.items), histories))

        async def count() -> int:
            total, position = 0, None
            while total < COUNT_LIMIT:
                counted = await context.store.case_page(context.scope, MAX_PAGE, position, within=within, statuses=status, source=source)
                total += len(counted.items)
                if not counted.has_next:
                    break
                position = counted.end_cursor
            return total

        return connection(page, key=lambda case: case.id, wrap=lambda case: Case.of(case, events[case.id]), counter=count, after=cursor)

    @field(description="The case with this id; null if none is seen.")
    async def case(self, info: Info, id: strawberry.ID) -> Case | None:
        key = str(id).strip()
        if not 1 <= len(key) <= 64:
            raise InvalidInput("id", id, "is not a case id")
        [found] = await info.context.store.cases([key], info.context.scope)
        return None if found is None else Case.of(found)


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
        if principal.role not in ACTORS:
            raise Forbidden(f"forbidden: the {principal.role.value} role may not move cases")
        moved = await info.context.store.move_case(
            str(id).strip(),
            to,
            actor=principal.name,
            note=note or "",
            at=dt.datetime.now(dt.timezone.utc),
            scope=info.context.scope,
            rating=rating,
        )
        return Case.of(moved)
