"""party building: organisations in firms, committees and communities, their members (names
sealed), and members' claims of cases (graph.party.records)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05

Only new tables: nothing stored before changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def _code(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length=length).with_variant(sa.String(length=length, collation="C"), "postgresql")


def _place(table: str, column: str) -> sa.Column[int]:
    return sa.Column(column, sa.Integer(), sa.ForeignKey("place.id", name=op.f(f"fk_{table}_{column}_place")), nullable=False)


def upgrade() -> None:
    op.create_table(
        "party_organisation",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True, nullable=False),
        sa.Column("key", _code(64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("host_kind", sa.String(length=16), nullable=False),
        sa.Column("host", _code(64), nullable=False),
        _place("party_organisation", "place_id"),
        sa.Column("founded_on", sa.Date(), nullable=False),
        sa.Column("secretary", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.UniqueConstraint("key", name=op.f("uq_party_organisation_key")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_organisation")),
    )
    op.create_index("ix_party_organisation_place_id", "party_organisation", ["place_id", "key"], unique=False)
    op.create_index("ix_party_organisation_host", "party_organisation", ["host", "key"], unique=False)
    op.create_table(
        "party_member",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True, nullable=False),
        sa.Column("key", _code(64), nullable=False),
        sa.Column(
            "organisation_id",
            sa.Integer(),
            sa.ForeignKey("party_organisation.id", name=op.f("fk_party_member_organisation_id_party_organisation")),
            nullable=False,
        ),
        sa.Column("name_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("name_index", sa.String(length=64), nullable=False),
        sa.Column("post", sa.String(length=40), nullable=False),
        sa.Column("joined_on", sa.Date(), nullable=False),
        sa.Column("left_on", sa.Date(), nullable=True),
        sa.Column("link_kind", sa.String(length=16), nullable=True),
        sa.Column("link_id", sa.String(length=200), nullable=True),
        sa.UniqueConstraint("key", name=op.f("uq_party_member_key")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_member")),
    )
    op.create_index("ix_party_member_organisation_id", "party_member", ["organisation_id", "key"], unique=False)
    op.create_index("ix_party_member_link_kind", "party_member", ["link_kind", "link_id"], unique=False)
    op.create_index("ix_party_member_name_index", "party_member", ["name_index"], unique=False)
    op.create_table(
        "party_claim",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True, nullable=False),
        sa.Column("key", _code(64), nullable=False),
        sa.Column("case_key", sa.String(length=64), nullable=False),
        sa.Column("member_key", sa.String(length=64), nullable=False),
        sa.Column("organisation_key", sa.String(length=64), nullable=False),
        _place("party_claim", "estate_id"),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("outcome_note", sa.Text(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_by", sa.String(length=200), nullable=True),
        sa.Column("active_lock", sa.String(length=200), nullable=True),
        sa.UniqueConstraint("key", name=op.f("uq_party_claim_key")),
        sa.UniqueConstraint("active_lock", name=op.f("uq_party_claim_active_lock")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_claim")),
    )
    op.create_index("ix_party_claim_case_key", "party_claim", ["case_key"], unique=False)
    op.create_index("ix_party_claim_member_key", "party_claim", ["member_key"], unique=False)
    op.create_index("ix_party_claim_estate_id", "party_claim", ["estate_id", "claimed_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_party_claim_estate_id", table_name="party_claim")
    op.drop_index("ix_party_claim_member_key", table_name="party_claim")
    op.drop_index("ix_party_claim_case_key", table_name="party_claim")
    op.drop_table("party_claim")
    op.drop_index("ix_party_member_name_index", table_name="party_member")
    op.drop_index("ix_party_member_link_kind", table_name="party_member")
    op.drop_index("ix_party_member_organisation_id", table_name="party_member")
    op.drop_table("party_member")
    op.drop_index("ix_party_organisation_host", table_name="party_organisation")
    op.drop_index("ix_party_organisation_place_id", table_name="party_organisation")
    op.drop_table("party_organisation")
