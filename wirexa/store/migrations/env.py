"""Alembic environment: runs against the Engine the caller put in config.attributes."""

from alembic import context

from wirexa.store.tables import metadata

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
