"""Database URLs: what an operator writes in DATABASE_URL works with the driver we ship."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from engine.db import make_engine


@pytest.mark.parametrize("url", ["postgresql://u@db.invalid/regeling", "postgres://u@db.invalid/regeling"])
def test_a_plain_postgresql_url_uses_psycopg_3(url: str) -> None:
    engine = make_engine(url)
    assert engine.url.drivername == "postgresql+psycopg"
    assert engine.url.database == "regeling"


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: object) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/x.db")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_on_sqlite_a_reader_does_not_wait_for_a_writer(tmp_path: object) -> None:
    from engine.db import make_read_session_factory, make_session_factory, migrate

    engine = make_engine(f"sqlite:///{tmp_path}/x.db")
    migrate(engine)
    result: list[object] = []
    with make_session_factory(engine)() as writer, writer.begin():
        writer.execute(text("INSERT INTO reference_counter (year, last) VALUES (2026, 1)"))

        def read() -> None:
            with make_read_session_factory(engine)() as reader:
                result.append(reader.execute(text("SELECT count(*) FROM reference_counter")).scalar())

        thread = threading.Thread(target=read)
        thread.start()
        thread.join(timeout=10)  # a reader queued behind the writer would wait 30 s for its lock
        assert not thread.is_alive()
    assert result == [0]  # it saw the state before the writer's commit
    engine.dispose()


def test_on_sqlite_a_writer_that_cannot_get_the_lock_gets_sqlalchemys_operational_error(tmp_path: object) -> None:
    # A transaction's BEGIN IMMEDIATE goes to the driver directly; its failure must still look like every
    # other database error.
    from engine.db import make_session_factory

    engine = make_engine(f"sqlite:///{tmp_path}/x.db")
    with make_session_factory(engine)() as holder, holder.begin():
        holder.connection()  # holds the write lock
        with engine.connect() as waiter:  # not begun yet: first a short busy timeout instead of 30 s
            waiter.connection.driver_connection.execute("PRAGMA busy_timeout = 50")  # type: ignore[union-attr]
            with pytest.raises(OperationalError, match="database is locked"):
                waiter.begin()
    engine.dispose()


def test_on_sqlite_a_command_that_cannot_get_the_write_lock_is_a_conflict_not_a_database_error(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The wait happens in the transaction's BEGIN IMMEDIATE, before the case row is read: it must end as the
    # same "busy, try again" (409) as PostgreSQL's lock_timeout, not as a 500.
    from engine import db
    from engine.commands import lock_case
    from engine.errors import ConflictError

    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_S", 0.05)
    engine = make_engine(f"sqlite:///{tmp_path}/x.db")
    db.migrate(engine)
    sessions = db.make_session_factory(engine)
    with sessions() as holder, holder.begin():
        holder.connection()  # holds the write lock
        with sessions() as waiter, pytest.raises(ConflictError, match="busy"):
            lock_case(waiter, "BV-2026-0001", None)
    engine.dispose()
