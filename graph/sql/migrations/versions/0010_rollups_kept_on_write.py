"""roll-ups recomputed once: from here on every write keeps them current

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

Until now `place_stats` was refreshed only after bulk loads (`hub demo`, the bench), so a store
that connectors or other writes changed afterwards held stale rows, and places written since had
none. Writes now bring the rows of the places they touch up to date from their children's rows
(graph.sql.rollups.maintain), which is right only if every other row is: this revision works out
every row once from the houses and ownerships themselves, as `refresh_stats()` does. No schema
change.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_LEVELS = ("city", "district", "street", "community", "estate", "building", "entrance")
"""The levels kept in place_stats, numbered 1.. in this order; a house is level 8."""
_ESTATE, _BUILDING, _HOUSE = 5, 6, 8


def upgrade() -> None:
    bind = op.get_bind()
    place = sa.table(
        "place",
        sa.column("id", sa.Integer),
        sa.column("level", sa.SmallInteger),
        sa.column("area", sa.Float),
        *(sa.column(f"{name}_id", sa.Integer) for name in _LEVELS),
    )
    ownership = sa.table(
        "ownership",
        sa.column("house_id", sa.Integer),
        sa.column("owner_id", sa.Integer),
        sa.column("since", sa.Date),
        sa.column("until", sa.Date),
    )
    stats = sa.table(
        "place_stats",
        sa.column("place_id", sa.Integer),
        sa.column("houses", sa.Integer),
        sa.column("floor_area", sa.Float),
        sa.column("owners", sa.Integer),
        sa.column("estates", sa.Integer),
        sa.column("buildings", sa.Integer),
        sa.column("refreshed_at", sa.DateTime(timezone=True)),
    )
    # today in Beijing, as the hub counts current owners (graph.clock)
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    now = dt.datetime.now(dt.timezone.utc)
    current = sa.and_(ownership.c.since <= today, sa.or_(ownership.c.until.is_(None), ownership.c.until > today))
    rows: list[dict[str, object]] = []
    for number, name in enumerate(_LEVELS, 1):
        group = place.c[f"{name}_id"]
        totals = {
            pid: {"houses": 0, "floor_area": 0.0, "owners": 0, "estates": int(number == _ESTATE), "buildings": int(number == _BUILDING)}
            for (pid,) in bind.execute(sa.select(place.c.id).where(place.c.level == number))
        }
        houses = sa.select(group, sa.func.count(), sa.func.coalesce(sa.func.sum(place.c.area), 0.0)).where(
            place.c.level == _HOUSE
        ).group_by(group)
        for pid, count, area in bind.execute(houses):
            if pid in totals:
                totals[pid].update(houses=count, floor_area=float(area))
        for below, key in ((_ESTATE, "estates"), (_BUILDING, "buildings")):
            if number < below:
                counted = sa.select(group, sa.func.count()).where(place.c.level == below).group_by(group)
                for pid, count in bind.execute(counted):
                    if pid in totals:
                        totals[pid][key] = count
        owners = (
            sa.select(group, sa.func.count(sa.distinct(ownership.c.owner_id)))
            .select_from(ownership.join(place, place.c.id == ownership.c.house_id))
            .where(current)
            .group_by(group)
        )
        for pid, count in bind.execute(owners):
            if pid in totals:
                totals[pid]["owners"] = count
        rows += [{"place_id": pid, **values, "refreshed_at": now} for pid, values in totals.items()]
    bind.execute(stats.delete())
    for start in range(0, len(rows), 5000):
        bind.execute(stats.insert(), rows[start : start + 5000])


def downgrade() -> None:
    """Nothing to undo: the rows stay right, the older code refreshes them its own way."""
