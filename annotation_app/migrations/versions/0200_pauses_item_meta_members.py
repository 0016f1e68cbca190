"""annotator pauses (gold gating), item metadata (original file paths), campaign members

Revision ID: 0200
Revises: 0100
Create Date: 2026-12-06 20:20:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0200'
down_revision = '0100'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('annotator_pauses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('gold_items', sa.Integer(), nullable=False),
    sa.Column('paused_at', sa.Float(), nullable=False),
    sa.Column('reinstated_at', sa.Float(), nullable=True),
    sa.Column('reinstated_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['reinstated_by'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_pauses_campaign_user', 'annotator_pauses', ['campaign_id', 'user_id'], unique=False)
    op.create_table('campaign_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('added_at', sa.Float(), nullable=False),
    sa.Column('added_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['added_by'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('campaign_id', 'user_id', name='uq_campaign_member')
    )
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('meta', sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_table('campaign_members')
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.drop_column('meta')
    op.drop_index('ix_pauses_campaign_user', table_name='annotator_pauses')
    op.drop_table('annotator_pauses')
