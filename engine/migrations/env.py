"""Alembic environment: runs with the connection the engine hands it (see engine.db.migrate)."""

from alembic import context
from sqlalchemy import Connection, engine_from_config, pool

from engine.model import Base

config = context.config
connection = config.attributes.get("connection")


def _run(conn: Connection) -> None:
    context.configure(connection=conn, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:
    engine = engine_from_config(config.get_section(config.config_ini_section) or {}, poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)
