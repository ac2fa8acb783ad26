"""a registered proxy holds its house's claim for its delegate (LogStore.take_claims), so a vote's
cast reads no proxies: proxies registered before this revision take their claims here

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04

Each proxy whose house nobody has claimed yet (nobody cast it) gets the claim
`vote:<vote key>:house:<house code>` for its delegate, as graph.votes.service.claim_key spells
it. A house already cast keeps its claimant: the cast that took it was allowed then.
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "INSERT INTO merkle_claim (key, claimant) "
        "SELECT 'vote:' || v.key || ':house:' || p.house_code, p.delegate "
        "FROM vote_proxy p JOIN vote v ON v.id = p.vote_id "
        "WHERE NOT EXISTS (SELECT 1 FROM merkle_claim c WHERE c.key = 'vote:' || v.key || ':house:' || p.house_code)"
    )


def downgrade() -> None:
    # the claims cannot be told apart from those casts took; leaving them keeps every house as
    # the store had it (a downgraded hub reads proxies again and finds the same delegates)
    pass
