"""Database URLs: what an operator writes in DATABASE_URL works with the driver we ship."""

from __future__ import annotations

import pytest

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
