"""After-sales: recalls of parcels the marketplace cancelled after they shipped

Revision ID: 0009_aftersales
Revises: 0008_import_warnings
Create Date: 2026-12-04 22:20:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0009_aftersales'
down_revision = '0008_import_warnings'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('recalls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('tracking_number', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('done_at', sa.DateTime(), nullable=True),
    sa.Column('done_by_id', sa.Integer(), nullable=True),
    sa.Column('done_note', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['done_by_id'], ['users.id'], name=op.f('fk_recalls_done_by_id_users')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_recalls_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recalls')),
    sa.UniqueConstraint('order_id', name=op.f('uq_recalls_order_id'))
    )


def downgrade():
    op.drop_table('recalls')
