"""Every path of the regeling, driven to its end event through engine commands only.

After every step the driver restores the case from the database, re-serializes it and compares
(SpiffWorkflow's save_restore idea), and checks the restored state hash against the history.
"""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Any

import pytest
from sqlalchemy import Engine

from engine import commands
from engine.db import make_engine, migrate
from engine.history import verify_case
from tests.processes.drive import drive_path
from tests.processes.paths import PATHS
from tests.processes.steps import Path
from tests.support import ROOT, CaseDriver


@pytest.fixture
def driver(db_engine: Engine) -> CaseDriver:
    driver = CaseDriver(db_engine)
    driver.deploy(ROOT / "processes")
    return driver


def contains(actual: Any, expected: Any) -> bool:
    """``expected`` is a sub-structure of ``actual`` (dict keys may be omitted; lists compare item-wise)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and contains(actual[k], v) for k, v in expected.items())
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(contains(a, e) for a, e in zip(actual, expected, strict=True))
        )
    return bool(actual == expected)


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_path(driver: CaseDriver, path: Path) -> None:
    reference = drive_path(driver, path)
    case = driver.case(reference)
    assert (case.status, case.end_event) == ("completed", path.end_event)
    assert driver.open_tasks(reference) == []
    assert case.next_timer_at is None
    data = driver.data(reference)
    for key, value in path.expect_data.items():
        assert contains(data.get(key), value), f"{key}: {data.get(key)!r} does not contain {value!r}"
    if path.notifications is not None:
        sent = [(row.recipient_role, row.template) for row in driver.outbox(reference)]
        assert sent == list(path.notifications)
    with driver.factory() as session:
        assert verify_case(session, commands.find_case(session, reference)).ok


def test_the_paths_take_every_flow_node_of_every_diagram(sqlite_engine: Engine) -> None:
    """Element coverage (scenario W2): every task, event and gateway is completed by some path."""
    from tests.processes.coverage import diagram_elements, reached_elements

    reached = reached_elements(CaseDriver(sqlite_engine, checks=False), PATHS)
    missing = sorted(diagram_elements(ROOT / "processes") - reached)
    assert missing == []


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_path_with_history_compacted_at_every_step(
    sqlite_engine: Engine, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dropping finished history as early as possible changes nothing a user can see."""
    from engine import runtime

    monkeypatch.setattr(runtime, "COMPACT_DEPTH", 1)
    driver = CaseDriver(sqlite_engine)
    driver.deploy(ROOT / "processes")
    reference = drive_path(driver, path)
    case = driver.case(reference)
    assert (case.status, case.end_event) == ("completed", path.end_event)
    data = driver.data(reference)
    for key, value in path.expect_data.items():
        assert contains(data.get(key), value), f"{key}: {data.get(key)!r} does not contain {value!r}"
    if path.notifications is not None:
        assert [(row.recipient_role, row.template) for row in driver.outbox(reference)] == list(path.notifications)


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_a_case_kept_live_between_commands_runs_exactly_as_one_restored_at_every_step(
    tmp_path: FilePath, path: Path
) -> None:
    """Same events, same state hashes, same inbox and outbox, whether or not the engine restores each time."""
    restored = CaseDriver(_database(tmp_path / "restored.db"))  # forgets live workflows after every step
    live = CaseDriver(_database(tmp_path / "live.db"), checks=False)
    for driver in (restored, live):
        driver.deploy(ROOT / "processes")
    first, second = drive_path(restored, path), drive_path(live, path)

    def trace(driver: CaseDriver, reference: str) -> list[object]:
        events = [(e.seq, e.type, e.state_hash, e.payload.get("completed")) for e in driver.events(reference)]
        outbox = [(o.recipient_role, o.template) for o in driver.outbox(reference)]
        return [events, outbox, driver.case(reference).end_event]

    assert trace(restored, first) == trace(live, second)


def _database(file: FilePath) -> Engine:
    engine = make_engine(f"sqlite:///{file}")
    migrate(engine)
    return engine
