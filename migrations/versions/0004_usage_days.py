"""usage daily rollups: balance and usage per key, stored zone and local day

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 10:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    # New tables only. `flask setup` fills them from the hourly rollups (daily.sync_zones), so
    # an upgraded database has its days before the first page reads them.
    op.create_table('balance_day',
    sa.Column('key_id', sa.Integer(), nullable=False),
    sa.Column('zone', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('samples', sa.Integer(), nullable=False),
    sa.Column('unit', sa.String(length=8), nullable=True),
    sa.Column('remaining_min', sa.Double(), nullable=True),
    sa.Column('spend', sa.Double(), nullable=False),
    sa.Column('topup', sa.Double(), nullable=False),
    sa.ForeignKeyConstraint(['key_id'], ['tracked_key.id'], name=op.f('fk_balance_day_key_id_tracked_key'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('key_id', 'zone', 'day', name=op.f('pk_balance_day')),
    sqlite_with_rowid=False,
    )
    op.create_table('usage_day',
    sa.Column('key_id', sa.Integer(), nullable=False),
    sa.Column('zone', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('model', sa.String(length=128), nullable=False),
    sa.Column('requests', sa.Integer(), nullable=False),
    sa.Column('prompt_tokens', sa.Integer(), nullable=False),
    sa.Column('completion_tokens', sa.Integer(), nullable=False),
    sa.Column('cache_tokens', sa.Integer(), nullable=False),
    sa.Column('quota', sa.Integer(), nullable=False),
    sa.Column('cost', sa.Double(), nullable=False),
    sa.Column('unit', sa.String(length=8), nullable=False),
    sa.ForeignKeyConstraint(['key_id'], ['tracked_key.id'], name=op.f('fk_usage_day_key_id_tracked_key'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('key_id', 'zone', 'day', 'model', name=op.f('pk_usage_day')),
    sqlite_with_rowid=False,
    )


def downgrade():
    op.drop_table('usage_day')
    op.drop_table('balance_day')
