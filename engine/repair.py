"""Repairs by a beheerder (issue 6: "repairs are new events, never edits"): correct the data of a completed
step, or move a case back to an earlier step, each with a written reason.

Each repair is one ``repair`` event holding the kind, the step, before and after, and the reason (all
of it encrypted and erasable like form data: engine/history.py), with the state hash it reaches; the
inbox index is brought in line the way every command does it (engine/commands.py). A replay re-applies
the event (engine/replay.py ``apply_repair``), so a repaired case re-executes from its start like any
other. Like commands, these take a session and never commit.

A beheerder sees no case otherwise (engine/access.py); this is the exception, so the web layer records
every view of a repair page in the access log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, joinedload

from engine import bundles, cache, commands, replay
from engine.access import Actor, Role
from engine.clock import Clock, FrozenClock, system_clock
from engine.errors import (
    ConflictError,
    FieldError,
    FormValidationError,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
)
from engine.forms import validate_submission
from engine.history import ERASURE, REPAIR, payload_of
from engine.model import Case, Event, HumanTask, TaskDraft
from engine.runtime import Workflow

MIN_REASON = 10
MAX_REASON = 2000
REASON_FIELD = "reden"


@dataclass(frozen=True)
class CompletedStep:
    """A step of a case that counts as completed now, with the event that completed it."""

    task_guid: str
    bpmn_id: str
    name: str
    form: str | None
    lane: str
    seq: int  # of its task_completed event
    completed_at: datetime
    completed_by: str


def require_beheerder(actor: Actor) -> None:
    if actor.role is not Role.BEHEERDER:
        raise PermissionDeniedError("only a beheerder can repair a case")


def completed_steps(session: Session, case: Case) -> list[CompletedStep]:
    """The steps completed in the case's present course, in order: a move back undoes the completions
    after the moment it went back to."""
    completions: dict[str, Event] = {}
    for event in _events(session, case, ("task_completed", REPAIR)):
        if event.type == "task_completed":
            completions[str(event.payload.get("task_guid"))] = event
        elif event.payload.get("kind") == replay.MOVE_BACK:
            back_to = int(event.payload.get("to_seq", 0))
            completions = {guid: done for guid, done in completions.items() if done.seq <= back_to}
    tasks = {
        row.task_guid: row
        for row in session.scalars(
            select(HumanTask).where(HumanTask.case_id == case.id, HumanTask.task_guid.in_(completions))
        )
    }
    return [
        CompletedStep(
            guid,
            tasks[guid].bpmn_id,
            tasks[guid].name,
            tasks[guid].form,
            tasks[guid].lane,
            done.seq,
            done.occurred_at,
            done.actor,
        )
        for guid, done in sorted(completions.items(), key=lambda item: item[1].seq)
        if guid in tasks
    ]


def correctable_steps(session: Session, case: Case) -> list[CompletedStep]:
    """Completed steps with a form: their data can be corrected."""
    return [step for step in completed_steps(session, case) if step.form]


def movable_steps(session: Session, case: Case) -> list[CompletedStep]:
    """Completed steps the case can be moved back to: every one of its present course."""
    return completed_steps(session, case)


def recorded_data(session: Session, case: Case, task_guid: str) -> dict[str, Any]:
    """The data of a completed step as it stands: what was submitted, or the last correction of it."""
    data: dict[str, Any] = {}
    for event in _events(session, case, ("task_completed", REPAIR)):
        if event.payload.get("task_guid") != task_guid:
            continue
        payload = payload_of(event)
        if event.type == "task_completed":
            data = dict(payload.get("data") or {})
        elif payload.get("kind") == replay.CORRECT_DATA:
            data = {**data, **(payload.get("after") or {})}
    return data


def _events(session: Session, case: Case, types: tuple[str, ...]) -> list[Event]:
    return list(
        session.scalars(select(Event).where(Event.case_id == case.id, Event.type.in_(types)).order_by(Event.seq))
    )


def correct_task_data(
    session: Session,
    actor: Actor,
    reference: str,
    task_guid: str,
    data: Mapping[str, Any],
    *,
    reason: str,
    lock_version: int,
    clock: Clock = system_clock,
) -> Case:
    """New data for a completed step, validated against that step's form; the case data takes it."""
    require_beheerder(actor)
    reason = _checked_reason(reason)
    case = _lock(session, reference, lock_version)
    step = _completed_step(session, case, task_guid)
    if not step.form:
        raise InvalidTransitionError(f"step {step.bpmn_id} has no form")
    after = validate_submission(bundles.form_of(case.process_version, step.form), data)
    before = recorded_data(session, case, task_guid)
    if after == before:
        raise FormValidationError([FieldError("", "Er is niets gewijzigd.")])
    now = FrozenClock(clock())()
    workflow = _checkout(session, case)
    workflow.correct_data(after)
    payload = {
        "kind": replay.CORRECT_DATA,
        "task": step.bpmn_id,
        "task_guid": task_guid,
        "before": before,
        "after": after,
        "reason": reason,
    }
    commands._save(session, case, workflow=workflow, actor=actor, now=now, event_type=REPAIR, payload=payload)
    return case


