"""Claiming a task: one person of a lane takes it on so colleagues do not work on it twice.

A claim changes no workflow state, only who works on the task, so it does not bump the case's
``lock_version`` (an open form elsewhere stays valid); it is recorded in the history all the same.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import cache
from engine.access import Actor, Role, require_case_access, require_lane
from engine.clock import Clock, system_clock
from engine.commands import HUMAN_TASK_TABLE, lock_case, write_case
from engine.errors import ConflictError, InvalidTransitionError, NotFoundError, PermissionDeniedError
from engine.history import append_event
from engine.model import Case, Event, HumanTask
from engine.replay import CLAIMED, UNCLAIMED


def claim_task(session: Session, actor: Actor, reference: str, task_guid: str, *, clock: Clock = system_clock) -> None:
    """``actor`` takes the open task on; a CCV adviser taking a task also takes on an unassigned case."""
    case, task = _open_task_for(session, actor, reference, task_guid)
    if task.assignee == actor.id:
        return
    if task.assignee is not None:
        raise ConflictError(f"task is already claimed by {task.assignee}")
    _set_assignee(session, task, actor.id)
    case_changes: dict[str, Any] = {}
    if actor.role is Role.CCV and case.ccv_adviser is None:
        case_changes["ccv_adviser"] = actor.id
    _record(session, case, actor, clock(), CLAIMED, {"task": task.bpmn_id, "task_guid": task_guid}, case_changes)


def unclaim_task(
    session: Session, actor: Actor, reference: str, task_guid: str, *, clock: Clock = system_clock
) -> None:
    """Give a claimed task back to the lane; only the person who claimed it can."""
    case, task = _open_task_for(session, actor, reference, task_guid)
    if task.assignee is None:
        return
    if task.assignee != actor.id:
        raise PermissionDeniedError(f"task is claimed by {task.assignee}")
    _set_assignee(session, task, None)
    _record(session, case, actor, clock(), UNCLAIMED, {"task": task.bpmn_id, "task_guid": task_guid}, {})


def _open_task_for(session: Session, actor: Actor, reference: str, task_guid: str) -> tuple[Case, HumanTask]:
    case = lock_case(session, reference, None)
    require_case_access(actor, case)
    task = session.scalar(select(HumanTask).where(HumanTask.case_id == case.id, HumanTask.task_guid == task_guid))
    if task is None:
        raise NotFoundError("task not found")
    require_lane(actor, task.lane)
    if task.state != "open":
        raise InvalidTransitionError(f"task {task.bpmn_id} is already {task.state}")
    return case, task


def _set_assignee(session: Session, task: HumanTask, assignee: str | None) -> None:
    table = HUMAN_TASK_TABLE
    session.connection().execute(table.update().where(table.c.id == task.id).values(assignee=assignee))
    session.expire(task, ["assignee"])


def _record(
    session: Session,
    case: Case,
    actor: Actor,
    now: datetime,
    event_type: str,
    payload: dict[str, Any],
    case_changes: dict[str, Any],
) -> None:
    # The workflow is unchanged, so the event carries the state hash of the event before it.
    state_hash = session.scalar(select(Event.state_hash).where(Event.case_id == case.id, Event.seq == case.event_count))
    old_hash = case.last_hash
    connection = session.connection()
    event = append_event(
        connection, case, type=event_type, actor=actor, at=now, payload=payload, state_hash=state_hash or ""
    )
    write_case(connection, case, event_count=event.seq, last_hash=event.hash, updated_at=now, **case_changes)
    live = cache.take(case.reference, old_hash)
    if live is not None:
        cache.put_on_commit(session, case.reference, event.hash, live)
