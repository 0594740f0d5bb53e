"""The engine's commands. Each takes a Session and an actor and never commits: the caller owns the
transaction, so one command moves a case from one wait state to the next, or not at all."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from engine import bundles, cache, crypto, replay
from engine.access import Actor, Role, require_case_access, require_lane, require_sender
from engine.clock import Clock, FrozenClock, system_clock
from engine.errors import (
    ConflictError,
    EngineError,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    ProcessError,
)
from engine.forms import validate_submission
from engine.history import GENESIS_HASH, append_event
from engine.model import Case, HumanTask, Outbox, ReferenceCounter
from engine.runtime import SERIALIZER_VERSION, Notification, UserTaskView, Workflow

DEFAULT_PROCESS = "regeling"
log = logging.getLogger(__name__)
# Rows that are only ever appended or closed go through Core: the ORM's unit of work costs more than
# the statements themselves here.
HUMAN_TASK_TABLE: Table = HumanTask.__table__  # type: ignore[assignment]
OUTBOX_TABLE: Table = Outbox.__table__  # type: ignore[assignment]
CASE_TABLE: Table = Case.__table__  # type: ignore[assignment]

# The statements of every command, built once: building a statement and its cache key each time cost
# more than running it.
_LOCK_CASE = (
    select(Case)
    .where(Case.reference == bindparam("reference"))
    .options(joinedload(Case.process_version, innerjoin=True))
    .with_for_update(of=Case)
    .execution_options(populate_existing=True)
)
# The SET clause of these two comes from the parameters' keys (the columns' own names).
_UPDATE_CASE = CASE_TABLE.update().where(CASE_TABLE.c.id == bindparam("b_id"))
_CLOSE_TASK = HUMAN_TASK_TABLE.update().where(
    HUMAN_TASK_TABLE.c.case_id == bindparam("b_case_id"),
    HUMAN_TASK_TABLE.c.task_guid == bindparam("b_guid"),
    HUMAN_TASK_TABLE.c.state == "open",
)
# The completed task closes only if nobody else claimed it: the claim is checked by the statement that
# closes it, so completing costs no extra query.
_CLOSE_COMPLETED_TASK = HUMAN_TASK_TABLE.update().where(
    HUMAN_TASK_TABLE.c.case_id == bindparam("b_case_id"),
    HUMAN_TASK_TABLE.c.task_guid == bindparam("b_guid"),
    HUMAN_TASK_TABLE.c.state == "open",
    (HUMAN_TASK_TABLE.c.assignee.is_(None)) | (HUMAN_TASK_TABLE.c.assignee == bindparam("b_actor")),
)
_REDATE_TASK = HUMAN_TASK_TABLE.update().where(
    HUMAN_TASK_TABLE.c.case_id == bindparam("b_case_id"), HUMAN_TASK_TABLE.c.task_guid == bindparam("b_guid")
)
_INSERT_HUMAN_TASK = HUMAN_TASK_TABLE.insert()
_DUE_CASES = (
    select(Case.reference)
    .where(Case.next_timer_at.is_not(None), Case.next_timer_at < bindparam("now"), Case.status == "active")
    .order_by(Case.next_timer_at, Case.id)
    .limit(bindparam("limit"))
)
# Still due under the row lock: another worker may have fired the case's timers since the read above.
_LOCK_DUE_CASE = (
    select(Case)
    .where(
        Case.reference == bindparam("reference"),
        Case.status == "active",
        Case.next_timer_at.is_not(None),
        Case.next_timer_at < bindparam("now"),
    )
    .with_for_update(skip_locked=True)
    .execution_options(populate_existing=True)
)
_INSERT_OUTBOX = OUTBOX_TABLE.insert()


def start_case(
    session: Session, actor: Actor, *, process_key: str = DEFAULT_PROCESS, clock: Clock = system_clock
) -> Case:
    """A bestuurder opens a dossier on the active version of the process; it runs to its first wait."""
    if actor.role is not Role.BESTUURDER:
        raise PermissionDeniedError("only a bestuurder can start a case")
    if not actor.organisation:
        raise PermissionDeniedError("the bestuurder's account belongs to no organisation")
    clock = _instant(clock)
    now = clock()
    version = bundles.active_version(session, process_key)
    reference = _next_reference(session, now.year)
    initial = {"referentie": reference, "organisatie": actor.organisation}
    workflow = Workflow.start(bundles.compiled(version), initial, clock, seed=replay.step_seed(reference, GENESIS_HASH))
    case = Case(
        reference=reference,
        process_version_id=version.id,
        organisation=actor.organisation,
        bestuurder=actor.id,
        status="active",
        state="",
        serializer_version=SERIALIZER_VERSION,
        lock_version=0,
        event_count=0,
        last_hash=GENESIS_HASH,
        created_at=now,
        updated_at=now,
    )
    session.add(case)
    session.flush()
    payload = {
        "process_key": process_key,
        "version": version.version,
        "content_hash": version.content_hash,
        "data": initial,
    }
    _save(
        session,
        case,
        workflow=workflow,
        actor=actor,
        now=now,
        event_type="case_started",
        payload=payload,
    )
    return case


def complete_task(
    session: Session,
    actor: Actor,
    reference: str,
    task_guid: str,
    data: Mapping[str, Any],
    *,
    lock_version: int,
    clock: Clock = system_clock,
) -> Case:
    """Complete one READY user task with form data validated against the task's schema."""
    case = lock_case(session, reference, lock_version)
    require_case_access(actor, case)
    workflow = _checkout(session, case)
    try:
        task = _ready_task(session, case, workflow, task_guid)
        require_lane(actor, task.lane)
        if not task.form:
            raise InvalidTransitionError(f"task {task.bpmn_id} has no form")
        cleaned = validate_submission(bundles.form_of(case.process_version, task.form), data)
    except EngineError:
        cache.give_back(case.reference, case.last_hash, workflow)  # refused before anything changed
        raise
    clock = _instant(clock)
    now = clock()
    workflow.complete(task_guid, cleaned, clock, seed=_seed(case))
    payload = {"task": task.bpmn_id, "task_guid": task_guid, "data": cleaned}
    _save(
        session,
        case,
        workflow=workflow,
        actor=actor,
        now=now,
        event_type="task_completed",
        payload=payload,
        completed_guid=task_guid,
    )
    return case


