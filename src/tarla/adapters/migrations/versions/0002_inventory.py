"""Vial inventory with temperature excursions; users can be deactivated.

Runs over a populated database: the new NOT NULL column gets a server default.

Revision ID: 0002_inventory
Revises: 0001_initial
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002_inventory'
down_revision = '0001_initial'
branch_labels = None
depends_on = None

def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("active", sa.Boolean(), server_default=sa.true(),
                                   nullable=False))
    op.create_table('vials',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('gtin', sa.String(length=14), nullable=False),
    sa.Column('lot', sa.String(length=20), nullable=False),
    sa.Column('serial', sa.String(length=20), nullable=False),
    sa.Column('expiry', sa.Date(), nullable=False),
    sa.Column('component', sa.String(length=8), nullable=False),
    sa.Column('strength_mg', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('location', sa.String(length=64), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("component IN ('drug', 'ivss')", name=op.f('ck_vials_component')),
    sa.CheckConstraint("status IN ('in_stock', 'used', 'quarantined', 'discarded')", name=op.f('ck_vials_status')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_vials_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vials')),
    sa.UniqueConstraint('gtin', 'lot', 'serial', name=op.f('uq_vials_gtin_lot_serial'))
    )
    op.create_index(op.f('ix_vials_site_id'), 'vials', ['site_id'], unique=False)
    op.create_table('vial_excursions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('vial_id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('min_c', sa.Float(), nullable=True),
    sa.Column('max_c', sa.Float(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('recorded_by', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['recorded_by'], ['users.id'], name=op.f('fk_vial_excursions_recorded_by_users')),
    sa.ForeignKeyConstraint(['vial_id'], ['vials.id'], name=op.f('fk_vial_excursions_vial_id_vials')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vial_excursions'))
    )
    op.create_index(op.f('ix_vial_excursions_vial_id'), 'vial_excursions', ['vial_id'], unique=False)


def downgrade() -> None:
    op.drop_table("vial_excursions")
    op.drop_table("vials")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("active")
