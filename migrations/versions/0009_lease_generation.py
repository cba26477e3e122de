"""scheduler_lease.generation: the fencing token, one more on every takeover

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    # A lease row from before starts at generation 1; its holder's next takeover makes it 2.
    with op.batch_alter_table('scheduler_lease') as batch:
        batch.add_column(
            sa.Column('generation', sa.Integer(), nullable=False, server_default='1')
        )


def downgrade():
    with op.batch_alter_table('scheduler_lease') as batch:
        batch.drop_column('generation')
