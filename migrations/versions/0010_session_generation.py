"""app_user session_generation: logout and password changes end sessions server-side

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    # Sessions issued before this upgrade carry the old id form and end: everyone logs in again.
    with op.batch_alter_table('app_user') as batch:
        batch.add_column(
            sa.Column('session_generation', sa.Integer(), nullable=False, server_default='0')
        )


def downgrade():
    with op.batch_alter_table('app_user') as batch:
        batch.drop_column('session_generation')
