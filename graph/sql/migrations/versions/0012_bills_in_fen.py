"""bills keep their money in whole fen (integers) instead of yuan floats

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03

`bill.amount` and `bill.paid` were floats in yuan; sums of them drift and a comparison needed a
half-fen tolerance. They become `amount_fen` and `paid_fen`, BIGINT fen (graph.utilities.Bill).
Each stored float is converted exactly: read as the shortest decimal that gives it back (what
the writer stored: it kept two decimals), times 100, rounded half up to the fen only where an
older row held more decimals. Downgrade writes yuan floats back (fen / 100).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_CHUNK = 5000


def to_fen(yuan: Any) -> int:
    """A stored amount in yuan (a float, or a Decimal from PostgreSQL's numeric) as whole fen.

    >>> to_fen(0.29), to_fen(39.99), to_fen(0.1 + 0.2), to_fen(12.345), to_fen(120.5)
    (29, 3999, 30, 1235, 12050)
    """
    number = Decimal(repr(yuan)) if isinstance(yuan, float) else Decimal(yuan)
    return int(number.scaleb(2).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def upgrade() -> None:
    with op.batch_alter_table("bill") as batch:
        batch.add_column(sa.Column("amount_fen", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("paid_fen", sa.BigInteger(), nullable=True))
    bind = op.get_bind()
    bill = sa.table(
        "bill",
        sa.column("id", sa.Integer),
        sa.column("amount", sa.Float),
        sa.column("paid", sa.Float),
        sa.column("amount_fen", sa.BigInteger),
        sa.column("paid_fen", sa.BigInteger),
    )
    last = 0
    while True:  # in chunks of ids, so a large store is not read at once
        found = bind.execute(
            sa.select(bill.c.id, bill.c.amount, bill.c.paid).where(bill.c.id > last).order_by(bill.c.id).limit(_CHUNK)
        ).all()
        if not found:
            break
        bind.execute(
            sa.update(bill).where(bill.c.id == sa.bindparam("row_id")).values(
                amount_fen=sa.bindparam("new_amount"), paid_fen=sa.bindparam("new_paid")
            ),
            [{"row_id": row.id, "new_amount": to_fen(row.amount), "new_paid": to_fen(row.paid)} for row in found],
        )
        last = found[-1].id
    with op.batch_alter_table("bill") as batch:
        batch.alter_column("amount_fen", existing_type=sa.BigInteger(), nullable=False)
        batch.alter_column("paid_fen", existing_type=sa.BigInteger(), nullable=False)
        batch.drop_column("amount")
        batch.drop_column("paid")


def downgrade() -> None:
    with op.batch_alter_table("bill") as batch:
        batch.add_column(sa.Column("amount", sa.Float(), nullable=True))
        batch.add_column(sa.Column("paid", sa.Float(), nullable=True))
    op.execute("UPDATE bill SET amount = amount_fen / 100.0, paid = paid_fen / 100.0")
    with op.batch_alter_table("bill") as batch:
        batch.alter_column("amount", existing_type=sa.Float(), nullable=False)
        batch.alter_column("paid", existing_type=sa.Float(), nullable=False)
        batch.drop_column("amount_fen")
        batch.drop_column("paid_fen")
