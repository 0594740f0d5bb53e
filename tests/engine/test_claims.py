"""Claims through engine commands: who may take a task on, and that a claimed task is completed only by
the person who claimed it, with nothing changed when anyone else tries."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from engine import claims
from engine.access import Actor, Role
from engine.errors import ConflictError, PermissionDeniedError
from tests.processes.paths import aanmelding, advisering_tot_concept
from tests.support import ACTORS, ORGANISATION, ROOT, CaseDriver

COLLEAGUE = Actor("werkgever-2", Role.WERKGEVER, ORGANISATION)


@pytest.fixture
def driver(db_engine: Engine) -> CaseDriver:
    driver = CaseDriver(db_engine)
    driver.deploy(ROOT / "processes")
    return driver


def _at_input_organisatie(driver: CaseDriver) -> tuple[str, dict[str, str]]:
    reference = driver.start()
    first = aanmelding()
    driver.complete(reference, first.task, first.role, first.data)
    contact, input_organisatie = advisering_tot_concept()[:2]
    driver.complete(reference, contact.task, contact.role, contact.data)
    return reference, input_organisatie.data


def test_a_claimed_task_is_completed_only_by_whoever_claimed_it(driver: CaseDriver) -> None:
    reference, data = _at_input_organisatie(driver)
    guid = driver.open_task(reference, "input_organisatie").task_guid
    with driver.factory() as session, session.begin():
        claims.claim_task(session, ACTORS["Werkgever"], reference, guid, clock=driver.clock)
    before = driver.case(reference)
    with pytest.raises(PermissionDeniedError):
        driver.complete(reference, "input_organisatie", "Werkgever", data, actor=COLLEAGUE)
    after = driver.case(reference)
    assert (after.last_hash, after.lock_version) == (before.last_hash, before.lock_version)
    assert driver.open_task(reference, "input_organisatie").assignee == "werkgever-1"
    driver.complete(reference, "input_organisatie", "Werkgever", data)
    assert driver.open_task(reference, "intakeverslag").lane == "CCV"


def test_claiming_rules(driver: CaseDriver) -> None:
    reference, _data = _at_input_organisatie(driver)
    guid = driver.open_task(reference, "input_organisatie").task_guid
    with driver.factory() as session, session.begin():
        with pytest.raises(PermissionDeniedError):
            claims.claim_task(session, ACTORS["CCV"], reference, guid, clock=driver.clock)  # not its lane
    with driver.factory() as session, session.begin():
        claims.claim_task(session, ACTORS["Werkgever"], reference, guid, clock=driver.clock)
        claims.claim_task(session, ACTORS["Werkgever"], reference, guid, clock=driver.clock)  # again: no-op
    with driver.factory() as session, session.begin():
        with pytest.raises(ConflictError):
            claims.claim_task(session, COLLEAGUE, reference, guid, clock=driver.clock)
    with driver.factory() as session, session.begin():
        with pytest.raises(PermissionDeniedError):
            claims.unclaim_task(session, COLLEAGUE, reference, guid, clock=driver.clock)
    with driver.factory() as session, session.begin():
        claims.unclaim_task(session, ACTORS["Werkgever"], reference, guid, clock=driver.clock)
    assert driver.open_task(reference, "input_organisatie").assignee is None
    assert [e.type for e in driver.events(reference)][-2:] == ["task_claimed", "task_unclaimed"]
    driver.check_round_trip(reference)