def deliver_message(
    session: Session,
    actor: Actor,
    reference: str,
    name: str,
    payload: Mapping[str, Any],
    *,
    lock_version: int | None = None,
    clock: Clock = system_clock,
) -> Case:
    """A message from outside (bezwaar, aftreden, heradvies) reaches the case if it is waiting for it."""
    case = lock_case(session, reference, lock_version)
    require_case_access(actor, case)
    try:
        form = bundles.form_of(case.process_version, bundles.message_form_name(name))
    except NotFoundError:
        raise InvalidTransitionError(f"the process knows no message {name!r}") from None
    require_sender(actor, name, form.schema.get("x-senders", ()))
    cleaned = validate_submission(form, payload)
    clock = _instant(clock)
    now = clock()
    workflow = _checkout(session, case)
    workflow.deliver_message(name, cleaned, clock, seed=_seed(case))
    _save(
        session,
        case,
        workflow=workflow,
        actor=actor,
        now=now,
        event_type="message_delivered",
        payload={"name": name, "payload": cleaned},
    )
    return case


def fire_due_timers(session: Session, actor: Actor, *, clock: Clock = system_clock, limit: int = 100) -> list[str]:
    """Fire the due timers of every case whose next deadline has passed; returns their references.

    A case another worker holds, or that closed or moved on since the first read, is skipped; a case
    whose process fails is left as it was (and stays due) without stopping the others.
    """
    clock = _instant(clock)
    now = clock()
    references = session.scalars(_DUE_CASES, {"now": now, "limit": limit}).all()
    fired = []
    for reference in references:
        try:
            with session.begin_nested():
                if _fire_case_timers(session, actor, reference, clock):
                    fired.append(reference)
        except ProcessError as error:
            log.warning("timers of case %s failed at element %s", reference, error.element or "?")
    return fired


def _fire_case_timers(session: Session, actor: Actor, reference: str, clock: Clock) -> bool:
    now = clock()
    case = session.scalar(_LOCK_DUE_CASE, {"reference": reference, "now": now})
    if case is None:
        return False
    workflow = _checkout(session, case)
    timers = workflow.fire_due_timers(clock, seed=_seed(case))
    if not timers:
        cache.give_back(case.reference, case.last_hash, workflow)  # nothing was due after all
        return False
    payload = {"timers": [{"element": t.element, "due_at": t.due_at} for t in timers]}
    _save(
        session,
        case,
        workflow=workflow,
        actor=actor,
        now=now,
        event_type="timers_fired",
        payload=payload,
    )
    return True


# --------------------------------------------------------------------------------------------------


def load_workflow(session: Session, case: Case) -> Workflow:
    """A fresh restore of the case from the database (for reading; commands use the cache)."""
    return replay.restore(session, case)


