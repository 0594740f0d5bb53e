"""Every deadline (timer event) of the regeling fires exactly once, at its time and not before.

What the engine promises, and what these tests hold it to:

- A duration timer is armed by the command that reaches it (the case's start, a completed task, a message, or
  another timer firing) and is due at that command's time plus the diagram's ISO 8601 duration. A command
  runs at one frozen moment (``commands._instant``), recorded as its event's ``occurred_at``; the expected
  moment is computed with ``engine.isotime.add_duration`` (calendar months clamp to the month's last day).
- ``case.next_timer_at`` is the case's earliest pending deadline, and an open user task with a timer on its
  border has that deadline as its due date.
- A timer fires at the first run of ``commands.fire_due_timers`` whose clock is *strictly after* its deadline:
  the case is selected with ``next_timer_at < now`` and the workflow's ``_due_timers`` with ``moment < now``
  (SpiffWorkflow's ``has_fired`` compares the same way). At exactly the deadline nothing fires; one
  microsecond later it does.
- Firing writes exactly one ``timers_fired`` event naming the element once per armed instance (with its
  ``due_at``), and the timer's effect happens in that command: a reminder in the outbox, or the path behind it.
  A timer behind an event-based gateway is named by its gateway (SpiffWorkflow waits at the gateway for
  whichever of its events comes first); the timer event itself is in the event's ``completed`` list.
- Once fired, a (non-repeating) timer never fires again, even with the task it is attached to still open.

The diagrams have no cycle or date timers; ``test_every_timer_of_the_diagrams_has_a_scenario`` fails when one
is added, so that it gets a test of its own.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from engine import commands, isotime, sandbox
from engine.model import Event
from tests.processes.deadlines import SCENARIOS, TimerScenario, diagram_timers
from tests.processes.drive import _apply as apply_step
from tests.support import ROOT, CaseDriver

TIMERS = diagram_timers(ROOT / "processes")
BY_ID = {scenario.id: scenario for scenario in SCENARIOS}
SECOND = timedelta(seconds=1)
TICK = timedelta(microseconds=1)


@pytest.fixture
def driver(sqlite_engine: Engine) -> CaseDriver:
    driver = CaseDriver(sqlite_engine)
    driver.deploy(ROOT / "processes")
    return driver


# ----------------------------------------------------------------------------------------------- reading
def _waiting(driver: CaseDriver, reference: str) -> Counter[str]:
    """The BPMN ids the case waits at (timers and messages), one per token."""
    with driver.factory() as session:
        workflow = commands.load_workflow(session, commands.find_case(session, reference))
        marks = workflow.live_elements()
    return Counter(element for process in marks.values() for element in process["waiting"])


def _open(driver: CaseDriver, reference: str) -> Counter[str]:
    return Counter(task.bpmn_id for task in driver.open_tasks(reference))


def _naming(events: list[Event], element: str) -> list[dict[str, str]]:
    """The entries of ``timers_fired`` events among ``events`` that name ``element``."""
    return [
        entry
        for event in events
        if event.type == "timers_fired"
        for entry in event.payload["timers"]
        if entry["element"] == element
    ]


def _sent(driver: CaseDriver, reference: str, notification: tuple[str, str] | None) -> int:
    if notification is None:
        return 0
    return sum((row.recipient_role, row.template) == notification for row in driver.outbox(reference))


def _advance_to(driver: CaseDriver, moment: datetime) -> list[str]:
    assert moment >= driver.clock()
    return driver.advance(moment - driver.clock())


# ----------------------------------------------------------------------------------------------- protocol
def arm(driver: CaseDriver, scenario: TimerScenario, arm_at: datetime | None = None) -> tuple[str, datetime]:
    """Start a case and run the scenario's setup, whose last command (at ``arm_at`` if given) arms the timer;
    returns the case reference and that command's time."""
    if arm_at is not None:
        driver.clock.set(arm_at - scenario.setup_span())
    reference = driver.start()
    for number, step in enumerate(scenario.setup, start=1):
        try:
            apply_step(driver, reference, step)
        except Exception as error:
            error.add_note(f"scenario {scenario.id!r}, step {number}: {step}")
            raise
    armed_at = driver.events(reference)[-1].occurred_at  # the arming command's frozen time
    assert armed_at == driver.clock()
    if arm_at is not None:
        assert armed_at == arm_at
    return reference, armed_at


