"""firms' credit: a score per firm, period and version (graph.credit.records)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05

Only a new table: nothing stored before changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credit_score",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True, nullable=False),
        sa.Column("firm_id", sa.Integer(), sa.ForeignKey("firm.id", name=op.f("fk_credit_score_firm_id_firm")), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("total_centi", sa.Integer(), nullable=False),
        sa.Column("estates", sa.Integer(), nullable=False),
        sa.Column("houses", sa.Integer(), nullable=False),
        sa.Column("parts", sa.Text(), nullable=False),
        sa.Column("no_data", sa.String(length=16), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_score")),
        sa.UniqueConstraint("firm_id", "period", "version", name=op.f("uq_credit_score_firm_id_period_version")),
    )
    op.create_index("ix_credit_score_period", "credit_score", ["period", "firm_id", "version"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_credit_score_period", table_name="credit_score")
    op.drop_table("credit_score")
