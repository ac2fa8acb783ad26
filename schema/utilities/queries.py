"""`outages`: the outage notices affecting a place, newest start first, as a Relay connection.

A street office asks for its street (`scope`) and sees the notices that touch any place of it it
may see; each notice lists only those places. Cursors come from the notice itself
(`graph.utilities.outage_cursor`), so every edge has one and any of them resumes the list.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable
from typing import Annotated

import strawberry

from graph import utilities
from graph.clock import CHINA_STANDARD_TIME
from graph.model import Page
from graph.store import MAX_PAGE
from graph.utilities import Utility, outage_cursor, outage_position
from schema.arguments import page_argument, place_argument
from schema.context import Info
from schema.fields import field
from schema.places.types import After, First
from schema.relay import Connection, Edge, PageInfo, count_pages
from schema.utilities.types import Outage

ScopeCode = Annotated[
    str, strawberry.argument(description="The place whose notices are listed (a place code).")
]
ActiveAt = Annotated[
    dt.datetime | None,
    strawberry.argument(
        description="Only notices under way at this moment (ISO 8601; Beijing time if it has no offset)."
    ),
]
OfUtility = Annotated[Utility | None, strawberry.argument(description="Only this utility's notices.")]


def beijing(moment: dt.datetime) -> dt.datetime:
    """An aware moment; one without an offset is read as Beijing time, as notices are written."""
    return moment.replace(tzinfo=CHINA_STANDARD_TIME) if moment.utcoffset() is None else moment


@strawberry.type
class UtilityQueries:
    @field(
        description="Outage notices affecting places under `scope` (or a place above it, as an "
        "estate's notice reaches its buildings), newest start first."
    )
    async def outages(
        self,
        info: Info,
        scope: ScopeCode,
        active_at: ActiveAt = None,
        utility: OfUtility = None,
        first: First = None,
        after: After = None,
    ) -> Connection[Outage]:
        code, _ = place_argument(scope, field="scope")
        size = page_argument(first)
        outage_position(after)  # refused here, naming `after`, before the store is asked
        moment = None if active_at is None else beijing(active_at)
        context = info.context

        def read(cursor: str | None, count: int = MAX_PAGE) -> Awaitable[Page[utilities.Outage]]:
            return context.store.outages(context.scope, count, cursor, within=code, active_at=moment, utility=utility)

        found = await read(after, size)
        edges = [Edge(cursor=outage_cursor(item), node=Outage(record=item)) for item in found.items]

        async def count() -> int:
            # notices are few (tens per street); counting walks them a full page at a time
            return await count_pages(read, limit=None)

        info_ = PageInfo(
            has_next_page=found.has_next,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        )
        return Connection(edges=edges, page_info=info_, counter=count)
