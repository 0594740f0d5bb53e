"""'Mijn taken' and the task page: each lane's people see and complete the open tasks of their scope."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from engine import accesslog, bundles, claims, commands, queries
from engine.access import LANE_ROLES, Actor, Role
from engine.accounts import display_names
from engine.errors import (
    ConflictError,
    FormValidationError,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
)
from engine.model import Case, HumanTask
from engine.runtime import step_texts
from web import db, privacy
from web.casecontext import steps_context
from web.security import current_actor, roles_required
from web.taskforms import FormPage, clock, submitted_form

bp = Blueprint("tasks", __name__)


@bp.get("/taken")
@roles_required(*LANE_ROLES)
def inbox() -> str:
    actor = current_actor()
    wanted = _inbox_filter()
    session = db.reader()
    page = queries.inbox(session, actor, wanted, clock()())
    assignees = display_names(session, (row.assignee for row in page.rows if row.assignee))
    return render_template(
        "tasks/inbox.html",
        page=page,
        wanted=wanted,
        steps=queries.inbox_steps(session, actor),
        assignees=assignees,
        sorts=SORT_LABELS,
    )


SORT_LABELS = {"wacht": "Langst wachtend", "nieuw": "Nieuwste eerst", "termijn": "Eerste termijn", "zaak": "Zaaknummer"}


def _inbox_filter() -> queries.InboxFilter:
    args = request.args
    try:
        page = max(1, int(args.get("pagina", "1")))
    except ValueError:
        page = 1
    sort = args.get("sorteer", "wacht")
    return queries.InboxFilter(
        reference=args.get("zaak", "")[:20],
        step=args.get("stap", "")[:100],
        only_mine=args.get("filter") == "mijn",
        only_unclaimed=args.get("filter") == "vrij",
        only_overdue=args.get("filter") == "verlopen",
        only_urgent=args.get("filter") == "urgent",
        sort=sort if sort in SORT_LABELS else "wacht",
        page=page,
    )


def _task_for(actor: Actor, reference: str, task_guid: str, *, with_state: bool = False) -> tuple[Case, HumanTask]:
    """The case (404 outside the actor's scope) and the task, which must be in the actor's lane (403)."""
    case, task = queries.visible_task(db.reader(), actor, reference, task_guid, with_state=with_state)
    if task.lane != actor.role.value:
        abort(403)
    return case, task


@bp.get("/zaken/<reference>/taken/<task_guid>")
@roles_required(*LANE_ROLES)
def task(reference: str, task_guid: str) -> str | tuple[str, int]:
    actor = current_actor()
    try:
        case, row = _task_for(actor, reference, task_guid, with_state=True)
    except NotFoundError:
        return _done_by_colleague(actor, reference, task_guid, status=200)
    if row.state != "open":
        return _already_done(case, row)
    form = bundles.form_of(case.process_version, row.form or "")
    page = FormPage.for_task(db.reader(), actor, case, row, form)
    return _render(case, row, page)


@bp.post("/zaken/<reference>/taken/<task_guid>")
@roles_required(*LANE_ROLES)
def task_post(reference: str, task_guid: str) -> Response | str | tuple[str, int]:
    actor = current_actor()
    try:
        case, row = _task_for(actor, reference, task_guid)
    except NotFoundError:
        return _done_by_colleague(actor, reference, task_guid, status=409)
    if row.state != "open":
        return _already_done(case, row, status=409)
    form = bundles.form_of(case.process_version, row.form or "")
    page = submitted_form(actor, case, form, lock_version=_posted_lock_version())
    if page.errors or page.row_action:
        return _render(case, row, page, status=422 if page.errors else 200)
    if request.form.get("_actie") == "concept":
        with db.writer() as session:
            page.save_draft(session, row, actor)
        flash("Concept opgeslagen. U kunt later verder gaan.")
        return redirect(url_for("tasks.task", reference=reference, task_guid=task_guid))
    try:
        with db.writer() as session:
            commands.complete_task(
                session, actor, reference, task_guid, page.data, lock_version=page.lock_version, clock=clock()
            )
            page.drop_drafts(session, row)
    except FormValidationError as error:
        page.show_errors(error.errors)
        return _render(case, row, page, status=422)
    except (ConflictError, InvalidTransitionError):
        return _refused(case, row, page)
    flash(f"‘{row.name}’ is afgerond.")
    return redirect(url_for("tasks.inbox"))


def _posted_lock_version() -> int:
    try:
        return int(request.form.get("lock_version", ""))
    except ValueError:
        abort(400)


def _refused(case: Case, row: HumanTask, page: FormPage) -> str | tuple[str, int]:
    """Someone else acted first: say who, if the task is gone; otherwise keep what was typed."""
    session = db.database().reader()
    with session:
        fresh = session.get(HumanTask, row.id)
        if fresh is not None and fresh.state != "open":
            return _already_done(case, fresh, status=409)
    page.stale = True
    return _render(case, row, page, status=409)


def _already_done(case: Case, row: HumanTask, status: int = 200, *, case_visible: bool = True) -> tuple[str, int]:
    who = display_names(db.reader(), [row.finished_by]) if row.finished_by else {}
    page = render_template(
        "tasks/done.html", case=case, task=row, by=who.get(row.finished_by or ""), case_visible=case_visible
    )
    return page, status


def _done_by_colleague(actor: Actor, reference: str, task_guid: str, *, status: int) -> tuple[str, int]:
    """A CCV adviser had the task of an unassigned case open while a colleague completed it: completing it took
    the case on, so it left this adviser's scope. Say who handled the task rather than "not found"; anything else
    out of scope stays a 404. Only someone who saw the task knows its guid."""
    if actor.role is not Role.CCV:
        raise NotFoundError("case not found")
    session = db.reader()
    case = session.scalar(select(Case).where(Case.reference == reference))
    row = queries.task_row(session, case, task_guid) if case is not None else None
    if (
        case is None
        or row is None
        or row.lane != actor.role.value
        or row.state != "completed"
        or case.ccv_adviser in (None, actor.id)
        or row.finished_by != case.ccv_adviser
    ):
        raise NotFoundError("case not found")
    return _already_done(case, row, status, case_visible=False)


def _render(case: Case, row: HumanTask, page: FormPage, status: int = 200) -> tuple[str, int]:
    session = db.reader()
    texts = step_texts(bundles.compiled(case.process_version), _process_of(case, row), row.bpmn_id)
    assignee = display_names(session, [row.assignee]).get(row.assignee or "") if row.assignee else None
    context: dict[str, Any] = {
        "case": case,
        "task": row,
        "texts": texts,
        "page": page,
        "assignee": assignee,
        **steps_context(session, current_actor(), case),
    }
    shown = privacy.fields_shown(context["steps"], form=(page.form.name, privacy.form_fields(page.schema)))
    privacy.record_view(current_actor(), case, accesslog.task_view(row.bpmn_id), shown)
    return render_template("tasks/task.html", **context), status


def _process_of(case: Case, row: HumanTask) -> str:
    """The process id that holds the task (called processes have their own ids)."""
    compiled = bundles.compiled(case.process_version)
    if row.bpmn_id in compiled.spec.task_specs:
        return compiled.process_id
    return next((pid for pid, spec in compiled.subprocess_specs.items() if row.bpmn_id in spec.task_specs), "")


@bp.post("/zaken/<reference>/taken/<task_guid>/oppakken")
@roles_required(*LANE_ROLES)
def claim(reference: str, task_guid: str) -> Response:
    actor = current_actor()
    _task_for(actor, reference, task_guid)
    try:
        with db.writer() as session:
            claims.claim_task(session, actor, reference, task_guid, clock=clock())
    except ConflictError:
        flash("Deze taak is al door een collega opgepakt.")
        return redirect(url_for("tasks.inbox"))
    flash("U heeft de taak opgepakt.")
    return redirect(url_for("tasks.task", reference=reference, task_guid=task_guid))


@bp.post("/zaken/<reference>/taken/<task_guid>/teruggeven")
@roles_required(*LANE_ROLES)
def unclaim(reference: str, task_guid: str) -> Response:
    actor = current_actor()
    _task_for(actor, reference, task_guid)
    try:
        with db.writer() as session:
            claims.unclaim_task(session, actor, reference, task_guid, clock=clock())
    except PermissionDeniedError:
        abort(403)
    flash("De taak is teruggegeven aan het team.")
    return redirect(url_for("tasks.inbox"))
