"""Commands racing on one PostgreSQL database from real threads: the case lock keeps every step whole.

Each worker opens its own session and transaction, then waits at a barrier so the commands start together.
A worker that never comes back (a deadlock the database does not detect) fails the test after 30 seconds.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session

from engine import commands
from engine.access import SYSTEM, Actor, Role
from engine.errors import ConflictError
from engine.history import payload_of, verify_case
from engine.model import Case, Event, HumanTask, ReferenceCounter
from tests.conftest import _empty
from tests.processes.drive import drive_path
from tests.processes.paths import PATHS, aanmelding
from tests.support import ACTORS, ORGANISATION, ROOT, CaseDriver

pytestmark = pytest.mark.postgres

JOIN_TIMEOUT = 30.0


@pytest.fixture
def driver(postgres_engine: Engine) -> Iterator[CaseDriver]:
    _empty(postgres_engine)
    # The state round trip is checked by the path tests; here the locks are under test.
    driver = CaseDriver(postgres_engine, checks=False)
    driver.deploy(ROOT / "processes")
    yield driver
    _empty(postgres_engine)


def race(driver: CaseDriver, workers: list[Callable[[Session], Any]]) -> list[Any]:
    """Run each worker in its own thread, session and transaction, all released at once by a barrier.

    Returns what each worker returned, or the exception it raised (the transaction is then rolled back).
    """
    barrier = threading.Barrier(len(workers), timeout=JOIN_TIMEOUT)
    results: list[Any] = [None] * len(workers)

    def run(index: int, worker: Callable[[Session], Any]) -> None:
        try:
            with driver.factory() as session, session.begin():
                barrier.wait()
                results[index] = worker(session)
        except Exception as error:  # noqa: BLE001 - handed to the test, which asserts on it
            results[index] = error

    threads = [threading.Thread(target=run, args=(i, w), daemon=True) for i, w in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a worker did not finish within 30 s (deadlock?)"
    return results


def events_of(driver: CaseDriver, reference: str) -> list[str]:
    return [e.type for e in driver.events(reference)]


def chain_ok(driver: CaseDriver, reference: str) -> bool:
    with driver.factory() as session:
        return verify_case(session, commands.find_case(session, reference)).ok


# ------------------------------------------------------------------------------------------------ C1


def test_two_submits_of_one_task_at_the_same_moment_commit_exactly_once(driver: CaseDriver) -> None:
    reference = driver.start()
    task = driver.open_task(reference, "aanmelding")
    lock_version = driver.case(reference).lock_version
    data = aanmelding().data

    def submit(session: Session) -> str:
        case = commands.complete_task(
            session,
            ACTORS["Bestuurder"],
            reference,
            task.task_guid,
            data,
            lock_version=lock_version,
            clock=driver.clock,
        )
        return case.reference

    results = race(driver, [submit, submit])

    assert sorted(type(r).__name__ for r in results) in (
        ["ConflictError", "str"],
        ["InvalidTransitionError", "str"],
    ), results
    assert results.count(reference) == 1
    assert events_of(driver, reference) == ["case_started", "task_completed"]
    outbox = driver.outbox(reference)
    assert [(o.recipient_role, o.template) for o in outbox] == [
        ("CCV", "aanmelding_ontvangen"),
        ("Bestuurder", "aanmelding_bevestigd"),
    ]
    assert len({o.idempotency_key for o in outbox}) == len(outbox)
    with driver.factory() as session:
        rows = session.scalars(select(HumanTask).where(HumanTask.bpmn_id == "aanmelding")).all()
    assert [(r.state, r.finished_by) for r in rows] == [("completed", "bestuurder-1")]
    case = driver.case(reference)
    assert (case.lock_version, case.event_count) == (lock_version + 1, 2)
    assert chain_ok(driver, reference)


# ------------------------------------------------------------------------------------------------ C2


def test_a_second_submit_with_the_old_lock_version_is_a_conflict_and_writes_nothing(driver: CaseDriver) -> None:
    reference = driver.start()
    task = driver.open_task(reference, "aanmelding")
    lock_version = driver.case(reference).lock_version
    first = aanmelding().data
    second = {**first, "functie": "burgemeester", "naam": "Tweede Poging"}

    def submit(data: dict[str, Any]) -> None:
        with driver.factory() as session, session.begin():
            commands.complete_task(
                session,
                ACTORS["Bestuurder"],
                reference,
                task.task_guid,
                data,
                lock_version=lock_version,
                clock=driver.clock,
            )

    submit(first)
    after_first = driver.case(reference)
    with pytest.raises(ConflictError):
        submit(second)

    case = driver.case(reference)
    assert (case.lock_version, case.event_count, case.state) == (
        after_first.lock_version,
        after_first.event_count,
        after_first.state,
    )
    completed = [e for e in driver.events(reference) if e.type == "task_completed"]
    assert len(completed) == 1
    data = payload_of(completed[0])["data"]
    assert (data["functie"], data["naam"]) == (
        "wethouder",
        "Synthetische Bestuurder",
    )
    assert driver.data(reference)["functie"] == "wethouder"
    assert len(driver.outbox(reference)) == 2


# ------------------------------------------------------------------------------------------ references


def test_eight_cases_started_at_once_get_distinct_consecutive_references(driver: CaseDriver) -> None:
    def starter(number: int) -> Callable[[Session], str]:
        actor = Actor(f"bestuurder-{number}", Role.BESTUURDER, ORGANISATION)
        return lambda session: commands.start_case(session, actor, clock=driver.clock).reference

    # First round: the year's counter row does not exist yet, so all eight race to insert it.
    first = race(driver, [starter(n) for n in range(1, 9)])
    # Second round: the row exists and SELECT ... FOR UPDATE queues the eight behind each other.
    second = race(driver, [starter(n) for n in range(9, 17)])

    assert not [r for r in first + second if isinstance(r, BaseException)], first + second
    assert sorted(first) == [f"BV-2026-{n:04d}" for n in range(1, 9)]
    assert sorted(second) == [f"BV-2026-{n:04d}" for n in range(9, 17)]
    with driver.factory() as session:
        owners = {r: b for r, b in session.execute(select(Case.reference, Case.bestuurder))}
        counter = session.scalars(select(ReferenceCounter)).one()
        started = session.scalar(select(func.count()).select_from(Event).where(Event.type == "case_started"))
    assert len(set(owners.values())) == 16
    assert [owners[r] for r in first] == [f"bestuurder-{n}" for n in range(1, 9)]
    assert (counter.year, counter.last, started) == (2026, 16, 16)
    assert all(chain_ok(driver, r) for r in owners)


# ---------------------------------------------------------------------------------------------- timers


def cases_waiting_on_the_contact_reminder(driver: CaseDriver, count: int) -> list[str]:
    """Urgent cases at contact_organisatie; each one's SLA reminder (P2D) is due a minute after the last's."""
    references = []
    for _ in range(count):
        reference = driver.start()
        driver.complete(reference, "aanmelding", "Bestuurder", aanmelding(functie="burgemeester", acuut=True).data)
        assert driver.case(reference).next_timer_at == driver.clock() + timedelta(days=2)
        references.append(reference)
        driver.clock.advance(timedelta(minutes=1))
    return references


def reminders(driver: CaseDriver, reference: str) -> list[str]:
    return [o.template for o in driver.outbox(reference) if o.template == "sla_contact_herinnering"]


def test_two_timer_workers_at_once_fire_every_due_timer_exactly_once(driver: CaseDriver) -> None:
    references = cases_waiting_on_the_contact_reminder(driver, 5)
    driver.clock.advance(timedelta(days=3))

    def worker(session: Session) -> list[str]:
        return commands.fire_due_timers(session, SYSTEM, clock=driver.clock)

    results = race(driver, [worker, worker])

    # Both read the same due cases; each skips the rows the other holds (SKIP LOCKED) and re-checks
    # under its lock that a case is still due, so the cases are shared out and none fires twice.
    assert not [r for r in results if isinstance(r, BaseException)], results
    fired = [reference for result in results for reference in result]
    assert sorted(fired) == references
    for reference in references:
        assert Counter(events_of(driver, reference))["timers_fired"] == 1
        assert reminders(driver, reference) == ["sla_contact_herinnering"]
        assert driver.open_task(reference, "contact_organisatie").state == "open"
        assert chain_ok(driver, reference)
    with driver.factory() as session, session.begin():
        assert commands.fire_due_timers(session, SYSTEM, clock=driver.clock) == []


def run_worker_before_the_first_row_lock(session: Session, worker: Callable[[], object]) -> None:
    """Make ``session`` run ``worker`` (another transaction) between its first read and its first row lock."""
    connection = session.connection()
    done = []

    @event.listens_for(connection, "before_cursor_execute")
    def _interleave(*args: Any) -> None:
        statement = args[2]
        if "FOR UPDATE" in statement and not done:
            done.append(True)
            worker()

    assert not done


def fire_while_another_worker_overtakes(driver: CaseDriver) -> tuple[list[str], list[str]]:
    """A worker reads the due cases; another fires and commits before the first locks a row.
    Returns what each fired: (the one that overtook, the one that was overtaken)."""
    other: list[list[str]] = []

    def other_worker() -> None:
        with driver.factory() as session, session.begin():
            other.append(commands.fire_due_timers(session, SYSTEM, clock=driver.clock))

    with driver.factory() as session, session.begin():
        run_worker_before_the_first_row_lock(session, other_worker)
        late = commands.fire_due_timers(session, SYSTEM, clock=driver.clock)
    return other[0], late


def test_a_timer_worker_that_finds_the_timer_fired_by_another_after_its_read_fires_nothing(
    driver: CaseDriver,
) -> None:
    (reference,) = cases_waiting_on_the_contact_reminder(driver, 1)
    driver.clock.advance(timedelta(days=3))
    assert fire_while_another_worker_overtakes(driver) == ([reference], [])
    assert Counter(events_of(driver, reference))["timers_fired"] == 1
    assert reminders(driver, reference) == ["sla_contact_herinnering"]


def test_a_timer_worker_skips_a_case_that_another_worker_closed_after_its_read(driver: CaseDriver) -> None:
    path = next(p for p in PATHS if p.name == "pkvw_gesloten_na_12_maanden")
    # Everything up to the last step: the reminder has fired, the 12-month closing timer waits.
    reference = drive_path(driver, dataclasses.replace(path, steps=path.steps[:-1]))
    driver.clock.advance(timedelta(days=280))
    assert fire_while_another_worker_overtakes(driver) == ([reference], [])
    case = driver.case(reference)
    assert (case.status, case.end_event) == ("completed", "end_gesloten_zonder_pkvw")