@contextmanager
def read_workflow(session: Session, case: Case) -> Iterator[Workflow]:
    """The live workflow of ``case`` for a page to read (never to change): from the cache if it holds
    this exact history, else restored; either way it is left in the cache afterwards, so the command that
    usually follows (the form's submit) does not restore it again."""
    workflow = _checkout(session, case)
    try:
        yield workflow
    finally:
        cache.give_back(case.reference, case.last_hash, workflow)


def _checkout(session: Session, case: Case) -> Workflow:
    return cache.take(case.reference, case.last_hash) or load_workflow(session, case)


def _seed(case: Case) -> str:
    # Taken before the command changes the case: the step is named by the history it follows.
    return replay.step_seed(case.reference, case.last_hash)


def _instant(clock: Clock) -> Clock:
    # One command happens at one moment: every deadline it computes and the time its event records
    # agree, which is what lets a replay with the recorded time reproduce it exactly.
    return FrozenClock(clock())


_FIND_CASE = select(Case).where(Case.reference == bindparam("reference"))
_OPEN_TASKS = (
    select(HumanTask).where(HumanTask.case_id == bindparam("case_id"), HumanTask.state == "open").order_by(HumanTask.id)
)


def find_case(session: Session, reference: str) -> Case:
    case = session.scalar(_FIND_CASE, {"reference": reference})
    if case is None:
        raise NotFoundError("case not found")
    return case


def open_tasks(session: Session, case: Case) -> list[HumanTask]:
    return list(session.scalars(_OPEN_TASKS, {"case_id": case.id}))


def lock_case(session: Session, reference: str, lock_version: int | None) -> Case:
    # FOR UPDATE serialises commands on one case on PostgreSQL; SQLite's BEGIN IMMEDIATE does it there.
    # The wait is bounded: a case held longer than LOCK_WAIT is "busy, try again" (409), never a hang.
    try:
        # On SQLite the transaction's BEGIN IMMEDIATE is where the wait happens: inside the try, so it is a 409 too.
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_WAIT_MS}ms'")
        case = session.scalar(_LOCK_CASE, {"reference": reference})
    except OperationalError as error:
        if _lock_not_available(error):
            raise ConflictError(f"case {reference} is busy; try again") from None
        raise
    if case is None:
        raise NotFoundError("case not found")
    if lock_version is not None and case.lock_version != lock_version:
        raise ConflictError(
            f"case {reference} changed since the form was opened (version {lock_version}, now {case.lock_version})"
        )
    if case.status != "active":
        raise InvalidTransitionError(f"case {reference} is {case.status}")
    return case


LOCK_WAIT_MS = 3000


def _lock_not_available(error: OperationalError) -> bool:
    """PostgreSQL's lock_timeout (SQLSTATE 55P03) or SQLite's busy timeout."""
    return getattr(error.orig, "sqlstate", None) == "55P03" or "database is locked" in str(error.orig)


def _ready_task(session: Session, case: Case, workflow: Workflow, task_guid: str) -> UserTaskView:
    """The READY user task, read from the workflow; the index is asked only to explain a refusal."""
    task = workflow.ready_task(task_guid)
    if task is None:
        _open_task(session, case, task_guid)  # raises: not found, or already completed/cancelled
        raise InvalidTransitionError("task is not ready")
    return task


def _open_task(session: Session, case: Case, task_guid: str) -> HumanTask:
    task = session.scalar(select(HumanTask).where(HumanTask.case_id == case.id, HumanTask.task_guid == task_guid))
    if task is None:
        raise NotFoundError("task not found")
    if task.state != "open":
        raise InvalidTransitionError(f"task {task.bpmn_id} is already {task.state}")
    return task


def _save(
    session: Session,
    case: Case,
    *,
    workflow: Workflow,
    actor: Actor,
    now: datetime,
    event_type: str,
    payload: dict[str, Any],
    completed_guid: str | None = None,
) -> None:
    connection = session.connection()  # one lookup for the command's handful of Core statements
    notifications = workflow.drain_notifications()
    opened = _sync_human_tasks(connection, case, workflow, completed_guid, actor, now)
    ran = workflow.drain_completed()
    payload = {
        **payload,
        "completed": ran,
        "opened": [[view.bpmn_id, view.lane] for view in opened],
        "notifications": [[n.role, n.template] for n in notifications],
    }
    event = append_event(
        connection, case, type=event_type, actor=actor, at=now, payload=payload, state_hash=workflow.state_hash()
    )
    if notifications:
        connection.execute(_INSERT_OUTBOX, [_outbox_row(case, note, event.seq, now) for note in notifications])
    completed = workflow.completed
    values: dict[str, Any] = {
        **_scope_changes(case, actor, opened, now),
        "status": "completed" if completed else "active",
        "end_event": workflow.end_event(),
        "urgent": bool(workflow.value("urgent", case.urgent)),
        "lock_version": case.lock_version + 1,
        "event_count": event.seq,
        "last_hash": event.hash,
        "updated_at": now,
    }
    next_timer_at = None if completed else workflow.next_timer_at()
    if next_timer_at != case.next_timer_at:
        # Only when it moved: SQLite rewrites an indexed column's index entry even when set to the same value.
        values["next_timer_at"] = next_timer_at
    snapshot = replay.snapshot_due(workflow, event.seq, completed, len(ran))
    if snapshot:
        state = crypto.seal_text(workflow.to_state(event.seq), aad=crypto.case_state_aad(case.id))
        values.update(state=state, serializer_version=SERIALIZER_VERSION)
    write_case(connection, case, **values)
    if snapshot:
        workflow.snapshot_seq = event.seq
    cache.put_on_commit(session, case.reference, case.last_hash, workflow)


