"""A finished case for the audit tests: the gedeputeerde's aanmelding, advice sent back by the BVA, then
determined with a PKVW exception, every measure declined — the path ``bva_terug_pkvw_uitzondering_geen_maatregelen``
run with the demo accounts, so the seeded web database can show it."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from engine import demo
from engine.access import Actor, Role
from engine.clock import FrozenClock
from tests.processes.paths import PATHS
from tests.processes.steps import Complete
from tests.support import ROOT, START, CaseDriver

FINISHED_PATH = next(p for p in PATHS if p.name == "bva_terug_pkvw_uitzondering_geen_maatregelen")
# The value the BVA gives at its (second) determination, and one that only a later step records.
DETERMINATION_VALUE = "Rijksmonument"
LATER_VALUE = "Niet nodig in onze situatie."

DEMO_ACTORS = {
    "Bestuurder": Actor("gedeputeerde", Role.BESTUURDER, "provincie-voorbeeldland"),
    "CCV": Actor("ccv-adviseur-2", Role.CCV, "ccv"),
    "Werkgever": Actor("werkgever-provincie", Role.WERKGEVER, "provincie-voorbeeldland"),
    "BVA": Actor("bva", Role.BVA, "bzk"),
}


def finish_a_case(engine: Engine, clock: FrozenClock, *, deploy: bool = False) -> str:
    """Run the path to its end with the demo accounts; returns the new case's reference."""
    driver = CaseDriver(engine, clock, checks=False)
    if deploy:
        driver.deploy(ROOT / "processes")
    reference = driver.start(DEMO_ACTORS["Bestuurder"])
    for step in FINISHED_PATH.steps:
        if isinstance(step, Complete):
            driver.complete(reference, step.task, step.role, step.data, actor=DEMO_ACTORS[step.role])
    return reference


def seed_demo_people(session: Session) -> None:
    """The demo's organisations and accounts (no passwords: these never log in), for engine tests."""
    demo.add_people(session, password_hash="-", at=START)
