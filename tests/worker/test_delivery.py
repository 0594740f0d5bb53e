"""The worker against a real SMTP server on loopback: every hand-over of the main path reaches exactly the
right people once; SMTP trouble never holds a case up, is retried, becomes an incident, and a beheerder's
retry sends the mail once."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from engine import incidents, notifications
from engine.access import Actor, Role
from engine.errors import FormValidationError, PermissionDeniedError
from engine.mail import render_mail
from engine.model import Account, AdminAction, Event, MailDelivery, Notification
from engine.worker import CycleReport, Worker, WorkerSettings, worker_from_env
from tests.processes.drive import drive_path
from tests.processes.paths import PATHS, aanmelding
from tests.support import ROOT, CaseDriver
from tests.worker.conftest import add_people, email_of
from tests.worker.mailserver import RunningMailServer

MAIN_PATH = next(p for p in PATHS if p.name == "in_natura_zonder_bezwaar_dan_aftreden")
BEHEERDER = Actor("beheerder-1", Role.BEHEERDER, "bzk")


def make_worker(driver: CaseDriver, server: RunningMailServer, **settings: object) -> Worker:
    worker = worker_from_env(driver.factory, server.env(), clock=driver.clock)
    worker.settings = WorkerSettings(**{**worker.settings.__dict__, **settings})  # type: ignore[arg-type]
    return worker


def run_until_idle(worker: Worker, passes: int = 20) -> CycleReport:
    total = CycleReport()
    for _ in range(passes):
        report = worker.run_once()
        for name in ("timers", "expanded", "sent", "recovered", "retried", "failed", "skipped"):
            setattr(total, name, getattr(total, name) + getattr(report, name))
        if not report.busy:
            break
    return total


@pytest.fixture
def driver(db_engine: Engine) -> CaseDriver:
    driver = CaseDriver(db_engine, checks=False)
    driver.deploy(ROOT / "processes")
    add_people(db_engine)
    return driver


def expected_mail(driver: CaseDriver, reference: str) -> Counter[tuple[str, str]]:
    """(address, subject) of every e-mail the path's hand-overs should have caused, in scope at the time:
    every CCV adviser until one acts on the case, then that adviser alone; every BVA official; the
    werkgevers of the case's organisation; the case's own bestuurder."""
    expected: Counter[tuple[str, str]] = Counter()
    ccv_taken = False
    with Session(driver.factory.kw["bind"]) as session:
        names = {a.id: a for a in session.scalars(select(Account))}
    for event in driver.events(reference):
        ccv_taken = ccv_taken or event.actor_role == "CCV"
        for role, template in event.payload["notifications"]:
            people = {
                "Bestuurder": ["bestuurder-1"],
                "Werkgever": ["werkgever-1"],
                "CCV": ["ccv-adviseur-1"] if ccv_taken else ["ccv-adviseur-1", "ccv-adviseur-2"],
                "BVA": ["bva-1", "bva-2"],
            }[role]
            for person in people:
                account = names[person]
                subject, _text, _html = render_mail(
                    template,
                    reference=reference,
                    link=f"http://127.0.0.1:5000/zaken/{reference}",
                    recipient_name=account.name,
                    role=", ".join(account.roles),
                )
                expected[(email_of(person), subject)] += 1
    return expected


def test_every_handover_of_the_main_path_mails_exactly_the_right_people_once(
    driver: CaseDriver, mail_server: RunningMailServer
) -> None:
    worker = make_worker(driver, mail_server)
    reference = drive_path(driver, MAIN_PATH, after_step=lambda _ref: run_until_idle(worker))
    expected = expected_mail(driver, reference)
    assert sum(expected.values()) >= 15  # the path hands over often: this is not an empty comparison
    assert mail_server.state.by_recipient() == expected
    assert all(count == 1 for count in mail_server.state.message_ids().values())
    # Nothing sensitive in any e-mail: no name of the bestuurder, no address, no measure.
    for item in mail_server.state.received:
        body = item.message.as_string()
        for secret in ("Synthetischestraat", "Alarmsysteem", "Synthetische Bestuurder", "dreig"):
            assert secret not in body
    # The bell: the same events, for the same people.
    with driver.factory() as session:
        per_person = Counter(session.scalars(select(Notification.account_id)))
    assert per_person == Counter(email.split("@")[0] for email, _subject in expected.elements())


def test_smtp_down_never_holds_a_case_up_and_failures_become_an_incident_a_retry_sends_once(
    driver: CaseDriver, mail_server: RunningMailServer
) -> None:
    worker = make_worker(driver, mail_server, max_attempts=3)
    mail_server.state.refuse_with = "451 4.3.0 Probeer het later opnieuw"
    reference = driver.start()
    step = aanmelding()
    driver.complete(reference, step.task, step.role, step.data)  # the case moves on whatever the mail does
    assert driver.open_tasks(reference)[0].bpmn_id == "contact_organisatie"

    first = worker.run_once()
    assert first.expanded and first.retried and not first.sent
    with driver.factory() as session:
        rows = list(session.scalars(select(MailDelivery)))
        assert {row.status for row in rows} == {"pending"} and {row.attempts for row in rows} == {1}
        assert all(row.last_error == "SMTP 451" for row in rows), [row.last_error for row in rows]
    # Backoff: nothing is retried before its time, then once per attempt.
    assert not worker.run_once().busy
    driver.clock.advance(timedelta(minutes=1, seconds=1))
    assert worker.run_once().retried == len(rows)
    driver.clock.advance(timedelta(minutes=2, seconds=1))
    assert worker.run_once().failed == len(rows)
    with driver.factory() as session:
        found = incidents.incidents(session)
    assert len(found) == len(rows) and all(i.attempts == 3 and i.reference == reference for i in found)
    assert mail_server.state.received == []

    mail_server.state.refuse_with = None
    with driver.factory() as session, session.begin():
        with pytest.raises(PermissionDeniedError):
            incidents.retry_delivery(
                session, Actor("ccv-adviseur-1", Role.CCV, "ccv"), found[0].delivery_id, reason="x", at=driver.clock()
            )
        with pytest.raises(FormValidationError):
            incidents.retry_delivery(session, BEHEERDER, found[0].delivery_id, reason=" ", at=driver.clock())
        for incident in found:
            incidents.retry_delivery(
                session, BEHEERDER, incident.delivery_id, reason="Mailserver hersteld", at=driver.clock()
            )
    assert run_until_idle(worker).sent == len(rows)
    assert run_until_idle(worker).sent == 0
    assert all(count == 1 for count in mail_server.state.message_ids().values())
    assert len(mail_server.state.received) == len(rows)
    with driver.factory() as session:
        assert session.scalar(select(func.count()).select_from(AdminAction)) == len(rows)
        assert incidents.incidents(session) == []


def test_a_permanent_refusal_is_an_incident_at_once(driver: CaseDriver, mail_server: RunningMailServer) -> None:
    worker = make_worker(driver, mail_server)
    mail_server.state.refuse_with = "550 5.1.1 Onbekende ontvanger"
    reference = driver.start()
    step = aanmelding()
    driver.complete(reference, step.task, step.role, step.data)
    report = worker.run_once()
    assert report.failed and not report.retried


def test_smtp_server_unreachable_is_retried(driver: CaseDriver, mail_server: RunningMailServer) -> None:
    worker = make_worker(driver, mail_server)
    mail_server.stop()
    reference = driver.start()
    step = aanmelding()
    driver.complete(reference, step.task, step.role, step.data)
    report = worker.run_once()
    assert report.retried and not report.failed and not report.sent


def test_the_bell_counts_unread_and_marks_read(driver: CaseDriver, mail_server: RunningMailServer) -> None:
    worker = make_worker(driver, mail_server)
    reference = driver.start()
    step = aanmelding()
    driver.complete(reference, step.task, step.role, step.data)
    run_until_idle(worker)
    with driver.factory() as session, session.begin():
        assert notifications.unread_count(session, "ccv-adviseur-2") >= 1
        account = session.get(Account, "ccv-adviseur-2")
        assert account is not None
        shown = notifications.latest(session, account)
        assert shown and shown[0].reference == reference and not shown[0].read
        notifications.mark_all_read(session, "ccv-adviseur-2", driver.clock())
        assert notifications.unread_count(session, "ccv-adviseur-2") == 0
        assert notifications.unread_count(session, "werkgever-2") == 0


def test_events_are_untouched_by_the_worker_pass(driver: CaseDriver, mail_server: RunningMailServer) -> None:
    """Sending mail is not case history: a pass that only sends adds no event."""
    worker = make_worker(driver, mail_server)
    reference = driver.start()
    step = aanmelding()
    driver.complete(reference, step.task, step.role, step.data)
    before = len(driver.events(reference))
    run_until_idle(worker)
    with driver.factory() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == before
