"""relay_budget_slot: relay request budgets counted across every process and machine

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 09:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'relay_budget_slot',
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('slot', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('free_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name', 'slot', name=op.f('pk_relay_budget_slot')),
    )


def downgrade():
    op.drop_table('relay_budget_slot')
