"""Live workflows between commands: kept only for the exact history they were built from, only after commit."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from engine import cache, commands
from tests.support import ACTORS, ROOT, CaseDriver

MINI = ROOT / "tests" / "fixtures" / "mini" / "processes"
VALID = {"naam": "Test", "posten": [{"bedrag": 600}]}


def started(engine: Engine) -> tuple[CaseDriver, str]:
    cache.clear()
    driver = CaseDriver(engine, checks=False)
    driver.deploy(MINI)
    return driver, driver.start(process_key="mini")


def test_a_committed_command_leaves_its_workflow_for_the_next_one(sqlite_engine: Engine) -> None:
    driver, reference = started(sqlite_engine)
    case = driver.case(reference)
    workflow = cache.take(reference, case.last_hash)
    assert workflow is not None
    assert [v.bpmn_id for v in workflow.ready_user_tasks()] == ["aanvragen"]
    assert cache.take(reference, case.last_hash) is None  # taken: one user at a time


def test_an_entry_for_another_history_is_never_used(sqlite_engine: Engine) -> None:
    driver, reference = started(sqlite_engine)
    assert cache.take(reference, "0" * 64) is None
    assert cache.take(reference, driver.case(reference).last_hash) is None  # the miss dropped it


def test_a_rolled_back_command_leaves_nothing_behind(sqlite_engine: Engine) -> None:
    driver, reference = started(sqlite_engine)
    case = driver.case(reference)
    task = driver.open_task(reference, "aanvragen")
    with driver.factory() as session:
        session.begin()
        commands.complete_task(
            session, ACTORS["Bestuurder"], reference, task.task_guid, VALID, lock_version=case.lock_version
        )
        session.rollback()
    assert cache.take(reference, driver.case(reference).last_hash) is None


def test_pages_that_read_leave_the_workflow_for_the_next_command_and_the_cache_stays_bounded(
    db_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:

    driver = CaseDriver(db_engine, checks=False)
    driver.deploy(ROOT / "processes")
    monkeypatch.setattr(cache, "CAPACITY", 2)
    references = [driver.start() for _ in range(3)]
    cache.clear()
    with driver.factory() as session:
        for reference in references:
            case = commands.find_case(session, reference)
            with commands.read_workflow(session, case) as workflow:
                assert workflow.ready_user_tasks()
        assert len(cache._entries) == 2  # noqa: SLF001 - the bound is the point
        last = commands.find_case(session, references[-1])
        assert cache.take(last.reference, last.last_hash) is not None  # the next command finds it
