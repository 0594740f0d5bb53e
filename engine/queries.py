"""What the pages read: inbox, case lists, a case's steps, timeline, documents and deadlines.

Reads never restore a workflow except where a page shows live state (the diagram); they go through the
``human_task`` index, the ``event`` history and the scope rules of ``engine.access``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session, joinedload, undefer

from engine import bundles, commands, runtime, visibility
from engine.access import Actor, case_scope, require_case_access
from engine.accounts import display_names
from engine.errors import NotFoundError
from engine.history import open_payload
from engine.model import Account, Case, Document, Event, HumanTask, ProcessVersion

PER_PAGE = 50
# Counting stops here: "more than 500 tasks" says all a person needs, and an exact count of a national
# inbox would cost time in proportion to its size on every page view.
COUNT_CAP = 500
T = TypeVar("T")
INBOX_SORTS = {
    "wacht": (HumanTask.created_at.asc(), HumanTask.id.asc()),
    "nieuw": (HumanTask.created_at.desc(), HumanTask.id.desc()),
    "termijn": (HumanTask.due_at.is_(None), HumanTask.due_at.asc(), HumanTask.id.asc()),
    "zaak": (Case.reference.asc(), HumanTask.id.asc()),
}


@dataclass(frozen=True)
class InboxFilter:
    reference: str = ""
    step: str = ""
    only_mine: bool = False
    only_unclaimed: bool = False
    only_overdue: bool = False
    only_urgent: bool = False
    sort: str = "wacht"
    page: int = 1


@dataclass(frozen=True)
class InboxRow:
    reference: str
    task_guid: str
    bpmn_id: str
    name: str
    subject: str | None
    created_at: datetime
    due_at: datetime | None
    assignee: str | None
    urgent: bool
    overdue: bool


@dataclass(frozen=True)
class Page(Generic[T]):
    rows: list[T]
    total: int
    page: int
    per_page: int = PER_PAGE
    capped: bool = False  # there are more than ``total`` rows

    @property
    def pages(self) -> int:
        """Pages known so far; when the count was capped there is at least one more."""
        return max(1, -(-self.total // self.per_page)) + (1 if self.capped else 0)


def _inbox_query(actor: Actor, wanted: InboxFilter, now: datetime) -> Select[HumanTask, str, bool]:
    query = (
        select(HumanTask, Case.reference, Case.urgent)
        .join(Case, Case.id == HumanTask.case_id)
        .where(HumanTask.state == "open", HumanTask.lane == actor.role.value, case_scope(actor))
    )
    if wanted.reference:
        query = query.where(Case.reference.startswith(wanted.reference.strip().upper(), autoescape=True))
    if wanted.step:
        query = query.where(HumanTask.bpmn_id == wanted.step)
    if wanted.only_mine:
        query = query.where(HumanTask.assignee == actor.id)
    if wanted.only_unclaimed:
        query = query.where(HumanTask.assignee.is_(None))
    if wanted.only_overdue:
        query = query.where(HumanTask.due_at < now)
    if wanted.only_urgent:
        query = query.where(Case.urgent.is_(True))
    return query


def inbox(session: Session, actor: Actor, wanted: InboxFilter, now: datetime) -> Page[InboxRow]:
    """The open tasks of the actor's lane in the actor's scope, one page of them."""
    query = _inbox_query(actor, wanted, now)
    page = max(1, wanted.page)
    total, capped = _bounded_count(session, query, max(COUNT_CAP, page * PER_PAGE))
    order = INBOX_SORTS.get(wanted.sort, INBOX_SORTS["wacht"])
    rows = session.execute(query.order_by(*order).limit(PER_PAGE).offset((page - 1) * PER_PAGE))
    return Page(
        rows=[
            InboxRow(
                reference=reference,
                task_guid=task.task_guid,
                bpmn_id=task.bpmn_id,
                name=task.name,
                subject=task.subject,
                created_at=task.created_at,
                due_at=task.due_at,
                assignee=task.assignee,
                urgent=urgent,
                overdue=task.due_at is not None and task.due_at < now,
            )
            for task, reference, urgent in rows
        ],
        total=total,
        page=page,
        capped=capped,
    )


def _bounded_count(session: Session, query: Select[*tuple[Any, ...]], cap: int) -> tuple[int, bool]:
    """The number of rows of ``query``, counting no further than ``cap`` (then: ``cap``, True)."""
    counted = session.scalar(select(func.count()).select_from(query.limit(cap + 1).subquery())) or 0
    return min(counted, cap), counted > cap


def inbox_steps(session: Session, actor: Actor) -> list[tuple[str, str]]:
    """(bpmn id, name) of the user tasks of the actor's lane in the deployed processes, for the step
    filter: read from the diagrams, so it costs the same whatever the number of cases."""
    steps: dict[str, str] = {}
    for version in session.scalars(select(ProcessVersion).order_by(ProcessVersion.version.desc())):
        for bpmn_id, name in runtime.user_tasks_in_lane(bundles.compiled(version), actor.role.value):
            steps.setdefault(bpmn_id, name)
    return sorted(steps.items(), key=lambda step: step[1])


@dataclass(frozen=True)
class CaseFilter:
    reference: str = ""
    status: str = ""
    page: int = 1


def cases(session: Session, actor: Actor, wanted: CaseFilter) -> Page[Case]:
    query = select(Case).where(case_scope(actor))
    if wanted.reference:
        query = query.where(Case.reference.startswith(wanted.reference.strip().upper(), autoescape=True))
    if wanted.status:
        query = query.where(Case.status == wanted.status)
    page = max(1, wanted.page)
    total, capped = _bounded_count(session, query, max(COUNT_CAP, page * PER_PAGE))
    rows = session.scalars(query.order_by(Case.id.desc()).limit(PER_PAGE).offset((page - 1) * PER_PAGE))
    return Page(rows=list(rows), total=total, page=page, capped=capped)


def visible_case(session: Session, actor: Actor, reference: str) -> Case:
    """The case if the actor may see it; otherwise NotFoundError, as if it did not exist."""
    case = commands.find_case(session, reference)
    require_case_access(actor, case)
    return case


# A task page and its submit read the case, the task and the case's process version: one statement, built once.
_CASE_AND_TASK = (
    select(Case, HumanTask)
    .join(HumanTask, HumanTask.case_id == Case.id)
    .where(Case.reference == bindparam("reference"), HumanTask.task_guid == bindparam("task_guid"))
    .options(joinedload(Case.process_version, innerjoin=True))
)


# The page that shows the form also restores the workflow for its first values: the stored state in the same trip.
_CASE_WITH_STATE_AND_TASK = _CASE_AND_TASK.options(undefer(Case.state))


def visible_task(
    session: Session, actor: Actor, reference: str, task_guid: str, *, with_state: bool = False
) -> tuple[Case, HumanTask]:
    """The case (NotFoundError outside the actor's scope, as if it did not exist) and its task (NotFoundError
    if the case has no such task); ``with_state`` loads the case's stored workflow along."""
    query = _CASE_WITH_STATE_AND_TASK if with_state else _CASE_AND_TASK
    found = session.execute(query, {"reference": reference, "task_guid": task_guid}).first()
    if found is None:
        visible_case(session, actor, reference)  # raises for a case that is missing or out of scope
        raise NotFoundError("task not found")
    case, task = found
    require_case_access(actor, case)
    return case, task


