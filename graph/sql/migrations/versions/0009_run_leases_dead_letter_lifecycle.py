"""connector runs hold a lease (process, host, expiry) and may be closed as abandoned; runs count
retried and resolved dead letters and places added; dead letters keep their first detail and
time, their record's cursor, whether they can be retried, and when and by which run they were resolved

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22

A run still RUNNING when this upgrade runs gets a lease that lapses 15 minutes after its last
sign of life, the time after which the hub took such a run for dead before leases; its holder is
not known. Dead letters stored before keep their detail and time as the first ones too, and are
marked not retryable: their payloads were kept before retries existed (a registration's holder
numbers, say, were kept masked). A run that reads the record again (`hub sync NAME --full`)
keeps it afresh.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

LEGACY_LEASE = dt.timedelta(minutes=15)
UNKNOWN_HOST = "unknown (started before run leases)"


def upgrade() -> None:
    with op.batch_alter_table("connector_run") as batch:
        for name in ("retried", "resolved", "places_added"):
            batch.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("lease_pid", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("lease_host", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("closed_by", sa.String(length=400), nullable=True))
    op.create_index(
        op.f("ix_connector_run_status_lease_expires_at"), "connector_run", ["status", "lease_expires_at"], unique=False
    )
    with op.batch_alter_table("connector_run") as batch:
        for name in ("retried", "resolved", "places_added"):
            batch.alter_column(name, server_default=None, existing_type=sa.Integer(), existing_nullable=False)

    bind = op.get_bind()
    runs = sa.table(
        "connector_run",
        sa.column("id", sa.String),
        sa.column("status", sa.String),
        sa.column("started_at", sa.DateTime(timezone=True)),
        sa.column("heartbeat_at", sa.DateTime(timezone=True)),
        sa.column("lease_pid", sa.Integer),
        sa.column("lease_host", sa.String),
        sa.column("lease_expires_at", sa.DateTime(timezone=True)),
    )
    running = bind.execute(
        sa.select(runs.c.id, runs.c.started_at, runs.c.heartbeat_at).where(runs.c.status == "running")
    ).all()
    for row in running:
        last_seen = row.heartbeat_at or row.started_at
        bind.execute(
            runs.update()
            .where(runs.c.id == row.id)
            .values(lease_pid=0, lease_host=UNKNOWN_HOST, lease_expires_at=last_seen + LEGACY_LEASE)
        )

    with op.batch_alter_table("dead_letter") as batch:
        batch.add_column(sa.Column("first_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("first_detail", sa.Text(), nullable=True))
        batch.add_column(sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("resolved_by_run", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("cursor", sa.String(length=400), nullable=True))
        batch.add_column(sa.Column("retryable", sa.SmallInteger(), nullable=False, server_default="0"))
    letters = sa.table(
        "dead_letter",
        sa.column("at", sa.DateTime(timezone=True)),
        sa.column("detail", sa.Text),
        sa.column("first_at", sa.DateTime(timezone=True)),
        sa.column("first_detail", sa.Text),
    )
    bind.execute(letters.update().values(first_at=letters.c.at, first_detail=letters.c.detail))
    with op.batch_alter_table("dead_letter") as batch:
        batch.alter_column("first_at", nullable=False, existing_type=sa.DateTime(timezone=True))
        batch.alter_column("first_detail", nullable=False, existing_type=sa.Text())
        batch.alter_column("retryable", server_default=None, existing_type=sa.SmallInteger(), existing_nullable=False)
    op.create_index(
        op.f("ix_dead_letter_connector_resolved_at_at"), "dead_letter", ["connector", "resolved_at", "at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_dead_letter_connector_resolved_at_at"), table_name="dead_letter")
    with op.batch_alter_table("dead_letter") as batch:
        for name in ("retryable", "cursor", "resolved_by_run", "resolved_at", "first_detail", "first_at"):
            batch.drop_column(name)
    op.drop_index(op.f("ix_connector_run_status_lease_expires_at"), table_name="connector_run")
    with op.batch_alter_table("connector_run") as batch:
        for name in ("closed_by", "closed_at", "lease_expires_at", "lease_host", "lease_pid", "places_added", "resolved", "retried"):
            batch.drop_column(name)
