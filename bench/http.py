"""Benchmark: task completions over HTTP against gunicorn on PostgreSQL, with 1, 10 and 50 concurrent users.

Run: `python -m bench.http [--database URL] [--completions N] [--clients 1,10,50]`. The last line is
key=value pairs. Targets (issue): at least 100 completions/s with 10 clients, p95 of the POST under 150 ms
with 50 clients, and no errors besides designed 409s.

A fresh database is made on the PostgreSQL server of ``--database`` (default: TEST_DATABASE_URL) and dropped
at the end. It gets the processes, the demo accounts, one CCV account per client (each with a TOTP secret,
so a client can log in as a person would) and one case per completion, each waiting at contact_organisatie
(start and aanmelding through engine commands). gunicorn then serves the app as compose runs it
(deploy/gunicorn.conf.py, WEB_CONCURRENCY=4). Each client is a thread with its own connection and cookies;
it logs in once, then takes cases from a shared queue: GET the task page (lock_version and CSRF token from
the form), POST the completion. 302 is a completion, 409 a designed conflict, anything else an error.
With ``--follow`` a client also loads the page the completion redirects to (the inbox), as a browser does;
its latency is printed apart, the POST figures stay those of the POST alone.

With ``--think S`` a client pauses before each request, a random time with mean S seconds (exponential), as a
person reads a page before acting. The targets are judged without it; it shows what N people see rather than
N clients that never pause (people take minutes over a form, so even S = 1 is a hundredfold too busy).

Latency at N clients is closed-loop: every client sends its next request as soon as the last one returns,
with no think time, so the mean time of a GET + POST cycle is N / throughput (Little's law) whatever the
server does per request. The POST p95 at N = 50 can only fall under 150 ms when that cycle is well under
300 ms, i.e. at more than about 300 completions/s: a capacity target, not a per-request one.

CPU per completion is counted from /proc for the gunicorn master and its workers, the PostgreSQL backends
of the bench database (not the server's shared background processes, nor other databases' backends) and
this process.

The engine-only cost is one ``complete_task`` through a CaseDriver on the same database, without HTTP, with
the engine's workflow cache emptied first (a gunicorn worker meets each case cold as well).
"""

from __future__ import annotations

import argparse
import http.client
import os
import queue
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import Engine, make_url, select, text

from engine import bundles, cache, commands, demo, totp
from engine.access import Actor, Role
from engine.accounts import create_account, hash_password
from engine.clock import FrozenClock
from engine.db import make_engine, make_session_factory, migrate
from engine.model import Account, HumanTask
from tests.support import CaseDriver
from tests.websupport import TOTP_SECRET

PROJECT = Path(__file__).resolve().parent.parent
BESTUURDER = Actor("burgemeester", Role.BESTUURDER, "gemeente-voorbeeldstad")
CONTACT = {
    "contactpersoon_organisatie": "Secretaris-directeur",
    "datum_contact": "2024-03-20",
    "datum_gesprek_organisatie": "2024-03-27",
}
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
LOCK_VERSION = re.compile(r'name="lock_version" value="(\d+)"')


# -------------------------------------------------------------------------------------------- database


def create_database(server_url: str) -> tuple[Engine, str, str]:
    """A new database on the server; returns (server engine, database name, URL of the new database)."""
    server = make_engine(server_url).execution_options(isolation_level="AUTOCOMMIT")
    name = f"regeling_bench_{uuid.uuid4().hex[:12]}"
    with server.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    return server, name, server.url.set(database=name).render_as_string(hide_password=False)


def drop_database(server: Engine, name: str) -> None:
    with server.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    server.dispose()


def seed(engine: Engine, clients: int, cases: int) -> list[tuple[str, str]]:
    """Processes, demo accounts, ``clients`` CCV accounts with TOTP, and ``cases`` cases at contact_organisatie.

    Returns (reference, task guid) of each case's open contact_organisatie task.
    """
    now = datetime.now(UTC)
    factory = make_session_factory(engine)
    with factory() as session, session.begin():
        bundles.deploy(session, bundles.read_bundle([PROJECT / "processes"]), actor="bench", comment="bench", at=now)
        demo.seed(session, at=now)
        password_hash = hash_password(demo.DEMO_PASSWORD)
        for n in range(1, clients + 1):
            create_account(
                session,
                account_id=f"bench-ccv-{n}",
                name=f"Bench CCV {n}",
                email=f"bench-ccv-{n}@voorbeeld.invalid",
                organisation="ccv",
                roles=[Role.CCV],
                password_hash=password_hash,
                at=now,
            )
        session.flush()
        for account in session.scalars(select(Account)):
            account.totp_secret, account.totp_enabled_at = TOTP_SECRET, now
    return start_cases(engine, cases)


