"""staff of firms (物业从业人员: personal data sealed and blind-indexed as owners', certificates,
shifts, last position, the estates they work in) and the person a case is assigned to, with the
on-site deadline and arrival (graph.staff)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05

New tables and three nullable columns on work_case: cases stored before are unassigned.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("work_case") as batch:
        batch.add_column(sa.Column("assignee", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("arrive_by", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_work_case_assignee_status", "work_case", ["assignee", "status"], unique=False)
    op.create_table(
        "staff",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("employer_id", sa.Integer(), sa.ForeignKey("firm.id", name=op.f("fk_staff_employer_id_firm")), nullable=False),
        sa.Column("post", sa.String(length=32), nullable=False),
        sa.Column("name_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("id_number_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("phone_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("name_index", sa.String(length=64), nullable=False),
        sa.Column("id_number_index", sa.String(length=64), nullable=False),
        sa.Column("phone_index", sa.String(length=64), nullable=True),
        sa.Column("certificates", sa.Text(), nullable=False),
        sa.Column("shifts", sa.Text(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("position_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("key", name=op.f("uq_staff_key")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff")),
    )
    op.create_index("ix_staff_employer_id", "staff", ["employer_id", "key"], unique=False)
    op.create_index("ix_staff_name_index", "staff", ["name_index"], unique=False)
    op.create_index("ix_staff_id_number_index", "staff", ["id_number_index"], unique=False)
    op.create_index("ix_staff_phone_index", "staff", ["phone_index"], unique=False)
    op.create_table(
        "staff_estate",
        sa.Column("staff_id", sa.Integer(), sa.ForeignKey("staff.id", name=op.f("fk_staff_estate_staff_id_staff")), nullable=False),
        sa.Column("place_id", sa.Integer(), sa.ForeignKey("place.id", name=op.f("fk_staff_estate_place_id_place")), nullable=False),
        sa.PrimaryKeyConstraint("staff_id", "place_id", name=op.f("pk_staff_estate")),
    )
    op.create_index("ix_staff_estate_place_id", "staff_estate", ["place_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_staff_estate_place_id", table_name="staff_estate")
    op.drop_table("staff_estate")
    for name in ("ix_staff_phone_index", "ix_staff_id_number_index", "ix_staff_name_index", "ix_staff_employer_id"):
        op.drop_index(name, table_name="staff")
    op.drop_table("staff")
    op.drop_index("ix_work_case_assignee_status", table_name="work_case")
    with op.batch_alter_table("work_case") as batch:
        batch.drop_column("arrived_at")
        batch.drop_column("arrive_by")
        batch.drop_column("assignee")
