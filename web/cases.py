"""Cases: the aanmelding that starts one, the list of cases in scope, the case page, diagrams, documents
and the messages from outside (bezwaar, aftreden, heradvies)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from engine import accesslog, bundles, commands, queries
from engine.access import LANE_ROLES, Actor, Role
from engine.errors import ConflictError, FormValidationError, InvalidTransitionError, NotFoundError
from engine.forms import FormSchema
from engine.model import Case, Organisation
from web import db, privacy
from web.casecontext import steps_context
from web.formdata import parse_submission
from web.security import current_actor, roles_required
from web.taskforms import FormPage, clock, submitted_form

bp = Blueprint("cases", __name__)

AANMELDING_FORM = "aanmelding.schema.json"
CASE_READERS = (*LANE_ROLES, Role.AUDITOR)
STATUS_LABELS = {"active": "Lopend", "completed": "Afgerond"}


@bp.app_context_processor
def _labels() -> dict[str, Any]:
    return {"STATUS_LABELS": STATUS_LABELS}


@bp.get("/zaken")
@roles_required(*CASE_READERS)
def index() -> str:
    actor = current_actor()
    try:
        page_number = max(1, int(request.args.get("pagina", "1")))
    except ValueError:
        page_number = 1
    status = request.args.get("status", "")
    wanted = queries.CaseFilter(
        reference=request.args.get("zaak", "")[:20],
        status=status if status in STATUS_LABELS else "",
        page=page_number,
    )
    return render_template("cases/list.html", page=queries.cases(db.reader(), actor, wanted), wanted=wanted)


# -- aanmelding ---------------------------------------------------------------------------------------


def _aanmelding_form() -> FormSchema:
    return bundles.form_of(bundles.active_version(db.reader(), commands.DEFAULT_PROCESS), AANMELDING_FORM)


@bp.get("/aanmelden")
@roles_required(Role.BESTUURDER)
def new() -> str:
    actor = current_actor()
    organisation = db.reader().get(Organisation, actor.organisation or "")
    values = {"naam": _account_name()}
    if organisation is not None:
        values |= {"organisatie_naam": organisation.name, "organisatie_type": organisation.kind}
    page = FormPage(_aanmelding_form(), values, lock_version=0)
    return render_template("cases/new.html", page=page)


def _account_name() -> str:
    return str(g.account.name)


@bp.post("/aanmelden")
@roles_required(Role.BESTUURDER)
def create() -> BaseResponse | tuple[str, int]:
    """Start the case and complete its aanmelding in one transaction: a refused form leaves no case."""
    actor = current_actor()
    form = _aanmelding_form()
    page = _parse_without_uploads(form)
    if page.errors or page.row_action:
        return render_template("cases/new.html", page=page), 422 if page.errors else 200
    try:
        with db.writer() as session:
            case = commands.start_case(session, actor, clock=clock())
            first = _first_task(session, case, actor)
            commands.complete_task(
                session, actor, case.reference, first, page.data, lock_version=case.lock_version, clock=clock()
            )
            reference = case.reference
    except FormValidationError as error:
        page.show_errors(error.errors)
        return render_template("cases/new.html", page=page), 422
    flash(f"Uw aanmelding is ontvangen onder zaaknummer {reference}.")
    return redirect(url_for("cases.show", reference=reference))


def _parse_without_uploads(form: FormSchema) -> FormPage:
    parsed = parse_submission(form.schema, request.form)
    return FormPage(form, parsed.raw, 0, data=parsed.data, row_action=parsed.row_action is not None)


def _first_task(session: Any, case: Case, actor: Actor) -> str:
    for task in commands.open_tasks(session, case):
        if task.lane == actor.role.value and task.form == AANMELDING_FORM:
            return task.task_guid
    raise InvalidTransitionError("the process does not start with the aanmelding")


# -- the case page -----------------------------------------------------------------------------------


@bp.get("/zaken/<reference>")
@roles_required(*CASE_READERS)
def show(reference: str) -> str:
    actor = current_actor()
    session = db.reader()
    case = queries.visible_case(session, actor, reference)
    now = clock()()
    live: dict[str, dict[str, list[str]]] = {}
    awaited: set[str] = set()
    if case.status == "active":
        with commands.read_workflow(session, case) as workflow:
            live, awaited = workflow.live_elements(), workflow.awaited_messages()
    done = queries.completed_elements(session, case)
    diagrams = [commands.DEFAULT_PROCESS, *(pid for pid in live if pid != commands.DEFAULT_PROCESS)]
    markers = {pid: {"done": done, **live.get(pid, {"active": [], "waiting": []})} for pid in diagrams}
    messages = _sendable_messages(actor, case, awaited)
    steps, documents = steps_context(session, actor, case), queries.documents(session, actor, case)
    privacy.record_view(actor, case, accesslog.CASE_PAGE, privacy.fields_shown(steps["steps"], documents))
    return render_template(
        "cases/case.html",
        case=case,
        tasks=commands.open_tasks(session, case),
        **steps,
        timeline=queries.timeline(session, case),
        documents=documents,
        deadlines=queries.deadlines(session, case, now),
        diagrams=diagrams,
        markers=markers,
        messages=messages,
        may_act=actor.role in LANE_ROLES,
    )


MESSAGE_LABELS = {
    "aftreden": "Aftreden melden",
    "bezwaar_ingediend": "Bezwaar indienen",
    "heradvies_aangevraagd": "Heradvies aanvragen",
}


def _sendable_messages(actor: Actor, case: Case, awaited: set[str]) -> list[tuple[str, str]]:
    """The messages the case waits for now that the actor's role may send (``x-senders``)."""
    result = []
    for name in sorted(awaited):
        try:
            form = bundles.form_of(case.process_version, bundles.message_form_name(name))
        except NotFoundError:
            continue
        if actor.role.value in form.schema.get("x-senders", ()):
            result.append((name, MESSAGE_LABELS.get(name, name)))
    return result


