"""tracked key expiry_stated: whether the relay said when (or that never) the key expires

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    # Existing keys start as "not stated": their next reading says which it is.
    with op.batch_alter_table('tracked_key') as batch:
        batch.add_column(
            sa.Column('expiry_stated', sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade():
    with op.batch_alter_table('tracked_key') as batch:
        batch.drop_column('expiry_stated')