def task_row(session: Session, case: Case, task_guid: str) -> HumanTask:
    task = session.scalar(select(HumanTask).where(HumanTask.case_id == case.id, HumanTask.task_guid == task_guid))
    if task is None:
        raise NotFoundError("task not found")
    return task


@dataclass(frozen=True)
class Step:
    """A completed task (or a message received) with the data this role may see of it."""

    name: str
    form: str
    at: datetime
    by: str
    data: dict[str, Any]
    hidden: bool  # the role may see that the step happened, but not one of its fields


# The steps panel of a case or task page: each completed task or message with its task's name and form and the
# name of who acted, in one statement (a message matches no task; the worker has no account).
_STEP_EVENTS = (
    select(
        Event.case_id,
        Event.seq,
        Event.type,
        Event.actor,
        Event.occurred_at,
        Event.payload,
        HumanTask.name.label("task_name"),
        HumanTask.form.label("task_form"),
        Account.name.label("actor_name"),
    )
    .outerjoin(
        HumanTask,
        (HumanTask.case_id == Event.case_id) & (HumanTask.task_guid == Event.payload["task_guid"].as_string()),
    )
    .outerjoin(Account, Account.id == Event.actor)
    .where(Event.case_id == bindparam("case_id"), Event.type.in_(("task_completed", "message_delivered")))
    .order_by(Event.seq)
)