def _scope_changes(case: Case, actor: Actor, opened: list[UserTaskView], now: datetime) -> dict[str, Any]:
    """Who may see the case from now on: the CCV adviser who first acts on it takes it on, and the
    BVA comes in when its first task opens."""
    changes: dict[str, Any] = {}
    if case.ccv_adviser is None and actor.role is Role.CCV:
        changes["ccv_adviser"] = actor.id
    if case.bva_since is None and any(view.lane == Role.BVA.value for view in opened):
        changes["bva_since"] = now
    return changes


def write_case(connection: Connection, case: Case, **values: Any) -> None:
    """One UPDATE of the case row, and the loaded object brought in line without the unit of work
    (which would diff every attribute and write the row a second time at commit)."""
    connection.execute(_UPDATE_CASE, {"b_id": case.id, **values})
    for key, value in values.items():
        set_committed_value(case, key, value)


def _sync_human_tasks(
    connection: Connection,
    case: Case,
    workflow: Workflow,
    completed_guid: str | None,
    actor: Actor,
    now: datetime,
) -> list[UserTaskView]:
    """Bring the inbox index in line with the workflow: new READY tasks in, finished ones out."""
    gone, fresh, redated = workflow.index_changes()
    if completed_guid in gone:
        gone.discard(completed_guid)
        closed = connection.execute(
            _CLOSE_COMPLETED_TASK,
            {
                "b_case_id": case.id,
                "b_guid": completed_guid,
                "b_actor": actor.id,
                "state": "completed",
                "finished_at": now,
                "finished_by": actor.id,
            },
        )
        if closed.rowcount != 1:
            raise PermissionDeniedError("task is claimed by a colleague")
    if gone:
        cancelled = [
            {"b_case_id": case.id, "b_guid": guid, "state": "cancelled", "finished_at": now, "finished_by": None}
            for guid in sorted(gone)
        ]
        connection.execute(_CLOSE_TASK, cancelled)
    if fresh:
        connection.execute(_INSERT_HUMAN_TASK, [_human_task_row(case, view, now) for view in fresh])
    if redated:
        connection.execute(
            _REDATE_TASK, [{"b_case_id": case.id, "b_guid": view.guid, "due_at": view.due_at} for view in redated]
        )
    return fresh


def _human_task_row(case: Case, view: UserTaskView, now: datetime) -> dict[str, Any]:
    # The subject (a measure's description) is case data: encrypted at rest, bound to its case and task.
    subject = (
        None if view.subject is None else crypto.seal_text(view.subject, aad=crypto.subject_aad(case.id, view.guid))
    )
    return {
        "case_id": case.id,
        "task_guid": view.guid,
        "bpmn_id": view.bpmn_id,
        "name": view.name,
        "subject": subject,
        "lane": view.lane,
        "form": view.form,
        "assignee": None,
        "state": "open",
        "created_at": now,
        "due_at": view.due_at,
        "finished_at": None,
        "finished_by": None,
    }


def _outbox_row(case: Case, note: Notification, seq: int, now: datetime) -> dict[str, Any]:
    return {
        "case_id": case.id,
        "idempotency_key": f"{case.reference}:{seq}:{note.task_guid}",
        "recipient_role": note.role,
        "template": note.template,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": None,
        "created_at": now,
    }


def _next_reference(session: Session, year: int) -> str:
    counter = session.scalar(select(ReferenceCounter).where(ReferenceCounter.year == year).with_for_update())
    if counter is None:
        try:
            with session.begin_nested():
                counter = ReferenceCounter(year=year, last=0)
                session.add(counter)
        except IntegrityError:
            counter = session.scalars(
                select(ReferenceCounter).where(ReferenceCounter.year == year).with_for_update()
            ).one()
    counter.last += 1
    return f"BV-{year}-{counter.last:04d}"
