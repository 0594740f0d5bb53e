"""Helpers for the race tests: threads released together by a barrier, and submits as a person makes them.

A worker is a callable that receives ``go``: it does what must happen before the race (open its own
session and transaction, read the form), then calls ``go()`` to wait at the barrier with the others.
Nothing here sleeps; a worker that does not finish within ``JOIN_TIMEOUT`` fails the test (a hang).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import commands
from engine.access import Actor
from engine.errors import ConflictError
from engine.history import payload_of, verify_case
from engine.model import Case, HumanTask
from tests.support import CaseDriver

JOIN_TIMEOUT = 30.0

Worker = Callable[[Callable[[], None]], Any]


def race(workers: list[Worker], timeout: float = JOIN_TIMEOUT) -> list[Any]:
    """Run each worker in its own thread; returns what each returned, or the exception it raised."""
    barrier = threading.Barrier(len(workers), timeout=timeout)
    results: list[Any] = [None] * len(workers)

    def run(index: int, worker: Worker) -> None:
        try:
            results[index] = worker(barrier.wait)
        except Exception as error:  # noqa: BLE001 - handed to the test, which asserts on it
            results[index] = error

    threads = [threading.Thread(target=run, args=(i, w), daemon=True) for i, w in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(t.is_alive() for t in threads), f"a worker did not finish within {timeout:.0f} s (a hang)"
    return results


def in_transaction(driver: CaseDriver, body: Callable[[Session], Any]) -> Worker:
    """A worker that opens its session and transaction, waits at the barrier, then runs ``body``."""

    def worker(go: Callable[[], None]) -> Any:
        with driver.factory() as session, session.begin():
            go()
            return body(session)

    return worker


def form_of(driver: CaseDriver, reference: str, bpmn_id: str, nth: int = 0) -> tuple[str, int]:
    """What a task page shows: the guid of the ``nth`` open task with this id and the case's lock_version."""
    with driver.factory() as session:
        rows = session.execute(
            select(HumanTask.task_guid, Case.lock_version)
            .join(Case, Case.id == HumanTask.case_id)
            .where(Case.reference == reference, HumanTask.bpmn_id == bpmn_id, HumanTask.state == "open")
            .order_by(HumanTask.id)
        ).all()
    assert len(rows) > nth, f"no open task {bpmn_id} #{nth} in {reference}"
    return rows[nth].task_guid, rows[nth].lock_version


def lock_version(driver: CaseDriver, reference: str) -> int:
    with driver.factory() as session:
        return commands.find_case(session, reference).lock_version


def submit(
    driver: CaseDriver,
    actor: Actor,
    reference: str,
    task_guid: str,
    data: Mapping[str, Any],
    version: int,
) -> None:
    with driver.factory() as session, session.begin():
        commands.complete_task(session, actor, reference, task_guid, data, lock_version=version, clock=driver.clock)


def submit_until_committed(
    driver: CaseDriver, actor: Actor, reference: str, task_guid: str, data: Mapping[str, Any], version: int
) -> Worker:
    """A person who submits the form they opened; on a 409 they reload the page and submit again.

    Returns the number of conflicts met before the submit committed.
    """

    def worker(go: Callable[[], None]) -> int:
        go()
        current = version
        for conflicts in range(5):
            try:
                submit(driver, actor, reference, task_guid, data, current)
            except ConflictError:
                current = lock_version(driver, reference)
                continue
            return conflicts
        raise AssertionError("five conflicts in a row")

    return worker


def completed_elements(driver: CaseDriver, reference: str) -> list[str]:
    """Every BPMN element the history says completed, in order, over all events of the case."""
    return [element for e in driver.events(reference) for element in payload_of(e).get("completed", [])]


def every_chain_verifies(driver: CaseDriver) -> list[str]:
    """The references of the cases whose hash chain does not verify (empty when all do)."""
    broken = []
    with driver.factory() as session:
        for case in session.scalars(select(Case).order_by(Case.id)):
            if not verify_case(session, case).ok:
                broken.append(case.reference)
    return broken
