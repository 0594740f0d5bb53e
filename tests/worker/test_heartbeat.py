"""The worker's heartbeat (REGELING_WORKER_HEARTBEAT) and the container health check that reads it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from engine.db import make_session_factory
from engine.mail import SinkMailer
from engine.worker import CycleReport, Worker, WorkerSettings, worker_from_env

ROOT = Path(__file__).resolve().parents[2]


def test_the_worker_beats_after_every_pass_a_failed_one_too(db_engine: Engine, tmp_path: Path) -> None:
    heartbeat = tmp_path / "hartslag"
    worker = Worker(
        make_session_factory(db_engine), SinkMailer(tmp_path / "mail"), settings=WorkerSettings(heartbeat=heartbeat)
    )
    stop, fresh = threading.Event(), []

    def one_pass() -> CycleReport:
        if heartbeat.exists():
            fresh.append(time.time() - heartbeat.stat().st_mtime < 60)
            os.utime(heartbeat, (0, 0))  # as old as can be, until the worker beats again
        if len(fresh) == 1:
            raise RuntimeError("de database is weg")
        if len(fresh) == 3:
            stop.set()
        return CycleReport()

    worker.run_once = one_pass  # type: ignore[method-assign]
    worker.run(stop, interval=0)
    assert fresh == [True, True, True]
    assert time.time() - heartbeat.stat().st_mtime < 60


def test_the_heartbeat_comes_from_the_environment(db_engine: Engine, tmp_path: Path) -> None:
    factory = make_session_factory(db_engine)
    assert worker_from_env(factory, {}).settings.heartbeat is None
    beating = worker_from_env(factory, {"REGELING_WORKER_HEARTBEAT": str(tmp_path / "hartslag")})
    assert beating.settings.heartbeat == tmp_path / "hartslag"


@pytest.mark.parametrize(("age_seconds", "healthy"), [(5, True), (119, True), (121, False), (None, False)], ids=str)
def test_the_health_check_passes_only_with_a_recent_heartbeat(
    tmp_path: Path, age_seconds: int | None, healthy: bool
) -> None:
    heartbeat = tmp_path / "hartslag"
    if age_seconds is not None:
        heartbeat.touch()
        then = time.time() - age_seconds
        os.utime(heartbeat, (then, then))
    env = {**os.environ, "REGELING_WORKER_HEARTBEAT": str(heartbeat)}
    check = [sys.executable, "deploy/worker_healthcheck.py"]
    assert (subprocess.run(check, cwd=ROOT, env=env, check=False).returncode == 0) is healthy  # noqa: S603


def test_the_health_check_fails_without_a_heartbeat_setting() -> None:
    env = {k: v for k, v in os.environ.items() if k != "REGELING_WORKER_HEARTBEAT"}
    done = subprocess.run(  # noqa: S603
        [sys.executable, "deploy/worker_healthcheck.py"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 1 and "REGELING_WORKER_HEARTBEAT is not set" in done.stderr