@bp.get("/zaken/<reference>/diagram/<process_id>.bpmn")
@roles_required(*CASE_READERS)
def diagram(reference: str, process_id: str) -> Response:
    case = queries.visible_case(db.reader(), current_actor(), reference)
    text = bundles.bundle_of(case.process_version).diagram_files.get(f"{process_id}.bpmn")
    if text is None:
        abort(404)
    return Response(text, mimetype="application/xml")


@bp.get("/zaken/<reference>/documenten/<document_id>")
@roles_required(*CASE_READERS)
def document(reference: str, document_id: str) -> Response:
    actor = current_actor()
    session = db.reader()
    case = queries.visible_case(session, actor, reference)
    doc = queries.document(session, actor, case, document_id)
    what, field = accesslog.document_view(doc.form, doc.field), accesslog.field_name(doc.form, doc.field)
    privacy.record_view(actor, case, what, [field])
    response = Response(doc.content, mimetype=doc.content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{doc.filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


# -- messages from outside -----------------------------------------------------------------------------


def _message_form(case: Case, name: str, actor: Actor) -> FormSchema:
    if name not in MESSAGE_LABELS:
        abort(404)
    form = bundles.form_of(case.process_version, bundles.message_form_name(name))
    if actor.role.value not in form.schema.get("x-senders", ()):
        abort(403)
    return form


@bp.get("/zaken/<reference>/berichten/<name>")
@roles_required(*LANE_ROLES)
def message(reference: str, name: str) -> str:
    actor = current_actor()
    case = queries.visible_case(db.reader(), actor, reference)
    form = _message_form(case, name, actor)
    page = FormPage(form, {}, case.lock_version)
    return render_template("cases/message.html", case=case, name=name, label=MESSAGE_LABELS[name], page=page)


@bp.post("/zaken/<reference>/berichten/<name>")
@roles_required(*LANE_ROLES)
def message_post(reference: str, name: str) -> BaseResponse | tuple[str, int]:
    actor = current_actor()
    case = queries.visible_case(db.reader(), actor, reference)
    form = _message_form(case, name, actor)
    page = submitted_form(actor, case, form, lock_version=case.lock_version)
    label = MESSAGE_LABELS[name]
    if page.errors or page.row_action:
        return render_template("cases/message.html", case=case, name=name, label=label, page=page), (
            422 if page.errors else 200
        )
    try:
        with db.writer() as session:
            commands.deliver_message(session, actor, reference, name, page.data, clock=clock())
    except FormValidationError as error:
        page.show_errors(error.errors)
        return render_template("cases/message.html", case=case, name=name, label=label, page=page), 422
    except (ConflictError, InvalidTransitionError):
        flash("De zaak wacht op dit moment niet op dit bericht.")
        return redirect(url_for("cases.show", reference=reference))
    flash(f"‘{label}’ is verwerkt.")
    return redirect(url_for("cases.show", reference=reference))
