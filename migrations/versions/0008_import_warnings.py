"""orders.import_warnings: what an import had to change in a marketplace's data to keep it

Revision ID: 0008_import_warnings
Revises: 0006_floor
Create Date: 2026-12-04 21:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_import_warnings'
down_revision = '0008_ozon_delivery'  # one head
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('import_warnings', sa.JSON(), nullable=True))
    # Import problems used to store the exception's text, SQL and bound parameters included:
    # keep them out of the Sync problems page from now on.
    op.execute(sa.text("UPDATE import_problems SET error = :message WHERE error LIKE '%[SQL:%'")
               .bindparams(message="fulfil could not save this order: the database refused its data. "
                                   "The details were in the import log (import=record_failed)."))


def downgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('import_warnings')
