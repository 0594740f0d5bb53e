"""Two workers at once on PostgreSQL over 200 due timers and 500 outbox rows: every timer fires once,
every outbox row is turned into e-mails once, every e-mail is sent once (FOR UPDATE SKIP LOCKED)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, insert, select

from engine.model import Case, Event, MailDelivery, Outbox
from engine.worker import CycleReport, Worker
from tests.processes.paths import aanmelding
from tests.support import ROOT, CaseDriver
from tests.worker.conftest import add_people
from tests.worker.mailserver import RunningMailServer
from tests.worker.test_delivery import make_worker

CASES = 200
OUTBOX_ROWS = 500
SLA_CONTACT = timedelta(days=14)  # the CCV's reminder deadline for contacting the organisation


def run_until_idle_collecting(worker: Worker, start: threading.Barrier, errors: list[BaseException]) -> None:
    start.wait()
    try:
        for _ in range(200):
            report: CycleReport = worker.run_once()
            if not report.busy:
                return
    except BaseException as error:  # noqa: BLE001 - reported by the test
        errors.append(error)


@pytest.mark.postgres
def test_two_workers_handle_every_timer_and_outbox_row_exactly_once(
    postgres_engine: Engine, mail_server: RunningMailServer
) -> None:
    from tests.conftest import _empty

    _empty(postgres_engine)
    driver = CaseDriver(postgres_engine, checks=False)
    driver.deploy(ROOT / "processes")
    add_people(postgres_engine)
    step = aanmelding()
    references = []
    for _ in range(CASES):
        reference = driver.start()
        driver.complete(reference, step.task, step.role, step.data)
        references.append(reference)
    with driver.factory() as session, session.begin():
        present = session.scalar(select(func.count()).select_from(Outbox)) or 0
        case_id = session.scalar(select(Case.id).where(Case.reference == references[0]))
        now = driver.clock()
        session.execute(
            insert(Outbox),
            [
                {
                    "case_id": case_id,
                    "idempotency_key": f"synthetisch:{n}",
                    "recipient_role": "Bestuurder",
                    "template": "aanmelding_bevestigd",
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for n in range(OUTBOX_ROWS - present)
            ],
        )
    driver.clock.advance(SLA_CONTACT + timedelta(days=1))
    workers = [make_worker(driver, mail_server, batch=20) for _ in range(2)]
    start, errors = threading.Barrier(2), []
    threads = [threading.Thread(target=run_until_idle_collecting, args=(w, start, errors)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == []

    with driver.factory() as session:
        fired = Counter(
            session.scalars(
                select(Case.reference).join(Event, Event.case_id == Case.id).where(Event.type == "timers_fired")
            )
        )
        assert fired == Counter(dict.fromkeys(references, 1))
        outbox = Counter(session.scalars(select(Outbox.status)))
        assert outbox == Counter({"expanded": sum(outbox.values())}) and sum(outbox.values()) >= OUTBOX_ROWS + CASES
        deliveries = Counter(session.scalars(select(MailDelivery.status)))
        assert deliveries == Counter({"sent": sum(deliveries.values())})
        total = sum(deliveries.values())
    received = mail_server.state.message_ids()
    assert len(received) == total and set(received.values()) == {1}
