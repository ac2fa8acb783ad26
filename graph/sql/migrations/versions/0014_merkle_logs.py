"""append-only Merkle logs (graph.logstore): each log's size, its entries, the node hashes of its
complete subtrees, its signed heads, and the claim keys taken with appends

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03

New tables only; nothing stored before changes. Names, keys and claims sort byte-wise on
PostgreSQL (the C collation), as codes do.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def _code(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length=length).with_variant(sa.String(length=length, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "merkle_log",
        sa.Column("name", _code(100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_merkle_log")),
    )
    op.create_table(
        "merkle_entry",
        sa.Column("log", _code(100), nullable=False),
        sa.Column("index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("key", _code(100), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("log", "index", name=op.f("pk_merkle_entry")),
    )
    op.create_index("ix_merkle_entry_log_key", "merkle_entry", ["log", "key"], unique=False)
    op.create_table(
        "merkle_node",
        sa.Column("log", _code(100), nullable=False),
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("log", "level", "index", name=op.f("pk_merkle_node")),
    )
    op.create_table(
        "merkle_head",
        sa.Column("log", _code(100), nullable=False),
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", _code(100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("log", "size", "kind", "at", name=op.f("pk_merkle_head")),
    )
    op.create_table(
        "merkle_claim",
        sa.Column("key", _code(200), nullable=False),
        sa.Column("claimant", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_merkle_claim")),
    )


def downgrade() -> None:
    op.drop_table("merkle_claim")
    op.drop_table("merkle_head")
    op.drop_table("merkle_node")
    op.drop_index("ix_merkle_entry_log_key", table_name="merkle_entry")
    op.drop_table("merkle_entry")
    op.drop_table("merkle_log")
