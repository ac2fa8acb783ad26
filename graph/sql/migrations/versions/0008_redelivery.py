"""readings keyed by device, time, kind and values, and the reading time the rules resumed from

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22

The hub acknowledges an MQTT message only once what it wrote for it is committed, so after a
crash the broker sends it again: a reading is then the same row, not a second one. Each reading
gets the first 16 hex digits of the SHA-256 of its stored values (the same canonical JSON
graph.sql.devices writes), duplicates already stored (left by redeliveries before this) are
deleted keeping the first, and a unique index on (device, time, kind, digest) replaces the
plain (device, time) one, which it also serves. A device gets `reading_at`, the device's own
time of the newest reading ingestion's rules took in (graph.devices.Device.reading_at).
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

CHUNK = 10_000


def upgrade() -> None:
    op.add_column("device", sa.Column("reading_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("reading", sa.Column("digest", sa.String(length=16), nullable=True))
    bind = op.get_bind()
    readings = sa.table("reading", sa.column("id", sa.Integer), sa.column("values", sa.Text), sa.column("digest", sa.String))
    after = 0
    while True:
        rows = bind.execute(
            sa.select(readings.c.id, readings.c["values"]).where(readings.c.id > after).order_by(readings.c.id).limit(CHUNK)
        ).all()
        if not rows:
            break
        bind.execute(
            sa.update(readings).where(readings.c.id == sa.bindparam("row_id")).values(digest=sa.bindparam("row_digest")),
            [{"row_id": row.id, "row_digest": hashlib.sha256(row[1].encode()).hexdigest()[:16]} for row in rows],
        )
        after = rows[-1].id
    bind.execute(
        sa.text(
            "DELETE FROM reading WHERE id NOT IN "
            "(SELECT min(id) FROM reading GROUP BY device_id, at, kind, digest)"
        )
    )
    with op.batch_alter_table("reading") as batch:
        batch.alter_column("digest", existing_type=sa.String(length=16), nullable=False)
        batch.drop_index("ix_reading_device_id")
        batch.create_index("ix_reading_key", ["device_id", "at", "kind", "digest"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("reading") as batch:
        batch.drop_index("ix_reading_key")
        batch.create_index("ix_reading_device_id", ["device_id", "at"], unique=False)
        batch.drop_column("digest")
    op.drop_column("device", "reading_at")
