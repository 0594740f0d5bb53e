"""Every hand-over tells the next role: a task that opens for another role than the one who acted
comes with a notification to that role in the same step (the worker issue sends them)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from tests.processes.drive import drive_path
from tests.processes.paths import PATHS
from tests.processes.steps import Path
from tests.support import ROOT, CaseDriver


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_every_task_that_opens_for_another_role_is_announced_to_that_role(sqlite_engine: Engine, path: Path) -> None:
    driver = CaseDriver(sqlite_engine, checks=False)
    driver.deploy(ROOT / "processes")
    reference = drive_path(driver, path)
    silent = [
        (event.seq, event.type, event.payload.get("task"), bpmn_id, lane)
        for event in driver.events(reference)
        for bpmn_id, lane in event.payload["opened"]
        if lane != event.actor_role and lane not in {role for role, _ in event.payload["notifications"]}
    ]
    assert silent == []
