"""pass_fact: counters and last-pass figures the scheduler's passes leave for /metrics;
an index covering the spend per key /metrics sums

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 15:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'pass_fact',
        sa.Column('name', sa.String(length=48), nullable=False),
        sa.Column('provider_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('outcome', sa.String(length=32), nullable=False),
        sa.Column('value', sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint('name', 'provider_id', 'outcome', name=op.f('pk_pass_fact')),
    )
    op.create_index(
        'ix_usage_record_key_unit_cost', 'usage_record', ['key_id', 'unit', 'cost'], unique=False
    )


def downgrade():
    op.drop_index('ix_usage_record_key_unit_cost', table_name='usage_record')
    op.drop_table('pass_fact')