def move_back(
    session: Session,
    actor: Actor,
    reference: str,
    task_guid: str,
    *,
    reason: str,
    lock_version: int,
    clock: Clock = system_clock,
) -> Case:
    """The case goes back to the moment before a completed step was completed: re-executed from its
    start up to that moment, that step (and whatever else was open then) is open again, and everything
    done since is undone (it stays in the history). Timers run from the deadlines they had then."""
    require_beheerder(actor)
    reason = _checked_reason(reason)
    case = _lock(session, reference, lock_version)
    step = _completed_step(session, case, task_guid)
    if any(event.seq > step.seq for event in _events(session, case, (replay.MIGRATED,))):
        # The state then belongs to the version the case ran on before; it runs on another one now.
        raise InvalidTransitionError("the case moved to another process version since this step")
    now = FrozenClock(clock())()
    current = _checkout(session, case)  # out of the cache: the case will no longer be this workflow
    before = sorted(view.bpmn_id for view in current.ready_user_tasks())
    workflow = replay.state_as_of(session, case, step.seq - 1)
    after = sorted(view.bpmn_id for view in workflow.ready_user_tasks())
    _reindex(session, case, workflow, undone=[s.task_guid for s in completed_steps(session, case) if s.seq >= step.seq])
    payload = {
        "kind": replay.MOVE_BACK,
        "task": step.bpmn_id,
        "task_guid": task_guid,
        "to_seq": step.seq - 1,
        "before": {"open": before},
        "after": {"open": after},
        "state": workflow.to_state(),
        "reason": reason,
    }
    commands._save(session, case, workflow=workflow, actor=actor, now=now, event_type=REPAIR, payload=payload)
    return case


def _reindex(session: Session, case: Case, workflow: Workflow, *, undone: list[str]) -> None:
    """Prepare the inbox index for the workflow the case goes back to; the save then cancels what is
    open now and not then, and opens what was open then.

    Tasks that were still to come at that moment keep their guids, so each may become READY again under
    the guid its old row (open, completed or cancelled) holds: those rows make way, except an open row
    whose task is open then as well."""
    ready = {view.guid for view in workflow.ready_user_tasks()}
    rows = session.execute(
        select(HumanTask.id, HumanTask.task_guid, HumanTask.state, HumanTask.due_at).where(
            HumanTask.case_id == case.id, HumanTask.task_guid.in_(workflow.unfinished_task_guids())
        )
    ).all()
    stale = [row.id for row in rows if not (row.state == "open" and row.task_guid in ready)]
    if stale:
        session.execute(delete(TaskDraft).where(TaskDraft.human_task_id.in_(stale)))
        session.execute(delete(HumanTask).where(HumanTask.id.in_(stale)))
    workflow.index_holds({row.task_guid: row.due_at for row in commands.open_tasks(session, case)})
    # Completions undone now that are not to come again: no longer done, so no longer "completed".
    session.execute(
        update(HumanTask)
        .where(HumanTask.case_id == case.id, HumanTask.task_guid.in_(undone), HumanTask.state == "completed")
        .values(state="cancelled")
    )


# --------------------------------------------------------------------------------------------------


def _checked_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if len(reason) < MIN_REASON:
        raise FormValidationError([FieldError(REASON_FIELD, f"Geef een reden van minstens {MIN_REASON} tekens.")])
    if len(reason) > MAX_REASON:
        raise FormValidationError([FieldError(REASON_FIELD, f"De reden is langer dan {MAX_REASON} tekens.")])
    return reason


def find_repairable_case(session: Session, reference: str) -> Case:
    """The case by reference, with its process version (whether it can still be repaired: ``was_erased``)."""
    case = session.scalar(
        select(Case).where(Case.reference == reference).options(joinedload(Case.process_version, innerjoin=True))
    )
    if case is None:
        raise NotFoundError("case not found")
    return case


def was_erased(session: Session, case: Case) -> bool:
    return session.scalar(select(Event.id).where(Event.case_id == case.id, Event.type == ERASURE).limit(1)) is not None


def _lock(session: Session, reference: str, lock_version: int) -> Case:
    # A finished case may be repaired as well (its data corrected, or reopened); an erased one not.
    case = session.scalar(
        select(Case)
        .where(Case.reference == reference)
        .options(joinedload(Case.process_version, innerjoin=True))
        .with_for_update(of=Case)
        .execution_options(populate_existing=True)
    )
    if case is None:
        raise NotFoundError("case not found")
    if case.lock_version != lock_version:
        raise ConflictError(
            f"case {reference} changed since the page was opened (version {lock_version}, now {case.lock_version})"
        )
    if was_erased(session, case):
        raise InvalidTransitionError(f"the data of case {reference} was erased; it cannot be repaired")
    return case


def _completed_step(session: Session, case: Case, task_guid: str) -> CompletedStep:
    step = next((s for s in completed_steps(session, case) if s.task_guid == task_guid), None)
    if step is None:
        raise NotFoundError("completed step not found")
    return step


def _checkout(session: Session, case: Case) -> Workflow:
    return cache.take(case.reference, case.last_hash) or replay.restore(session, case)
