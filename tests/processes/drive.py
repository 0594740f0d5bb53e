"""Drive a Path (tests/processes/steps.py) through the engine's commands."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from tests.processes.steps import Advance, Complete, ExpectReady, Message, Path
from tests.support import CaseDriver


def drive_path(driver: CaseDriver, path: Path, after_step: Callable[[str], None] | None = None) -> str:
    """Run every step of ``path`` on a new case and return the case reference."""
    reference = driver.start()
    for number, step in enumerate(path.steps, start=1):
        try:
            _apply(driver, reference, step)
        except Exception as error:
            error.add_note(f"path {path.name!r}, step {number}: {step}")
            raise
        if after_step is not None:
            after_step(reference)
    return reference


def _apply(driver: CaseDriver, reference: str, step: Complete | Message | Advance | ExpectReady) -> None:
    if isinstance(step, Complete):
        driver.complete(reference, step.task, step.role, step.data)
    elif isinstance(step, Message):
        driver.message(reference, step.name, step.role, step.payload)
    elif isinstance(step, Advance):
        driver.advance(step.by)
    else:
        ready = Counter(t.bpmn_id for t in driver.open_tasks(reference))
        assert ready == Counter(step.tasks), f"ready {sorted(ready.elements())}, expected {sorted(step.tasks)}"
