"""Wish accounts connected by OAuth: the tokens Wish issued, encrypted

Revision ID: 0010_wish_oauth
Revises: 0006_floor
Create Date: 2026-12-04 21:22:07.207504

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_wish_oauth'
down_revision = '0009_aftersales'  # one head
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('wish_connections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('merchant_id', sa.String(length=40), nullable=False),
    sa.Column('scopes', sa.String(length=255), nullable=False),
    sa.Column('access_token', sa.Text(), nullable=False),
    sa.Column('refresh_token', sa.Text(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.Column('connected_at', sa.DateTime(), nullable=False),
    sa.Column('connected_by_id', sa.Integer(), nullable=True),
    sa.Column('refreshed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['marketplace_accounts.id'], name=op.f('fk_wish_connections_account_id_marketplace_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['connected_by_id'], ['users.id'], name=op.f('fk_wish_connections_connected_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wish_connections')),
    sa.UniqueConstraint('account_id', name=op.f('uq_wish_connections_account_id'))
    )


def downgrade():
    op.drop_table('wish_connections')
