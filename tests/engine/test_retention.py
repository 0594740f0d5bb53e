"""Retention (issue 6): a finished case past its period loses every piece of personal data through one
recorded erasure event; the chain still verifies and re-execution says "gewist" instead of diverging."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, MetaData, select
from sqlalchemy.orm import Session, sessionmaker

from engine import cache, commands, replay, retention
from engine.cli import main
from engine.documents import save_draft, store_document
from engine.errors import InvalidTransitionError
from engine.history import ERASURE, payload_of, verify_case
from engine.mail import SinkMailer
from engine.model import Case, Document, Event, HumanTask, TaskDraft
from engine.worker import Worker, WorkerSettings
from tests.processes.drive import drive_path
from tests.processes.paths import PATHS
from tests.support import ROOT, CaseDriver

FINISHED_PATH = next(p for p in PATHS if p.name == "in_natura_zonder_bezwaar_dan_aftreden")
NOT_ELIGIBLE_PATH = next(p for p in PATHS if p.name == "niet_in_aanmerking_raadslid")
# Values the paths and this file type in; none may survive an erasure anywhere in the database.
PERSONAL = (
    "Synthetischestraat",
    "0600000000",
    "bestuurder@voorbeeld.invalid",
    "Synthetische Bestuurder",
    "Partner en twee kinderen",
    "Alarmsysteem met doormelding",
    "Concept-synthetisch",
    "certificaat-synthetisch",
)
SEVEN_YEARS = timedelta(days=7 * 366)


@pytest.fixture
def driver(db_engine: Engine) -> Iterator[CaseDriver]:
    cache.clear()
    driver = CaseDriver(db_engine, checks=False)
    driver.deploy(ROOT / "processes")
    yield driver
    cache.clear()


def finished_case_with_a_draft_and_a_document(driver: CaseDriver) -> str:
    reference = drive_path(driver, FINISHED_PATH)
    with driver.factory() as session, session.begin():
        case = commands.find_case(session, reference)
        task = session.scalars(select(HumanTask).where(HumanTask.case_id == case.id)).first()
        assert task is not None
        save_draft(session, task, "bestuurder-1", {"toelichting": "Concept-synthetisch"}, driver.clock())
        store_document(
            session,
            case,
            form="pkvw_bewijs.schema.json",
            field="pkvw_bewijs",
            filename="certificaat-synthetisch.pdf",
            content=b"%PDF-1.4 Synthetischestraat 1",
            uploaded_by="bestuurder-1",
            at=driver.clock(),
        )
    return reference


def erase(driver: CaseDriver, reference: str, after: timedelta = SEVEN_YEARS) -> retention.Erasure:
    with driver.factory() as session, session.begin():
        case = commands.find_case(session, reference)
        return retention.erase_case(
            session, reference, rule="completed=P7Y", reason="test", now=case.updated_at + after
        )


def everything_stored(session: Session) -> str:
    """Every value of every table as text, with every encrypted value decrypted where it lives."""
    dump: list[str] = []
    tables = MetaData()
    tables.reflect(bind=session.connection())  # every table, also those the models might not name
    for table in tables.sorted_tables:
        for row in session.execute(select(table)):
            dump.extend(repr(value) for value in row)
    for event in session.scalars(select(Event)):
        dump.append(json.dumps(payload_of(event), ensure_ascii=False))
    for case in session.scalars(select(Case)):
        dump.append(replay.stored_state(case))
    for document in session.scalars(select(Document)):
        dump.append(document.content.decode("latin-1"))
    for task in session.scalars(select(HumanTask)):
        dump.append(task.subject or "")
    for draft in session.scalars(select(TaskDraft)):
        dump.append(json.dumps(draft.values, ensure_ascii=False))
    return "\n".join(dump)


def test_the_policy_reads_its_periods_from_the_environment() -> None:
    policy = retention.parse_policy("completed=P10Y, end_geen_maatregelen=P1Y")
    assert {key: str(rule) for key, rule in policy.rules.items()} == {
        "completed": "completed=P10Y",
        "end_niet_in_aanmerking": "end_niet_in_aanmerking=P2Y",
        "end_geen_maatregelen": "end_geen_maatregelen=P1Y",
    }
    assert retention.parse_policy("").rules == retention.DEFAULT_POLICY.rules
    for wrong in ("completed", "completed=7 jaar", "active=P1Y", "=P1Y"):
        with pytest.raises(retention.RetentionConfigError, match=retention.ENV_RETENTION):
            retention.parse_policy(wrong)


def test_only_finished_cases_past_their_own_period_expire(driver: CaseDriver) -> None:
    finished = drive_path(driver, FINISHED_PATH)
    refused = drive_path(driver, NOT_ELIGIBLE_PATH)
    running = driver.start()
    policy = retention.DEFAULT_POLICY
    with driver.factory() as session:
        ended = commands.find_case(session, finished).updated_at
        assert retention.expired_cases(session, policy, ended + timedelta(days=365)) == []
        in_three_years = [ref for ref, _ in retention.expired_cases(session, policy, ended + timedelta(days=3 * 366))]
        assert in_three_years == [refused]  # end_niet_in_aanmerking=P2Y
        later = {ref: str(rule) for ref, rule in retention.expired_cases(session, policy, ended + SEVEN_YEARS)}
    assert later == {refused: "end_niet_in_aanmerking=P2Y", finished: "completed=P7Y"}
    assert running not in later


def test_an_erasure_removes_every_personal_value_and_the_chain_still_verifies(driver: CaseDriver) -> None:
    reference = finished_case_with_a_draft_and_a_document(driver)
    with driver.factory() as session:
        before = everything_stored(session)
    assert all(value in before for value in PERSONAL)  # the check below can see them

    erasure = erase(driver, reference)

    assert erasure.events > 10 and erasure.documents == 1 and erasure.drafts == 1
    with driver.factory() as session:
        stored = everything_stored(session)
        case = commands.find_case(session, reference)
        assert verify_case(session, case).ok
        events = list(session.scalars(select(Event).where(Event.case_id == case.id).order_by(Event.seq)))
    assert [value for value in PERSONAL if value in stored] == []
    last = events[-1]
    assert (last.type, last.actor, last.payload["rule"], payload_of(last)["reason"]) == (
        ERASURE,
        "systeem",
        "completed=P7Y",
        "test",
    )
    assert last.payload["erased_events"] == [e.seq for e in events[:-1] if e.payload_hash is not None]


def test_an_erased_case_is_reported_as_gewist_by_replay_not_as_a_divergence(
    driver: CaseDriver, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = drive_path(driver, FINISHED_PATH)
    erase(driver, reference)
    with driver.factory() as session:
        result = replay.replay_from_start(session, commands.find_case(session, reference))
    assert (result.ok, result.erased, result.diverged_at, result.reason) == (False, True, None, "gewist")
    monkeypatch.setenv("DATABASE_URL", driver.factory.kw["bind"].url.render_as_string(hide_password=False))
    assert main(["replay", reference]) == 0
    assert main(["verify", reference]) == 0
    assert "gewist — herhalen niet mogelijk" in capsys.readouterr().out


def test_an_erased_case_still_opens_with_its_elements_and_without_data(driver: CaseDriver) -> None:
    reference = drive_path(driver, FINISHED_PATH)
    erase(driver, reference)
    cache.clear()
    with driver.factory() as session:
        case = commands.find_case(session, reference)
        workflow = commands.load_workflow(session, case)
        assert workflow.completed and workflow.data == {}
        assert workflow.state_hash() == case_last_state_hash(session, case)


def case_last_state_hash(session: Session, case: Case) -> str:
    event = session.scalar(select(Event).where(Event.case_id == case.id).order_by(Event.seq.desc()).limit(1))
    assert event is not None
    return event.state_hash


def test_a_case_is_erased_once_and_a_running_case_never(driver: CaseDriver) -> None:
    reference = drive_path(driver, FINISHED_PATH)
    running = driver.start()
    erase(driver, reference)
    for target in (reference, running):
        with pytest.raises(InvalidTransitionError):
            erase(driver, target)


def test_the_command_line_lists_then_erases_expired_cases(
    driver: CaseDriver, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = drive_path(driver, FINISHED_PATH)
    monkeypatch.setenv("DATABASE_URL", driver.factory.kw["bind"].url.render_as_string(hide_password=False))
    monkeypatch.setenv(retention.ENV_RETENTION, "completed=PT1S")  # the case finished in 2026: long ago
    assert main(["retention", "--dry-run"]) == 0
    assert f"{reference}: zou gewist worden volgens completed=PT1S" in capsys.readouterr().out
    assert driver.events(reference)[-1].type != ERASURE
    assert main(["retention"]) == 0
    assert f"{reference}: gewist volgens completed=PT1S" in capsys.readouterr().out
    assert driver.events(reference)[-1].type == ERASURE
    assert main(["retention"]) == 0
    assert "0 zaken verwerkt" in capsys.readouterr().out
    monkeypatch.setenv(retention.ENV_RETENTION, "completed=zeven jaar")
    assert main(["retention"]) == 1
    assert "fout: REGELING_RETENTION: completed:" in capsys.readouterr().err


def test_the_worker_sweeps_expired_cases(driver: CaseDriver, tmp_path: Path) -> None:
    reference = drive_path(driver, FINISHED_PATH)
    driver.clock.advance(SEVEN_YEARS)
    factory: sessionmaker[Session] = driver.factory
    worker = Worker(factory, SinkMailer(tmp_path), clock=driver.clock, settings=WorkerSettings())
    worker.run_once()
    assert driver.events(reference)[-1].type == ERASURE
    with driver.factory() as session:
        assert verify_case(session, commands.find_case(session, reference)).ok
