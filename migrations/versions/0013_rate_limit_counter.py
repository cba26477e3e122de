"""rate_limit_counter: rate limits counted across every web worker and machine without Redis

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 11:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'rate_limit_counter',
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('hits', sa.Integer(), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_rate_limit_counter')),
    )


def downgrade():
    op.drop_table('rate_limit_counter')
