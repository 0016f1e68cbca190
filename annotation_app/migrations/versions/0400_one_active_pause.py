"""at most one pause in force per annotator and campaign (partial unique index)

Two gold submits of one annotator committed at the same moment on PostgreSQL could both insert a
pause. Older duplicates in force are ended at their own pause time (the newest stays in force),
then the index makes a second one impossible.

Revision ID: 0400
Revises: 0300
Create Date: 2026-12-06 23:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0400'
down_revision = '0300'
branch_labels = None
depends_on = None

ACTIVE = "reinstated_at IS NULL"


def upgrade() -> None:
    op.execute(
        "UPDATE annotator_pauses SET reinstated_at = paused_at "
        "WHERE reinstated_at IS NULL AND id < (SELECT MAX(p2.id) FROM annotator_pauses p2 "
        "WHERE p2.campaign_id = annotator_pauses.campaign_id AND p2.user_id = annotator_pauses.user_id "
        "AND p2.reinstated_at IS NULL)")
    with op.batch_alter_table('annotator_pauses', schema=None) as batch_op:
        batch_op.create_index('uq_pause_in_force', ['campaign_id', 'user_id'], unique=True,
                              sqlite_where=sa.text(ACTIVE), postgresql_where=sa.text(ACTIVE))


def downgrade() -> None:
    with op.batch_alter_table('annotator_pauses', schema=None) as batch_op:
        batch_op.drop_index('uq_pause_in_force', sqlite_where=sa.text(ACTIVE), postgresql_where=sa.text(ACTIVE))
