"""fund records: repair projects, and the maintenance-fund and public-revenue journals folded into
an account per house, figures per estate and calendar year, and the journal size each estate's
rows are folded up to (graph.funds.records)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04

Only new tables: nothing stored before changes. The journals themselves are Merkle logs
(0014); the folded rows are worked out from them again by the next apply after an upgrade.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def _code(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length=length).with_variant(sa.String(length=length, collation="C"), "postgresql")


def _place(table: str, column: str, **options: object) -> sa.Column[int]:
    return sa.Column(column, sa.Integer(), sa.ForeignKey("place.id", name=op.f(f"fk_{table}_{column}_place")), **options)  # type: ignore[arg-type]


def upgrade() -> None:
    op.create_table(
        "fund_project",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True, nullable=False),
        sa.Column("key", _code(64), nullable=False),
        _place("fund_project", "estate_id", nullable=False),
        _place("fund_project", "part_id", nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("budget_fen", sa.BigInteger(), nullable=False),
        sa.Column("authority", sa.String(length=16), nullable=False),
        sa.Column("authority_ref", sa.Text(), nullable=False),
        sa.Column("raised_by", sa.Text(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("emergency", sa.String(length=16), nullable=True),
        sa.Column("case_id", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("cost_fen", sa.BigInteger(), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_index", sa.BigInteger(), nullable=True),
        sa.Column("debit_entries", sa.BigInteger(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.UniqueConstraint("key", name=op.f("uq_fund_project_key")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fund_project")),
    )
    op.create_index("ix_fund_project_part_id", "fund_project", ["part_id", "key"], unique=False)
    op.create_index("ix_fund_project_estate_id", "fund_project", ["estate_id"], unique=False)
    op.create_table(
        "fund_account",
        _place("fund_account", "house_id", autoincrement=False, nullable=False),
        _place("fund_account", "estate_id", nullable=False),
        sa.Column("house_code", _code(28), nullable=False),
        sa.Column("balance_fen", sa.BigInteger(), nullable=False),
        sa.Column("first_deposit_fen", sa.BigInteger(), nullable=False),
        sa.Column("entries", sa.BigInteger(), nullable=False),
        sa.Column("last_index", sa.BigInteger(), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("house_id", name=op.f("pk_fund_account")),
    )
    op.create_index("ix_fund_account_estate_id", "fund_account", ["estate_id", "house_code"], unique=False)
    op.create_table(
        "fund_year",
        _place("fund_year", "estate_id", autoincrement=False, nullable=False),
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("credits_fen", sa.BigInteger(), nullable=False),
        sa.Column("interest_fen", sa.BigInteger(), nullable=False),
        sa.Column("repairs_fen", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("estate_id", "year", name=op.f("pk_fund_year")),
    )
    op.create_table(
        "revenue_year",
        _place("revenue_year", "estate_id", autoincrement=False, nullable=False),
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("income_fen", sa.BigInteger(), nullable=False),
        sa.Column("confirmed_income_fen", sa.BigInteger(), nullable=False),
        sa.Column("cost_fen", sa.BigInteger(), nullable=False),
        sa.Column("distributed_fen", sa.BigInteger(), nullable=False),
        sa.Column("entries", sa.BigInteger(), nullable=False),
        sa.Column("unconfirmed", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("estate_id", "year", name=op.f("pk_revenue_year")),
    )
    op.create_table(
        "fund_applied",
        _place("fund_applied", "estate_id", autoincrement=False, nullable=False),
        sa.Column("journal", sa.String(length=16), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("estate_id", "journal", name=op.f("pk_fund_applied")),
    )


def downgrade() -> None:
    op.drop_table("fund_applied")
    op.drop_table("revenue_year")
    op.drop_table("fund_year")
    op.drop_index("ix_fund_account_estate_id", table_name="fund_account")
    op.drop_table("fund_account")
    op.drop_index("ix_fund_project_estate_id", table_name="fund_project")
    op.drop_index("ix_fund_project_part_id", table_name="fund_project")
    op.drop_table("fund_project")