def check_deadline(driver: CaseDriver, scenario: TimerScenario, arm_at: datetime | None = None) -> None:
    """Arm the scenario's timer (at ``arm_at`` if given), then: scheduled at the expected moment, silent one
    second before and at the moment itself, fires once one microsecond after with its effect, never again."""
    timer = TIMERS[scenario.element]
    assert timer.kind == "duration", f"{timer.element}: only duration timers are drawn so far"
    instances = scenario.instances

    # -- arm
    reference, armed_at = arm(driver, scenario, arm_at)
    iso = sandbox.evaluate(timer.expression, scenario.data)
    assert iso in timer.results()
    due = isotime.add_duration(armed_at, isotime.parse_duration(iso))

    assert _waiting(driver, reference)[timer.waits_at] == instances, "the timer is not armed"
    next_timer_at = driver.case(reference).next_timer_at
    assert next_timer_at is not None
    if scenario.earliest:
        assert next_timer_at == due, f"{iso} armed at {armed_at}: scheduled {next_timer_at}, expected {due}"
    else:
        assert next_timer_at < due
    if scenario.due_task is not None:
        due_dates = [task.due_at for task in driver.open_tasks(reference) if task.bpmn_id == scenario.due_task]
        assert due_dates == [due] * instances

    # -- not before: one second before, and at the very moment (firing is strictly after it)
    seen = len(driver.events(reference))
    tasks = _open(driver, reference)
    for moment in (due - SECOND, due):
        _advance_to(driver, moment)
        assert _naming(driver.events(reference)[seen:], timer.waits_at) == [], f"fired at {moment}, due {due}"
        assert _waiting(driver, reference)[timer.waits_at] == instances
        assert _open(driver, reference) == tasks
        assert _sent(driver, reference, scenario.notification) == 0
        case = driver.case(reference)
        assert case.status == "active"
        assert case.next_timer_at == due, f"{iso} armed at {armed_at}: scheduled {case.next_timer_at}, expected {due}"

    # -- fires, once, just after its moment
    seen = len(driver.events(reference))
    assert driver.advance(TICK) == [reference]
    fired = driver.events(reference)[seen:]
    assert [event.type for event in fired] == ["timers_fired"]
    (event,) = fired
    assert event.occurred_at == due + TICK
    entries = _naming(fired, timer.waits_at)
    assert len(entries) == instances
    assert {datetime.fromisoformat(entry["due_at"]) for entry in entries} == {due}
    completed = Counter(event.payload["completed"])
    for element in scenario.completes:
        assert completed[element] == instances, f"{element} completed {completed[element]}×: {completed}"
    assert _waiting(driver, reference)[timer.waits_at] == 0
    if scenario.notification is not None:
        assert _sent(driver, reference, scenario.notification) == instances
        assert Counter(map(tuple, event.payload["notifications"]))[scenario.notification] == instances
    case = driver.case(reference)
    if scenario.end_event is not None:
        assert (case.status, case.end_event, case.next_timer_at) == ("completed", scenario.end_event, None)
        assert driver.open_tasks(reference) == []
    else:
        assert case.status == "active"
        assert _open(driver, reference) == tasks + Counter(scenario.opens)

    # -- never again: another full period passes
    seen = len(driver.events(reference))
    driver.advance(due - armed_at)
    assert _naming(driver.events(reference)[seen:], timer.waits_at) == []
    assert _sent(driver, reference, scenario.notification) == (instances if scenario.notification else 0)
    assert _waiting(driver, reference)[timer.waits_at] == 0


