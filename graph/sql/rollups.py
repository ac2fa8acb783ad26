"""Roll-ups of every place's subtree (houses, floor area, owners, estates, buildings).

`stats` answers from `place_stats`, so a city dashboard reads ten rows instead of counting 2.4
million houses. A refresh recomputes the subtree of one place with one grouped query per
level, then each of its ancestors, whose totals include it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, delete, distinct, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from graph.levels import Level
from graph.sql import tables
from graph.sql.bulk import insert_rows
from graph.sql.scoping import Anchor, under

ROLLED_UP = tuple(level for level in Level if level < Level.HOUSE)
"""Levels kept in `place_stats`; a house's figures are its own and are read live."""

_ZERO = {"houses": 0, "floor_area": 0.0, "owners": 0, "estates": 0, "buildings": 0}


def _current(today: dt.date) -> Any:
    ownership = tables.ownership
    return and_(
        ownership.c.since <= today,
        or_(ownership.c.until.is_(None), ownership.c.until > today),
    )


async def grouped(
    connection: AsyncConnection, level: Level, scope_filter: Any, today: dt.date
) -> dict[int, dict[str, Any]]:
    """Totals for every place of `level` that matches `scope_filter`, keyed by place id."""
    place, ownership = tables.place, tables.ownership
    group = place.c[tables.ancestor_column(level)] if level < Level.HOUSE else place.c.id
    totals: dict[int, dict[str, Any]] = {}

    def into(place_id: int) -> dict[str, Any]:
        return totals.setdefault(place_id, dict(_ZERO))

    # A place counts itself: an estate row says estates=1, so rows add up level by level.
    self_count = (
        select(place.c.id, place.c.area)
        .where(place.c.level == int(level))
        .where(scope_filter)
    )
    for row in await connection.execute(self_count):
        entry = into(row.id)
        if level == Level.HOUSE:
            entry["houses"], entry["floor_area"] = 1, row.area or 0.0
        elif level == Level.ESTATE:
            entry["estates"] = 1
        elif level == Level.BUILDING:
            entry["buildings"] = 1
    if level < Level.HOUSE:
        houses = (
            select(group.label("gid"), func.count(), func.coalesce(func.sum(place.c.area), 0.0))
            .where(place.c.level == int(Level.HOUSE))
            .where(scope_filter)
            .group_by(group)
        )
        for gid, count, area in await connection.execute(houses):
            if gid is not None:
                into(gid).update(houses=count, floor_area=float(area))
        for below, key in ((Level.ESTATE, "estates"), (Level.BUILDING, "buildings")):
            if level < below:
                counted = (
                    select(group.label("gid"), func.count())
                    .where(place.c.level == int(below))
                    .where(scope_filter)
                    .group_by(group)
                )
                for gid, count in await connection.execute(counted):
                    if gid is not None:
                        into(gid)[key] = count
    owners = (
        select(group.label("gid"), func.count(distinct(ownership.c.owner_id)))
        .select_from(ownership.join(place, place.c.id == ownership.c.house_id))
        .where(_current(today))
        .where(scope_filter)
        .group_by(group)
    )
    for gid, count in await connection.execute(owners):
        if gid is not None:
            into(gid)["owners"] = count
    return totals


async def refresh(
    connection: AsyncConnection, root: Anchor | None, ancestors: list[Anchor], today: dt.date
) -> int:
    """Recompute the roll-ups of `root`'s subtree (everything when None) and of its ancestors."""
    place, stats = tables.place, tables.place_stats
    now = dt.datetime.now(dt.timezone.utc)
    scope_filter = under(place, root) if root is not None else literal(True)
    written = 0
    for level in ROLLED_UP:
        if root is not None and level < root.level:
            continue
        totals = await grouped(connection, level, scope_filter, today)
        ids = select(place.c.id).where(place.c.level == int(level)).where(scope_filter)
        await connection.execute(delete(stats).where(stats.c.place_id.in_(ids)))
        payload = [{"place_id": pid, **values, "refreshed_at": now} for pid, values in totals.items()]
        await insert_rows(connection, stats, payload)
        written += len(payload)
    for ancestor in ancestors:
        totals = await grouped(connection, ancestor.level, under(place, ancestor), today)
        values = totals.get(ancestor.id, dict(_ZERO))
        await connection.execute(delete(stats).where(stats.c.place_id == ancestor.id))
        await insert_rows(connection, stats, [{"place_id": ancestor.id, **values, "refreshed_at": now}])
        written += 1
    return written
