"""owners' votes: votes (items, candidates and documents as JSON on the row), their frozen
electorates (a row per house, a row per holder and house), proxies, owners' committees and the
steps of an estate's first owners' meeting (graph.votes.records)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03

Only new tables: nothing stored before changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def _code(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length=length).with_variant(sa.String(length=length, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "vote",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True, nullable=False),
        sa.Column("key", _code(40), nullable=False),
        sa.Column("place_id", sa.Integer(), sa.ForeignKey("place.id", name=op.f("fk_vote_place_id_place")), nullable=False),
        sa.Column("estate_id", sa.Integer(), sa.ForeignKey("place.id", name=op.f("fk_vote_estate_id_place")), nullable=False),
        sa.Column("organiser_role", sa.String(length=32), nullable=False),
        sa.Column("organiser_scope", sa.String(length=32), nullable=False),
        sa.Column("organiser_name", sa.String(length=200), nullable=False),
        sa.Column("organiser_capacity", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("record_date", sa.Date(), nullable=False),
        sa.Column("notice_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opens_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("items", sa.Text(), nullable=False),
        sa.Column("documents", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_meeting", sa.SmallInteger(), nullable=False),
        sa.Column("electorate_houses", sa.Integer(), nullable=True),
        sa.Column("electorate_heads", sa.Integer(), nullable=True),
        sa.Column("electorate_area_centi_m2", sa.BigInteger(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.UniqueConstraint("key", name=op.f("uq_vote_key")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vote")),
    )
    op.create_index("ix_vote_place_id", "vote", ["place_id", "key"], unique=False)
    op.create_index("ix_vote_estate_id", "vote", ["estate_id"], unique=False)
    op.create_table(
        "elector",
        sa.Column("vote_id", sa.Integer(), sa.ForeignKey("vote.id", name=op.f("fk_elector_vote_id_vote")), nullable=False),
        sa.Column("house_code", _code(28), nullable=False),
        sa.Column("area_centi_m2", sa.BigInteger(), nullable=False),
        sa.Column("holders", sa.Text(), nullable=False),
        sa.Column("head", sa.Text(), nullable=False),
        sa.Column("designated", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("vote_id", "house_code", name=op.f("pk_elector")),
    )
    op.create_table(
        "vote_holder",
        sa.Column("vote_id", sa.Integer(), sa.ForeignKey("vote.id", name=op.f("fk_vote_holder_vote_id_vote")), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("house_code", _code(28), nullable=False),
        sa.PrimaryKeyConstraint("vote_id", "owner", "house_code", name=op.f("pk_vote_holder")),
    )
    op.create_table(
        "vote_proxy",
        sa.Column("vote_id", sa.Integer(), sa.ForeignKey("vote.id", name=op.f("fk_vote_proxy_vote_id_vote")), nullable=False),
        sa.Column("house_code", _code(28), nullable=False),
        sa.Column("grantor", sa.String(length=64), nullable=False),
        sa.Column("delegate", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=500), nullable=False),
        sa.Column("registered_by", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("vote_id", "house_code", name=op.f("pk_vote_proxy")),
    )
    op.create_index("ix_vote_proxy_delegate", "vote_proxy", ["vote_id", "delegate", "house_code"], unique=False)
    op.create_table(
        "committee",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True, nullable=False),
        sa.Column("key", _code(40), nullable=False),
        sa.Column("estate_id", sa.Integer(), sa.ForeignKey("place.id", name=op.f("fk_committee_estate_id_place")), nullable=False),
        sa.Column("members", sa.Text(), nullable=False),
        sa.Column("term_start", sa.Date(), nullable=False),
        sa.Column("term_end", sa.Date(), nullable=False),
        sa.Column("elected_by", sa.String(length=40), nullable=True),
        sa.Column("filed_on", sa.Date(), nullable=True),
        sa.UniqueConstraint("key", name=op.f("uq_committee_key")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_committee")),
    )
    op.create_index("ix_committee_estate_id", "committee", ["estate_id", "term_start"], unique=False)
    op.create_table(
        "meeting_step",
        sa.Column("estate_id", sa.Integer(), sa.ForeignKey("place.id", name=op.f("fk_meeting_step_estate_id_place")), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("estate_id", "kind", name=op.f("pk_meeting_step")),
    )


def downgrade() -> None:
    op.drop_table("meeting_step")
    op.drop_index("ix_committee_estate_id", table_name="committee")
    op.drop_table("committee")
    op.drop_index("ix_vote_proxy_delegate", table_name="vote_proxy")
    op.drop_table("vote_proxy")
    op.drop_table("vote_holder")
    op.drop_table("elector")
    op.drop_index("ix_vote_estate_id", table_name="vote")
    op.drop_index("ix_vote_place_id", table_name="vote")
    op.drop_table("vote")
