"""Alembic environment: the URL comes from the Config (see annotation_app.db.migrate)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, Engine, create_engine

from annotation_app.db import normalize_url
from annotation_app.models import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    given: Connection | Engine | None = config.attributes.get("connection")
    if isinstance(given, Connection):
        context.configure(connection=given, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url")
    if given is None and not url:
        raise RuntimeError("alembic: no sqlalchemy.url and no connection given")
    engine = given or create_engine(normalize_url(url or ""))
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata,
                          render_as_batch=conn.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run()
