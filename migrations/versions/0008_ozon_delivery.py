"""orders: who delivers (delivery_scheme) and what the marketplace allows now (remote_actions)

Revision ID: 0008_ozon_delivery
Revises: 0006_floor
Create Date: 2026-12-05 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_ozon_delivery'
down_revision = '0008_security'  # one head: after the security tables
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('delivery_scheme', sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column('remote_actions', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('remote_actions')
        batch_op.drop_column('delivery_scheme')
