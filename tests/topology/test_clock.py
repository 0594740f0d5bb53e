"""The shared test clock (REGELING_CLOCK_FILE): every process of the topology test reads the same instant from
one file; production refuses it, in the web app and in the worker alike."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import sessionmaker

from engine.clock import ClockConfigError, FileClock, clock_from_env, system_clock
from engine.db import make_engine
from engine.worker import worker_from_env
from tests.support import ROOT
from web import create_app
from web.config import ConfigurationError, finish

MOMENT = datetime(2027, 1, 4, 9, 30, tzinfo=UTC)
LONG_KEY = "een-lange-willekeurige-sleutel-voor-deze-test-0123456789"


@pytest.fixture
def clock_file(tmp_path: Path) -> Path:
    path = tmp_path / "clock"
    FileClock(path).set(MOMENT)
    return path


def test_a_file_clock_shows_what_another_process_wrote_and_nothing_in_between(clock_file: Path) -> None:
    reader, writer = FileClock(clock_file), FileClock(clock_file)
    assert reader() == MOMENT
    assert writer.advance(timedelta(days=43)) == MOMENT + timedelta(days=43)
    assert reader() == MOMENT + timedelta(days=43)
    writer.set(MOMENT)
    assert reader() == MOMENT
    assert sorted(p.name for p in clock_file.parent.iterdir()) == ["clock"]  # no staging file left behind


def test_a_file_without_an_aware_instant_is_refused(clock_file: Path) -> None:
    clock_file.write_text("2027-01-04T09:30:00", encoding="utf-8")
    with pytest.raises(ClockConfigError, match="no UTC offset"):
        FileClock(clock_file)()
    clock_file.write_text("morgen", encoding="utf-8")
    with pytest.raises(ClockConfigError, match="not an ISO 8601 instant"):
        FileClock(clock_file)()


def test_the_environment_chooses_the_clock_and_production_refuses_a_test_clock(clock_file: Path) -> None:
    assert clock_from_env({}) is system_clock
    assert clock_from_env({"REGELING_CLOCK_FILE": str(clock_file)})() == MOMENT
    with pytest.raises(ClockConfigError, match="never a test clock in production"):
        clock_from_env({"REGELING_CLOCK_FILE": str(clock_file), "REGELING_PRODUCTION": "1"})
    with pytest.raises(ClockConfigError, match="cannot be read"):
        clock_from_env({"REGELING_CLOCK_FILE": str(clock_file.parent / "ontbreekt")})


def test_the_web_app_takes_its_clock_from_the_file_outside_production(
    clock_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGELING_CLOCK_FILE", str(clock_file))
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}", "SECRET_KEY": LONG_KEY})
    try:
        assert app.config["CLOCK"]() == MOMENT
    finally:
        app.extensions["regeling.db"].engine.dispose()


def test_production_refuses_to_start_with_a_test_clock(clock_file: Path, tmp_path: Path) -> None:
    config = {"PRODUCTION": True, "SECRET_KEY": LONG_KEY, "CLOCK_FILE": str(clock_file)}
    with pytest.raises(ConfigurationError, match="REGELING_CLOCK_FILE"):
        finish(config, instance=tmp_path)
    finish({"PRODUCTION": True, "SECRET_KEY": LONG_KEY, "CLOCK_FILE": None}, instance=tmp_path)  # without: starts


def test_the_worker_takes_its_clock_from_the_file_unless_given_one(clock_file: Path, tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'worker.db'}")
    factory = sessionmaker(engine)
    try:
        assert worker_from_env(factory, {"REGELING_CLOCK_FILE": str(clock_file)}).clock() == MOMENT
        assert worker_from_env(factory, {}).clock is system_clock
        given = worker_from_env(factory, {"REGELING_CLOCK_FILE": str(clock_file)}, clock=system_clock)
        assert given.clock is system_clock
    finally:
        engine.dispose()


def test_a_production_worker_with_a_test_clock_stops_with_one_line(clock_file: Path, tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("REGELING_", "SMTP_"))},
        "DATABASE_URL": f"sqlite:///{tmp_path / 'worker.db'}",
        "REGELING_PRODUCTION": "1",
        "REGELING_ENCRYPTION_KEYS": "k1:" + "A" * 43 + "=",
        "REGELING_CLOCK_FILE": str(clock_file),
    }
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "engine.cli", "worker", "--once"], cwd=ROOT, env=env, capture_output=True, check=False
    )
    assert result.returncode == 1
    assert "never a test clock in production" in result.stderr.decode()
    assert "Traceback" not in result.stderr.decode()


@pytest.mark.parametrize(
    ("setting", "reason"),
    [
        ({"SMTP_HOST": "mail", "SMTP_PORT": "abc"}, "SMTP_PORT must be a port number"),
        ({"REGELING_WORKER_BATCH": "veel"}, "REGELING_WORKER_BATCH must be a whole number"),
    ],
)
def test_a_worker_with_a_wrong_setting_stops_with_one_line_naming_it(
    tmp_path: Path, setting: dict[str, str], reason: str
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("REGELING_", "SMTP_"))},
        "DATABASE_URL": f"sqlite:///{tmp_path / 'worker.db'}",
        **setting,
    }
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "engine.cli", "worker", "--once"], cwd=ROOT, env=env, capture_output=True, check=False
    )
    lines = result.stderr.decode().strip().splitlines()
    assert result.returncode == 1
    assert len(lines) == 1 and lines[0].startswith("fout: ") and reason in lines[0], lines
