"""Privacy: the access log of every page that shows a case's sensitive data, and the AVG inzageverzoek export
for the functionaris gegevensbescherming (who works with the Auditor role).

A view is recorded in a short transaction of its own before the page leaves the server. If it cannot be
recorded, the exception goes to the generic error page and the page is not shown: fail closed.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Blueprint, Response, abort, render_template, request

from engine import accesslog
from engine import inzage as export_data
from engine.access import Actor, Role
from engine.errors import NotFoundError
from engine.model import AdminAction, Case, Document
from engine.queries import Step
from web import db
from web.security import current_actor, roles_required
from web.taskforms import clock

bp = Blueprint("privacy", __name__, url_prefix="/privacy")

EXPORT_FORMATS = ("json", "zip")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


# -- the access log ---------------------------------------------------------------------------------------


def record_view(actor: Actor, case: Case, what: str, fields: Iterable[str]) -> None:
    """Record that ``actor`` is shown ``fields`` of ``case``; raises (and the page is not shown) if it fails."""
    with db.recorder() as session:
        accesslog.record_view(session, actor, case.id, what, fields, clock()())


def fields_shown(
    steps: Iterable[Step], documents: Iterable[Document] = (), form: tuple[str, Iterable[str]] | None = None
) -> list[str]:
    """The ``form/field`` names a page shows: the visible data of its steps, its documents and its own form."""
    shown: list[tuple[str, Iterable[str]]] = [(step.form, step.data) for step in steps]
    shown += [(doc.form, [doc.field]) for doc in documents]
    if form is not None:
        shown.append(form)
    return accesslog.field_names(shown)


def form_fields(schema: Mapping[str, Any]) -> list[str]:
    properties = schema.get("properties", {})
    return list(properties) if isinstance(properties, Mapping) else []


# -- the inzageverzoek --------------------------------------------------------------------------------------


@bp.get("/inzage")
@roles_required(Role.AUDITOR)
def inzage() -> str | tuple[str, int]:
    wanted = request.args.get("account", "").strip()[:100]
    if not wanted:
        return render_template("privacy/inzage.html", wanted="", account=None, cases=[], documents=0)
    session = db.reader()
    try:
        account = export_data.find_account(session, wanted)
    except NotFoundError:
        page = render_template("privacy/inzage.html", wanted=wanted, account=None, cases=[], documents=0)
        return page, 404
    cases = export_data.cases_of(session, account.id)
    documents = len(export_data.documents_of(session, cases))
    return render_template("privacy/inzage.html", wanted=wanted, account=account, cases=cases, documents=documents)


@bp.post("/inzage/export")
@roles_required(Role.AUDITOR)
def export() -> Response:
    """The export as an attachment; its download is in the access log of every case it holds (and, as the
    person may have no case, as an admin action with the request's reference)."""
    actor = current_actor()
    kind = request.form.get("formaat", "json")
    if kind not in EXPORT_FORMATS:
        abort(400)
    kenmerk = request.form.get("kenmerk", "").strip()[:200]
    session = db.reader()
    now = clock()()
    account = export_data.find_account(session, request.form.get("account", "")[:100])
    cases = export_data.cases_of(session, account.id)
    data = export_data.build_export(session, account.id, now)
    documents = export_data.documents_of(session, cases) if kind == "zip" else []
    with db.writer() as writer:
        for case in cases:
            fields = export_data.exported_fields(data, case.reference)
            accesslog.record_view(writer, actor, case.id, accesslog.INZAGE_EXPORT, fields, now)
        writer.add(
            AdminAction(
                actor=actor.id,
                action="inzage_export",
                target=f"account:{account.id}",
                reason=f"AVG-inzageverzoek ({kind}){': ' + kenmerk if kenmerk else ''}",
                at=now,
            )
        )
    text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    name = f"inzage-{_UNSAFE.sub('_', account.id)}-{now:%Y%m%d}"
    if kind == "json":
        response = Response(text, mimetype="application/json")
        filename = f"{name}.json"
    else:
        response = Response(_zip(text, cases, documents), mimetype="application/zip")
        filename = f"{name}.zip"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _zip(text: str, cases: list[Case], documents: list[Document]) -> bytes:
    references = {case.id: case.reference for case in cases}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("inzage.json", text)
        for doc in documents:
            safe = _UNSAFE.sub("_", doc.filename).strip("._") or "document"
            archive.writestr(f"documenten/{references[doc.case_id]}/{doc.id}-{safe}", doc.content)
    return buffer.getvalue()