def start_cases(engine: Engine, count: int) -> list[tuple[str, str]]:
    factory = make_session_factory(engine)
    data = demo.aanmelding("Bench Bestuurder", "burgemeester", ("Gemeente Voorbeeldstad", "gemeente"))
    found = []
    for first in range(0, count, 50):
        with factory() as session, session.begin():
            for _ in range(first, min(first + 50, count)):
                case = commands.start_case(session, BESTUURDER)
                task = next(t for t in commands.open_tasks(session, case) if t.bpmn_id == "aanmelding")
                commands.complete_task(
                    session, BESTUURDER, case.reference, task.task_guid, data, lock_version=case.lock_version
                )
                found.append(case.reference)
    with factory() as session:
        rows = session.execute(
            select(HumanTask.task_guid, HumanTask.case_id).where(
                HumanTask.bpmn_id == "contact_organisatie", HumanTask.state == "open"
            )
        ).all()
        by_case = {case_id: guid for guid, case_id in rows}
        ids = {c.reference: c.id for c in (commands.find_case(session, r) for r in found)}
    cache.clear()
    return [(reference, by_case[ids[reference]]) for reference in found]


def engine_only_ms(engine: Engine, runs: int) -> float:
    """Median milliseconds of one contact_organisatie completion through the engine, on a cold cache."""
    driver = CaseDriver(engine, FrozenClock(datetime.now(UTC)), checks=False)
    tasks = start_cases(engine, runs)
    timings = []
    for reference, _guid in tasks:
        cache.clear()
        began = time.perf_counter()
        driver.complete(reference, "contact_organisatie", "CCV", CONTACT)
        timings.append(time.perf_counter() - began)
    return statistics.median(timings) * 1000


