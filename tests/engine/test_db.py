"""Database URLs: what an operator writes in DATABASE_URL works with the driver we ship."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

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
