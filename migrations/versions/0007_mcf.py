"""Amazon MCF: fulfillment orders at Amazon and the SKUs that live there

Revision ID: 0007_mcf
Revises: 0001
Create Date: 2026-12-04 17:48:28.315240

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_mcf'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('mcf_skus',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('source_account_id', sa.Integer(), nullable=True),
    sa.Column('sku', sa.String(length=120), nullable=False),
    sa.Column('mcf_sku', sa.String(length=50), nullable=False),
    sa.Column('auto_route', sa.Boolean(), nullable=False),
    sa.Column('shipping_speed', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['marketplace_accounts.id'], name=op.f('fk_mcf_skus_account_id_marketplace_accounts')),
    sa.ForeignKeyConstraint(['source_account_id'], ['marketplace_accounts.id'], name=op.f('fk_mcf_skus_source_account_id_marketplace_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mcf_skus')),
    sa.UniqueConstraint('account_id', 'source_account_id', 'sku', name='uq_mcf_skus_account_sku')
    )
    with op.batch_alter_table('mcf_skus', schema=None) as batch_op:
        batch_op.create_index('ix_mcf_skus_sku', ['sku'], unique=False)

    op.create_table('mcf_orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('seller_fulfillment_order_id', sa.String(length=40), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('shipping_speed', sa.String(length=20), nullable=False),
    sa.Column('block_amzl', sa.Boolean(), nullable=False),
    sa.Column('routed_by', sa.String(length=10), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('status_updated_at', sa.DateTime(), nullable=True),
    sa.Column('problem', sa.Text(), nullable=True),
    sa.Column('estimated_fees', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('estimated_arrival', sa.DateTime(), nullable=True),
    sa.Column('shipments', sa.JSON(), nullable=False),
    sa.Column('pushed_packages', sa.JSON(), nullable=False),
    sa.Column('last_checked_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['marketplace_accounts.id'], name=op.f('fk_mcf_orders_account_id_marketplace_accounts')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_mcf_orders_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_mcf_orders_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mcf_orders')),
    sa.UniqueConstraint('seller_fulfillment_order_id', name=op.f('uq_mcf_orders_seller_fulfillment_order_id'))
    )
    with op.batch_alter_table('mcf_orders', schema=None) as batch_op:
        batch_op.create_index('ix_mcf_orders_active', ['active', 'account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_mcf_orders_order_id'), ['order_id'], unique=False)



def downgrade():
    with op.batch_alter_table('mcf_orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mcf_orders_order_id'))
        batch_op.drop_index('ix_mcf_orders_active')

    op.drop_table('mcf_orders')
    with op.batch_alter_table('mcf_skus', schema=None) as batch_op:
        batch_op.drop_index('ix_mcf_skus_sku')

    op.drop_table('mcf_skus')
