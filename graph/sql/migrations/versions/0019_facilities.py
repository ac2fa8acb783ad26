"""facility life records: a record per device (installation, registration, contractor and
contract, maintenance and inspection with their due times and the overdue sweep's watch
columns, repairs, retirement) and its events (graph.facilities.records)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05

Only new tables: nothing stored before changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def _code(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length=length).with_variant(sa.String(length=length, collation="C"), "postgresql")


def _device(table: str, **options: object) -> sa.Column[int]:
    return sa.Column("device_id", sa.Integer(), sa.ForeignKey("device.id", name=op.f(f"fk_{table}_device_id_device")), **options)  # type: ignore[arg-type]


def _time(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def upgrade() -> None:
    op.create_table(
        "facility",
        _device("facility", autoincrement=False, nullable=False),
        sa.Column("code", _code(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _time("installed_at"),
        sa.Column("installed_by", sa.String(length=200), nullable=True),
        sa.Column("registration_number", sa.String(length=200), nullable=True),
        sa.Column("rescue_code", sa.String(length=8), nullable=True),
        sa.Column("contractor_code", sa.String(length=18), nullable=True),
        sa.Column("contractor_name", sa.String(length=200), nullable=True),
        sa.Column("contract_number", sa.String(length=200), nullable=True),
        sa.Column("contract_start", sa.Date(), nullable=True),
        sa.Column("contract_end", sa.Date(), nullable=True),
        sa.Column("maintenance_days", sa.Integer(), nullable=True),
        _time("last_maintained_at"),
        _time("maintenance_due_at"),
        sa.Column("maintenance_alarmed", sa.Boolean(), nullable=False),
        _time("maintenance_watch"),
        _time("last_inspected_at"),
        sa.Column("inspection_result", sa.String(length=32), nullable=True),
        _time("inspection_due_at"),
        sa.Column("inspection_alarmed", sa.Boolean(), nullable=False),
        _time("inspection_watch"),
        sa.Column("repairs", sa.Integer(), nullable=False),
        _time("retired_at"),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_facility")),
        sa.UniqueConstraint("code", name=op.f("uq_facility_code")),
    )
    op.create_index("ix_facility_maintenance_watch", "facility", ["maintenance_watch", "code"], unique=False)
    op.create_index("ix_facility_inspection_watch", "facility", ["inspection_watch", "code"], unique=False)
    op.create_table(
        "facility_event",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True, nullable=False),
        _device("facility_event", nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("by_org", sa.String(length=18), nullable=True),
        sa.Column("by_staff", sa.String(length=64), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("key", sa.String(length=128), nullable=True),
        sa.Column("note", sa.String(length=400), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_facility_event")),
        sa.UniqueConstraint("device_id", "seq", name=op.f("uq_facility_event_device_id_seq")),
        sa.UniqueConstraint("device_id", "key", name=op.f("uq_facility_event_device_id_key")),
    )
    op.create_index("ix_facility_event_kind_at", "facility_event", ["kind", "at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_facility_event_kind_at", table_name="facility_event")
    op.drop_table("facility_event")
    op.drop_index("ix_facility_inspection_watch", table_name="facility")
    op.drop_index("ix_facility_maintenance_watch", table_name="facility")
    op.drop_table("facility")
