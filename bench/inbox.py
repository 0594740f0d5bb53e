"""Benchmark: server time of "Mijn taken" with 100 and with 10,000 cases in the database.

Run: `python -m bench.inbox [--requests N]`. The last line is key=value pairs. Target (issue 3): the
inbox renders in under 100 ms with 10,000 cases, and ms_10000 / ms_100 stays under 1.5.

The worst inbox is measured: a CCV adviser, who sees every unassigned case, with one open CCV task in each
case (so the page counts 10,000 tasks and shows the first 50). A werkgever's inbox (one organisation's
cases among all) is printed too. Cases and tasks are inserted as rows (the inbox reads only the
``case`` and ``human_task`` tables); server time is the time of the whole request through the Flask
app in this process: routing, session, queries and template.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select

from engine.clock import FrozenClock
from engine.db import make_engine, make_session_factory
from engine.model import Case, HumanTask, ProcessVersion
from tests.websupport import START, build_seeded_database, copy_database, log_in, make_app

ORGANISATIONS = ("gemeente-voorbeeldstad", "provincie-voorbeeldland", "waterschap-voorbeelddelta")
STEPS = (
    ("contact_organisatie", "Contact opnemen met de organisatie"),
    ("woningscan", "Woningscan en veiligheidsgesprek"),
)


def add_cases(url: str, count: int, *, first_timer: datetime | None = None) -> None:
    """``count`` synthetic cases, each with one open CCV task and one open werkgever task; with
    ``first_timer``, each also has a deadline from then on (a minute apart), none of them due before it."""
    engine = make_engine(url)
    with make_session_factory(engine)() as session, session.begin():
        version_id = session.scalar(select(ProcessVersion.id).where(ProcessVersion.process_key == "regeling"))
        base = datetime(2026, 1, 1, tzinfo=UTC)
        cases = [
            {
                "reference": f"BV-2025-{n:05d}",
                "process_version_id": version_id,
                "status": "active",
                "organisation": ORGANISATIONS[n % 3],
                "bestuurder": f"bench-bestuurder-{n}",
                "urgent": n % 17 == 0,
                "state": "",
                "serializer_version": "bench",
                "lock_version": 1,
                "event_count": 1,
                "last_hash": "0" * 64,
                "created_at": base + timedelta(minutes=n),
                "updated_at": base + timedelta(minutes=n),
                "next_timer_at": first_timer + timedelta(minutes=n) if first_timer else None,
            }
            for n in range(count)
        ]
        session.execute(insert(Case), cases)
        ids = session.scalars(select(Case.id).where(Case.reference.like("BV-2025-%")).order_by(Case.id)).all()
        tasks = []
        for n, case_id in enumerate(ids):
            bpmn_id, name = STEPS[n % 2]
            for lane, (task_id, task_name) in (
                ("CCV", (bpmn_id, name)),
                ("Werkgever", ("input_organisatie", "Input organisatie leveren")),
            ):
                tasks.append(
                    {
                        "case_id": case_id,
                        "task_guid": str(uuid.uuid4()),
                        "bpmn_id": task_id,
                        "name": task_name,
                        "lane": lane,
                        "form": None,
                        "assignee": None,
                        "state": "open",
                        "created_at": base + timedelta(minutes=n),
                        "due_at": base + timedelta(days=14, minutes=n),
                        "finished_at": None,
                        "finished_by": None,
                    }
                )
        session.execute(insert(HumanTask), tasks)
    engine.dispose()


def inbox_ms(url: str, login: str, requests: int) -> float:
    app = make_app(url, FrozenClock(START))
    client = app.test_client()
    log_in(client, login)
    for _ in range(3):  # warm-up: templates compiled, statements cached
        assert client.get("/taken").status_code == 200
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get("/taken")
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    app.extensions["regeling.db"].engine.dispose()
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        template = workdir / "template.db"
        build_seeded_database(template)
        results = {}
        for count in (100, 10_000):
            url = copy_database(template, workdir / f"inbox_{count}.db")
            add_cases(url, count)
            results[count] = {
                login: inbox_ms(url, login, args.requests) for login in ("ccv-adviseur-1", "werkgever-gemeente")
            }
            ccv, werkgever = results[count]["ccv-adviseur-1"], results[count]["werkgever-gemeente"]
            print(f"{count:>6} zaken: CCV {ccv:.1f} ms, werkgever {werkgever:.1f} ms")
    ms_100, ms_10000 = results[100]["ccv-adviseur-1"], results[10_000]["ccv-adviseur-1"]
    werkgever_ratio = results[10_000]["werkgever-gemeente"] / results[100]["werkgever-gemeente"]
    print(
        f"ms_10000={ms_10000:.1f} ms_100={ms_100:.1f} ratio={ms_10000 / ms_100:.2f} "
        f"werkgever_ms_10000={results[10_000]['werkgever-gemeente']:.1f} werkgever_ratio={werkgever_ratio:.2f}"
    )


if __name__ == "__main__":
    main()
