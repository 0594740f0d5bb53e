"""Reliability scenarios C1, C3, C4, C5, C10 and a claim racing a completion, on real PostgreSQL with threads.

Every worker opens its own session and transaction and waits at a barrier, so the commands reach the
database together; which one takes the case lock first is up to PostgreSQL, so each test accepts every
order the design allows and checks the outcome that order must have. After every test the hash chain of
every case in the database verifies. A worker that does not come back within 30 s fails the test.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from engine import claims, commands
from engine.access import SYSTEM, Actor, Role
from engine.errors import ConflictError, InvalidTransitionError, NotFoundError, PermissionDeniedError
from engine.model import HumanTask
from tests.concurrency.racing import (
    JOIN_TIMEOUT,
    completed_elements,
    every_chain_verifies,
    form_of,
    in_transaction,
    race,
    submit,
    submit_until_committed,
)
from tests.conftest import _empty
from tests.processes.drive import drive_path
from tests.processes.paths import (
    BEZWAARTERMIJN_VERSTREKEN,
    PATHS,
    aanmelding,
    advisering,
    besluit,
    formele_toets,
    in_natura,
    kiezen,
    pkvw_bewijs,
)
from tests.processes.steps import Complete, Path
from tests.support import ACTORS, ROOT, CaseDriver

pytestmark = pytest.mark.postgres

CCV_1 = ACTORS["CCV"]
CCV_2 = Actor("ccv-adviseur-2", Role.CCV, "ccv")
CONTACT = {
    "contactpersoon_organisatie": "Secretaris-directeur",
    "datum_contact": "2024-03-20",
    "datum_gesprek_organisatie": "2024-03-27",
}
AFTREDEN = {"datum_einde_ambt": "2027-01-31"}
CONFIRM = {"levering_bevestigd": True}
# A lock holder that never lets go must cost the caller at most this long (C10: "within a bounded time").
BOUNDED_WAIT = 10.0


@pytest.fixture
def driver(postgres_engine: Engine) -> Iterator[CaseDriver]:
    _empty(postgres_engine)
    driver = CaseDriver(postgres_engine, checks=False)
    driver.deploy(ROOT / "processes")
    yield driver
    assert every_chain_verifies(driver) == [], "a hash chain does not verify after the race"
    _empty(postgres_engine)


def case_at_contact(driver: CaseDriver, *, urgent: bool = False) -> str:
    reference = driver.start()
    driver.complete(reference, "aanmelding", "Bestuurder", aanmelding(functie="burgemeester", acuut=urgent).data)
    return reference


def types(driver: CaseDriver, reference: str) -> list[str]:
    return [e.type for e in driver.events(reference)]


def open_ids(driver: CaseDriver, reference: str) -> list[str]:
    return sorted(t.bpmn_id for t in driver.open_tasks(reference))


def names(results: list[Any]) -> list[str]:
    return sorted(type(r).__name__ for r in results)


# ------------------------------------------------------------------------------------------------ C1


def test_two_advisers_submit_the_same_task_at_once_and_exactly_one_commits(driver: CaseDriver) -> None:
    """C1 with two people (test_locking has the same person twice): one commit, one refusal, one event."""
    reference = case_at_contact(driver)
    guid, version = form_of(driver, reference, "contact_organisatie")

    def by(actor: Actor) -> Callable[[Session], str]:
        def body(session: Session) -> str:
            commands.complete_task(session, actor, reference, guid, CONTACT, lock_version=version, clock=driver.clock)
            return actor.id

        return body

    results = race([in_transaction(driver, by(CCV_1)), in_transaction(driver, by(CCV_2))])

    winners = [r for r in results if isinstance(r, str)]
    losers = [r for r in results if not isinstance(r, str)]
    assert len(winners) == 1 and len(losers) == 1, results
    # The loser waited for the lock, then found the version moved on (or, as a CCV adviser who is not
    # the case's adviser now, no longer sees the case).
    assert isinstance(losers[0], ConflictError | InvalidTransitionError | NotFoundError), results
    assert Counter(types(driver, reference))["task_completed"] == 2  # aanmelding and this one
    with driver.factory() as session:
        rows = session.scalars(select(HumanTask).where(HumanTask.bpmn_id == "contact_organisatie")).all()
    assert [(r.state, r.finished_by) for r in rows] == [("completed", winners[0])]
    assert driver.case(reference).ccv_adviser == winners[0]
    assert open_ids(driver, reference) == ["input_organisatie"]


# ------------------------------------------------------------------------------------------------ C3


def case_with_two_measures_in_kind(driver: CaseDriver) -> str:
    """The main path up to the verstrekkingsbesluit: two measures are carried out in parallel."""
    steps = (aanmelding(), *advisering(), kiezen(True, True, False, False), formele_toets(), besluit("in_natura"))
    reference = drive_path(driver, Path(name="tot_uitvoering", description="", steps=steps, end_event=""))
    assert open_ids(driver, reference) == ["maatregel_bestellen", "maatregel_bestellen"]
    return reference


def sequential_baseline(driver: CaseDriver) -> Counter[str]:
    """The elements completed on the same way driven one step at a time, up to financiele_registratie."""
    steps = (aanmelding(), *advisering(), kiezen(True, True, False, False), formele_toets(), besluit("in_natura"))
    steps += tuple(in_natura(2)) + (BEZWAARTERMIJN_VERSTREKEN,)
    reference = drive_path(driver, Path(name="na_elkaar", description="", steps=steps, end_event=""))
    assert open_ids(driver, reference) == ["financiele_registratie"]
    return Counter(completed_elements(driver, reference))


def both_branches_at_once(driver: CaseDriver, reference: str, step: Complete, *extra: Any) -> list[Any]:
    """The two open ``step.task`` tasks submitted at one moment, each from the form its user had open."""
    first, version = form_of(driver, reference, step.task, 0)
    second, _ = form_of(driver, reference, step.task, 1)
    actor = ACTORS[step.role]
    workers = [
        submit_until_committed(driver, actor, reference, first, step.data, version),
        submit_until_committed(driver, actor, reference, second, step.data, version),
        *extra,
    ]
    return race(workers)


def test_parallel_branches_completed_at_once_both_commit_and_the_multi_instance_joins_once(
    driver: CaseDriver,
) -> None:
    """C3: the two measure branches reach each step together; both commit in some order, one join."""
    reference = case_with_two_measures_in_kind(driver)
    order = Complete(
        "maatregel_bestellen",
        "Werkgever",
        {"leverancier": "Beveiliging Midden BV", "opdrachtnummer": "PO-1", "besteldatum": "2024-06-10"},
    )
    results = both_branches_at_once(driver, reference, order)
    # Both forms carried the same lock_version: the second to lock the case met a stale version (409),
    # reloaded and committed. Completing one branch changes the case, so its sibling's open form is stale.
    assert sorted(results) == [0, 1], results
    assert open_ids(driver, reference) == ["maatregel_opleveren", "maatregel_opleveren"]

    for n in range(2):
        driver.complete(
            reference,
            "maatregel_opleveren",
            "Werkgever",
            {"opleverdatum": "2024-07-01", "opleverrapport": f"doc-oplevering-{n}", "werkelijke_kosten": 1000 + n},
        )
    confirm = Complete("levering_bevestigen", "Bestuurder", {"levering_bevestigd": True})
    results = both_branches_at_once(driver, reference, confirm)

    assert sorted(results) == [0, 1], results
    assert open_ids(driver, reference) == []
    assert Counter(completed_elements(driver, reference))["gw_uitvoering_join"] == 0  # bezwaar still waits
    assert driver.advance(BEZWAARTERMIJN_VERSTREKEN.by) == [reference]
    assert open_ids(driver, reference) == ["financiele_registratie"]
    # Every element completed as often as on the same path driven one step at a time: one join, no
    # orphaned or doubled token.
    assert Counter(completed_elements(driver, reference)) == sequential_baseline(driver)
    assert Counter(completed_elements(driver, reference))["gw_uitvoering_join"] == 1


def test_last_branch_completion_and_the_other_branchs_timer_reach_the_join_at_once(driver: CaseDriver) -> None:
    """C3 at the parallel gateway itself: the last delivery is confirmed while the objection term's timer
    fires; whichever order PostgreSQL picks, the join fires once and one task follows it."""
    reference = case_with_two_measures_in_kind(driver)
    for n in range(2):
        driver.complete(
            reference,
            "maatregel_bestellen",
            "Werkgever",
            {"leverancier": "Beveiliging Midden BV", "opdrachtnummer": f"PO-{n}", "besteldatum": "2024-06-10"},
        )
    for n in range(2):
        driver.complete(
            reference,
            "maatregel_opleveren",
            "Werkgever",
            {"opleverdatum": "2024-07-01", "opleverrapport": f"doc-{n}", "werkelijke_kosten": 1000 + n},
        )
    driver.complete(reference, "levering_bevestigen", "Bestuurder", {"levering_bevestigd": True})
    driver.clock.advance(BEZWAARTERMIJN_VERSTREKEN.by)  # the term is due; no worker has fired it yet
    guid, version = form_of(driver, reference, "levering_bevestigen")

    results = race(
        [
            submit_until_committed(
                driver, ACTORS["Bestuurder"], reference, guid, {"levering_bevestigd": True}, version
            ),
            in_transaction(driver, lambda s: commands.fire_due_timers(s, SYSTEM, clock=driver.clock)),
        ]
    )

    conflicts, fired = results
    assert conflicts in (0, 1) and fired in ([], [reference]), results
    # The timer won (and the confirmation met a stale form once), or the confirmation won: its own step then
    # took the due term along (a command fires what is due at its moment), and the worker found the case
    # locked (SKIP LOCKED) or no longer due.
    assert (conflicts, Counter(types(driver, reference))["timers_fired"]) == ((1, 1) if fired else (0, 0)), results
    assert Counter(completed_elements(driver, reference)) == sequential_baseline(driver)
    assert Counter(completed_elements(driver, reference))["gw_uitvoering_join"] == 1
    assert open_ids(driver, reference) == ["financiele_registratie"]
    assert driver.advance(timedelta(0)) == []


# ------------------------------------------------------------------------------------------------ C4


def test_the_same_message_correlated_twice_at_once_is_delivered_once(driver: CaseDriver) -> None:
    reference = case_at_contact(driver)

    def deliver(session: Session) -> str:
        commands.deliver_message(session, ACTORS["Werkgever"], reference, "aftreden", AFTREDEN, clock=driver.clock)
        return "delivered"

    results = race([in_transaction(driver, deliver), in_transaction(driver, deliver)])

    assert names(results) == ["InvalidTransitionError", "str"], results
    assert Counter(types(driver, reference))["message_delivered"] == 1
    assert open_ids(driver, reference) == ["afbouw_na_aftreden"]
    outbox = driver.outbox(reference)
    assert len({o.idempotency_key for o in outbox}) == len(outbox)


# ------------------------------------------------------------------------------------------------ C5


def test_an_interrupting_message_racing_a_user_completion_leaves_one_consistent_order(driver: CaseDriver) -> None:
    """C5 with a message: aftreden interrupts the treatment while the adviser submits contact_organisatie."""
    reference = case_at_contact(driver)
    guid, version = form_of(driver, reference, "contact_organisatie")

    def complete(session: Session) -> str:
        commands.complete_task(session, CCV_1, reference, guid, CONTACT, lock_version=version, clock=driver.clock)
        return "completed"

    def deliver(session: Session) -> str:
        commands.deliver_message(session, ACTORS["Werkgever"], reference, "aftreden", AFTREDEN, clock=driver.clock)
        return "delivered"

    results = race([in_transaction(driver, complete), in_transaction(driver, deliver)])

    assert results[1] == "delivered", results
    history = types(driver, reference)
    if results[0] == "completed":  # the adviser was first; the message then interrupted the next step
        assert history[-2:] == ["task_completed", "message_delivered"]
    else:  # the message was first: the open form is stale and the task was cancelled with the treatment
        assert isinstance(results[0], ConflictError), results
        assert history[-1] == "message_delivered" and history.count("task_completed") == 1
    assert open_ids(driver, reference) == ["afbouw_na_aftreden"]
    with driver.factory() as session:
        contact = session.scalars(select(HumanTask).where(HumanTask.bpmn_id == "contact_organisatie")).one()
    assert contact.state == ("completed" if results[0] == "completed" else "cancelled")


def test_an_interrupting_timer_racing_a_user_completion_lets_exactly_one_path_win(driver: CaseDriver) -> None:
    """C5: the 12-month closing timer is due as the bestuurder finally uploads the PKVW proof."""
    path = next(p for p in PATHS if p.name == "pkvw_gesloten_na_12_maanden")
    reference = drive_path(driver, dataclasses.replace(path, steps=path.steps[:-1]))
    driver.clock.advance(timedelta(days=280))
    guid, version = form_of(driver, reference, "pkvw_bewijs_uploaden")
    data = pkvw_bewijs().data

    def complete(session: Session) -> str:
        commands.complete_task(
            session, ACTORS["Bestuurder"], reference, guid, data, lock_version=version, clock=driver.clock
        )
        return "completed"

    results = race(
        [
            in_transaction(driver, complete),
            in_transaction(driver, lambda s: commands.fire_due_timers(s, SYSTEM, clock=driver.clock)),
        ]
    )

    completed, fired = results
    case = driver.case(reference)
    with driver.factory() as session:
        upload = session.scalars(select(HumanTask).where(HumanTask.bpmn_id == "pkvw_bewijs_uploaden")).one()
    if fired == [reference]:  # the timer won: the case closed and the late upload was refused
        assert isinstance(completed, ConflictError | InvalidTransitionError), results
        assert (case.status, case.end_event) == ("completed", "end_gesloten_zonder_pkvw")
        assert upload.state == "cancelled"
    else:  # the upload won: the closing timer went with the task, and the worker found nothing due
        assert (completed, fired) == ("completed", []), results
        assert upload.state == "completed"
        assert case.end_event != "end_gesloten_zonder_pkvw"
        assert driver.advance(timedelta(0)) == []
    assert "pkvw_gesloten" not in [o.template for o in driver.outbox(reference)] or fired == [reference]


def test_a_reminder_timer_racing_the_completion_of_its_task_fires_at_most_once(driver: CaseDriver) -> None:
    """C5 with a non-interrupting timer: the urgent contact SLA reminder falls due as the adviser submits."""
    reference = case_at_contact(driver, urgent=True)
    driver.clock.advance(timedelta(days=3))
    guid, version = form_of(driver, reference, "contact_organisatie")

    results = race(
        [
            submit_until_committed(driver, CCV_1, reference, guid, CONTACT, version),
            in_transaction(driver, lambda s: commands.fire_due_timers(s, SYSTEM, clock=driver.clock)),
        ]
    )

    conflicts, fired = results
    reminders = [o.template for o in driver.outbox(reference)].count("sla_contact_herinnering")
    if fired == [reference]:
        # The reminder fired first; it changed the case, so the adviser's open form was stale (one 409).
        assert (conflicts, reminders) == (1, 1), results
    else:
        assert (conflicts, fired, reminders) == (0, [], 0), results
    assert driver.advance(timedelta(0)) == []
    assert "contact_organisatie" not in open_ids(driver, reference)


# --------------------------------------------------------------------------------------- claim vs complete


def test_a_claim_racing_a_completion_by_a_colleague_never_both_take_effect(driver: CaseDriver) -> None:
    reference = case_at_contact(driver)
    guid, version = form_of(driver, reference, "contact_organisatie")

    def complete(session: Session) -> str:
        commands.complete_task(session, CCV_1, reference, guid, CONTACT, lock_version=version, clock=driver.clock)
        return "completed"

    def claim(session: Session) -> str:
        claims.claim_task(session, CCV_2, reference, guid, clock=driver.clock)
        return "claimed"

    completed, claimed = race([in_transaction(driver, complete), in_transaction(driver, claim)])

    with driver.factory() as session:
        task = session.scalars(select(HumanTask).where(HumanTask.task_guid == guid)).one()
    history = types(driver, reference)
    if claimed == "claimed":  # the claim was first: the colleague's completion is refused, nothing written
        # The claim made the case the claimer's, so the colleague no longer sees it (404); had the case
        # been theirs already, the closing statement's assignee check would refuse it (403).
        assert isinstance(completed, NotFoundError | PermissionDeniedError), (completed, claimed)
        assert (task.state, task.assignee) == ("open", CCV_2.id)
        assert history[-1] == "task_claimed" and history.count("task_completed") == 1
        assert driver.case(reference).lock_version == version  # a claim leaves open forms valid
        submit(driver, CCV_2, reference, guid, CONTACT, version)  # and the claimer can finish the task
        assert open_ids(driver, reference) == ["input_organisatie"]
    else:  # the completion was first: the task is gone (and the case is now the other adviser's)
        assert completed == "completed"
        assert isinstance(claimed, InvalidTransitionError | NotFoundError), (completed, claimed)
        assert (task.state, task.finished_by) == ("completed", CCV_1.id)
        assert "task_claimed" not in history


# ----------------------------------------------------------------------------------------------- C10


def hold_the_case_lock(driver: CaseDriver, reference: str) -> tuple[threading.Thread, threading.Event]:
    """A command that takes the case lock and keeps it until the returned event is set (a stuck holder)."""
    locked, release = threading.Event(), threading.Event()

    def holder() -> None:
        with driver.factory() as session, session.begin():
            commands.lock_case(session, reference, None)
            locked.set()
            release.wait(JOIN_TIMEOUT)

    thread = threading.Thread(target=holder, daemon=True)
    thread.start()
    assert locked.wait(JOIN_TIMEOUT), "the holder never got the lock"
    return thread, release


def contend(driver: CaseDriver, reference: str, setup: Callable[[Session], None]) -> tuple[list[Any], bool]:
    """Submit contact_organisatie while another transaction holds the case lock.

    Returns (what the submit returned or raised, whether it came back within BOUNDED_WAIT); the holder is
    released afterwards either way, so the test itself never hangs.
    """
    guid, version = form_of(driver, reference, "contact_organisatie")
    holder, release = hold_the_case_lock(driver, reference)
    outcome: list[Any] = []

    def contender() -> None:
        try:
            with driver.factory() as session, session.begin():
                setup(session)
                commands.complete_task(
                    session, CCV_1, reference, guid, CONTACT, lock_version=version, clock=driver.clock
                )
            outcome.append("completed")
        except Exception as error:  # noqa: BLE001 - asserted on by the test
            outcome.append(error)

    thread = threading.Thread(target=contender, daemon=True)
    thread.start()
    thread.join(BOUNDED_WAIT)
    bounded = not thread.is_alive()
    release.set()
    holder.join(JOIN_TIMEOUT)
    thread.join(JOIN_TIMEOUT)
    assert not holder.is_alive() and not thread.is_alive(), "hang after the holder let go"
    return outcome, bounded


def test_lock_contention_beyond_the_budget_is_a_conflict_within_a_bounded_time(driver: CaseDriver) -> None:
    reference = case_at_contact(driver)
    outcome, bounded = contend(driver, reference, lambda _session: None)
    assert bounded, f"the command still waited for the case lock after {BOUNDED_WAIT:.0f} s"
    assert isinstance(outcome[0], ConflictError), outcome


def test_a_lock_timeout_on_the_session_surfaces_as_a_conflict(driver: CaseDriver) -> None:
    reference = case_at_contact(driver)

    def short_lock_timeout(session: Session) -> None:
        session.connection().exec_driver_sql("SET LOCAL lock_timeout = '500ms'")

    outcome, bounded = contend(driver, reference, short_lock_timeout)
    assert bounded
    assert isinstance(outcome[0], ConflictError), outcome


def test_a_lock_timeout_bounds_the_wait_and_changes_nothing(driver: CaseDriver) -> None:
    """What PostgreSQL gives today when the session asks for it: the wait ends, nothing is written, and
    the same submit succeeds once the holder has let go."""
    reference = case_at_contact(driver)
    before = driver.case(reference)

    def short_lock_timeout(session: Session) -> None:
        session.connection().exec_driver_sql("SET LOCAL lock_timeout = '500ms'")

    outcome, bounded = contend(driver, reference, short_lock_timeout)

    assert bounded, outcome
    assert isinstance(outcome[0], ConflictError), outcome
    after = driver.case(reference)
    assert (after.lock_version, after.event_count) == (before.lock_version, before.event_count)
    guid, version = form_of(driver, reference, "contact_organisatie")
    submit(driver, CCV_1, reference, guid, CONTACT, version)
    assert open_ids(driver, reference) == ["input_organisatie"]
