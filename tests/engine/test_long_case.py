"""A case that loops for years stays correct and does not grow: finished history lives in `event` only."""

from __future__ import annotations

import json

from sqlalchemy import Engine

from engine import replay
from tests.support import ROOT, CaseDriver

LOOP = ROOT / "bench" / "loop" / "processes"
ROUND = {"doorgaan": True, "toelichting": "nog een ronde"}


def test_a_case_with_hundreds_of_rounds_keeps_going_and_stays_small(sqlite_engine: Engine) -> None:
    driver = CaseDriver(sqlite_engine, checks=False)
    driver.deploy(LOOP)
    reference = driver.start(process_key="lus")
    sizes = []
    for number in range(400):  # 1200 tasks deep: beyond SpiffWorkflow's own 1000-deep walk
        driver.complete(reference, "herzien", "CCV", ROUND)
        if number % 100 == 99:
            sizes.append(len(json.loads(replay.stored_state(driver.case(reference)))["tasks"]))
            driver.checks = True
            driver.check_round_trip(reference)
            driver.checks = False
    assert driver.case(reference).status == "active"
    assert [t.bpmn_id for t in driver.open_tasks(reference)] == ["herzien"]
    assert max(sizes) < 200  # bounded: compaction keeps only what can still happen
    driver.complete(reference, "herzien", "CCV", {"doorgaan": False, "toelichting": "klaar"})
    case = driver.case(reference)
    assert (case.status, case.end_event, case.event_count) == ("completed", "einde", 402)
