"""credential changes notify every server process (PostgreSQL triggers on users, tokens, sessions)

An UPDATE of a user's role, active flag, password or name, of a token's or session's revocation or
expiry, or a DELETE of any of these rows sends a notice on the channel ``pixmo_credentials``;
server processes listen and empty their credential cache (annotation_app/credentials.py). Nothing
on SQLite, where one server process clears its own cache.

Revision ID: 0500
Revises: 0400
Create Date: 2026-12-07 01:30:00
"""
from alembic import op

revision = '0500'
down_revision = '0400'
branch_labels = None
depends_on = None

WATCHED = {  # table: columns whose update changes what a credential grants
    "users": "role, active, password_hash, username",
    "api_tokens": "revoked_at, expires_at, user_id, token_hash",
    "web_sessions": "revoked_at, expires_at, user_id, token_hash",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE OR REPLACE FUNCTION pixmo_credentials_changed() RETURNS trigger LANGUAGE plpgsql AS "
               "$$ BEGIN PERFORM pg_notify('pixmo_credentials', TG_TABLE_NAME); RETURN NULL; END $$")
    for table, columns in WATCHED.items():
        op.execute(f"CREATE TRIGGER {table}_credentials_changed AFTER UPDATE OF {columns} OR DELETE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION pixmo_credentials_changed()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in WATCHED:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_credentials_changed ON {table}")
    op.execute("DROP FUNCTION IF EXISTS pixmo_credentials_changed()")