def completed_steps(session: Session, actor: Actor, case: Case) -> list[Step]:
    steps = []
    for row in session.execute(_STEP_EVENTS, {"case_id": case.id}):
        if row.type == "task_completed":
            if not row.task_form:
                continue
            name, form = row.task_name, row.task_form
            data = open_payload(row.case_id, row.seq, row.payload).get("data", {})
        else:
            message = row.payload.get("name", "")
            name, form = MESSAGE_NAMES.get(message, message), bundles.message_form_name(message)
            data = open_payload(row.case_id, row.seq, row.payload).get("payload", {})
        shown = visibility.visible_data(actor.role, form, data)
        by = row.actor_name or row.actor
        steps.append(Step(name, form, row.occurred_at, by, shown, hidden=not shown and bool(data)))
    return steps


MESSAGE_NAMES = {
    "aftreden": "Aftreden gemeld",
    "bezwaar_ingediend": "Bezwaar ingediend",
    "heradvies_aangevraagd": "Heradvies aangevraagd",
}

EVENT_TEXTS = {
    "case_started": "Zaak gestart",
    "task_completed": "Stap afgerond",
    "message_delivered": "Bericht ontvangen",
    "timers_fired": "Termijn verstreken",
    "task_claimed": "Taak opgepakt",
    "task_unclaimed": "Taak teruggegeven",
    "case_migrated": "Zaak overgezet naar een nieuwe procesversie",
    "repair": "Hersteld door beheer",
    "erasure": "Persoonsgegevens gewist",
}


@dataclass(frozen=True)
class TimelineEntry:
    seq: int
    at: datetime
    what: str
    detail: str
    by: str
    role: str
    opened: list[str] = field(default_factory=list)


def timeline(session: Session, case: Case) -> list[TimelineEntry]:
    """Who did what when, without any form data: step names and actors only."""
    events = list(session.scalars(select(Event).where(Event.case_id == case.id).order_by(Event.seq)))
    rows = session.execute(select(HumanTask.bpmn_id, HumanTask.name).where(HumanTask.case_id == case.id))
    task_names = {bpmn_id: name for bpmn_id, name in rows}
    names = display_names(session, (event.actor for event in events))
    return [
        TimelineEntry(
            seq=event.seq,
            at=event.occurred_at,
            what=EVENT_TEXTS.get(event.type, event.type),
            detail=_event_detail(event, task_names),
            by=names[event.actor],
            role=event.actor_role,
            opened=[task_names.get(bpmn_id, bpmn_id) for bpmn_id, _lane in event.payload.get("opened", [])],
        )
        for event in events
    ]


def _event_detail(event: Event, task_names: dict[str, str]) -> str:
    payload = event.payload
    if "task" in payload:
        return task_names.get(payload["task"], str(payload["task"]))
    if event.type == "message_delivered":
        name = str(payload.get("name", ""))
        return MESSAGE_NAMES.get(name, name)
    return ""


def completed_elements(session: Session, case: Case) -> list[str]:
    """BPMN ids of every element the case has completed, from its history (the workflow forgets them)."""
    done: dict[str, None] = {}
    payload: dict[str, Any]
    for payload in session.scalars(select(Event.payload).where(Event.case_id == case.id).order_by(Event.seq)):
        done.update(dict.fromkeys(payload.get("completed", [])))
    return list(done)


def documents(session: Session, actor: Actor, case: Case) -> list[Document]:
    rows = session.scalars(select(Document).where(Document.case_id == case.id).order_by(Document.uploaded_at))
    return [doc for doc in rows if visibility.may_see_field(actor.role, doc.form, doc.field)]


def document(session: Session, actor: Actor, case: Case, document_id: str) -> Document:
    doc = session.scalar(select(Document).where(Document.case_id == case.id, Document.id == document_id))
    if doc is None or not visibility.may_see_field(actor.role, doc.form, doc.field):
        raise NotFoundError("document not found")
    return doc


@dataclass(frozen=True)
class Deadline:
    what: str
    due_at: datetime
    overdue: bool


def deadlines(session: Session, case: Case, now: datetime) -> list[Deadline]:
    found = [
        Deadline(task.name, task.due_at, task.due_at < now)
        for task in commands.open_tasks(session, case)
        if task.due_at is not None
    ]
    if case.next_timer_at is not None and all(d.due_at != case.next_timer_at for d in found):
        found.append(Deadline("Volgende termijn in het proces", case.next_timer_at, case.next_timer_at < now))
    return sorted(found, key=lambda d: d.due_at)
