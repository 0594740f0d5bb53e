"""The topology test (issue 7): two gunicorn web processes and two workers on one PostgreSQL database, an SMTP
sink, one shared test clock; 200 cases driven concurrently through HTTP to their end with the clock advanced
past their timers. Then: every case finished at its planned end, every expected e-mail arrived exactly once,
no task was completed twice, every hash chain verifies, and no response or process log shows a server error."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from engine import crypto
from engine.db import make_engine
from engine.history import verify_case
from engine.mail import render_mail
from engine.model import Account, Case, Event, HumanTask, MailDelivery, Outbox
from tests.conftest import SYNTHETIC_PERSONAL_DATA
from tests.topology.browser import Statuses
from tests.topology.scenario import ADVANCE, BESTUURDERS, PLAYERS, CaseRun, Plan, log_in, plans, seed_people
from tests.topology.system import Topology, running

pytestmark = pytest.mark.postgres

CASES = {"weigering": 150, "herinnering_aftreden": 40, "hoofdpad": 10}
THREADS = 16
SETTLE_SECONDS = 90


def test_200_cases_through_two_web_processes_and_two_workers(postgres_url: str, tmp_path) -> None:  # noqa: ANN001
    start = (datetime.now(UTC) + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    with running(postgres_url, tmp_path, start) as topology:
        crypto.use_keyring(crypto.KeyRing.parse(topology.keys))
        engine = make_engine(topology.url)
        try:
            seed_people(engine, start)
            statuses = Statuses()
            runs = _new_runs(engine, topology, statuses)

            _phase(topology, statuses, runs, lambda run: run.plan.before)
            topology.clock.advance(ADVANCE)
            _settle(lambda: _due_timers(engine, topology.clock()) == 0, "the workers did not fire the due timers")
            _phase(topology, statuses, runs, lambda run: run.plan.after)
            _settle(lambda: _mail_done(engine, topology), "the workers did not send every e-mail")
            topology.stop()

            assert not statuses.server_errors, statuses.server_errors[:10]
            _assert_cases_ended(engine, runs)
            _assert_no_task_completed_twice(engine)
            _assert_chains_verify(engine)
            _assert_every_mail_once(engine, topology)
        finally:
            engine.dispose()
            crypto.use_keyring(None)
        _assert_clean_logs(topology)


def _new_runs(engine: Engine, topology: Topology, statuses: Statuses) -> list[CaseRun]:
    kinds = plans()
    chosen = [kinds[name] for name, count in CASES.items() for _ in range(count)]
    random.Random(7).shuffle(chosen)  # noqa: S311 - the kinds interleave, reproducibly
    return [
        CaseRun(plan, BESTUURDERS[n % len(BESTUURDERS)], engine, topology.ports, statuses)
        for n, plan in enumerate(chosen)
    ]


def _phase(
    topology: Topology, statuses: Statuses, runs: list[CaseRun], steps: Callable[[CaseRun], Iterable[object]]
) -> None:
    """Everyone logs in at the shared clock (a session of the previous phase has run out), then every case walks
    its steps of this phase, THREADS at a time."""
    now = topology.clock()
    logins = [*BESTUURDERS, *PLAYERS.values()]
    with ThreadPoolExecutor(THREADS) as pool:
        sessions = pool.map(lambda login: log_in(topology.ports, statuses, login, now), logins)
        cookies = dict(zip(logins, sessions, strict=True))
        futures = [pool.submit(run.run, tuple(steps(run)), cookies) for run in runs if tuple(steps(run))]  # type: ignore[arg-type]
        problems = [future.exception() for future in futures]
    failed = [p for p in problems if p is not None]
    if failed:
        raise AssertionError(f"{len(failed)} of {len(futures)} cases failed; the first:") from failed[0]


def _settle(done: Callable[[], bool], message: str) -> None:
    deadline = time.monotonic() + SETTLE_SECONDS
    while not done():
        assert time.monotonic() < deadline, message
        time.sleep(0.25)


def _due_timers(engine: Engine, now: datetime) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(Case).where(Case.next_timer_at <= now)) or 0)


def _mail_done(engine: Engine, topology: Topology) -> bool:
    with Session(engine) as session:
        pending = session.scalar(select(func.count()).select_from(Outbox).where(Outbox.status == "pending"))
        unsent = session.scalar(select(func.count()).select_from(MailDelivery).where(MailDelivery.status != "sent"))
        sent = session.scalar(select(func.count()).select_from(MailDelivery))
    return pending == 0 and unsent == 0 and len(topology.mail.state.received) >= (sent or 0)


def _assert_cases_ended(engine: Engine, runs: list[CaseRun]) -> None:
    planned: dict[str, Plan] = {run.reference: run.plan for run in runs}
    assert len(planned) == sum(CASES.values()) and "" not in planned
    with Session(engine) as session:
        ended = {c.reference: (c.status, c.end_event) for c in session.scalars(select(Case))}
        open_tasks = session.scalar(select(func.count()).select_from(HumanTask).where(HumanTask.state == "open"))
    assert ended == {ref: ("completed", plan.end_event) for ref, plan in planned.items()}
    assert open_tasks == 0


def _assert_no_task_completed_twice(engine: Engine) -> None:
    with Session(engine) as session:
        completions = Counter(
            (case_id, payload["task_guid"])
            for case_id, payload in session.execute(
                select(Event.case_id, Event.payload).where(Event.type == "task_completed")
            )
        )
        closed = session.scalar(select(func.count()).select_from(HumanTask).where(HumanTask.state == "completed"))
    twice = [key for key, n in completions.items() if n > 1]
    assert not twice, twice[:10]
    assert closed == len(completions)


def _assert_chains_verify(engine: Engine) -> None:
    with Session(engine) as session:
        broken = [str(v) for v in (verify_case(session, case) for case in session.scalars(select(Case))) if not v.ok]
    assert not broken, broken[:10]


def _assert_every_mail_once(engine: Engine, topology: Topology) -> None:
    """Each hand-over in the history mails its one person (one person per role in this set-up) exactly once,
    with one Message-ID per delivery; nothing else arrives."""
    expected: Counter[tuple[str, str]] = Counter()
    link_base = f"http://127.0.0.1:{topology.ports[0]}/zaken"
    with Session(engine) as session:
        accounts = {a.id: a for a in session.scalars(select(Account))}
        cases = {c.id: c for c in session.scalars(select(Case))}
        for case_id, payload in session.execute(select(Event.case_id, Event.payload).order_by(Event.id)):
            case = cases[case_id]
            for role, template in payload["notifications"]:
                person = accounts[case.bestuurder if role == "Bestuurder" else _player(role)]
                subject, _text, _html = render_mail(
                    template,
                    reference=case.reference,
                    link=f"{link_base}/{case.reference}",
                    recipient_name=person.name,
                    role=", ".join(person.roles),
                )
                expected[(person.email, subject)] += 1
        outbox = session.scalar(select(func.count()).select_from(Outbox))
        deliveries = set(session.scalars(select(MailDelivery.message_id)))
    assert outbox == sum(expected.values())
    received = topology.mail.state
    assert received.by_recipient() == expected
    ids = received.message_ids()
    assert set(ids.values()) == {1} and set(ids) == deliveries, "an e-mail arrived twice or a delivery is missing"


def _player(role: str) -> str:
    return next(login for r, login in PLAYERS.items() if r.value == role)


def _assert_clean_logs(topology: Topology) -> None:
    """No request ended in a 5xx, nothing logged an error or a traceback, no personal data; the workers passed
    and stopped on SIGTERM."""
    for name, log in topology.logs().items():
        for line in log.splitlines():
            assert "Traceback" not in line and "worker cycle failed" not in line, f"{name}: {line[:300]}"
            assert "[ERROR]" not in line and "[CRITICAL]" not in line, f"{name}: {line[:300]}"  # gunicorn's own
            for needle in SYNTHETIC_PERSONAL_DATA:
                assert needle.casefold() not in line.casefold(), f"{name} logged personal data"
            if line.startswith("{"):
                assert json.loads(line)["level"] not in ("ERROR", "CRITICAL"), f"{name}: {line[:300]}"
            parts = line.split()
            if name.startswith("web") and len(parts) == 5 and parts[3].isdigit():
                assert not parts[3].startswith("5"), f"{name}: {line}"
        if name.startswith("worker"):
            assert "worker cycle timers=" in log and "worker gestopt" in log, f"{name}:\n{log[-2000:]}"
