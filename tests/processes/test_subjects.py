"""Steps that run once per measure say which measure they are about (the ``onderwerp`` property), so the
inbox can tell two parallel "Maatregel bestellen" tasks apart."""

from __future__ import annotations

from sqlalchemy import Engine

from tests.processes.paths import MAATREGELEN, PATHS
from tests.processes.steps import Complete, ExpectReady
from tests.support import ROOT, CaseDriver


def test_parallel_tasks_of_measures_carry_their_measure(sqlite_engine: Engine) -> None:
    driver = CaseDriver(sqlite_engine, checks=False)
    driver.deploy(ROOT / "processes")
    path = next(p for p in PATHS if p.name == "in_natura_zonder_bezwaar_dan_aftreden")
    reference = driver.start()
    for step in path.steps:
        if isinstance(step, ExpectReady) and step.tasks[:1] == ("maatregel_bestellen",):
            break
        if isinstance(step, Complete):
            driver.complete(reference, step.task, step.role, step.data)
    subjects = sorted(task.subject or "" for task in driver.open_tasks(reference))
    assert subjects == sorted(m["omschrijving"] for m in MAATREGELEN[:2])
    assert all(t.subject is None for t in driver.open_tasks(reference) if t.bpmn_id != "maatregel_bestellen")
