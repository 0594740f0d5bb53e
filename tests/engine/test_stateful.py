"""U1: model-based testing of the engine's commands with a Hypothesis state machine on SQLite.

Rules start cases, complete a random open task with data taken from the path tests (or with broken
data, which must be refused without a trace), claim and unclaim, deliver a message a case awaits, move
the clock and fire timers, and submit a stale lock_version (refused). After every step, for every case:
the hash chain verifies, events are numbered 1..n without gaps, the open human_task rows are exactly the
READY user tasks of the workflow restored from the database (one row per task guid), and the restored
workflow hashes to what the last event recorded. CaseDriver also checks the full serialize/restore round
trip (restored == live) after each successful command.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from sqlalchemy import Engine, func, select

from engine import bundles, cache, claims, commands
from engine.access import Actor
from engine.clock import FrozenClock
from engine.db import make_engine, migrate
from engine.errors import ConflictError, EngineError, FormValidationError
from engine.history import verify_case
from engine.model import Event, HumanTask
from tests.processes.paths import PATHS
from tests.processes.steps import Complete, Message
from tests.support import ACTORS, ROOT, START, CaseDriver

MAX_CASES = 2


def _catalogue() -> tuple[dict[str, list[dict[str, Any]]], dict[str, tuple[str, dict[str, Any]]]]:
    """Valid form data by BPMN id, and (role, payload) by message name, from every path."""
    data: dict[str, list[dict[str, Any]]] = {}
    messages: dict[str, tuple[str, dict[str, Any]]] = {}
    for path in PATHS:
        for step in path.steps:
            if isinstance(step, Complete) and step.data not in data.setdefault(step.task, []):
                data[step.task].append(step.data)
            elif isinstance(step, Message):
                messages.setdefault(step.name, (step.role, step.payload))
    return data, messages


VALID_DATA, MESSAGES = _catalogue()


def _actor_for(lane: str) -> Actor:
    return next(actor for actor in ACTORS.values() if actor.role.value == lane)


def _broken(data: dict[str, Any]) -> dict[str, Any]:
    """Every field of valid data replaced by a value of the wrong type: no form accepts it."""
    return {key: {"ongeldig": [1]} for key in data}


class Tally:
    """What the machine managed across all examples, so the run can show it did more than refuse."""

    counts: Counter[str] = Counter()


class CaseMachine(RuleBasedStateMachine):
    template: Path  # a migrated database with the processes deployed, copied per example

    def __init__(self) -> None:
        super().__init__()
        cache.clear()
        self.directory = Path(tempfile.mkdtemp(prefix="stateful-"))
        shutil.copy(self.template, self.directory / "test.db")
        self.engine: Engine = make_engine(f"sqlite:///{self.directory / 'test.db'}")
        self.driver = CaseDriver(self.engine, FrozenClock(START))
        self.references: list[str] = []

    def teardown(self) -> None:
        cache.clear()
        self.engine.dispose()
        shutil.rmtree(self.directory, ignore_errors=True)

    # -- helpers ------------------------------------------------------------------------------------

    def _open_rows(self, reference: str) -> list[HumanTask]:
        return self.driver.open_tasks(reference)

    def _pick(self, index: int) -> str:
        return self.references[index % len(self.references)]

    def _pick_task(self, reference: str, index: int, *, with_data: bool = False) -> HumanTask | None:
        rows = [row for row in self._open_rows(reference) if not with_data or row.bpmn_id in VALID_DATA]
        return rows[index % len(rows)] if rows else None

    def _fingerprint(self, reference: str) -> tuple[Any, ...]:
        case = self.driver.case(reference)
        rows = sorted((row.task_guid, row.assignee, row.state, row.due_at) for row in self._open_rows(reference))
        return (case.lock_version, case.event_count, case.last_hash, case.status, case.state, tuple(rows))

    def _submit(self, reference: str, task: HumanTask, data: dict[str, Any], lock_version: int | None = None) -> None:
        with self.driver.factory() as session, session.begin():
            case = commands.find_case(session, reference)
            commands.complete_task(
                session,
                _actor_for(task.lane),
                reference,
                task.task_guid,
                data,
                lock_version=case.lock_version if lock_version is None else lock_version,
                clock=self.driver.clock,
            )

    # -- rules --------------------------------------------------------------------------------------

    @precondition(lambda self: len(self.references) < MAX_CASES)
    @rule()
    def start_case(self) -> None:
        self.references.append(self.driver.start())
        Tally.counts["start"] += 1

    @precondition(lambda self: self.references)
    @rule(case=st.integers(0, 99), task=st.integers(0, 99), variant=st.integers(0, 9))
    def complete_with_valid_data(self, case: int, task: int, variant: int) -> None:
        reference = self._pick(case)
        row = self._pick_task(reference, task, with_data=True)
        if row is None:
            return
        candidates = VALID_DATA[row.bpmn_id]
        before = self._fingerprint(reference)
        try:
            self._submit(reference, row, candidates[variant % len(candidates)])
        except EngineError:
            # Data from another path may not fit this case's history (a DMN or a form rule refuses it):
            # then nothing may have changed.
            assert self._fingerprint(reference) == before
            Tally.counts["valid data refused"] += 1
            return
        self.driver.check_round_trip(reference)
        Tally.counts["complete"] += 1

    @precondition(lambda self: self.references)
    @rule(case=st.integers(0, 99), task=st.integers(0, 99))
    def complete_with_invalid_data(self, case: int, task: int) -> None:
        reference = self._pick(case)
        row = self._pick_task(reference, task, with_data=True)
        if row is None:
            return
        before = self._fingerprint(reference)
        with pytest.raises(FormValidationError):
            self._submit(reference, row, _broken(VALID_DATA[row.bpmn_id][0]))
        assert self._fingerprint(reference) == before
        Tally.counts["invalid refused"] += 1

    @precondition(lambda self: self.references)
    @rule(case=st.integers(0, 99), task=st.integers(0, 99))
    def claim(self, case: int, task: int) -> None:
        reference = self._pick(case)
        row = self._pick_task(reference, task)
        if row is None:
            return
        actor = _actor_for(row.lane)
        with self.driver.factory() as session, session.begin():
            claims.claim_task(session, actor, reference, row.task_guid, clock=self.driver.clock)
        assert next(r for r in self._open_rows(reference) if r.task_guid == row.task_guid).assignee == actor.id
        self.driver.check_round_trip(reference)
        Tally.counts["claim"] += 1

    @precondition(lambda self: self.references)
    @rule(case=st.integers(0, 99), task=st.integers(0, 99))
    def unclaim(self, case: int, task: int) -> None:
        reference = self._pick(case)
        claimed = [row for row in self._open_rows(reference) if row.assignee is not None]
        if not claimed:
            return
        row = claimed[task % len(claimed)]
        with self.driver.factory() as session, session.begin():
            claims.unclaim_task(session, _actor_for(row.lane), reference, row.task_guid, clock=self.driver.clock)
        assert next(r for r in self._open_rows(reference) if r.task_guid == row.task_guid).assignee is None
        self.driver.check_round_trip(reference)
        Tally.counts["unclaim"] += 1

    @precondition(lambda self: self.references)
    @rule(case=st.integers(0, 99), which=st.integers(0, 99))
    def deliver_awaited_message(self, case: int, which: int) -> None:
        reference = self._pick(case)
        if self.driver.case(reference).status != "active":
            return
        with self.driver.factory() as session:
            awaited = commands.load_workflow(session, commands.find_case(session, reference)).awaited_messages()
        known = sorted(name for name in awaited if name in MESSAGES)
        if not known:
            return
        name = known[which % len(known)]
        role, payload = MESSAGES[name]
        self.driver.message(reference, name, role, payload)
        Tally.counts["message"] += 1

    @precondition(lambda self: self.references)
    @rule(days=st.integers(1, 60))
    def advance_clock(self, days: int) -> None:
        fired = self.driver.advance(timedelta(days=days))
        Tally.counts["timers fired"] += len(fired)

    @precondition(lambda self: self.references)
    @rule(case=st.integers(0, 99), task=st.integers(0, 99))
    def stale_lock_version(self, case: int, task: int) -> None:
        reference = self._pick(case)
        row = self._pick_task(reference, task, with_data=True)
        if row is None:
            return
        current = self.driver.case(reference).lock_version
        before = self._fingerprint(reference)
        with pytest.raises(ConflictError):
            self._submit(reference, row, VALID_DATA[row.bpmn_id][0], lock_version=current - 1)
        assert self._fingerprint(reference) == before
        Tally.counts["stale refused"] += 1

    # -- invariants ---------------------------------------------------------------------------------

    @invariant()
    def every_case_is_consistent(self) -> None:
        cache.clear()  # what follows is restored from the database only
        with self.driver.factory() as session:
            for reference in self.references:
                case = commands.find_case(session, reference)
                verification = verify_case(session, case)
                assert verification.ok, str(verification)
                seqs = list(session.scalars(select(Event.seq).where(Event.case_id == case.id).order_by(Event.id)))
                assert seqs == list(range(1, len(seqs) + 1)) and case.event_count == len(seqs)
                per_guid = session.execute(
                    select(HumanTask.task_guid, func.count())
                    .where(HumanTask.case_id == case.id, HumanTask.state == "open")
                    .group_by(HumanTask.task_guid)
                ).all()
                assert all(count == 1 for _guid, count in per_guid)
                workflow = commands.load_workflow(session, case)
                ready = sorted(view.guid for view in workflow.ready_user_tasks())
                assert ready == sorted(guid for guid, _count in per_guid)
                last = session.scalars(select(Event).where(Event.case_id == case.id).order_by(Event.seq.desc())).first()
                assert last is not None and workflow.state_hash() == last.state_hash


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("stateful-template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    with CaseDriver(engine).factory() as session, session.begin():
        bundles.deploy(session, bundles.read_bundle([ROOT / "processes"]), actor="test", comment="test", at=START)
    engine.dispose()
    yield path


def test_commands_keep_every_case_consistent(template_db: Path) -> None:
    CaseMachine.template = template_db
    Tally.counts.clear()
    run_state_machine_as_test(
        CaseMachine,
        settings=settings(
            max_examples=15,
            stateful_step_count=30,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    # The run did real work, not only refusals.
    assert Tally.counts["start"] > 0 and Tally.counts["complete"] > 0, dict(Tally.counts)
    assert Tally.counts["invalid refused"] > 0 and Tally.counts["stale refused"] > 0, dict(Tally.counts)
