"""Record the golden histories: ``python -m tests.replay.make_golden`` (from the project root).

Drives the chosen path tests (tests/processes/paths.py; every kind of branch: not eligible, end of office,
objection upheld and rejected, PKVW repair and its 12-month close, reminders and deadlines, the multi-instance
measures) and a repaired case through the engine's commands on a fresh SQLite database, and writes each case's
history with plaintext payloads (synthetic data only) to ``histories/<name>.json``, its bundle to
``bundles/<content hash>.json``. Re-run it only when a change to the engine or the processes is meant to change
recorded histories; review the diff like code.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import select

from engine import bundles, cache, commands, repair
from engine.access import Actor, Role
from engine.db import make_engine, migrate
from engine.history import payload_of
from engine.model import Case, Event, ProcessVersion
from tests.processes.drive import _apply, drive_path
from tests.processes.paths import PATHS
from tests.replay.golden import BUNDLES, FORMAT, HISTORIES
from tests.support import ROOT, CaseDriver

RECORDED_PATHS = (
    "niet_in_aanmerking_raadslid",
    "in_natura_zonder_bezwaar_dan_aftreden",
    "acuut_sla_herinneringen_aftreden_tijdens_advisering",
    "bva_terug_pkvw_uitzondering_geen_maatregelen",
    "pkvw_herstel_declaratie_bezwaar_gegrond",
    "pkvw_gesloten_na_12_maanden",
    "bezwaar_ongegrond_herevaluatie_na_4_jaar",
)
REPAIRED = "hersteld_gecorrigeerd_en_teruggezet"
BEHEERDER = Actor("beheerder-1", Role.BEHEERDER, "bzk")


def record(target: Path = HISTORIES) -> list[Path]:
    target.mkdir(parents=True, exist_ok=True)
    BUNDLES.mkdir(parents=True, exist_ok=True)
    written = []
    for name in RECORDED_PATHS:
        path = next(p for p in PATHS if p.name == name)
        written.append(_record_case(target, name, lambda driver, path=path: drive_path(driver, path)))
    written.append(_record_case(target, REPAIRED, _repaired_case))
    return written


def _record_case(target: Path, name: str, drive: Any) -> Path:
    cache.clear()
    with tempfile.TemporaryDirectory() as directory:
        engine = make_engine(f"sqlite:///{directory}/golden.db")
        try:
            migrate(engine)
            driver = CaseDriver(engine, checks=False)
            driver.deploy(ROOT / "processes")
            reference = drive(driver)
            with driver.factory() as session:
                history = _history(session, name, reference)
        finally:
            engine.dispose()
    out = target / f"{name}.json"
    out.write_text(json.dumps(history, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    return out


def _history(session: Any, name: str, reference: str) -> dict[str, Any]:
    case = commands.find_case(session, reference)
    version = session.scalar(select(ProcessVersion).where(ProcessVersion.id == case.process_version_id))
    bundle_file = BUNDLES / f"{version.content_hash}.json"
    if not bundle_file.exists():
        files = bundles.bundle_of(version).files
        bundle_file.write_text(json.dumps(dict(files), indent=0, sort_keys=True) + "\n", encoding="utf-8")
    events = session.scalars(select(Event).where(Event.case_id == case.id).order_by(Event.seq))
    return {
        "format": FORMAT,
        "name": name,
        "reference": reference,
        "process_key": version.process_key,
        "content_hash": version.content_hash,
        "final_hash": case.last_hash,
        "events": [
            {
                "seq": event.seq,
                "type": event.type,
                "actor": event.actor,
                "actor_role": event.actor_role,
                "occurred_at": event.occurred_at.isoformat(),
                "payload": payload_of(event),
                "payload_hash": event.payload_hash,
                "state_hash": event.state_hash,
                "prev_hash": event.prev_hash,
                "hash": event.hash,
            }
            for event in events
        ],
    }


def _repaired_case(driver: CaseDriver) -> str:
    """The main path to the drafted advice, a corrected intake report, back to the organisation's input, and
    on again to the BVA."""
    path = next(p for p in PATHS if p.name == "in_natura_zonder_bezwaar_dan_aftreden")
    reference = driver.start()
    for step in path.steps:
        _apply(driver, reference, step)
        if getattr(step, "task", None) == "conceptadvies":
            break
    with driver.factory() as session, session.begin():
        case = commands.find_case(session, reference)
        intake = next(s for s in repair.completed_steps(session, case) if s.bpmn_id == "intakeverslag")
        data = {**repair.recorded_data(session, case, intake.task_guid), "intakeverslag_samenvatting": "Hersteld."}
        repair.correct_task_data(
            session,
            BEHEERDER,
            reference,
            intake.task_guid,
            data,
            reason="Synthetische correctie voor de test.",
            lock_version=case.lock_version,
            clock=driver.clock,
        )
    with driver.factory() as session, session.begin():
        case = session.scalar(select(Case).where(Case.reference == reference))
        assert case is not None
        organisation = next(s for s in repair.completed_steps(session, case) if s.bpmn_id == "input_organisatie")
        repair.move_back(
            session,
            BEHEERDER,
            reference,
            organisation.task_guid,
            reason="Synthetisch terugzetten voor de test.",
            lock_version=case.lock_version,
            clock=driver.clock,
        )
    redo = ("input_organisatie", "intakeverslag", "woningscan", "conceptadvies")
    for step in path.steps:
        if getattr(step, "task", None) in redo:
            _apply(driver, reference, step)
    return reference


if __name__ == "__main__":
    for written in record():
        print(written.relative_to(ROOT))  # noqa: T201 - a developer's script
    sys.exit(0)
