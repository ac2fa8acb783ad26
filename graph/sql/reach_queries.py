"""`Store.reach` in SQL: the houses, holders and open cases under some places.

Not to be confused with `graph.reach` (where a caller's writes may land). Every place row carries
its ancestors' ids by level, so "at or under any of these places" is one OR of indexed equalities
(`estate_id = ? OR building_id = ? …`, graph.sql.scoping.under); the houses are paged by code on
the `(<level>_id, level, code)` indexes, the holders read by house id for the page alone, and the
counts taken over the same predicate. A place given is kept only when the caller's scope holds
it; everything under a place in scope is in scope, so no second scope filter is needed below it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, distinct, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from graph.cases import OPEN_STATUSES
from graph.cursors import decode_cursor, encode_cursor
from graph.levels import Level
from graph.model import Page, Place, Reached
from graph.scope import Scope
from graph.sql import rows, tables
from graph.sql.scoping import Anchor, anchor_in, under
from graph.sql.writes import anchors, select_in
from graph.store import MAX_PAGE

_place, _parent = tables.place, tables.place.alias("reach_parent")
_ownership, _owner, _case = tables.ownership, tables.owner, tables.case
_OPEN = sorted(status.value for status in OPEN_STATUSES)


def _outermost(kept: Sequence[Anchor]) -> list[Anchor]:
    """The anchors that lie under no other anchor given (their subtrees hold the others')."""
    return [
        anchor
        for anchor in kept
        if not any(
            other.id != anchor.id and other.level < anchor.level and anchor.ancestors[other.level - 1] == other.id
            for other in kept
        )
    ]


def _holding(as_of: dt.date) -> Any:
    return and_(_ownership.c.since <= as_of, or_(_ownership.c.until.is_(None), _ownership.c.until > as_of))


class ReachRecords:
    """`reach`, a base of SqlStore."""

    engine: AsyncEngine

    if TYPE_CHECKING:

        async def _roots(self, connection: AsyncConnection, scope: Scope) -> list[Anchor] | None: ...

    async def reach(
        self, places: Sequence[str], scope: Scope, first: int, after: str | None = None, *, as_of: dt.date
    ) -> Reached:
        first = max(1, min(first, MAX_PAGE))
        after_code = decode_cursor(after)
        async with self.engine.connect() as connection:
            roots = await self._roots(connection, scope)
            found = await anchors(connection, places)
            kept = [code for code in dict.fromkeys(places) if code in found and anchor_in(found[code], roots)]
            if not kept:
                return Reached((), Page(items=[], has_next=False, end_cursor=None), {}, (), 0, 0, 0)
            reached = or_(*(under(_place, anchor) for anchor in _outermost([found[code] for code in kept])))
            houses = and_(_place.c.level == int(Level.HOUSE), reached)

            listed = (
                select(_place, _parent.c.code.label("parent_code"))
                .outerjoin(_parent, _parent.c.id == _place.c.parent_id)
                .where(houses)
            )
            if after_code is not None:
                listed = listed.where(_place.c.code > after_code)
            rows_ = list(await connection.execute(listed.order_by(_place.c.code).limit(first + 1)))
            page = [rows.place_of(row._mapping, row._mapping["parent_code"]) for row in rows_[:first]]
            ids = {row.id: row.code for row in rows_[:first]}

            holders: dict[str, list[str]] = {place.code: [] for place in page}
            if ids:
                held = (
                    select(_ownership.c.house_id, _owner.c.key)
                    .join(_owner, _owner.c.id == _ownership.c.owner_id)
                    .where(_holding(as_of))
                )
                for row in await select_in(connection, held, _ownership.c.house_id, ids):
                    holders[ids[row.house_id]].append(row.key)

            open_here = and_(_case.c.status.in_(_OPEN), reached)
            at_places = select(_case.c.key).join(_place, _place.c.id == _case.c.place_id).where(open_here)
            newest = at_places.order_by(_case.c.reported_at.desc(), _case.c.key.desc()).limit(first)
            open_cases = tuple(row.key for row in await connection.execute(newest))
            # the three counts in one statement: each a scalar subquery over the same predicate
            counts = (
                await connection.execute(
                    select(
                        select(func.count()).select_from(_place).where(houses).scalar_subquery(),
                        select(func.count(distinct(_ownership.c.owner_id)))
                        .select_from(_ownership)
                        .join(_place, _place.c.id == _ownership.c.house_id)
                        .where(houses, _holding(as_of))
                        .scalar_subquery(),
                        select(func.count())
                        .select_from(_case)
                        .join(_place, _place.c.id == _case.c.place_id)
                        .where(open_here)
                        .scalar_subquery(),
                    )
                )
            ).one()
            house_count, owner_count, case_count = counts
        shown: list[Place] = page
        return Reached(
            places=tuple(kept),
            houses=Page(
                items=shown,
                has_next=len(rows_) > first,
                end_cursor=encode_cursor(shown[-1].code) if shown else None,
                start_cursor=encode_cursor(shown[0].code) if shown else None,
            ),
            holders={code: tuple(sorted(keys)) for code, keys in holders.items()},
            open_cases=open_cases,
            house_count=int(house_count or 0),
            owner_count=int(owner_count or 0),
            open_case_count=int(case_count or 0),
        )
