"""Engine commands on a small diagram: the rules every command keeps, on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text

from engine import commands
from engine.errors import (
    ConflictError,
    FormValidationError,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    ProcessError,
)
from engine.history import verify_case
from engine.model import Case, Event
from tests.support import ACTORS, ROOT, CaseDriver

MINI = ROOT / "tests" / "fixtures" / "mini" / "processes"
VALID = {"naam": "Test", "posten": [{"bedrag": 600}, {"bedrag": 500}]}


@pytest.fixture
def driver(db_engine: Engine) -> CaseDriver:
    driver = CaseDriver(db_engine)
    driver.deploy(MINI)
    return driver


def mini_with_script(tmp_path: Path, second_line: str) -> Path:
    """A copy of the mini bundle whose script task ends with ``second_line`` instead."""
    shutil.copytree(MINI.parent, tmp_path / "mini")
    diagram = tmp_path / "mini" / "processes" / "mini.bpmn"
    diagram.write_text(diagram.read_text().replace("urgent = totaal &gt; 1000", second_line))
    return diagram.parent


def assert_unchanged(driver: CaseDriver, reference: str, before: Case) -> None:
    """Nothing of the case was written: same version, same history, same stored state."""
    after = driver.case(reference)
    assert (after.lock_version, after.event_count, after.state) == (
        before.lock_version,
        before.event_count,
        before.state,
    )


def start(driver: CaseDriver) -> str:
    return driver.start(process_key="mini")


def test_a_case_runs_to_its_end_through_commands_only(driver: CaseDriver) -> None:
    reference = start(driver)
    assert reference == "BV-2026-0001"
    driver.complete(reference, "aanvragen", "Bestuurder", VALID)
    assert driver.data(reference)["totaal"] == 1100
    assert driver.case(reference).urgent is True
    driver.complete(reference, "beoordelen", "CCV", {"akkoord": True})
    case = driver.case(reference)
    assert (case.status, case.end_event) == ("completed", "end_klaar")
    assert [e.type for e in driver.events(reference)] == ["case_started", "task_completed", "task_completed"]
    assert [(o.recipient_role, o.template) for o in driver.outbox(reference)] == [("CCV", "aanmelding_ontvangen")]
    assert driver.open_tasks(reference) == []


def test_references_count_up_per_year(driver: CaseDriver) -> None:
    assert [start(driver) for _ in range(3)] == ["BV-2026-0001", "BV-2026-0002", "BV-2026-0003"]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"posten": []}, "naam"),
        ({**VALID, "adres": "Dorpsstraat 1"}, "adres"),
        ({**VALID, "posten": [{"bedrag": "veel"}]}, "posten/0/bedrag"),
        ({"naam": 12, "posten": []}, "naam"),
    ],
    ids=["missing", "extra", "wrong-type-nested", "wrong-type"],
)
def test_a_bad_submission_names_the_field_and_stores_nothing(
    driver: CaseDriver, data: dict[str, object], field: str
) -> None:
    reference = start(driver)
    before = driver.case(reference)
    with pytest.raises(FormValidationError) as raised:
        driver.complete(reference, "aanvragen", "Bestuurder", data)
    assert field in [e.field for e in raised.value.errors]
    assert_unchanged(driver, reference, before)
    assert "Dorpsstraat" not in str(raised.value)


def test_the_wrong_role_cannot_complete_a_task(driver: CaseDriver) -> None:
    reference = start(driver)
    with pytest.raises(PermissionDeniedError):
        driver.complete(reference, "aanvragen", "CCV", VALID)
    assert driver.case(reference).event_count == 1


def test_another_bestuurder_does_not_even_see_the_case(driver: CaseDriver) -> None:
    reference = start(driver)
    stranger = ACTORS["Bestuurder"].__class__("bestuurder-2", ACTORS["Bestuurder"].role, "gemeente-elders")
    with pytest.raises(NotFoundError):
        driver.complete(reference, "aanvragen", "Bestuurder", VALID, actor=stranger)


def test_a_werkgever_of_another_organisation_does_not_see_the_case(driver: CaseDriver) -> None:
    reference = start(driver)
    other = ACTORS["Werkgever"].__class__("werkgever-2", ACTORS["Werkgever"].role, "gemeente-elders")
    with pytest.raises(NotFoundError), driver.factory() as session, session.begin():
        commands.deliver_message(session, other, reference, "intrekken", {}, clock=driver.clock)


def test_a_stale_lock_version_is_a_conflict(driver: CaseDriver) -> None:
    reference = start(driver)
    task = driver.open_task(reference, "aanvragen")
    stale = driver.case(reference).lock_version
    driver.complete(reference, "aanvragen", "Bestuurder", VALID)
    with pytest.raises(ConflictError), driver.factory() as session, session.begin():
        commands.complete_task(
            session, ACTORS["Bestuurder"], reference, task.task_guid, VALID, lock_version=stale, clock=driver.clock
        )


def test_a_completed_task_cannot_be_completed_again(driver: CaseDriver) -> None:
    reference = start(driver)
    task = driver.open_task(reference, "aanvragen")
    driver.complete(reference, "aanvragen", "Bestuurder", VALID)
    with pytest.raises(InvalidTransitionError), driver.factory() as session, session.begin():
        commands.complete_task(
            session,
            ACTORS["Bestuurder"],
            reference,
            task.task_guid,
            VALID,
            lock_version=driver.case(reference).lock_version,
            clock=driver.clock,
        )


def test_a_task_that_is_not_ready_is_refused(driver: CaseDriver) -> None:
    reference = start(driver)
    with pytest.raises(NotFoundError), driver.factory() as session, session.begin():
        commands.complete_task(
            session,
            ACTORS["CCV"],
            reference,
            "00000000-0000-0000-0000-000000000000",
            {"akkoord": True},
            lock_version=driver.case(reference).lock_version,
            clock=driver.clock,
        )


def test_a_timer_fires_once_at_its_time_and_not_before(driver: CaseDriver) -> None:
    reference = start(driver)
    driver.complete(reference, "aanvragen", "Bestuurder", VALID)  # urgent: P2D
    due = driver.case(reference).next_timer_at
    assert due == driver.clock() + timedelta(days=2)
    assert driver.open_task(reference, "beoordelen").due_at == due
    assert driver.advance(timedelta(days=1, hours=23)) == []
    assert driver.advance(timedelta(hours=2)) == [reference]
    assert driver.advance(timedelta(days=30)) == []
    case = driver.case(reference)
    assert case.status == "active"  # the reminder is non-interrupting
    assert [o.template for o in driver.outbox(reference)] == ["aanmelding_ontvangen", "sla_contact_herinnering"]
    fired = [e for e in driver.events(reference) if e.type == "timers_fired"]
    assert len(fired) == 1 and fired[0].payload["timers"][0]["element"] == "herinnering"


def test_a_message_interrupts_the_waiting_task(driver: CaseDriver) -> None:
    reference = start(driver)
    driver.complete(reference, "aanvragen", "Bestuurder", {"naam": "x", "posten": [{"bedrag": 5}]})
    driver.message(reference, "intrekken", "Bestuurder", {"reden": "verhuisd"})
    case = driver.case(reference)
    assert (case.status, case.end_event) == ("completed", "end_ingetrokken")
    assert driver.data(reference)["intrekking"] == {"reden": "verhuisd"}
    assert all(t.state != "open" for t in driver.open_tasks(reference))


def test_a_message_nobody_waits_for_is_refused(driver: CaseDriver) -> None:
    reference = start(driver)
    with pytest.raises(InvalidTransitionError):
        driver.message(reference, "intrekken", "Bestuurder", {})


def test_the_hash_chain_verifies_and_names_an_edited_event(driver: CaseDriver) -> None:
    reference = start(driver)
    driver.complete(reference, "aanvragen", "Bestuurder", VALID)
    driver.complete(reference, "beoordelen", "CCV", {"akkoord": False})
    with driver.factory() as session:
        assert verify_case(session, commands.find_case(session, reference)).ok
    with driver.factory() as session, session.begin():
        event = session.scalars(select(Event).where(Event.seq == 2)).one()
        session.execute(text("UPDATE event SET actor = 'iemand-anders' WHERE id = :id"), {"id": event.id})
    with driver.factory() as session:
        result = verify_case(session, commands.find_case(session, reference))
    assert (result.ok, result.broken_at) == (False, 2)


def test_a_message_payload_is_checked_against_its_schema(driver: CaseDriver) -> None:
    reference = start(driver)
    driver.complete(reference, "aanvragen", "Bestuurder", {"naam": "x", "posten": [{"bedrag": 5}]})
    with pytest.raises(FormValidationError) as raised:
        driver.message(reference, "intrekken", "Bestuurder", {"reden": 12, "adres": "Synthetischestraat 1"})
    assert sorted(e.field for e in raised.value.errors) == ["adres", "reden"]
    assert driver.case(reference).status == "active"


def test_only_the_roles_a_message_names_may_send_it(driver: CaseDriver) -> None:
    reference = start(driver)
    driver.complete(reference, "aanvragen", "Bestuurder", {"naam": "x", "posten": [{"bedrag": 5}]})
    with pytest.raises(PermissionDeniedError):
        driver.message(reference, "intrekken", "Werkgever", {})
    assert driver.case(reference).event_count == 2


def test_an_unknown_message_is_refused(driver: CaseDriver) -> None:
    reference = start(driver)
    with pytest.raises(InvalidTransitionError):
        driver.message(reference, "bestaat_niet", "Bestuurder", {})


@pytest.mark.parametrize("live", [False, True], ids=["restored", "kept-live"])
def test_a_script_that_fails_leaves_the_case_at_its_last_wait_state(
    tmp_path: Path, db_engine: Engine, live: bool
) -> None:
    """Scenario F2: the error names the element, nothing is stored, and a corrected submission goes through."""
    driver = CaseDriver(db_engine, checks=not live)
    driver.deploy(mini_with_script(tmp_path, "urgent = 1000 / totaal &gt; 1"))
    reference = driver.start(process_key="mini")
    before = driver.case(reference)
    with pytest.raises(ProcessError) as raised:
        driver.complete(reference, "aanvragen", "Bestuurder", {"naam": "x", "posten": []})  # totaal = 0
    assert raised.value.element == "bereken"
    assert_unchanged(driver, reference, before)
    assert [t.bpmn_id for t in driver.open_tasks(reference)] == ["aanvragen"]
    assert driver.outbox(reference) == []
    driver.complete(reference, "aanvragen", "Bestuurder", {"naam": "x", "posten": [{"bedrag": 500}]})
    assert [t.bpmn_id for t in driver.open_tasks(reference)] == ["beoordelen"]
    driver.checks = True
    driver.check_round_trip(reference)


def test_a_script_that_leaves_a_value_json_cannot_hold_fails_cleanly(tmp_path: Path, db_engine: Engine) -> None:
    driver = CaseDriver(db_engine)
    driver.deploy(mini_with_script(tmp_path, "urgent = {totaal}"))
    reference = driver.start(process_key="mini")
    with pytest.raises(ProcessError, match="a set in .urgent.") as raised:
        driver.complete(reference, "aanvragen", "Bestuurder", VALID)
    assert raised.value.element == "bereken"
    assert driver.case(reference).event_count == 1


def test_a_command_whose_transaction_rolls_back_leaves_no_trace_and_can_be_repeated(db_engine: Engine) -> None:
    """Scenario F1: the engine advanced in memory, the commit never happened; the case is as it was."""
    driver = CaseDriver(db_engine, checks=False)  # keep live workflows: the rolled-back one must not be reused
    driver.deploy(MINI)
    reference = driver.start(process_key="mini")
    task = driver.open_task(reference, "aanvragen")
    before = driver.case(reference)
    with driver.factory() as session:
        session.begin()
        commands.complete_task(
            session, ACTORS["Bestuurder"], reference, task.task_guid, VALID, lock_version=before.lock_version
        )
        session.rollback()
    assert_unchanged(driver, reference, before)
    assert [t.bpmn_id for t in driver.open_tasks(reference)] == ["aanvragen"]
    driver.complete(reference, "aanvragen", "Bestuurder", VALID)
    assert [t.bpmn_id for t in driver.open_tasks(reference)] == ["beoordelen"]
    assert [o.template for o in driver.outbox(reference)] == ["aanmelding_ontvangen"]
    driver.checks = True
    driver.check_round_trip(reference)