# ---------------------------------------------------------------------------------------------- server


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_gunicorn(
    url: str, port: int, log: Path, workers: int, *, app: str = "web.wsgi:app", env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """gunicorn as compose runs it, serving ``app``; returns once its /gereed answers 200."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REGELING_SECRET_KEY": f"bench-{uuid.uuid4().hex}-niet-voor-productie",
        "REGELING_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(workers),
        **(env or {}),
    }
    command = [sys.executable, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py", app]
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=PROJECT, env=env, stdout=output, stderr=subprocess.STDOUT)  # noqa: S603
    deadline = time.monotonic() + 60
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/gereed")
            if connection.getresponse().status == 200:
                connection.close()
                return process
        except OSError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            process.terminate()
            raise SystemExit(f"gunicorn did not come up; see {log}")
        time.sleep(0.2)


# ---------------------------------------------------------------------------------------------- client


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    get_latencies: list[float] = field(default_factory=list)
    next_latencies: list[float] = field(default_factory=list)  # the page after the POST (--follow)
    completed: int = 0
    conflicts: int = 0
    errors: list[str] = field(default_factory=list)


class Client:
    """One person in a browser: a keep-alive connection and its cookies."""

    def __init__(self, port: int, *, follow: bool = False) -> None:
        self.port = port
        self.follow = follow  # after a completion, GET the page it redirects to, as a browser does
        self.think = 0.0  # mean seconds of reading before each request (--think; set after the log-in)
        self.pauses = random.Random()  # noqa: S311 (reading times, not secrets)
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, str, str]:
        headers = {"Host": f"127.0.0.1:{self.port}"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
        except (http.client.HTTPException, OSError):
            self.connection.close()  # the server closed the keep-alive connection: once more on a new one
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
        page = response.read().decode("utf-8", "replace")
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                if morsel["max-age"] == "0" or morsel.value == "":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return response.status, response.headers.get("Location", ""), page

    def read_page(self) -> None:
        """The person's pause before the next request (--think), outside the timed request."""
        if self.think:
            time.sleep(self.pauses.expovariate(1 / self.think))

    def log_in(self, login: str) -> None:
        _status, _location, page = self.request("GET", "/inloggen")
        status, location, _ = self.request(
            "POST",
            "/inloggen",
            {"gebruikersnaam": login, "wachtwoord": demo.DEMO_PASSWORD, "csrf_token": token(page)},
        )
        if (status, location) != (302, "/inloggen/code"):
            raise SystemExit(f"log-in of {login} failed at the password: {status} {location}")
        _status, _location, page = self.request("GET", "/inloggen/code")
        code = totp.code_at(TOTP_SECRET, datetime.now(UTC))
        status, location, _ = self.request("POST", "/inloggen/code", {"code": code, "csrf_token": token(page)})
        if status != 302 or location.startswith("/inloggen"):
            raise SystemExit(f"log-in of {login} failed at the code: {status} {location}")

    def complete(self, reference: str, guid: str, tally: Tally) -> None:
        path = f"/zaken/{reference}/taken/{guid}"
        self.read_page()
        began = time.perf_counter()
        status, _location, page = self.request("GET", path)
        tally.get_latencies.append(time.perf_counter() - began)
        version = LOCK_VERSION.search(page)
        if status != 200 or version is None:
            tally.errors.append(f"GET {status}")
            return
        form = {**CONTACT, "lock_version": version.group(1), "csrf_token": token(page)}
        self.read_page()
        began = time.perf_counter()
        status, location, _page = self.request("POST", path, form)
        tally.latencies.append(time.perf_counter() - began)
        if status == 302:
            tally.completed += 1
            if self.follow:
                began = time.perf_counter()
                status, _location, _page = self.request("GET", location)
                tally.next_latencies.append(time.perf_counter() - began)
                if status != 200:
                    tally.errors.append(f"GET after POST {status}")
        elif status == 409:
            tally.conflicts += 1
        else:
            tally.errors.append(f"POST {status}")


def token(page: str) -> str:
    match = TOKEN.search(page)
    if match is None:
        raise SystemExit("a page without a CSRF token")
    return match.group(1)


@dataclass
class Round:
    clients: int
    seconds: float
    tally: Tally

    @property
    def throughput(self) -> float:
        return self.tally.completed / self.seconds

    cpu: dict[str, float] = field(default_factory=dict)

    def percentile_ms(self, p: int, of: str = "latencies") -> float:
        return float(statistics.quantiles(getattr(self.tally, of), n=100, method="inclusive")[p - 1]) * 1000


@dataclass(frozen=True)
class Watched:
    """Whose CPU time a round counts: the gunicorn master and its workers, the PostgreSQL backends serving
    the bench database (by name: other people's databases on a shared server are not ours), and this process."""

    gunicorn: int
    database: str

    def cpu_seconds(self) -> dict[str, dict[int, float]]:
        """CPU seconds used so far per group and process id (Linux /proc)."""
        ticks = os.sysconf("SC_CLK_TCK")
        used: dict[str, dict[int, float]] = {"gunicorn": {}, "postgres": {}, "clients": {}}
        me, backend = os.getpid(), f" {self.database} ".encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            pid, fields = int(entry.name), stat.rsplit(")", 1)[1].split()
            seconds = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
            if pid == me:
                used["clients"][pid] = seconds
            elif self.gunicorn in (pid, int(fields[1])):  # the master or one of its workers
                used["gunicorn"][pid] = seconds
            elif command.startswith(b"postgres:") and backend in command:
                used["postgres"][pid] = seconds
        return used


def cpu_ms_per(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]], count: int) -> dict[str, float]:
    """Milliseconds of CPU per ``count`` between two readings, per group. Per process, so one that ends in
    between (a backend closing its connection) drops out instead of making the sum negative."""
    return {
        group: sum(seconds - before[group].get(pid, 0.0) for pid, seconds in now.items()) * 1000 / max(count, 1)
        for group, now in after.items()
    }


def run_round(clients: list[Client], work: list[tuple[str, str]], watched: Watched) -> Round:
    tasks: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
    for item in work:
        tasks.put(item)
    tally = Tally()
    lock = threading.Lock()
    barrier = threading.Barrier(len(clients) + 1)

    def drive(client: Client) -> None:
        mine = Tally()
        barrier.wait()
        while True:
            try:
                reference, guid = tasks.get_nowait()
            except queue.Empty:
                break
            try:
                client.complete(reference, guid, mine)
            except (http.client.HTTPException, OSError) as error:
                mine.errors.append(type(error).__name__)
        with lock:
            tally.latencies.extend(mine.latencies)
            tally.get_latencies.extend(mine.get_latencies)
            tally.next_latencies.extend(mine.next_latencies)
            tally.completed += mine.completed
            tally.conflicts += mine.conflicts
            tally.errors.extend(mine.errors)

    threads = [threading.Thread(target=drive, args=(c,), daemon=True) for c in clients]
    for thread in threads:
        thread.start()
    before = watched.cpu_seconds()
    barrier.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    cpu = cpu_ms_per(before, watched.cpu_seconds(), tally.completed)
    return Round(len(clients), seconds, tally, cpu)


# ------------------------------------------------------------------------------------------------ main


