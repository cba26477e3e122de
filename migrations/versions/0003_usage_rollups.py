"""usage rollups: balance and usage per key and UTC hour

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    # New tables only: no batch mode needed. The composite primary keys serve every query
    # (one key, a range of hours), so there are no other indexes; WITHOUT ROWID on SQLite
    # stores the rows in that order (a range is one contiguous read, no second lookup). Fill them for existing
    # samples and usage records with `flask usage rebuild`.
    op.create_table('balance_hour',
    sa.Column('key_id', sa.Integer(), nullable=False),
    sa.Column('hour_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('samples', sa.Integer(), nullable=False),
    sa.Column('unit', sa.String(length=8), nullable=True),
    sa.Column('remaining_first', sa.Double(), nullable=True),
    sa.Column('remaining_last', sa.Double(), nullable=True),
    sa.Column('remaining_min', sa.Double(), nullable=True),
    sa.Column('used_last', sa.Double(), nullable=True),
    sa.Column('last_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('spend', sa.Double(), nullable=False),
    sa.Column('topup', sa.Double(), nullable=False),
    sa.Column('status_last', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['key_id'], ['tracked_key.id'], name=op.f('fk_balance_hour_key_id_tracked_key'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('key_id', 'hour_start', name=op.f('pk_balance_hour')),
    sqlite_with_rowid=False,
    )
    op.create_table('usage_hour',
    sa.Column('key_id', sa.Integer(), nullable=False),
    sa.Column('hour_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('model', sa.String(length=128), nullable=False),
    sa.Column('requests', sa.Integer(), nullable=False),
    sa.Column('prompt_tokens', sa.Integer(), nullable=False),
    sa.Column('completion_tokens', sa.Integer(), nullable=False),
    sa.Column('cache_tokens', sa.Integer(), nullable=False),
    sa.Column('quota', sa.Integer(), nullable=False),
    sa.Column('cost', sa.Double(), nullable=False),
    sa.Column('unit', sa.String(length=8), nullable=False),
    sa.ForeignKeyConstraint(['key_id'], ['tracked_key.id'], name=op.f('fk_usage_hour_key_id_tracked_key'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('key_id', 'hour_start', 'model', name=op.f('pk_usage_hour')),
    sqlite_with_rowid=False,
    )


def downgrade():
    op.drop_table('usage_hour')
    op.drop_table('balance_hour')
