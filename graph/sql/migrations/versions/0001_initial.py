"""the place tree, owners, firms and roll-ups

Revision ID: 0001
Revises: 
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('firm',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('code', sa.String(length=18).with_variant(sa.String(length=18, collation='C'), 'postgresql'), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('source', sa.String(length=64), nullable=True),
    sa.Column('source_record', sa.String(length=128), nullable=True),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('run_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_firm')),
    sa.UniqueConstraint('code', name=op.f('uq_firm_code'))
    )
    op.create_table('owner',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('id_number', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('source', sa.String(length=64), nullable=True),
    sa.Column('source_record', sa.String(length=128), nullable=True),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('run_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_owner')),
    sa.UniqueConstraint('key', name=op.f('uq_owner_key'))
    )
    with op.batch_alter_table('owner', schema=None) as batch_op:
        batch_op.create_index('ix_owner_id_number', ['id_number'], unique=False)

    op.create_table('place',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('code', sa.String(length=28).with_variant(sa.String(length=28, collation='C'), 'postgresql'), nullable=False),
    sa.Column('level', sa.SmallInteger(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('city_id', sa.Integer(), nullable=True),
    sa.Column('district_id', sa.Integer(), nullable=True),
    sa.Column('street_id', sa.Integer(), nullable=True),
    sa.Column('community_id', sa.Integer(), nullable=True),
    sa.Column('estate_id', sa.Integer(), nullable=True),
    sa.Column('building_id', sa.Integer(), nullable=True),
    sa.Column('entrance_id', sa.Integer(), nullable=True),
    sa.Column('geometry', sa.Text(), nullable=True),
    sa.Column('min_lon', sa.Float(), nullable=True),
    sa.Column('min_lat', sa.Float(), nullable=True),
    sa.Column('max_lon', sa.Float(), nullable=True),
    sa.Column('max_lat', sa.Float(), nullable=True),
    sa.Column('parcel_codes', sa.String(length=400), nullable=True),
    sa.Column('floors', sa.SmallInteger(), nullable=True),
    sa.Column('area', sa.Float(), nullable=True),
    sa.Column('floor', sa.SmallInteger(), nullable=True),
    sa.Column('usage', sa.String(length=16), nullable=True),
    sa.Column('source', sa.String(length=64), nullable=True),
    sa.Column('source_record', sa.String(length=128), nullable=True),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('run_id', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['parent_id'], ['place.id'], name=op.f('fk_place_parent_id_place')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_place')),
    sa.UniqueConstraint('code', name=op.f('uq_place_code'))
    )
    with op.batch_alter_table('place', schema=None) as batch_op:
        batch_op.create_index('ix_place_building_id', ['building_id', 'level', 'code'], unique=False)
        batch_op.create_index('ix_place_city_id', ['city_id', 'level', 'code'], unique=False)
        batch_op.create_index('ix_place_community_id', ['community_id', 'level', 'code'], unique=False)
        batch_op.create_index('ix_place_district_id', ['district_id', 'level', 'code'], unique=False)
        batch_op.create_index('ix_place_entrance_id', ['entrance_id', 'level', 'code'], unique=False)
        batch_op.create_index('ix_place_estate_id', ['estate_id', 'level', 'code'], unique=False)
        batch_op.create_index('ix_place_level_code', ['level', 'code'], unique=False)
        batch_op.create_index('ix_place_parent_id', ['parent_id', 'code'], unique=False)
        batch_op.create_index('ix_place_street_id', ['street_id', 'level', 'code'], unique=False)

    op.create_table('management',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('estate_id', sa.Integer(), nullable=False),
    sa.Column('firm_id', sa.Integer(), nullable=False),
    sa.Column('since', sa.Date(), nullable=False),
    sa.Column('until', sa.Date(), nullable=True),
    sa.Column('source', sa.String(length=64), nullable=True),
    sa.Column('source_record', sa.String(length=128), nullable=True),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('run_id', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['estate_id'], ['place.id'], name=op.f('fk_management_estate_id_place')),
    sa.ForeignKeyConstraint(['firm_id'], ['firm.id'], name=op.f('fk_management_firm_id_firm')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_management')),
    sa.UniqueConstraint('estate_id', 'firm_id', 'since', name=op.f('uq_management_estate_id_firm_id_since'))
    )
    with op.batch_alter_table('management', schema=None) as batch_op:
        batch_op.create_index('ix_management_firm_id', ['firm_id'], unique=False)

    op.create_table('ownership',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('house_id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('share', sa.Float(), nullable=False),
    sa.Column('since', sa.Date(), nullable=False),
    sa.Column('until', sa.Date(), nullable=True),
    sa.Column('origin', sa.String(length=32), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=True),
    sa.Column('source_record', sa.String(length=128), nullable=True),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('run_id', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['house_id'], ['place.id'], name=op.f('fk_ownership_house_id_place')),
    sa.ForeignKeyConstraint(['owner_id'], ['owner.id'], name=op.f('fk_ownership_owner_id_owner')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ownership')),
    sa.UniqueConstraint('house_id', 'owner_id', 'since', name=op.f('uq_ownership_house_id_owner_id_since'))
    )
    with op.batch_alter_table('ownership', schema=None) as batch_op:
        batch_op.create_index('ix_ownership_owner_id', ['owner_id'], unique=False)

    op.create_table('place_stats',
    sa.Column('place_id', sa.Integer(), nullable=False),
    sa.Column('houses', sa.Integer(), nullable=False),
    sa.Column('floor_area', sa.Float(), nullable=False),
    sa.Column('owners', sa.Integer(), nullable=False),
    sa.Column('estates', sa.Integer(), nullable=False),
    sa.Column('buildings', sa.Integer(), nullable=False),
    sa.Column('refreshed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['place_id'], ['place.id'], name=op.f('fk_place_stats_place_id_place')),
    sa.PrimaryKeyConstraint('place_id', name=op.f('pk_place_stats'))
    )


def downgrade() -> None:
    op.drop_table('place_stats')
    with op.batch_alter_table('ownership', schema=None) as batch_op:
        batch_op.drop_index('ix_ownership_owner_id')

    op.drop_table('ownership')
    with op.batch_alter_table('management', schema=None) as batch_op:
        batch_op.drop_index('ix_management_firm_id')

    op.drop_table('management')
    with op.batch_alter_table('place', schema=None) as batch_op:
        batch_op.drop_index('ix_place_street_id')
        batch_op.drop_index('ix_place_parent_id')
        batch_op.drop_index('ix_place_level_code')
        batch_op.drop_index('ix_place_estate_id')
        batch_op.drop_index('ix_place_entrance_id')
        batch_op.drop_index('ix_place_district_id')
        batch_op.drop_index('ix_place_community_id')
        batch_op.drop_index('ix_place_city_id')
        batch_op.drop_index('ix_place_building_id')

    op.drop_table('place')
    with op.batch_alter_table('owner', schema=None) as batch_op:
        batch_op.drop_index('ix_owner_id_number')

    op.drop_table('owner')
    op.drop_table('firm')
