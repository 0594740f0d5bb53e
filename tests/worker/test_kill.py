"""A worker process killed with SIGKILL in the middle of a batch: after a restart nothing is lost and
nothing is sent twice. The mail server is slow, so the kill lands while e-mails are on their way; an
e-mail the server accepted but the dead worker never recorded is recognised by its Message-ID."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from sqlalchemy import Engine, select

from engine.db import make_engine, migrate
from engine.model import MailDelivery
from tests.processes.paths import aanmelding
from tests.support import ROOT, CaseDriver
from tests.worker.conftest import add_people
from tests.worker.mailserver import RunningMailServer

CASES = 6
LEASE_SECONDS = 1


def worker_process(database: str, server: RunningMailServer, *extra: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **server.env(),
        "DATABASE_URL": database,
        "REGELING_WORKER_LEASE_SECONDS": str(LEASE_SECONDS),
        "REGELING_WORKER_BATCH": "50",
    }
    command = [sys.executable, "-m", "engine.cli", "worker", "--interval", "0.2", *extra]
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603


def statuses(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.scalars(select(MailDelivery.status)))


def test_a_killed_worker_loses_nothing_and_sends_nothing_twice(
    worker_database_url: str, mail_server: RunningMailServer
) -> None:
    database = worker_database_url
    engine = make_engine(database)
    migrate(engine)
    driver = CaseDriver(engine, checks=False)
    driver.deploy(ROOT / "processes")
    add_people(engine)
    step = aanmelding()
    for _ in range(CASES):
        reference = driver.start()
        driver.complete(reference, step.task, step.role, step.data)

    mail_server.state.delay = 0.3
    first = worker_process(database, mail_server)
    deadline = time.monotonic() + 60
    while len(mail_server.state.received) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.15)  # into the next message: the server has it, the worker has not heard back
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    assert first.returncode == -signal.SIGKILL
    killed_at = statuses(engine)
    assert "sending" in killed_at, killed_at  # the kill landed in the middle of a batch

    mail_server.state.delay = 0.0
    time.sleep(LEASE_SECONDS + 0.2)  # the dead worker's lease runs out
    second = worker_process(database, mail_server, "--once")
    assert second.wait(timeout=60) == 0
    after = statuses(engine)
    assert after == ["sent"] * len(after), after
    received = mail_server.state.message_ids()
    assert len(received) == len(after) and set(received.values()) == {1}
    engine.dispose()


def test_sigterm_ends_the_worker_after_its_pass_with_a_line_per_busy_pass(
    worker_database_url: str, mail_server: RunningMailServer
) -> None:
    database = worker_database_url
    engine = make_engine(database)
    migrate(engine)
    driver = CaseDriver(engine, checks=False)
    driver.deploy(ROOT / "processes")
    add_people(engine)
    step = aanmelding()
    reference = driver.start()
    driver.complete(reference, step.task, step.role, step.data)
    env = {**os.environ, **mail_server.env(), "DATABASE_URL": database}
    command = [sys.executable, "-m", "engine.cli", "worker", "--interval", "0.1"]
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # noqa: S603
    deadline = time.monotonic() + 30
    while statuses(engine).count("sent") < len(statuses(engine) or [None]) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=20)
    assert process.returncode == 0
    assert "worker gestopt" in stdout.decode()
    passes = [_counts(line) for line in stderr.decode().splitlines() if "worker cycle" in line]
    assert passes and all(any(counts.values()) for counts in passes), passes  # idle passes stay at DEBUG
    assert sum(counts["sent"] for counts in passes) == len(statuses(engine))
    assert set(statuses(engine)) == {"sent"}
    for secret in ("Synthetische", "voorbeeld.invalid", "Synthetischestraat"):
        assert secret not in stderr.decode()  # no personal data in the log
    engine.dispose()


def _counts(line: str) -> dict[str, int]:
    """The counts of a pass's log line ("worker cycle timers=0 expanded=2 sent=2 … ms=12"), without its time."""
    pairs = (item.split("=") for item in line.split("worker cycle ", 1)[1].split('"', maxsplit=1)[0].split())
    return {name: int(value) for name, value in pairs if name != "ms"}
