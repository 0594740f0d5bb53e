"""Restoring a case from its last snapshot plus the events since: exactly the workflow the commands built."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine, select, text, update

from engine import cache, commands, demo, replay
from engine.errors import ProcessError
from engine.model import Case, Event
from engine.runtime import Workflow
from tests.support import ROOT, CaseDriver

LOOP = ROOT / "bench" / "loop" / "processes"
ROUND = {"doorgaan": True, "toelichting": "nog een ronde"}


@pytest.fixture
def driver(db_engine: Engine) -> CaseDriver:
    cache.clear()
    driver = CaseDriver(db_engine, checks=False)
    driver.deploy(LOOP)
    return driver


def rounds(driver: CaseDriver, reference: str, count: int) -> None:
    for _ in range(count):
        driver.complete(reference, "herzien", "CCV", ROUND)


def restored(driver: CaseDriver, reference: str) -> Workflow:
    cache.clear()
    with driver.factory() as session:
        return commands.load_workflow(session, commands.find_case(session, reference))


def snapshot_seq(driver: CaseDriver, reference: str) -> int:
    seq = json.loads(replay.stored_state(driver.case(reference)))["engine_event_seq"]
    assert isinstance(seq, int)
    return seq


def test_a_restore_reruns_fewer_than_a_few_events_and_gives_the_live_workflow(driver: CaseDriver) -> None:
    reference = driver.start(process_key="lus")
    assert snapshot_seq(driver, reference) == 1
    behind_seen = set()
    for _ in range(2 * replay.SNAPSHOT_EVERY):
        rounds(driver, reference, 1)
        case = driver.case(reference)
        behind = case.event_count - snapshot_seq(driver, reference)
        live = cache.take(reference, case.last_hash)
        assert live is not None
        again = restored(driver, reference)
        assert behind < replay.SNAPSHOT_EVERY
        assert json.loads(again.to_state()) == json.loads(live.to_state())  # guids and timestamps included
        assert again.state_hash() == driver.events(reference)[-1].state_hash
        assert [v.guid for v in again.ready_user_tasks()] == [t.task_guid for t in driver.open_tasks(reference)]
        assert again.drain_completed() == [] and again.drain_notifications() == []
        assert again.index_changes() == (set(), [], [])  # the index already holds what the replay opened
        behind_seen.add(behind)
    assert max(behind_seen) > 1  # cheap rounds share a snapshot: not every command stores the workflow


def test_a_command_that_runs_many_tasks_stores_the_workflow_at_once(db_engine: Engine) -> None:
    cache.clear()
    driver = CaseDriver(db_engine, checks=False)
    driver.deploy(ROOT / "processes")
    reference = driver.start()
    driver.complete(
        reference,
        "aanmelding",
        "Bestuurder",
        demo.aanmelding("Test Bestuurder", "burgemeester", ("Gemeente Voorbeeldstad", "gemeente")),
    )
    case = driver.case(reference)
    # The aanmelding runs the eligibility table, its gateways and the start of the behandeling: the page
    # of the next task restores the workflow from this snapshot instead of running all that again.
    assert snapshot_seq(driver, reference) == case.event_count


def test_a_completed_case_stores_its_final_state(driver: CaseDriver) -> None:
    reference = driver.start(process_key="lus")
    rounds(driver, reference, 2)
    driver.complete(reference, "herzien", "CCV", {"doorgaan": False, "toelichting": "klaar"})
    case = driver.case(reference)
    assert (case.status, snapshot_seq(driver, reference)) == ("completed", case.event_count)


def test_task_guids_differ_between_cases_and_between_rounds(driver: CaseDriver) -> None:
    first, second = driver.start(process_key="lus"), driver.start(process_key="lus")
    guids = {driver.open_task(first, "herzien").task_guid, driver.open_task(second, "herzien").task_guid}
    rounds(driver, first, 1)
    guids.add(driver.open_task(first, "herzien").task_guid)
    assert len(guids) == 3


def test_a_state_stored_before_snapshots_were_marked_is_taken_as_the_latest(driver: CaseDriver) -> None:
    reference = driver.start(process_key="lus")
    rounds(driver, reference, 3)
    live = restored(driver, reference)
    with driver.factory() as session, session.begin():
        # What every command stored before this change: the whole state, without the event it follows.
        session.execute(update(Case).where(Case.reference == reference).values(state=live.to_state()))
    rounds(driver, reference, 1)  # restores the unmarked state, then stores a marked snapshot
    assert snapshot_seq(driver, reference) == 5
    assert restored(driver, reference).state_hash() == driver.events(reference)[-1].state_hash


def test_a_history_edited_after_the_snapshot_does_not_replay(driver: CaseDriver) -> None:
    reference = driver.start(process_key="lus")
    rounds(driver, reference, 3)
    with driver.factory() as session, session.begin():
        event = session.scalars(select(Event).where(Event.seq == 3)).one()
        payload = {**event.payload, "data": {"doorgaan": False, "toelichting": "anders"}}
        session.execute(update(Event).where(Event.id == event.id).values(payload=payload))
    with pytest.raises(ProcessError, match="replaying event 3"):
        restored(driver, reference)


def test_a_missing_event_is_named(driver: CaseDriver) -> None:
    reference = driver.start(process_key="lus")
    rounds(driver, reference, 3)
    with driver.factory() as session, session.begin():
        session.execute(text("DELETE FROM event WHERE seq = 3"))
    with pytest.raises(ProcessError, match="event 3 is missing"):
        restored(driver, reference)
