"""cases get a version (compare-and-set moves) and the store named counters (case ids)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

The case rules left the SQL adapter for graph.casework, which runs over the store port on any
backend: a move reads the case and writes it back only over the version it read
(`CaseStore.update_case`), and the hub's case ids take their day's sequence from a named
counter (`CaseStore.next_number`) instead of the day's highest id. Every case starts at
version 1; each day's counter starts where that day's highest `GD` id stands, so the next id
of a day already numbered is the one the old rule would have given.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("work_case") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
    op.create_table(
        "counter",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_counter")),
    )
    bind = op.get_bind()
    days = bind.execute(
        sa.text(
            "SELECT substr(key, 1, 10) AS head, max(key) AS last FROM work_case "
            "WHERE key LIKE 'GD%' AND length(key) = 16 GROUP BY substr(key, 1, 10)"
        )
    ).all()
    counters = [
        {"key": row.head, "value": int(row.last[10:])}
        for row in days
        if row.head[2:].isdigit() and row.last[10:].isdigit()
    ]
    if counters:
        counter = sa.table("counter", sa.column("key", sa.String), sa.column("value", sa.Integer))
        bind.execute(counter.insert(), counters)


def downgrade() -> None:
    op.drop_table("counter")
    with op.batch_alter_table("work_case") as batch:
        batch.drop_column("version")
