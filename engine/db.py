"""Database connections: SQLite (embedded default, one writer at a time) or PostgreSQL via DATABASE_URL."""

from __future__ import annotations

import os
import sqlite3
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from engine import crypto

DEFAULT_URL = "sqlite:///var/regeling.db"
READ_ONLY = "engine_read_only"


def database_url() -> str:
    return os.environ.get("DATABASE_URL", DEFAULT_URL)


def make_engine(url: str | None = None) -> Engine:
    # No database without its keys: production refuses to start without REGELING_ENCRYPTION_KEYS.
    crypto.check_environment()
    url = url or database_url()
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    # psycopg 3 is the driver we ship; a plain postgresql:// URL would make SQLAlchemy look for psycopg2.
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            url = "postgresql+psycopg://" + url.removeprefix(plain)
    return create_engine(url, pool_pre_ping=True)


# How long a SQLite transaction waits for the write lock before "database is locked" (a command: 409).
SQLITE_BUSY_TIMEOUT_S = 30.0


def _sqlite_engine(url: str) -> Engine:
    path = url.removeprefix("sqlite:///")
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling would defer BEGIN; we issue it ourselves below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL cannot corrupt the database; a power cut may lose the last commits.
        # The embedded default serves demos and small installations; production runs PostgreSQL.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock at the start, so two commands on one case serialise
        # instead of both reading the same snapshot (SQLite has no SELECT ... FOR UPDATE).
        # Sessions that only read begin deferred: in WAL mode they never wait for a writer.
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        _begin(connection, "BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def _begin(connection: Connection, statement: str) -> None:
    # Straight to the driver: every transaction starts here, and through SQLAlchemy's execution machinery
    # this one statement cost ten times what SQLite needs for it. A failure still surfaces as SQLAlchemy's
    # OperationalError, as it did through exec_driver_sql (the busy timeout: "database is locked").
    try:
        connection.connection.driver_connection.execute(statement)  # type: ignore[union-attr]
    except sqlite3.Error as error:
        raise OperationalError(statement, None, error) from error


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for commands: they may write, and on SQLite they take the write lock when they begin."""
    return sessionmaker(engine, expire_on_commit=False)


def make_read_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for pages and reports that only read; on SQLite they do not queue behind writers."""
    return sessionmaker(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)


MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine | None = None) -> Any:
    """Alembic's configuration: our migrations, and the database when there is one to work on."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (what `regeling init` does)."""
    from alembic import command

    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def schema_is_current(connection: Connection) -> bool:
    """Whether the database has every migration this code knows (what readiness checks).

    Read straight from Alembic's version table: a probe every few seconds must neither re-read the migration
    scripts nor log Alembic's two start-up lines each time, as a MigrationContext would."""
    if not inspect(connection).has_table("alembic_version"):
        return False
    return set(connection.execute(text("SELECT version_num FROM alembic_version")).scalars()) == _code_heads()


@cache
def _code_heads() -> frozenset[str]:
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())
