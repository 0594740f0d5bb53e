"""Moving a waiting case to a newer version of its process, one case at a time, on the procesbeheerder's word.

The case is rebuilt on the new version by re-running every input its history recorded (engine/replay.py,
``rebuild_on``), with the recorded times and seeds. The move is accepted only if every event applies there, the
case waits at the same steps and for the same messages, and it has not finished there already; otherwise the
answer says why not, in Dutch. The move itself is an event (``case_migrated``: from/to version, who, why) whose
state hash is the rebuild's, so replaying the case from its start (the auditor's check) rebuilds it the same way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from engine import bundles, cache, commands, crypto, reasons, replay
from engine.access import Actor, Role
from engine.errors import EngineError, InvalidTransitionError, NotFoundError, PermissionDeniedError
from engine.history import REPAIR, append_event, is_erased
from engine.model import Case, HumanTask, ProcessVersion
from engine.runtime import SERIALIZER_VERSION, CompiledProcess, UserTaskView, Workflow


@dataclass(frozen=True)
class Assessment:
    """Whether a case can move to a version, and why (not)."""

    can_move: bool
    reason: str
    workflow: Workflow | None = None  # the rebuilt workflow, when it can


def history_rows(session: Session, case: Case) -> Sequence[Any]:
    return session.execute(
        select(*replay._REPLAY_COLUMNS)
        .where(replay.EVENT_TABLE.c.case_id == case.id)
        .order_by(replay.EVENT_TABLE.c.seq)
    ).all()


def assess(session: Session, case: Case, target: CompiledProcess) -> Assessment:
    """Rebuild ``case`` on ``target`` (nothing is stored) and compare where it waits with where it waits now."""
    if case.status != "active":
        return Assessment(False, "de zaak is afgerond")
    rows = history_rows(session, case)
    if not rows or rows[0].type != "case_started":
        return Assessment(False, "de geschiedenis van de zaak begint niet bij de start")
    if any(row.type == REPAIR for row in rows):
        return Assessment(
            False, "de zaak is hersteld door beheer; zo'n herstel is niet op een andere versie over te doen"
        )
    if any(is_erased(row.payload, row.payload_hash) for row in rows):
        return Assessment(False, "de gegevens van de zaak zijn gewist; haar stappen zijn niet opnieuw uit te voeren")
    try:
        rebuilt = replay.rebuild_on(target, case.reference, rows, case_id=case.id)
    except EngineError as error:
        return Assessment(False, reasons.why_not_rebuilt(error, case_id=case.id))
    with commands.read_workflow(session, case) as now:
        waiting_now = Counter(view.bpmn_id for view in now.ready_user_tasks())
        messages_now = now.awaited_messages()
    waiting_new = Counter(view.bpmn_id for view in rebuilt.ready_user_tasks())
    if rebuilt.completed:
        return Assessment(False, "in de nieuwe versie zou de zaak al afgerond zijn")
    if waiting_new != waiting_now:
        return Assessment(
            False,
            f"de zaak wacht nu op {_names(waiting_now)}, in de nieuwe versie op {_names(waiting_new)}",
        )
    if rebuilt.awaited_messages() != messages_now:
        return Assessment(False, "de zaak zou in de nieuwe versie op andere berichten wachten")
    return Assessment(True, "kan over: dezelfde wachtende stappen, alle gebeurtenissen passen", rebuilt)


def _names(counter: Counter[str]) -> str:
    return ", ".join(sorted(counter.elements())) or "niets"


def migrate(
    session: Session, actor: Actor, reference: str, target: ProcessVersion, *, reason: str, at: datetime
) -> Case:
    """Move the waiting case ``reference`` to ``target`` (a newer version of its process) and record it."""
    if actor.role is not Role.PROCESBEHEERDER:
        raise PermissionDeniedError("only a procesbeheerder moves cases between versions")
    if not reason.strip():
        raise InvalidTransitionError("een toelichting is verplicht")
    try:
        case = commands.lock_case(session, reference, None)
    except InvalidTransitionError:
        raise InvalidTransitionError(f"zaak {reference} is afgerond; alleen een lopende zaak gaat over") from None
    source = case.process_version
    if target.process_key != source.process_key or target.version <= source.version:
        raise InvalidTransitionError(
            f"versie {target.version} is geen nieuwere versie van {source.process_key} "
            f"(de zaak loopt op versie {source.version})"
        )
    verdict = assess(session, case, bundles.compiled(target))
    if not verdict.can_move or verdict.workflow is None:
        raise InvalidTransitionError(f"zaak {reference} kan niet over naar versie {target.version}: {verdict.reason}")
    _record(session, case, actor, verdict.workflow, source, target, reason.strip(), at)
    return case


def _record(
    session: Session,
    case: Case,
    actor: Actor,
    workflow: Workflow,
    source: ProcessVersion,
    target: ProcessVersion,
    reason: str,
    at: datetime,
) -> None:
    connection = session.connection()
    payload = {
        "from_version": source.version,
        "to_version": target.version,
        "from_content_hash": source.content_hash,
        "to_content_hash": target.content_hash,
        "reason": reason,
        "completed": [],
        "opened": [],
        "notifications": [],
    }
    event = append_event(
        connection, case, type=replay.MIGRATED, actor=actor, at=at, payload=payload, state_hash=workflow.state_hash()
    )
    _repoint_tasks(session, case, workflow)
    state = crypto.seal_text(workflow.to_state(event.seq), aad=crypto.case_state_aad(case.id))
    commands.write_case(
        connection,
        case,
        process_version_id=target.id,
        state=state,
        serializer_version=SERIALIZER_VERSION,
        next_timer_at=workflow.next_timer_at(),
        lock_version=case.lock_version + 1,
        event_count=event.seq,
        last_hash=event.hash,
        updated_at=at,
    )
    set_committed_value(case, "process_version", target)
    workflow.snapshot_seq = event.seq
    cache.put_on_commit(session, case.reference, case.last_hash, workflow)


def _repoint_tasks(session: Session, case: Case, workflow: Workflow) -> None:
    """The inbox rows of the open tasks name the rebuilt workflow's tasks (same steps, maybe new guids)."""
    fresh: dict[str, list[UserTaskView]] = {}
    for view in workflow.ready_user_tasks():
        fresh.setdefault(view.bpmn_id, []).append(view)
    for task in commands.open_tasks(session, case):
        views = fresh.get(task.bpmn_id)
        if not views:
            raise NotFoundError(f"task {task.bpmn_id} has no counterpart in the new version")
        view = views.pop(0)
        session.execute(
            update(HumanTask)
            .where(HumanTask.id == task.id)
            .values(task_guid=view.guid, due_at=view.due_at, sealed_subject=_sealed_subject(case, view))
            .execution_options(synchronize_session=False)
        )


def _sealed_subject(case: Case, view: UserTaskView) -> str | None:
    # The subject is bound to its task's guid (engine/model.py), so a new guid needs it sealed anew.
    return None if view.subject is None else crypto.seal_text(view.subject, aad=crypto.subject_aad(case.id, view.guid))
