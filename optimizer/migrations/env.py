"""Alembic environment: migrations run on the connection that ``storage.init_db`` passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from optimizer.storage import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # the alembic command line: use sqlalchemy.url from its config
    with create_engine(context.config.get_main_option("sqlalchemy.url") or "").connect() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        conn.commit()
else:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
