"""model prices: per provider and model, input/output per million tokens

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 10:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('model_price',
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('model', sa.String(length=128), nullable=False),
    sa.Column('input_per_m', sa.Double(), nullable=False),
    sa.Column('output_per_m', sa.Double(), nullable=False),
    sa.ForeignKeyConstraint(['provider_id'], ['provider.id'], name=op.f('fk_model_price_provider_id_provider'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('provider_id', 'model', name=op.f('pk_model_price')),
    )


def downgrade():
    op.drop_table('model_price')
