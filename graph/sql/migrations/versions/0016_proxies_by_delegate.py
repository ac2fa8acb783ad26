"""proxies found by their delegate alone: the votes an owner is a registered delegate in
(VoteStore.delegations, which lists them in an owner's votes), without reading every proxy

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04

Only a new index: nothing stored changes.
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_vote_proxy_delegate_votes", "vote_proxy", ["delegate", "vote_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_vote_proxy_delegate_votes", table_name="vote_proxy")
