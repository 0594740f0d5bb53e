"""Benchmark: the pages and the timer sweep with 1,000 and with 100,000 cases in the database.

Run: `python -m bench.scale [--requests N] [--large 100000] [--database URL]`. The last line is key=value
pairs. Target (production issue): each time with 100,000 cases at most 1.5 × the time with 1,000 — no query
may scan all cases or deserialize workflows to list them.

Measured, as server time through the Flask app in this process: the inbox of a CCV adviser (who sees
every unassigned case), the auditor's case list, and the case page of one real case (diagram markers,
timeline, steps: it restores that one workflow); and one timer sweep (`fire_due_timers`) at a moment when
nothing is due, which must find that out from the index on ``next_timer_at``.

Beside the three real demo cases, each case is rows at a realistic stage: an aanmelding and a first CCV
step done (three events, two finished tasks, a sent e-mail, two access-log rows), one open CCV task, one
open werkgever task and a deadline. So every table a page reads by case grows with the number of cases.

By default both databases are SQLite files (the embedded set-up); ``--database`` (a PostgreSQL server URL,
e.g. TEST_DATABASE_URL) measures production's database instead, on two fresh databases dropped at the end,
analysed after filling as autovacuum would. Both sizes are measured in turns, request by request, so a
busy machine slows both alike and the ratio stays meaningful.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import Engine, insert, select, text

from bench.inbox import add_cases
from engine import commands
from engine.access import SYSTEM
from engine.clock import FrozenClock
from engine.db import make_engine, make_session_factory
from engine.model import AccessLog, Case, Event, HumanTask, Outbox
from tests.websupport import START, build_seeded_database, copy_database, log_in, make_app, seed_database

NOW = START + timedelta(hours=6)
SYNTHETIC = "BV-2025-%"  # the references bench.inbox.add_cases gives
CHUNK = 5_000
PAGES = {
    "inbox": ("ccv-adviseur-1", "/taken"),
    "case_list": ("auditor", "/zaken"),
    "case_page": ("auditor", "/zaken/{reference}"),
}


# ------------------------------------------------------------------------------------------- databases


def add_history(url: str) -> None:
    """Give each synthetic case the rows of the steps behind it: events, finished tasks, a sent e-mail and
    the access log of the people who opened it."""
    engine = make_engine(url)
    with make_session_factory(engine)() as session, session.begin():
        ids = session.scalars(select(Case.id).where(Case.reference.like(SYNTHETIC)).order_by(Case.id)).all()
        for first in range(0, len(ids), CHUNK):
            chunk = ids[first : first + CHUNK]
            session.execute(insert(Event), [event for case_id in chunk for event in _events(case_id)])
            session.execute(insert(HumanTask), [task for case_id in chunk for task in _finished_tasks(case_id)])
            session.execute(insert(Outbox), [_sent_mail(case_id) for case_id in chunk])
            session.execute(insert(AccessLog), [view for case_id in chunk for view in _views(case_id)])
    engine.dispose()


BASE = datetime(2025, 11, 1, tzinfo=UTC)


def _events(case_id: int) -> list[dict[str, Any]]:
    steps: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
        ("case_started", "bench-bestuurder", "Bestuurder", {"data": {}}),
        ("task_completed", "bench-bestuurder", "Bestuurder", {"task": "aanmelding", "data": {}}),
        ("task_completed", "ccv-adviseur-1", "CCV", {"task": "intake", "data": {}}),
    )
    return [
        {
            "case_id": case_id,
            "seq": seq,
            "type": kind,
            "actor": actor,
            "actor_role": role,
            "occurred_at": BASE + timedelta(days=seq),
            "payload": payload,
            "payload_hash": None,
            "state_hash": "1" * 64,
            "prev_hash": "0" * 64,
            "hash": "2" * 64,
        }
        for seq, (kind, actor, role, payload) in enumerate(steps, start=1)
    ]


def _finished_tasks(case_id: int) -> list[dict[str, Any]]:
    return [
        {
            "case_id": case_id,
            "task_guid": str(uuid.uuid4()),
            "bpmn_id": bpmn_id,
            "name": name,
            "form": None,
            "lane": lane,
            "assignee": None,
            "state": "completed",
            "created_at": BASE + timedelta(days=day),
            "due_at": None,
            "finished_at": BASE + timedelta(days=day + 1),
            "finished_by": by,
        }
        for day, (bpmn_id, name, lane, by) in enumerate(
            (
                ("aanmelding", "Aanmelding", "Bestuurder", "bench-bestuurder"),
                ("intake", "Intake", "CCV", "ccv-adviseur-1"),
            ),
            start=1,
        )
    ]


def _sent_mail(case_id: int) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "idempotency_key": f"bench:{case_id}",
        "recipient_role": "CCV",
        "template": "nieuwe_taak",
        "status": "sent",
        "attempts": 1,
        "next_attempt_at": BASE,
        "last_error": None,
        "created_at": BASE,
    }


def _views(case_id: int) -> list[dict[str, Any]]:
    return [
        {"account_id": who, "role": role, "case_id": case_id, "what": "zaakpagina", "fields": [], "at": BASE}
        for who, role in (("ccv-adviseur-1", "CCV"), ("auditor", "Auditor"))
    ]


@contextmanager
def sqlite_databases(counts: list[int]) -> Iterator[tuple[dict[int, str], dict[str, str]]]:
    """Per count a seeded SQLite file (copies of one template); yields (count -> URL, login -> reference)."""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        references = build_seeded_database(workdir / "template.db")
        yield {n: copy_database(workdir / "template.db", workdir / f"scale_{n}.db") for n in counts}, references


@contextmanager
def postgres_databases(server_url: str, counts: list[int]) -> Iterator[tuple[dict[int, str], dict[str, str]]]:
    """Per count a fresh seeded database on the server of ``server_url``, dropped afterwards."""
    server = make_engine(server_url).execution_options(isolation_level="AUTOCOMMIT")
    names = {n: f"regeling_scale_{n}_{uuid.uuid4().hex[:8]}" for n in counts}
    try:
        with server.connect() as connection:
            for name in names.values():
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        urls = {n: server.url.set(database=name).render_as_string(hide_password=False) for n, name in names.items()}
        references = {}
        for url in urls.values():
            references = seed_database(url)
        yield urls, references
    finally:
        with server.connect() as connection:
            for name in names.values():
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def fill(url: str, count: int) -> None:
    started = time.perf_counter()
    add_cases(url, count, first_timer=NOW + timedelta(days=1))
    add_history(url)
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE"))  # what autovacuum does shortly after a bulk load
    engine.dispose()
    print(f"{count:>7} zaken aangemaakt in {time.perf_counter() - started:.1f} s")


# ----------------------------------------------------------------------------------------- measuring


@dataclass
class Site:
    """One database served by the app in this process, with a logged-in client per login."""

    app: Flask
    engine: Engine
    clients: dict[str, Any]

    def actions(self, reference: str) -> dict[str, Callable[[], object]]:
        found: dict[str, Callable[[], object]] = {
            name: self._page(login, path.format(reference=reference)) for name, (login, path) in PAGES.items()
        }
        found["timer_sweep"] = self._sweep
        return found

    def _page(self, login: str, path: str) -> Callable[[], object]:
        client = self.clients[login]

        def get() -> object:
            response = client.get(path)
            assert response.status_code == 200, path
            return response

        return get

    def _sweep(self) -> None:
        with make_session_factory(self.engine)() as session, session.begin():
            assert commands.fire_due_timers(session, SYSTEM, clock=FrozenClock(NOW)) == []


@contextmanager
def site(url: str) -> Iterator[Site]:
    app = make_app(url, FrozenClock(NOW))
    clients = {}
    for login in {login for login, _path in PAGES.values()}:
        clients[login] = app.test_client()
        log_in(clients[login], login)
    engine = make_engine(url)
    try:
        yield Site(app, engine, clients)
    finally:
        engine.dispose()
        app.extensions["regeling.db"].engine.dispose()


def measure_in_turns(sites: dict[int, Site], reference: str, repeats: int) -> dict[int, dict[str, float]]:
    """Median milliseconds per action and site; each repeat runs an action on every site in turn."""
    actions = {count: s.actions(reference) for count, s in sites.items()}
    samples: dict[int, dict[str, list[float]]] = {count: {} for count in sites}
    for name in next(iter(actions.values())):
        for count in sites:
            for _ in range(3):
                actions[count][name]()  # warm-up: templates, statement caches, the compiled process
        for _ in range(repeats):
            for count in sites:
                started = time.perf_counter()
                actions[count][name]()
                samples[count].setdefault(name, []).append((time.perf_counter() - started) * 1000)
    return {count: {name: statistics.median(s) for name, s in by_name.items()} for count, by_name in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--database", default="", help="a PostgreSQL server URL (default: SQLite files)")
    args = parser.parse_args()
    counts = [args.small, args.large]
    databases = postgres_databases(args.database, counts) if args.database else sqlite_databases(counts)
    with databases as (urls, references), ExitStack() as stack:
        for count in counts:
            fill(urls[count], count)
        sites = {count: stack.enter_context(site(urls[count])) for count in counts}
        reference = references["dijkgraaf"]  # a real case well into its advice
        results = measure_in_turns(sites, reference, args.requests)
    for count in counts:
        print(f"{count:>7} zaken: " + ", ".join(f"{k} {v:.1f} ms" for k, v in results[count].items()))
    small, large = results[args.small], results[args.large]
    ratios = {name: large[name] / small[name] for name in small}
    pairs = [f"{name}_ms_large={large[name]:.1f} {name}_ratio={ratios[name]:.2f}" for name in small]
    database = "postgresql" if args.database else "sqlite"
    print(f"database={database} " + " ".join(pairs) + f" worst_ratio={max(ratios.values()):.2f}")


if __name__ == "__main__":
    main()