# ----------------------------------------------------------------------------------------------- tests
def test_every_timer_of_the_diagrams_has_a_scenario() -> None:
    """Each timer event drawn, and each ISO text its expression can give, has a scenario below."""
    assert {timer.kind for timer in TIMERS.values()} == {"duration"}, "a date or cycle timer needs its own test"
    assert sorted(TIMERS) == sorted({scenario.element for scenario in SCENARIOS})
    for timer in TIMERS.values():
        tested = {
            sandbox.evaluate(timer.expression, scenario.data)
            for scenario in SCENARIOS
            if scenario.element == timer.element
        }
        assert tested == timer.results(), f"{timer.diagram} {timer.element}: {timer.expression}"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[scenario.id for scenario in SCENARIOS])
def test_a_deadline_fires_once_just_after_its_moment_and_not_before(
    driver: CaseDriver, scenario: TimerScenario
) -> None:
    check_deadline(driver, scenario)


# Month-end days: a day the target month lacks ends on that month's last day (engine.isotime.add_duration,
# which the engine's timers use: 30 Nov + P3M = 28 Feb, 31 Mar + P3M = 30 Jun, 29 Feb 2028 + P12M = 28 Feb 2029).


def _at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=9, tzinfo=UTC)


MONTH_ENDS = [
    pytest.param("pkvw-bnd_pkvw_herinnering-P3M", _at("2026-11-30")),
    pytest.param("pkvw-bnd_pkvw_herinnering-P3M", _at("2026-03-31")),
    pytest.param("pkvw-bnd_pkvw_herinnering-P3M", _at("2026-05-31")),  # 31 Aug exists
    pytest.param("pkvw-bnd_pkvw_herinnering-P3M", _at("2027-11-29")),  # to 29 Feb 2028, a leap day
    pytest.param("pkvw-bnd_pkvw_sluiting-P12M", _at("2028-02-29")),
    pytest.param("pkvw-bnd_pkvw_sluiting-P12M", _at("2027-01-31")),  # 12 months on: 31 Jan again
    pytest.param("regeling-evt_herevaluatie-P4Y", _at("2028-02-29")),  # 4 years on: 29 Feb 2032
]


@pytest.mark.parametrize(
    ("scenario_id", "arm_at"), MONTH_ENDS, ids=[f"{p.values[0]}-armed_{p.values[1]:%Y-%m-%d}" for p in MONTH_ENDS]
)
def test_a_deadline_in_calendar_months_armed_at_a_month_end(
    driver: CaseDriver, scenario_id: str, arm_at: datetime
) -> None:
    """Months and years are calendar units: the deadline has the arming day's number in the target month, or
    that month's last day if it has no such day (as EU Regulation 1182/71 art. 3(2)(c) counts a period)."""
    check_deadline(driver, BY_ID[scenario_id], arm_at)


def test_after_the_pkvw_reminder_the_inbox_shows_the_closing_deadline(driver: CaseDriver) -> None:
    """A task's due date in the inbox is the workflow's: the earliest deadline still waiting on its border."""
    reference, armed_at = arm(driver, BY_ID["pkvw-bnd_pkvw_sluiting-P12M"])
    herinnering = isotime.add_duration(armed_at, isotime.parse_duration("P3M"))
    sluiting = isotime.add_duration(armed_at, isotime.parse_duration("P12M"))
    _advance_to(driver, herinnering + TICK)
    assert _sent(driver, reference, ("Bestuurder", "pkvw_herinnering")) == 1
    assert driver.case(reference).next_timer_at == sluiting
    with driver.factory() as session:
        workflow = commands.load_workflow(session, commands.find_case(session, reference))
        assert [view.due_at for view in workflow.ready_user_tasks()] == [sluiting]
    assert [task.due_at for task in driver.open_tasks(reference)] == [sluiting]
