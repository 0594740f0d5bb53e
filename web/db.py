"""One database engine per app; a read session per request, short write transactions for commands."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from engine.db import make_engine, make_read_session_factory, make_session_factory

KEY = "regeling.db"


class Database:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.writer: sessionmaker[Session] = make_session_factory(engine)
        self.reader: sessionmaker[Session] = make_read_session_factory(_without_transaction(engine))


def _without_transaction(engine: Engine) -> Engine:
    """On PostgreSQL a page's reads run without BEGIN and ROLLBACK: two round trips fewer per request, and the
    same isolation (under READ COMMITTED each statement sees its own snapshot either way). SQLite keeps its
    deferred transaction, which is what lets a reader pass a writer there."""
    if engine.dialect.name != "postgresql":
        return engine
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def init_app(app: Flask) -> None:
    app.extensions[KEY] = Database(make_engine(app.config["DATABASE_URL"]))
    app.teardown_appcontext(_close_reader)


def database() -> Database:
    db: Database = current_app.extensions[KEY]
    return db


def reader() -> Session:
    """The request's read-only session (on SQLite it never waits for a writer)."""
    if "db_reader" not in g:
        g.db_reader = database().reader()
    session: Session = g.db_reader
    return session


@contextmanager
def writer() -> Iterator[Session]:
    """One transaction: committed when the block ends normally, rolled back on any exception."""
    with database().writer() as session, session.begin():
        yield session


@contextmanager
def recorder() -> Iterator[Session]:
    """Where a page writes the one row that must exist before it leaves the server (the access log). On
    PostgreSQL that is the request's reader: its connection commits each statement by itself, so the row costs
    one round trip instead of a second connection, its liveness check, BEGIN and COMMIT. On SQLite it is a
    transaction of its own, because a write in the reader's transaction would hold the database's write lock
    until the request ends."""
    if database().engine.dialect.name == "postgresql":
        yield reader()
        return
    with writer() as session:
        yield session


def _close_reader(_error: BaseException | None) -> None:
    session = g.pop("db_reader", None)
    if session is not None:
        session.close()
