"""Test helpers: a case driver that talks to the engine only through its commands, one transaction each."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, bindparam, select
from sqlalchemy.orm import sessionmaker, undefer

from engine import bundles, cache, commands, replay, runtime
from engine.access import SYSTEM, Actor, Role
from engine.clock import FrozenClock
from engine.model import Case, Event, HumanTask, Outbox

ROOT = Path(__file__).resolve().parent.parent
ORGANISATION = "waterschap-voorbeeld"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

ACTORS = {
    "Bestuurder": Actor("bestuurder-1", Role.BESTUURDER, ORGANISATION),
    "CCV": Actor("ccv-adviseur-1", Role.CCV, "ccv"),
    "Werkgever": Actor("werkgever-1", Role.WERKGEVER, ORGANISATION),
    "BVA": Actor("bva-1", Role.BVA, "bzk"),
    "Systeem": SYSTEM,
}

# What a task page reads before its form is submitted, built once: building the statement (and its cache
# key) on every step cost as much as running it, and the benchmark (bench/engine.py) counts it.
_OPEN_TASK_OF_CASE = (
    select(HumanTask.task_guid, Case.lock_version)
    .join(Case, Case.id == HumanTask.case_id)
    .where(
        Case.reference == bindparam("reference"),
        HumanTask.bpmn_id == bindparam("bpmn_id"),
        HumanTask.state == "open",
    )
    .order_by(HumanTask.id)
    .limit(1)
)


class CaseDriver:
    """Drives cases through engine commands and checks a serialize→restore round trip after every step."""

    def __init__(self, engine: Engine, clock: FrozenClock | None = None, *, checks: bool = True) -> None:
        self.factory = sessionmaker(engine, expire_on_commit=False)
        self.clock = clock or FrozenClock(START)
        self.checks = checks

    def deploy(self, *paths: Path) -> None:
        bundle = bundles.read_bundle(paths)
        with self.factory() as session, session.begin():
            bundles.deploy(session, bundle, actor="test", comment="test", at=self.clock())

    def start(self, actor: Actor | None = None, process_key: str = "regeling") -> str:
        with self.factory() as session, session.begin():
            case = commands.start_case(
                session, actor or ACTORS["Bestuurder"], process_key=process_key, clock=self.clock
            )
            reference = case.reference
        self.check_round_trip(reference)
        return reference

    def complete(
        self, reference: str, bpmn_id: str, role: str, data: Mapping[str, Any], actor: Actor | None = None
    ) -> None:
        # What a task page does: read the task and the case's version once, then submit.
        with self.factory() as session:
            row = session.execute(_OPEN_TASK_OF_CASE, {"reference": reference, "bpmn_id": bpmn_id}).first()
        if row is None:
            self.open_task(reference, bpmn_id)  # raises with the list of open tasks
            return
        with self.factory() as session, session.begin():
            commands.complete_task(
                session,
                actor or ACTORS[role],
                reference,
                row.task_guid,
                data,
                lock_version=row.lock_version,
                clock=self.clock,
            )
        self.check_round_trip(reference)

    def message(self, reference: str, name: str, role: str, payload: Mapping[str, Any]) -> None:
        with self.factory() as session, session.begin():
            commands.deliver_message(session, ACTORS[role], reference, name, payload, clock=self.clock)
        self.check_round_trip(reference)

    def advance(self, by: timedelta) -> list[str]:
        self.clock.advance(by)
        with self.factory() as session, session.begin():
            fired = commands.fire_due_timers(session, SYSTEM, clock=self.clock)
        for reference in fired:
            self.check_round_trip(reference)
        return fired

    # -- reading ----------------------------------------------------------------------------------

    def case(self, reference: str) -> Case:
        """The case row with its stored state, detached for reading."""
        with self.factory() as session:
            case = session.scalar(select(Case).where(Case.reference == reference).options(undefer(Case.state)))
            assert case is not None, f"no case {reference}"
            return case

    def open_tasks(self, reference: str) -> list[HumanTask]:
        with self.factory() as session:
            return commands.open_tasks(session, commands.find_case(session, reference))

    def open_task(self, reference: str, bpmn_id: str) -> HumanTask:
        for task in self.open_tasks(reference):
            if task.bpmn_id == bpmn_id:
                return task
        ready = sorted(t.bpmn_id for t in self.open_tasks(reference))
        raise AssertionError(f"{bpmn_id} is not an open task of {reference}; open: {ready}")

    def events(self, reference: str) -> list[Event]:
        with self.factory() as session:
            case = commands.find_case(session, reference)
            return list(session.scalars(select(Event).where(Event.case_id == case.id).order_by(Event.seq)))

    def outbox(self, reference: str) -> list[Outbox]:
        with self.factory() as session:
            case = commands.find_case(session, reference)
            return list(session.scalars(select(Outbox).where(Outbox.case_id == case.id).order_by(Outbox.id)))

    def data(self, reference: str) -> dict[str, Any]:
        with self.factory() as session:
            return commands.load_workflow(session, commands.find_case(session, reference)).data

    def check_round_trip(self, reference: str) -> None:
        """The case restored from the database (its snapshot, then the events since re-run) is exactly
        the workflow the last command left, hashes to what the history says, and its snapshot restores
        and re-serializes identically.

        The live workflows the engine keeps between commands are then forgotten, so the next command
        continues from the state restored from the database.
        """
        if not self.checks:
            return
        with self.factory() as session:
            case = commands.find_case(session, reference)
            live = cache.take(reference, case.last_hash)
            cache.clear()
            workflow = commands.load_workflow(session, case)
            snapshot = runtime.Workflow.restore(
                bundles.compiled(case.process_version), replay.stored_state(case), case.serializer_version
            )
        if live is not None:
            assert json.loads(workflow.to_state()) == json.loads(live.to_state())
        # The READY user tasks come in the order SpiffWorkflow's own tree walk finds them.
        walked = workflow._wf.get_tasks(state=16, manual=True)  # 16: TaskState.READY
        assert [v.guid for v in workflow.ready_user_tasks()] == [str(t.id) for t in walked]
        assert json.loads(snapshot.to_state(snapshot.snapshot_seq)) == json.loads(replay.stored_state(case))
        last_event = self.events(reference)[-1]
        assert workflow.state_hash() == last_event.state_hash
        assert sorted(v.guid for v in workflow.ready_user_tasks()) == sorted(
            t.task_guid for t in self.open_tasks(reference)
        )
