"""connector ledger (runs, stream cursors, dead letters); utility accounts, bills and outages;
cases with their history and the outbox of changes owed to source systems

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'connector_run',
        sa.Column('id', sa.String(length=64), primary_key=True, nullable=False),
        sa.Column('connector', sa.String(length=64), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('full_read', sa.SmallInteger(), nullable=False),
        sa.Column('trigger', sa.String(length=16), nullable=False),
        sa.Column('read', sa.Integer(), nullable=False),
        sa.Column('written', sa.Integer(), nullable=False),
        sa.Column('unchanged', sa.Integer(), nullable=False),
        sa.Column('dead_lettered', sa.Integer(), nullable=False),
        sa.Column('duplicates', sa.Integer(), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_connector_run')),
    )
    op.create_index(op.f('ix_connector_run_connector'), 'connector_run', ['connector', 'started_at'], unique=False)
    op.create_index(op.f('ix_connector_run_started_at'), 'connector_run', ['started_at'], unique=False)
    op.create_table(
        'stream_state',
        sa.Column('connector', sa.String(length=64), primary_key=True, nullable=False),
        sa.Column('stream', sa.String(length=64), primary_key=True, nullable=False),
        sa.Column('cursor', sa.String(length=400), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('run_id', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('connector', 'stream', name=op.f('pk_stream_state')),
    )
    op.create_table(
        'dead_letter',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True, nullable=False),
        sa.Column('connector', sa.String(length=64), nullable=False),
        sa.Column('stream', sa.String(length=64), nullable=False),
        sa.Column('record_key', sa.String(length=400), nullable=False),
        sa.Column('reason', sa.String(length=32), nullable=False),
        sa.Column('detail', sa.Text(), nullable=False),
        sa.Column('payload', sa.Text(), nullable=False),
        sa.Column('candidates', sa.Text(), nullable=False),
        sa.Column('run_id', sa.String(length=64), nullable=False),
        sa.Column('last_run_id', sa.String(length=64), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('seen', sa.Integer(), nullable=False),
        sa.UniqueConstraint('connector', 'stream', 'record_key', 'reason', name=op.f('uq_dead_letter_connector_stream_record_key_reason')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_dead_letter')),
    )
    op.create_table(
        'utility_account',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True, nullable=False),
        sa.Column('utility', sa.String(length=16), nullable=False),
        sa.Column('account_no', sa.String(length=64), nullable=False),
        sa.Column('house_id', sa.Integer(), sa.ForeignKey('place.id', name=op.f('fk_utility_account_house_id_place')), nullable=False),
        sa.Column('source', sa.String(length=64), nullable=True),
        sa.Column('source_record', sa.String(length=128), nullable=True),
        sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('run_id', sa.String(length=64), nullable=True),
        sa.UniqueConstraint('utility', 'account_no', name=op.f('uq_utility_account_utility_account_no')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_utility_account')),
    )
    op.create_index(op.f('ix_utility_account_house_id'), 'utility_account', ['house_id'], unique=False)
    op.create_table(
        'bill',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True, nullable=False),
        sa.Column('account_id', sa.Integer(), sa.ForeignKey('utility_account.id', name=op.f('fk_bill_account_id_utility_account')), nullable=False),
        sa.Column('period', sa.String(length=7), nullable=False),
        sa.Column('amount', sa.Float(), nullable=False),
        sa.Column('paid', sa.Float(), nullable=False),
        sa.Column('due', sa.Date(), nullable=False),
        sa.Column('source', sa.String(length=64), nullable=True),
        sa.Column('source_record', sa.String(length=128), nullable=True),
        sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('run_id', sa.String(length=64), nullable=True),
        sa.UniqueConstraint('account_id', 'period', name=op.f('uq_bill_account_id_period')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_bill')),
    )
    op.create_table(
        'outage',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True, nullable=False),
        sa.Column('utility', sa.String(length=16), nullable=False),
        sa.Column('notice_id', sa.String(length=64), nullable=False),
        sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('reason', sa.String(length=400), nullable=False),
        sa.Column('planned', sa.SmallInteger(), nullable=False),
        sa.Column('source', sa.String(length=64), nullable=True),
        sa.Column('source_record', sa.String(length=128), nullable=True),
        sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('run_id', sa.String(length=64), nullable=True),
        sa.UniqueConstraint('utility', 'notice_id', name=op.f('uq_outage_utility_notice_id')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outage')),
    )
    op.create_index(op.f('ix_outage_starts_at'), 'outage', ['starts_at'], unique=False)
    op.create_table(
        'outage_place',
        sa.Column('outage_id', sa.Integer(), sa.ForeignKey('outage.id', name=op.f('fk_outage_place_outage_id_outage')), primary_key=True, nullable=False),
        sa.Column('place_id', sa.Integer(), sa.ForeignKey('place.id', name=op.f('fk_outage_place_place_id_place')), primary_key=True, nullable=False),
        sa.PrimaryKeyConstraint('outage_id', 'place_id', name=op.f('pk_outage_place')),
    )
    op.create_index(op.f('ix_outage_place_place_id'), 'outage_place', ['place_id'], unique=False)
    op.create_table(
        'work_case',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True, nullable=False),
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('source_kind', sa.String(length=32), nullable=False),
        sa.Column('category', sa.String(length=32), nullable=False),
        sa.Column('status', sa.String(length=32), nullable=False),
        sa.Column('title', sa.String(length=400), nullable=False),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('place_id', sa.Integer(), sa.ForeignKey('place.id', name=op.f('fk_work_case_place_id_place')), nullable=True),
        sa.Column('lon', sa.Float(), nullable=True),
        sa.Column('lat', sa.Float(), nullable=True),
        sa.Column('address', sa.String(length=400), nullable=True),
        sa.Column('external_id', sa.String(length=128), nullable=True),
        sa.Column('firm_id', sa.Integer(), sa.ForeignKey('firm.id', name=op.f('fk_work_case_firm_id_firm')), nullable=True),
        sa.Column('severity', sa.String(length=16), nullable=True),
        sa.Column('deadline', sa.DateTime(timezone=True), nullable=True),
        sa.Column('rating', sa.SmallInteger(), nullable=True),
        sa.Column('push_to', sa.String(length=64), nullable=True),
        sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('source', sa.String(length=64), nullable=True),
        sa.Column('source_record', sa.String(length=128), nullable=True),
        sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('run_id', sa.String(length=64), nullable=True),
        sa.UniqueConstraint('key', name=op.f('uq_work_case_key')),
        sa.UniqueConstraint('source_kind', 'external_id', name=op.f('uq_work_case_source_kind_external_id')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_work_case')),
    )
    op.create_index(op.f('ix_work_case_place_id'), 'work_case', ['place_id'], unique=False)
    op.create_index(op.f('ix_work_case_reported_at'), 'work_case', ['reported_at'], unique=False)
    op.create_table(
        'case_event',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True, nullable=False),
        sa.Column('case_id', sa.Integer(), sa.ForeignKey('work_case.id', name=op.f('fk_case_event_case_id_work_case')), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('from_status', sa.String(length=32), nullable=True),
        sa.Column('to_status', sa.String(length=32), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('actor', sa.String(length=200), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.UniqueConstraint('case_id', 'seq', name=op.f('uq_case_event_case_id_seq')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_case_event')),
    )
    op.create_table(
        'outbox',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True, nullable=False),
        sa.Column('target', sa.String(length=64), nullable=False),
        sa.Column('case_id', sa.Integer(), sa.ForeignKey('work_case.id', name=op.f('fk_outbox_case_id_work_case')), nullable=False),
        sa.Column('external_id', sa.String(length=128), nullable=True),
        sa.Column('payload', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    )
    op.create_index(op.f('ix_outbox_target'), 'outbox', ['target', 'sent_at', 'id'], unique=False)


def downgrade() -> None:
    op.drop_table('outbox')
    op.drop_table('case_event')
    op.drop_table('work_case')
    op.drop_table('outage_place')
    op.drop_table('outage')
    op.drop_table('bill')
    op.drop_table('utility_account')
    op.drop_table('dead_letter')
    op.drop_table('stream_state')
    op.drop_table('connector_run')
