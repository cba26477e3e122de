"""provider kind: the relay family an admin chose ('auto' = detect) and the last one detected

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 22:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('provider') as batch:
        batch.add_column(sa.Column('kind', sa.String(length=16), nullable=False, server_default='auto'))
        batch.add_column(sa.Column('detected_kind', sa.String(length=16), nullable=True))


def downgrade():
    with op.batch_alter_table('provider') as batch:
        batch.drop_column('detected_kind')
        batch.drop_column('kind')
