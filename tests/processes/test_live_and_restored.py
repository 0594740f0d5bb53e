"""A case that runs on in memory and the same case restored from the database must go the same way.

The web processes and workers keep a case's workflow between commands when they can (engine/cache.py) and
restore it from its snapshot plus the events since when they cannot, so one history is recorded by both. The
path tests restore after every step; here every path runs on in memory instead, and after every step the case
is restored beside it from the database, as a process that just started restores it (its diagrams parsed
anew), and compared, snapshot points included (replay.SNAPSHOT_EVERY and SNAPSHOT_TASKS). Two SpiffWorkflow
habits made them differ: its data merge shared the dicts of a list between tasks in memory only (the second
round of a heradvies changed a finished task's copy of the measures), and a multi-instance task heard its
instances complete only in a process that had created one (after a restore elsewhere the measures never
finished; the topology test's workers met that).
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine

from engine import bundles, cache, commands, replay
from tests.processes.drive import drive_path
from tests.processes.paths import PATHS
from tests.processes.steps import Path
from tests.support import ROOT, CaseDriver


@pytest.fixture
def driver(db_engine: Engine) -> CaseDriver:
    cache.clear()
    driver = CaseDriver(db_engine, checks=False)  # no check: it would drop the workflow kept in memory
    driver.deploy(ROOT / "processes")
    return driver


@pytest.mark.parametrize("path", PATHS, ids=lambda path: path.name)
def test_a_case_kept_in_memory_and_the_same_case_restored_agree_after_every_step(
    driver: CaseDriver, path: Path
) -> None:
    def compare(reference: str) -> None:
        with driver.factory() as session:
            case = commands.find_case(session, reference)
            live = cache.take(case.reference, case.last_hash)
            assert live is not None, "the command left its workflow in the cache"
            bundles.forget_compiled()
            restored = replay.restore(session, case)
            assert json.loads(restored.to_state()) == json.loads(live.to_state()), f"after event {case.event_count}"
            assert restored.state_hash() == live.state_hash()
            cache.give_back(case.reference, case.last_hash, live)  # the next command goes on in memory

    drive_path(driver, path, after_step=compare)
