"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from engine.db import alembic_config, make_engine, migrate, schema_is_current
from engine.model import Base


def test_migrations_match_the_models(db_engine: Engine) -> None:
    with db_engine.connect() as connection:
        context = MigrationContext.configure(connection)
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_every_table_is_created(db_engine: Engine) -> None:
    tables = set(inspect(db_engine).get_table_names())
    assert {t.name for t in Base.metadata.sorted_tables} <= tables


def test_the_schema_is_current_only_at_the_newest_migration(tmp_path: Path) -> None:
    """What readiness reports: no version table, one migration behind, then the newest."""
    engine = make_engine(f"sqlite:///{tmp_path / 'schema.db'}")
    try:
        with engine.connect() as connection:
            assert not schema_is_current(connection)
        config = alembic_config(engine)
        command.upgrade(config, "head-1")
        with engine.connect() as connection:
            assert not schema_is_current(connection)
        migrate(engine)
        with engine.connect() as connection:
            assert schema_is_current(connection)
    finally:
        engine.dispose()
