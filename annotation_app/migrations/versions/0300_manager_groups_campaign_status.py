"""manager role, user groups, campaign status (open, paused, closed)

Revision ID: 0300
Revises: 0200
Create Date: 2026-12-06 21:50:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0300'
down_revision = '0200'
branch_labels = None
depends_on = None

OLD_ROLES = "role IN ('annotator','reviewer','admin')"
NEW_ROLES = "role IN ('annotator','reviewer','manager','admin')"


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint('ck_users_role', type_='check')
        batch_op.create_check_constraint('ck_users_role', NEW_ROLES)
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=16), nullable=False, server_default='open'))
        batch_op.create_check_constraint('ck_campaign_status', "status IN ('open','paused','closed')")
    op.create_table('user_groups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('added_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name', 'user_id', name='uq_user_group')
    )


def downgrade() -> None:
    op.drop_table('user_groups')
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_constraint('ck_campaign_status', type_='check')
        batch_op.drop_column('status')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint('ck_users_role', type_='check')
        batch_op.create_check_constraint('ck_users_role', OLD_ROLES)
