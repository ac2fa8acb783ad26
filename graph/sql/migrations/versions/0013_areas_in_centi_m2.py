"""house areas and roll-up floor areas in whole hundredths of a m² (integers) instead of floats

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03

`place.area` (m², a float) becomes `place.area_centi_m2` and `place_stats.floor_area` becomes
`place_stats.floor_area_centi_m2`, BIGINT hundredths of a m² (graph.model.Place, Stats), so sums
of areas are exact. Each house's float is converted exactly (the shortest decimal that gives it
back, times 100, rounded half up only where an older row held more than two decimals); each
roll-up's floor area is then summed again from its houses' integers, per level, so a roll-up
is exactly the sum of what its houses now hold. Downgrade writes floats back (hundredths / 100).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_LEVELS = ("city", "district", "street", "community", "estate", "building", "entrance")
"""The levels kept in place_stats, numbered 1.. in this order; a house is level 8."""
_HOUSE = 8
_CHUNK = 5000


def to_centi_m2(m2: Any) -> int:
    """A stored area in m² (a float, or a Decimal from PostgreSQL) as whole hundredths of a m².

    >>> to_centi_m2(80.5), to_centi_m2(88.88), to_centi_m2(0.1 + 0.2), to_centi_m2(12.345)
    (8050, 8888, 30, 1235)
    """
    number = Decimal(repr(m2)) if isinstance(m2, float) else Decimal(m2)
    return int(number.scaleb(2).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _drop(bind: Any, table: str, column: str) -> None:
    """Drop a plain column in place: on SQLite (3.35+) without copying the table, which every
    other table's foreign keys point at (a copy would drop the table they reference)."""
    if bind.dialect.name == "sqlite":
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    else:
        op.drop_column(table, column)


def upgrade() -> None:
    with op.batch_alter_table("place") as batch:
        batch.add_column(sa.Column("area_centi_m2", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("place_stats") as batch:
        batch.add_column(sa.Column("floor_area_centi_m2", sa.BigInteger(), nullable=False, server_default="0"))
    bind = op.get_bind()
    place = sa.table(
        "place",
        sa.column("id", sa.Integer),
        sa.column("level", sa.SmallInteger),
        sa.column("area", sa.Float),
        sa.column("area_centi_m2", sa.BigInteger),
        *(sa.column(f"{name}_id", sa.Integer) for name in _LEVELS),
    )
    stats = sa.table("place_stats", sa.column("place_id", sa.Integer), sa.column("floor_area_centi_m2", sa.BigInteger))
    last = 0
    while True:  # the places that hold an area, in chunks of ids
        found = bind.execute(
            sa.select(place.c.id, place.c.area)
            .where(place.c.id > last, place.c.area.is_not(None))
            .order_by(place.c.id)
            .limit(_CHUNK)
        ).all()
        if not found:
            break
        bind.execute(
            sa.update(place).where(place.c.id == sa.bindparam("row_id")).values(area_centi_m2=sa.bindparam("centi")),
            [{"row_id": row.id, "centi": to_centi_m2(row.area)} for row in found],
        )
        last = found[-1].id
    for name in _LEVELS:  # every roll-up again from its houses' integers
        group = place.c[f"{name}_id"]
        sums = (
            sa.select(group.label("gid"), sa.func.coalesce(sa.func.sum(place.c.area_centi_m2), 0).label("area"))
            .where(place.c.level == _HOUSE, group.is_not(None))
            .group_by(group)
        )
        updates = [{"row_id": gid, "area": int(area)} for gid, area in bind.execute(sums)]
        for start in range(0, len(updates), _CHUNK):
            bind.execute(
                sa.update(stats).where(stats.c.place_id == sa.bindparam("row_id")).values(floor_area_centi_m2=sa.bindparam("area")),
                updates[start : start + _CHUNK],
            )
    _drop(bind, "place", "area")
    with op.batch_alter_table("place_stats") as batch:
        batch.alter_column("floor_area_centi_m2", existing_type=sa.BigInteger(), server_default=None)
        batch.drop_column("floor_area")


def downgrade() -> None:
    with op.batch_alter_table("place") as batch:
        batch.add_column(sa.Column("area", sa.Float(), nullable=True))
    with op.batch_alter_table("place_stats") as batch:
        batch.add_column(sa.Column("floor_area", sa.Float(), nullable=False, server_default="0"))
    op.execute("UPDATE place SET area = area_centi_m2 / 100.0 WHERE area_centi_m2 IS NOT NULL")
    op.execute("UPDATE place_stats SET floor_area = floor_area_centi_m2 / 100.0")
    _drop(op.get_bind(), "place", "area_centi_m2")
    with op.batch_alter_table("place_stats") as batch:
        batch.alter_column("floor_area", existing_type=sa.Float(), server_default=None)
        batch.drop_column("floor_area_centi_m2")