def print_round(result: Round) -> None:
    t = result.tally
    print(
        f"N={result.clients:>3}: {result.throughput:6.1f} completions/s, "
        f"POST p50 {result.percentile_ms(50):6.1f} ms p95 {result.percentile_ms(95):6.1f} ms "
        f"p99 {result.percentile_ms(99):6.1f} ms, "
        f"302={t.completed} 409={t.conflicts} errors={len(t.errors)} {sorted(set(t.errors))[:5]}"
    )
    following = ""
    if len(t.next_latencies) > 1:
        following = (
            f"; page after POST p50 {result.percentile_ms(50, 'next_latencies'):6.1f} ms "
            f"p95 {result.percentile_ms(95, 'next_latencies'):6.1f} ms"
        )
    print(
        f"       GET p50 {result.percentile_ms(50, 'get_latencies'):6.1f} ms "
        f"p95 {result.percentile_ms(95, 'get_latencies'):6.1f} ms{following}; CPU ms per completion: "
        + ", ".join(f"{k} {v:.1f}" for k, v in result.cpu.items())
    )


def measure(url: str, work: list[tuple[str, str]], counts: list[int], args: argparse.Namespace) -> list[Round]:
    """Serve the database with gunicorn, log every client in, warm up, then one round per client count."""
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        process = start_gunicorn(url, port, Path(tmp) / "gunicorn.log", args.workers)
        try:
            watched = Watched(process.pid, str(make_url(url).database))
            people = [Client(port, follow=args.follow) for _ in range(max(counts))]
            for n, person in enumerate(people, start=1):
                person.log_in(f"bench-ccv-{n}")
            # Every gunicorn worker compiles the process bundle and fills its caches on its first requests.
            if args.warmup:
                warm = run_round(people[: min(10, len(people))], work[: args.warmup], watched)
                if warm.tally.errors:
                    print(f"warm-up errors: {sorted(set(warm.tally.errors))}")
            work = work[args.warmup :]
            for person in people:
                person.think = args.think
            rounds = []
            for index, count in enumerate(counts):
                batch = work[index * args.completions : (index + 1) * args.completions]
                result = run_round(people[:count], batch, watched)
                print_round(result)
                rounds.append(result)
            for person in people:
                person.connection.close()
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    return rounds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default=os.environ.get("TEST_DATABASE_URL", ""), help="PostgreSQL server URL")
    parser.add_argument("--completions", type=int, default=300, help="completions per client count")
    parser.add_argument("--clients", default="1,10,50")
    parser.add_argument("--workers", type=int, default=4, help="WEB_CONCURRENCY")
    parser.add_argument("--engine-runs", type=int, default=50)
    parser.add_argument("--follow", action="store_true", help="also GET the page each completion redirects to")
    parser.add_argument("--think", type=float, default=0.0, help="mean seconds a client pauses before a request")
    parser.add_argument("--warmup", type=int, default=60, help="completions before measuring (not counted)")
    args = parser.parse_args(argv)
    if not args.database.startswith("postgres"):
        parser.error("needs a PostgreSQL server: --database or TEST_DATABASE_URL")
    counts = [int(n) for n in args.clients.split(",")]

    server, name, url = create_database(args.database)
    engine = make_engine(url)
    try:
        migrate(engine)
        began = time.perf_counter()
        work = seed(engine, max(counts), args.completions * len(counts) + args.warmup)
        print(f"seeded {len(work)} cases and {max(counts)} CCV accounts in {time.perf_counter() - began:.1f} s")
        engine_ms = engine_only_ms(engine, args.engine_runs)
        print(f"engine only: {engine_ms:.1f} ms per completion (median of {args.engine_runs}, cold cache)")
        rounds = measure(url, work, counts, args)
    finally:
        engine.dispose()
        drop_database(server, name)

    single = rounds[0]
    http_ms = single.percentile_ms(50)
    pairs = {f"tput_{r.clients}": f"{r.throughput:.1f}" for r in rounds}
    pairs.update({f"p95_{r.clients}_ms": f"{r.percentile_ms(95):.1f}" for r in rounds})
    pairs.update({f"p99_{r.clients}_ms": f"{r.percentile_ms(99):.1f}" for r in rounds})
    pairs["conflicts"] = str(sum(r.tally.conflicts for r in rounds))
    pairs["errors"] = str(sum(len(r.tally.errors) for r in rounds))
    pairs["engine_ms"] = f"{engine_ms:.1f}"
    pairs["http_ms"] = f"{http_ms:.1f}"
    pairs["http_vs_engine"] = f"{http_ms / engine_ms:.2f}"
    print(f"HTTP POST p50 at N={single.clients}: {http_ms:.1f} ms = {http_ms / engine_ms:.2f} x the engine-only cost")
    print(" ".join(f"{k}={v}" for k, v in pairs.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
