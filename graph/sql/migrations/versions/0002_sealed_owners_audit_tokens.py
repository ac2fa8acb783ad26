"""personal data sealed with SM4, blind indexes; audit chain; issued tokens

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21

Owners' names, ID numbers and phones move from plain columns to SM4-GCM sealed ones with keyed
SM3 blind indexes. Rows already stored are sealed in place with the hub's keys, which the store
hands to the migration; a database that holds owners cannot be upgraded without them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_PERSONAL = ("name", "id_number", "phone")


def _seal_existing() -> None:
    bind = op.get_bind()
    owners = sa.table(
        "owner",
        sa.column("id", sa.Integer),
        sa.column("key", sa.String),
        *(sa.column(field, sa.String) for field in _PERSONAL),
        *(sa.column(f"{field}_sealed", sa.LargeBinary) for field in _PERSONAL),
        *(sa.column(f"{field}_index", sa.String) for field in _PERSONAL),
    )
    rows = bind.execute(sa.select(owners.c.id, owners.c.key, *(owners.c[f] for f in _PERSONAL))).all()
    if not rows:
        return
    sealer = context.config.attributes.get("sealer")
    if sealer is None:
        raise RuntimeError(
            f"the database holds {len(rows)} owners in plain text: open it with the hub's keys "
            "(hub keys init, then any hub command with --keys) to seal them"
        )
    updates = []
    for row in rows:
        values: dict[str, object] = {"row_id": row.id}
        for field in _PERSONAL:
            value = getattr(row, field)
            values[f"{field}_sealed"] = None if value is None else sealer.seal(value, field=field, owner=row.key)
            values[f"{field}_index"] = None if value is None else sealer.index(field, value)
        updates.append(values)
    statement = (
        owners.update()
        .where(owners.c.id == sa.bindparam("row_id"))
        .values({name: sa.bindparam(name) for name in updates[0] if name != "row_id"})
    )
    bind.execute(statement, updates)


def upgrade() -> None:
    op.create_table(
        "audit",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=400), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(length=400), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit")),
    )
    op.create_table(
        "token",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoke_reason", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_token")),
    )
    with op.batch_alter_table("owner", schema=None) as batch_op:
        for field in _PERSONAL:
            batch_op.add_column(sa.Column(f"{field}_sealed", sa.LargeBinary(), nullable=True))
            batch_op.add_column(sa.Column(f"{field}_index", sa.String(length=64), nullable=True))
    _seal_existing()
    with op.batch_alter_table("owner", schema=None) as batch_op:
        batch_op.drop_index("ix_owner_id_number")
        for field in _PERSONAL:
            batch_op.drop_column(field)
        for field in ("name", "id_number"):
            batch_op.alter_column(f"{field}_sealed", existing_type=sa.LargeBinary(), nullable=False)
            batch_op.alter_column(f"{field}_index", existing_type=sa.String(length=64), nullable=False)
        for field in _PERSONAL:
            batch_op.create_index(f"ix_owner_{field}_index", [f"{field}_index"], unique=False)


def downgrade() -> None:
    raise RuntimeError("sealed personal data is not unsealed by a downgrade; restore a backup instead")
