"""devices (registration and latest state), their raw readings, and the alarms they raise

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'device',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True, nullable=False),
        sa.Column('code', sa.String(length=64).with_variant(sa.String(length=64, collation='C'), 'postgresql'), nullable=False),
        sa.Column('type', sa.String(length=32), nullable=False),
        sa.Column('model', sa.String(length=100), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('place_id', sa.Integer(), sa.ForeignKey('place.id', name=op.f('fk_device_place_id_place')), nullable=False),
        sa.Column('lon', sa.Float(), nullable=True),
        sa.Column('lat', sa.Float(), nullable=True),
        sa.Column('interval_s', sa.Integer(), nullable=False),
        sa.Column('thresholds', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('last_seen', sa.DateTime(timezone=True), nullable=True),
        sa.Column('values', sa.Text(), nullable=False),
        sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('source', sa.String(length=64), nullable=True),
        sa.Column('source_record', sa.String(length=128), nullable=True),
        sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('run_id', sa.String(length=64), nullable=True),
        sa.UniqueConstraint('code', name=op.f('uq_device_code')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_device')),
    )
    op.create_index(op.f('ix_device_place_id'), 'device', ['place_id'], unique=False)
    op.create_table(
        'reading',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True, nullable=False),
        sa.Column('device_id', sa.Integer(), sa.ForeignKey('device.id', name=op.f('fk_reading_device_id_device')), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('values', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reading')),
    )
    op.create_index(op.f('ix_reading_device_id'), 'reading', ['device_id', 'at'], unique=False)
    op.create_index(op.f('ix_reading_at'), 'reading', ['at'], unique=False)
    op.create_table(
        'alarm',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True, nullable=False),
        sa.Column('key', sa.String(length=32).with_variant(sa.String(length=32, collation='C'), 'postgresql'), nullable=False),
        sa.Column('device_id', sa.Integer(), sa.ForeignKey('device.id', name=op.f('fk_alarm_device_id_device')), nullable=False),
        sa.Column('rule', sa.String(length=64), nullable=False),
        sa.Column('severity', sa.String(length=16), nullable=False),
        sa.Column('message', sa.String(length=400), nullable=False),
        sa.Column('value', sa.String(length=200), nullable=True),
        sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('acknowledged_by', sa.String(length=200), nullable=True),
        sa.Column('cleared_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('case_id', sa.Integer(), sa.ForeignKey('work_case.id', name=op.f('fk_alarm_case_id_work_case')), nullable=True),
        sa.UniqueConstraint('key', name=op.f('uq_alarm_key')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_alarm')),
    )
    # at most one active alarm per device and rule, however many raisers race
    op.create_index(
        op.f('ix_alarm_active'),
        'alarm',
        ['device_id', 'rule'],
        unique=True,
        sqlite_where=sa.text('cleared_at IS NULL'),
        postgresql_where=sa.text('cleared_at IS NULL'),
    )
    op.create_index(op.f('ix_alarm_raised_at'), 'alarm', ['raised_at', 'id'], unique=False)
    op.create_index(op.f('ix_alarm_device_id'), 'alarm', ['device_id', 'raised_at'], unique=False)


def downgrade() -> None:
    op.drop_table('alarm')
    op.drop_table('reading')
    op.drop_table('device')
