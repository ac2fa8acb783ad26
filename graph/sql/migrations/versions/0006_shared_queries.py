"""shared queries (saved, versioned GraphQL documents and who they are shared with) and the
per-role safelist switch

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shared_query",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("variables", sa.Text(), nullable=False),
        sa.Column("csv_path", sa.String(length=200), nullable=True),
        sa.Column("owner_name", sa.String(length=200), nullable=False),
        sa.Column("owner_role", sa.String(length=32), nullable=False),
        sa.Column("owner_scope", sa.String(length=64), nullable=False),
        sa.Column("roles", sa.Text(), nullable=False),
        sa.Column("organisations", sa.Text(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shared_query")),
        sa.UniqueConstraint("name", "version", name=op.f("uq_shared_query_name_version")),
    )
    op.create_table(
        "safelist",
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("enabled", sa.SmallInteger(), nullable=False),
        sa.Column("changed_by", sa.String(length=200), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("role", name=op.f("pk_safelist")),
    )


def downgrade() -> None:
    op.drop_table("safelist")
    op.drop_table("shared_query")
