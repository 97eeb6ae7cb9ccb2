"""Alembic environment: always run on the connection Headrace hands in."""

from alembic import context

from headrace.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - Headrace always passes its connection
    raise RuntimeError("run migrations through headrace.store.migrate")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
context.run_migrations()
