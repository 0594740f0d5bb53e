"""Re-execution of a whole case from its first event (the auditors' verification): every path's history
reproduces its state; a process that no longer fits the history, or an edited payload, fails at the event."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine, select, update

from engine import replay
from engine.cli import main
from engine.model import Case, Event, ProcessVersion
from tests.processes.drive import drive_path
from tests.processes.paths import PATHS
from tests.processes.steps import Path
from tests.support import ROOT, CaseDriver


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_every_paths_history_replays_to_its_state(sqlite_engine: Engine, path: Path) -> None:
    driver = CaseDriver(sqlite_engine, checks=False)
    driver.deploy(ROOT / "processes")
    reference = drive_path(driver, path)
    with driver.factory() as session:
        case = session.scalar(select(Case).where(Case.reference == reference))
        assert case is not None
        result = replay.replay_from_start(session, case)
    assert result.ok, result.reason
    assert result.events == len(driver.events(reference))


def _main_path_case(driver: CaseDriver) -> str:
    return drive_path(driver, next(p for p in PATHS if p.name == "in_natura_zonder_bezwaar_dan_aftreden"))


def test_a_process_that_no_longer_fits_the_history_fails_at_that_event(
    sqlite_engine: Engine, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", sqlite_engine.url.render_as_string(hide_password=False))
    driver = CaseDriver(sqlite_engine, checks=False)
    driver.deploy(ROOT / "processes")
    reference = _main_path_case(driver)
    first_bva = next(e.seq for e in driver.events(reference) if e.actor_role == "BVA")
    with driver.factory() as session, session.begin():
        version = session.scalar(select(ProcessVersion))
        assert version is not None
        files = dict(version.files)
        # The pinned version as if the BVA's determination had been drawn as another step.
        files["advisering.bpmn"] = files["advisering.bpmn"].replace("vaststellen_advies", "vaststellen_anders")
        session.execute(update(ProcessVersion).values(files=files, content_hash="0" * 64))
    with driver.factory() as session:
        case = session.scalar(select(Case).where(Case.reference == reference))
        assert case is not None
        result = replay.replay_from_start(session, case)
    assert not result.ok
    assert result.diverged_at is not None and result.diverged_at <= first_bva
    assert main(["replay", reference]) == 1
    assert f"wijkt af bij gebeurtenis {result.diverged_at}" in capsys.readouterr().out


def test_an_edited_payload_fails_replay_at_that_event(sqlite_engine: Engine) -> None:
    driver = CaseDriver(sqlite_engine, checks=False)
    driver.deploy(ROOT / "processes")
    reference = _main_path_case(driver)
    with driver.factory() as session, session.begin():
        event = session.scalar(
            select(Event).join(Case, Case.id == Event.case_id).where(Case.reference == reference, Event.seq == 5)
        )
        assert event is not None
        payload = dict(event.payload)
        payload["task_guid"] = "00000000-0000-0000-0000-000000000000"
        event.payload = json.loads(json.dumps(payload))
    with driver.factory() as session:
        case = session.scalar(select(Case).where(Case.reference == reference))
        assert case is not None
        result = replay.replay_from_start(session, case)
    assert not result.ok and result.diverged_at == 5


def test_replay_all_from_the_command_line(
    sqlite_engine: Engine, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", sqlite_engine.url.render_as_string(hide_password=False))
    driver = CaseDriver(sqlite_engine, checks=False)
    driver.deploy(ROOT / "processes")
    _main_path_case(driver)
    _main_path_case(driver)
    assert main(["replay", "--all"]) == 0
    out = capsys.readouterr().out
    assert out.count("geverifieerd") == 2 and "[2/2]" in out
