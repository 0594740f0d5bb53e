"""The audit area (auditor only, read-only): search every case, its unified timeline, the case at any event
(a scrubber over the timeline), verification of its history, and the audit file as JSON and PDF.

Every page of a case and every export is recorded in the access log before it leaves the server (fail closed,
web/privacy.py); the search list shows no case data beyond reference, organisation, status and dates.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from typing import Any

from flask import Blueprint, Response, render_template, request, url_for

from engine import accesslog, audit, auditfile, bundles, queries
from engine.access import Role
from engine.errors import NotFoundError
from engine.model import Case
from web import db, privacy
from web.security import current_actor, roles_required
from web.taskforms import clock, display_schema

bp = Blueprint("audit", __name__, url_prefix="/audit")

CASE_VIEW = "audit:zaakpagina"
VERIFY_VIEW = "audit:verificatie"
EXPORT_VIEWS = {"json": "audit:export-json", "pdf": "audit:export-pdf"}


@bp.app_template_filter("utc")
def _utc(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# -- search ---------------------------------------------------------------------------------------------------


@bp.get("")
@roles_required(Role.AUDITOR)
def index() -> str:
    session = db.reader()
    wanted = _filter_from(request.args)
    return render_template(
        "audit/index.html",
        page=audit.search(session, wanted),
        wanted=wanted,
        organisations=audit.organisations(session),
        versions=audit.versions(session),
        statuses=audit.STATUSES,
    )


def _filter_from(args: Any) -> audit.AuditFilter:
    status = args.get("status", "")
    return audit.AuditFilter(
        reference=args.get("zaak", "")[:20],
        organisation=args.get("organisatie", "")[:100],
        status=status if status in audit.STATUSES else "",
        since=_day(args.get("van", "")),
        until=_day(args.get("tot", "")),
        version_id=_number(args.get("versie", "")),
        page=max(1, _number(args.get("pagina", "")) or 1),
    )


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text[:10]) if text else None
    except ValueError:
        return None


def _number(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) < 10 else None


# -- one case -------------------------------------------------------------------------------------------------


def _case(reference: str) -> Case:
    return queries.visible_case(db.reader(), current_actor(), reference)


@bp.get("/zaken/<reference>")
@roles_required(Role.AUDITOR)
def case(reference: str) -> str:
    """The case at event ``stap`` (default: its last), with the whole timeline; works without JavaScript."""
    actor = current_actor()
    session = db.reader()
    found = _case(reference)
    try:
        moment = audit.moment(session, found, _number(request.args.get("stap", "")) or found.event_count)
    except NotFoundError:
        moment = None
    entries = audit.timeline(session, found)
    steps = moment.steps if moment else []
    forms = _display_forms(found, {*(step.form for step in steps), *(entry.form for entry in entries if entry.form)})
    shown = [(step.form, step.data) for step in steps] + [(entry.form, entry.data) for entry in entries if entry.form]
    privacy.record_view(actor, found, CASE_VIEW, accesslog.field_names(shown))
    documents = queries.documents(session, actor, found)
    return render_template(
        "audit/case.html",
        case=found,
        moment=moment,
        entries=entries,
        step_forms=forms,
        step_documents={doc.id: doc.filename for doc in documents},
        document_url=_document_url(found.reference),
    )


def _document_url(reference: str) -> Callable[[str], str]:
    def url(document_id: str) -> str:
        return url_for("cases.document", reference=reference, document_id=document_id)

    return url


def _display_forms(case: Case, names: Iterable[str]) -> dict[str, Any]:
    forms: dict[str, Any] = {}
    for name in names:
        try:
            forms[name] = display_schema(bundles.form_of(case.process_version, name))
        except NotFoundError:
            forms[name] = {}
    return forms


@bp.get("/zaken/<reference>/verificatie")
@roles_required(Role.AUDITOR)
def verify(reference: str) -> str:
    """The hash chain and the re-execution from the first event: "Geverifieerd" or the first event that fails."""
    found = _case(reference)
    result = audit.verify(db.reader(), found)
    privacy.record_view(current_actor(), found, VERIFY_VIEW, [])
    return render_template("audit/verify.html", case=found, result=result)


@bp.get("/zaken/<reference>/auditdossier.json")
@roles_required(Role.AUDITOR)
def export_json(reference: str) -> Response:
    session, found, now = db.reader(), _case(reference), clock()()
    data = auditfile.audit_json(session, found, audit.verify(session, found), now)
    _record_export(found, "json")
    text = json.dumps(data, ensure_ascii=False, indent=2)
    return _download(Response(text, mimetype="application/json"), f"auditdossier-{found.reference}.json")


@bp.get("/zaken/<reference>/auditdossier.pdf")
@roles_required(Role.AUDITOR)
def export_pdf(reference: str) -> Response:
    session, found, now = db.reader(), _case(reference), clock()()
    content = auditfile.audit_pdf(session, found, audit.verify(session, found), now)
    _record_export(found, "pdf")
    return _download(Response(content, mimetype="application/pdf"), f"auditdossier-{found.reference}.pdf")


def _record_export(found: Case, kind: str) -> None:
    """The export's fields (form/field names of every step in it) go into the access log before it is sent."""
    shown = [(entry.form, entry.data) for entry in audit.timeline(db.reader(), found) if entry.form]
    privacy.record_view(current_actor(), found, EXPORT_VIEWS[kind], accesslog.field_names(shown))


def _download(response: Response, filename: str) -> Response:
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response
