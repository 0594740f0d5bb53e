"""Repairs (issue 6): a beheerder corrects a completed step's data or moves a case back, only with a written
reason; each is one new event with before and after, the index follows, and the case re-executes from its
start through the repair to the same state."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from engine import cache, commands, crypto, repair, replay
from engine.access import Actor, Role
from engine.errors import FormValidationError, InvalidTransitionError, NotFoundError, PermissionDeniedError
from engine.history import REPAIR, payload_of, verify_case
from engine.model import HumanTask
from engine.retention import erase_case
from tests.processes.drive import _apply, drive_path
from tests.processes.paths import PATHS
from tests.support import ACTORS, ROOT, CaseDriver

BEHEERDER = Actor("beheerder-1", Role.BEHEERDER, "bzk")
MAIN = next(p for p in PATHS if p.name == "in_natura_zonder_bezwaar_dan_aftreden")
REASON = "Typefout in het intakeverslag, gemeld door de CCV-adviseur."


@pytest.fixture
def driver(db_engine: Engine) -> Iterator[CaseDriver]:
    cache.clear()
    driver = CaseDriver(db_engine)  # checks every step's restore round trip, repairs included
    driver.deploy(ROOT / "processes")
    yield driver
    cache.clear()


def case_up_to(driver: CaseDriver, task: str) -> str:
    """A case on the main path with every step up to and including ``task`` done."""
    reference = driver.start()
    for step in MAIN.steps:
        _apply(driver, reference, step)
        if getattr(step, "task", None) == task:
            return reference
    raise AssertionError(task)


def step(driver: CaseDriver, reference: str, bpmn_id: str) -> repair.CompletedStep:
    with driver.factory() as session:
        steps = repair.completed_steps(session, commands.find_case(session, reference))
    return [s for s in steps if s.bpmn_id == bpmn_id][-1]


def correct(driver: CaseDriver, reference: str, bpmn_id: str, changes: dict[str, object], reason: str = REASON) -> None:
    done = step(driver, reference, bpmn_id)
    with driver.factory() as session, session.begin():
        case = commands.find_case(session, reference)
        data = {**repair.recorded_data(session, case, done.task_guid), **changes}
        repair.correct_task_data(
            session,
            BEHEERDER,
            reference,
            done.task_guid,
            data,
            reason=reason,
            lock_version=case.lock_version,
            clock=driver.clock,
        )
    driver.check_round_trip(reference)


def move_back(driver: CaseDriver, reference: str, bpmn_id: str, actor: Actor = BEHEERDER) -> None:
    done = step(driver, reference, bpmn_id)
    with driver.factory() as session, session.begin():
        case = commands.find_case(session, reference)
        repair.move_back(
            session,
            actor,
            reference,
            done.task_guid,
            reason=REASON,
            lock_version=case.lock_version,
            clock=driver.clock,
        )
    driver.check_round_trip(reference)


def assert_history_holds(driver: CaseDriver, reference: str) -> None:
    with driver.factory() as session:
        case = commands.find_case(session, reference)
        assert verify_case(session, case).ok
        result = replay.replay_from_start(session, case)
        assert result.ok, result.reason


def test_correcting_a_completed_steps_data_is_one_event_with_before_after_and_reason(driver: CaseDriver) -> None:
    reference = case_up_to(driver, "woningscan")
    correct(driver, reference, "intakeverslag", {"intakeverslag_samenvatting": "Gecorrigeerde samenvatting."})
    event = driver.events(reference)[-1]
    payload = payload_of(event)
    assert (event.type, event.actor, event.actor_role, payload["kind"], payload["task"]) == (
        REPAIR,
        "beheerder-1",
        "Beheerder",
        replay.CORRECT_DATA,
        "intakeverslag",
    )
    assert payload["before"]["intakeverslag_samenvatting"] == "Verhoogd risico door publieke rol in dossier X."
    assert payload["after"]["intakeverslag_samenvatting"] == "Gecorrigeerde samenvatting."
    assert payload["reason"] == REASON and crypto.is_encrypted_text(event.payload["reason"])
    assert driver.data(reference)["intakeverslag_samenvatting"] == "Gecorrigeerde samenvatting."
    guid = step(driver, reference, "intakeverslag").task_guid
    with driver.factory() as session:
        case = commands.find_case(session, reference)
        now = repair.recorded_data(session, case, guid)
    assert now["intakeverslag_samenvatting"] == "Gecorrigeerde samenvatting."
    assert [t.bpmn_id for t in driver.open_tasks(reference)] == ["conceptadvies"]
    # The case goes on from the corrected data, and its whole history re-executes through the repair.
    for next_step in MAIN.steps[
        MAIN.steps.index(next(s for s in MAIN.steps if getattr(s, "task", "") == "woningscan")) + 1 :
    ][:3]:
        _apply(driver, reference, next_step)
    assert_history_holds(driver, reference)


def test_a_correction_is_validated_against_the_steps_form_and_needs_a_reason(driver: CaseDriver) -> None:
    reference = case_up_to(driver, "intakeverslag")
    count = len(driver.events(reference))
    with pytest.raises(FormValidationError) as invalid:
        correct(driver, reference, "intakeverslag", {"intakeverslag_samenvatting": 12})
    assert invalid.value.errors[0].field == "intakeverslag_samenvatting"
    with pytest.raises(FormValidationError) as no_reason:
        correct(driver, reference, "intakeverslag", {"intakeverslag_samenvatting": "Anders."}, reason="  kort ")
    assert no_reason.value.errors[0].field == "reden"
    with pytest.raises(FormValidationError):
        correct(driver, reference, "intakeverslag", {})  # nothing changed
    assert len(driver.events(reference)) == count


def test_only_a_beheerder_repairs(driver: CaseDriver) -> None:
    reference = case_up_to(driver, "contact_organisatie")
    for role in ("CCV", "Bestuurder", "BVA", "Werkgever"):
        with pytest.raises(PermissionDeniedError):
            move_back(driver, reference, "contact_organisatie", actor=ACTORS[role])
    with pytest.raises(PermissionDeniedError):
        move_back(driver, reference, "contact_organisatie", actor=Actor("a-1", Role.AUDITOR))


def test_moving_back_opens_the_step_again_cancels_what_followed_and_replays(driver: CaseDriver) -> None:
    reference = case_up_to(driver, "woningscan")
    move_back(driver, reference, "input_organisatie")
    event = driver.events(reference)[-1]
    payload = payload_of(event)
    assert (payload["kind"], payload["before"], payload["after"]) == (
        replay.MOVE_BACK,
        {"open": ["conceptadvies"]},
        {"open": ["input_organisatie"]},
    )
    # The state is exactly the one before input_organisatie was completed.
    before_it = next(e for e in driver.events(reference) if e.seq == payload["to_seq"])
    assert event.state_hash == before_it.state_hash
    assert [t.bpmn_id for t in driver.open_tasks(reference)] == ["input_organisatie"]
    with driver.factory() as session:
        case = commands.find_case(session, reference)
        rows = {r.bpmn_id: r.state for r in session.scalars(select(HumanTask).where(HumanTask.case_id == case.id))}
        assert [s.bpmn_id for s in repair.completed_steps(session, case)] == ["aanmelding", "contact_organisatie"]
    # Undone: no longer completed in the index (their tasks are still to come, under the same guids).
    assert rows.get("intakeverslag") != "completed" and rows.get("woningscan") != "completed"
    # The same steps again, then on to the end of the advice; the whole history replays.
    for again in MAIN.steps:
        if getattr(again, "task", "") in ("input_organisatie", "intakeverslag", "woningscan", "conceptadvies"):
            _apply(driver, reference, again)
    assert [t.bpmn_id for t in driver.open_tasks(reference)] == ["vaststellen_advies"]
    assert_history_holds(driver, reference)
    move_back(driver, reference, "woningscan")  # a second repair on the new course
    assert [t.bpmn_id for t in driver.open_tasks(reference)] == ["woningscan"]
    assert_history_holds(driver, reference)


def test_a_finished_case_can_be_corrected_but_an_erased_one_not(driver: CaseDriver) -> None:
    reference = drive_path(driver, MAIN)
    correct(driver, reference, "verstrekkingsbesluit", {"besluitnummer": "DB-2024-0118"})
    assert driver.case(reference).status == "completed"
    assert driver.data(reference)["besluitnummer"] == "DB-2024-0118"
    assert_history_holds(driver, reference)
    with driver.factory() as session, session.begin():
        erase_case(session, reference, rule="completed=P7Y", reason="test", now=driver.clock() + timedelta(days=1))
    with pytest.raises(InvalidTransitionError, match="erased"):
        correct(driver, reference, "verstrekkingsbesluit", {"besluitnummer": "DB-2024-0119"})


def test_a_step_that_was_undone_cannot_be_repaired(driver: CaseDriver) -> None:
    reference = case_up_to(driver, "intakeverslag")
    undone = step(driver, reference, "intakeverslag")
    move_back(driver, reference, "input_organisatie")
    with driver.factory() as session, session.begin():
        case = commands.find_case(session, reference)
        with pytest.raises(NotFoundError):
            repair.move_back(
                session, BEHEERDER, reference, undone.task_guid, reason=REASON, lock_version=case.lock_version
            )
    assert [e.type for e in driver.events(reference)].count(REPAIR) == 1
