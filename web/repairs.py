"""Repairs for the beheerder (issue 6): per case, correct the data of a completed step or move the case back
to one, always with a written reason (engine/repair.py). A beheerder sees no case otherwise; here they see the
completed steps and, for one step, only the fields of its form, and every view is recorded in the access log."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from engine import accesslog, bundles, repair
from engine.access import Role
from engine.errors import ConflictError, FormValidationError, InvalidTransitionError, NotFoundError
from engine.model import Case, Document
from web import db, privacy
from web.security import current_actor, roles_required
from web.taskforms import FormPage, clock, submitted_form

bp = Blueprint("repairs", __name__, url_prefix="/beheer/herstel")

CASE_VIEW = "herstel"
REFERENCE_MAX = 20


def step_view(bpmn_id: str) -> str:
    return f"herstel:{bpmn_id}"


@bp.get("")
@roles_required(Role.BEHEERDER)
def index() -> Response | str:
    reference = request.args.get("zaak", "").strip().upper()[:REFERENCE_MAX]
    if reference:
        return redirect(url_for("repairs.case", reference=reference))
    return render_template("repairs/index.html")


@bp.get("/<reference>")
@roles_required(Role.BEHEERDER)
def case(reference: str) -> str:
    return _case_page(_case(reference), errors={})


@bp.get("/<reference>/stappen/<int:seq>")
@roles_required(Role.BEHEERDER)
def step(reference: str, seq: int) -> str | tuple[str, int]:
    found = _case(reference)
    done = _step(found, seq)
    page = _form_page(found, done)
    return _render_step(found, done, page, reason="")


@bp.post("/<reference>/stappen/<int:seq>")
@roles_required(Role.BEHEERDER)
def correct(reference: str, seq: int) -> Response | str | tuple[str, int]:
    actor = current_actor()
    found = _case(reference)
    done = _step(found, seq)
    form = bundles.form_of(found.process_version, done.form or "")
    page = submitted_form(actor, found, form, lock_version=_posted_lock_version())
    reason = _posted_reason()
    if page.errors or page.row_action:
        return _render_step(found, done, page, reason=reason, status=422 if page.errors else 200)
    try:
        with db.writer() as session:
            repair.correct_task_data(
                session,
                actor,
                reference,
                done.task_guid,
                page.data,
                reason=reason,
                lock_version=page.lock_version,
                clock=clock(),
            )
    except FormValidationError as error:
        reason_error = _reason_error(error)
        page.show_errors([e for e in error.errors if e.field not in (repair.REASON_FIELD, "")])
        general = next((e.message for e in error.errors if e.field == ""), None)
        return _render_step(found, done, page, reason=reason, reason_error=reason_error, general=general, status=422)
    except (ConflictError, InvalidTransitionError):
        page.stale = True
        return _render_step(found, done, page, reason=reason, status=409)
    flash(f"De gegevens van ‘{done.name}’ zijn gecorrigeerd; de correctie staat met uw reden in de historie.")
    return redirect(url_for("repairs.case", reference=reference))


@bp.post("/<reference>/stappen/<int:seq>/terugzetten")
@roles_required(Role.BEHEERDER)
def move_back(reference: str, seq: int) -> Response | str | tuple[str, int]:
    found = _case(reference)
    done = _step(found, seq)
    try:
        with db.writer() as session:
            repair.move_back(
                session,
                current_actor(),
                reference,
                done.task_guid,
                reason=_posted_reason(),
                lock_version=_posted_lock_version(),
                clock=clock(),
            )
    except FormValidationError as error:
        return _case_page(found, errors={seq: _reason_error(error) or "Geef een reden op."}), 422
    flash(f"De zaak staat weer bij ‘{done.name}’; wat daarna gebeurde is ongedaan gemaakt en blijft in de historie.")
    return redirect(url_for("repairs.case", reference=reference))


# --------------------------------------------------------------------------------------------------


def _case_page(found: Case, *, errors: dict[int, str]) -> str:
    session = db.reader()
    steps = repair.completed_steps(session, found)
    privacy.record_view(current_actor(), found, CASE_VIEW, [])  # step names and times only, no data
    return render_template(
        "repairs/case.html",
        case=found,
        steps=steps,
        erased=repair.was_erased(session, found),
        errors=errors,
        min_reason=repair.MIN_REASON,
    )


def _case(reference: str) -> Case:
    if len(reference) > REFERENCE_MAX:
        raise NotFoundError("case not found")
    return repair.find_repairable_case(db.reader(), reference)


def _step(found: Case, seq: int) -> repair.CompletedStep:
    done = next((s for s in repair.completed_steps(db.reader(), found) if s.seq == seq), None)
    if done is None:
        raise NotFoundError("completed step not found")
    return done


def _form_page(found: Case, done: repair.CompletedStep) -> FormPage:
    if not done.form:
        abort(404)  # a step without a form has no data to correct
    session = db.reader()
    form = bundles.form_of(found.process_version, done.form)
    page = FormPage(form, repair.recorded_data(session, found, done.task_guid), found.lock_version)
    uploaded = session.scalars(select(Document).where(Document.case_id == found.id, Document.form == form.name))
    page.documents = {document.id: document.filename for document in uploaded}
    return page


def _render_step(
    found: Case,
    done: repair.CompletedStep,
    page: FormPage,
    *,
    reason: str,
    reason_error: str | None = None,
    general: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    # Only this step's form is shown: its fields are what the beheerder sees of the case.
    fields = accesslog.field_names([(page.form.name, privacy.form_fields(page.schema))])
    privacy.record_view(current_actor(), found, step_view(done.bpmn_id), fields)
    context = {
        "case": found,
        "step": done,
        "page": page,
        "reason": reason,
        "reason_error": reason_error,
        "general": general,
        "min_reason": repair.MIN_REASON,
    }
    return render_template("repairs/step.html", **context), status


def _posted_lock_version() -> int:
    try:
        return int(request.form.get("lock_version", ""))
    except ValueError:
        return 0  # a missing version is a stale one: the engine refuses it after checking the reason


def _posted_reason() -> str:
    return request.form.get(repair.REASON_FIELD, "")[: repair.MAX_REASON + 1]


def _reason_error(error: FormValidationError) -> str | None:
    return next((e.message for e in error.errors if e.field == repair.REASON_FIELD), None)
