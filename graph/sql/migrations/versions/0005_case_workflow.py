"""the case workflow: dispatch time, response deadline (sign_by), signing and resolution times,
the escalation rung reached and when; indexes for overdue lists and the escalation sweep

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_COLUMNS = ("dispatched_at", "sign_by", "signed_at", "resolved_at", "escalation", "escalated_at")


def upgrade() -> None:
    # batch mode: SQLite cannot add several columns and indexes to a table in place otherwise
    with op.batch_alter_table("work_case") as batch:
        batch.add_column(sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("sign_by", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("escalation", sa.SmallInteger(), nullable=True))
        batch.add_column(sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(op.f("ix_work_case_firm_id"), "work_case", ["firm_id"], unique=False)
    op.create_index(op.f("ix_work_case_status_sign_by"), "work_case", ["status", "sign_by"], unique=False)
    op.create_index(op.f("ix_work_case_status_deadline"), "work_case", ["status", "deadline"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_work_case_status_deadline"), table_name="work_case")
    op.drop_index(op.f("ix_work_case_status_sign_by"), table_name="work_case")
    op.drop_index(op.f("ix_work_case_firm_id"), table_name="work_case")
    with op.batch_alter_table("work_case") as batch:
        for name in reversed(_COLUMNS):
            batch.drop_column(name)
