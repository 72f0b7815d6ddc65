"""Money: what the marketplaces pay, per order, and their payouts

Revision ID: 0012_money
Revises: 0009_aftersales
Create Date: 2026-12-04 22:35:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0012_money'
down_revision = '0010_wish_oauth'  # one head
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('money_transactions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('order_external_id', sa.String(length=80), nullable=True),
    sa.Column('occurred_at', sa.DateTime(), nullable=False),
    sa.Column('accrued', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('commission', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('fees', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('paid_on', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['marketplace_accounts.id'], name=op.f('fk_money_transactions_account_id_marketplace_accounts')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_money_transactions_order_id_orders'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_money_transactions')),
    sa.UniqueConstraint('account_id', 'external_id', name='uq_money_transactions_account_external')
    )
    with op.batch_alter_table('money_transactions', schema=None) as batch_op:
        batch_op.create_index('ix_money_transactions_account_kind_paid', ['account_id', 'kind', 'paid_on'], unique=False)
        batch_op.create_index('ix_money_transactions_order_id', ['order_id'], unique=False)


def downgrade():
    with op.batch_alter_table('money_transactions', schema=None) as batch_op:
        batch_op.drop_index('ix_money_transactions_order_id')
        batch_op.drop_index('ix_money_transactions_account_kind_paid')
    op.drop_table('money_transactions')
