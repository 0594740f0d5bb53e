"""What docker compose runs, started on loopback without Docker: a fresh PostgreSQL database, `regeling init`,
two gunicorn web processes (deploy/gunicorn.conf.py), two `regeling worker` processes and an SMTP sink, all
configured by environment variables only and sharing one test clock (REGELING_CLOCK_FILE)."""

from __future__ import annotations

import http.client
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import text

from engine import crypto
from engine.clock import FileClock
from engine.db import make_engine
from tests.support import ROOT
from tests.worker.mailserver import RunningMailServer, free_port

STARTUP_SECONDS = 90


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path


@dataclass
class Topology:
    url: str
    clock: FileClock
    mail: RunningMailServer
    ports: list[int]
    keys: str
    processes: list[Process] = field(default_factory=list)

    def stop(self) -> None:
        _stop(self.processes)

    def logs(self) -> dict[str, str]:
        return {p.name: p.log.read_text(encoding="utf-8", errors="replace") for p in self.processes}


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A uniquely named database on the server of ``server_url``, dropped afterwards; yields its URL."""
    server = make_engine(server_url).execution_options(isolation_level="AUTOCOMMIT")
    name = f"regeling_topologie_{uuid.uuid4().hex[:12]}"
    with server.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def environment(url: str, clock: Path, mail: RunningMailServer, keys: str, base_port: int) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("REGELING_", "SMTP_", "MAIL"))}
    return {
        **inherited,
        **mail.env(),
        "DATABASE_URL": url,
        "REGELING_SECRET_KEY": secrets.token_urlsafe(48),
        "REGELING_ENCRYPTION_KEYS": keys,
        "REGELING_CLOCK_FILE": str(clock),
        "REGELING_BASE_URL": f"http://127.0.0.1:{base_port}",
        "REGELING_LOG_FORMAT": "json",
        "WEB_CONCURRENCY": "2",
        "WEB_THREADS": "2",
    }


@contextmanager
def running(server_url: str, workdir: Path, start: datetime) -> Iterator[Topology]:
    keys = f"topologie:{crypto.generate_key()}"
    clock = FileClock(workdir / "clock")
    clock.set(start)
    mail = RunningMailServer().start()
    ports = [free_port(), free_port()]
    try:
        with fresh_database(server_url) as url:
            topology = Topology(url, clock, mail, ports, keys)
            env = environment(url, clock.path, mail, keys, ports[0])
            init = subprocess.run(  # noqa: S603
                [sys.executable, "-m", "engine.cli", "init"], cwd=ROOT, env=env, capture_output=True, check=False
            )
            assert init.returncode == 0, init.stderr.decode(errors="replace")[-2000:]
            try:
                for number, port in enumerate(ports, start=1):
                    command = [sys.executable, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py", "web.wsgi:app"]
                    topology.processes.append(
                        _start(f"web-{number}", command, {**env, "REGELING_BIND": f"127.0.0.1:{port}"}, workdir)
                    )
                for number in (1, 2):
                    command = [sys.executable, "-m", "engine.cli", "worker", "--interval", "0.2"]
                    topology.processes.append(_start(f"worker-{number}", command, env, workdir))
                for port in ports:
                    _wait_ready(port, topology)
                yield topology
            finally:
                _stop(topology.processes)
    finally:
        mail.close()


def _start(name: str, command: list[str], env: dict[str, str], workdir: Path) -> Process:
    log = workdir / f"{name}.log"
    with log.open("wb") as output:
        popen = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)  # noqa: S603
    return Process(name, popen, log)


def _wait_ready(port: int, topology: Topology) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        for process in topology.processes:
            assert process.popen.poll() is None, (
                f"{process.name} stopped at start-up:\n{process.log.read_text()[-3000:]}"
            )
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("GET", "/gereed", headers={"Host": f"127.0.0.1:{port}"})
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.2)
    raise AssertionError(f"the web process on port {port} was not ready within {STARTUP_SECONDS} s")


def _stop(processes: list[Process]) -> None:
    """SIGTERM, as docker stop sends it; the workers finish their pass, gunicorn its requests."""
    for process in processes:
        if process.popen.poll() is None:
            process.popen.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.popen.kill()
            process.popen.wait()
