"""playground_run: a run's slot, its sealed request until the stream claims it, Stop from any worker

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 09:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'playground_run',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('owner', sa.String(length=64), nullable=False),
        sa.Column('sealed', sa.LargeBinary(), nullable=True),
        sa.Column('claimed', sa.Boolean(), server_default='0', nullable=False),
        sa.Column('stop', sa.Boolean(), server_default='0', nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_playground_run')),
    )
    with op.batch_alter_table('playground_run') as batch:
        batch.create_index(batch.f('ix_playground_run_owner'), ['owner'], unique=False)


def downgrade():
    with op.batch_alter_table('playground_run') as batch:
        batch.drop_index(batch.f('ix_playground_run_owner'))
    op.drop_table('playground_run')
