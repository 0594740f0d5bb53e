"""The procesbeheerder's area "Processen": versions, the draft and its editor (bpmn-js, web/static), checks,
the diff against the active version, deploying with a comment, moving waiting cases, the proefrit and export.

A procesbeheerder never sees case data: the cases named here show only their reference, version, the names of
the steps they wait at and whether they can move. The beheerder may read the list of versions, nothing more.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from flask import Blueprint, Response, flash, jsonify, make_response, redirect, render_template, request, url_for
from sqlalchemy import func, select
from werkzeug.wrappers import Response as BaseResponse

from engine import drafts, export, migration
from engine import trial as proefrit
from engine.access import Role
from engine.bundles import FORM_SUFFIX, MAX_FILE_BYTES, Bundle
from engine.diff import AffectedCase, affected_cases, diff_bundles, running_count
from engine.errors import EngineError, InvalidTransitionError, NotFoundError, Problem
from engine.forms import form_definition_problems
from engine.lint import Finding, errors, translate
from engine.model import Case, ProcessDraft, ProcessVersion
from web import db
from web.security import current_actor, roles_required
from web.taskforms import clock

bp = Blueprint("models", __name__, url_prefix="/processen")
OWNER = Role.PROCESBEHEERDER
MAX_TOELICHTING = 2000
MAX_SAMPLE_CHARS = 200_000
MAX_FILE_NAME = 200


def _json_no_store(body: Any, status: int = 200) -> Response:
    response = make_response(jsonify(body), status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _problems(findings: list[Finding]) -> list[dict[str, str]]:
    return [finding.as_json() for finding in findings]


# -- the list and one process ---------------------------------------------------------------------------------


@bp.get("")
@roles_required(OWNER, Role.BEHEERDER)
def index() -> str:
    """Every process with its versions (who, when, why, running cases per version) and whether a draft exists."""
    session = db.reader()
    counts = _running_counts()
    versions = list(
        session.scalars(select(ProcessVersion).order_by(ProcessVersion.process_key, ProcessVersion.version.desc()))
    )
    keys = list(dict.fromkeys(v.process_key for v in versions))
    draft_keys = set(session.scalars(select(ProcessDraft.process_key)))
    return render_template(
        "models/index.html", keys=keys, versions=versions, counts=counts, draft_keys=draft_keys, may_edit=_may_edit()
    )


def _may_edit() -> bool:
    return current_actor().role is OWNER


def _running_counts() -> dict[int, int]:
    rows = db.reader().execute(
        select(Case.process_version_id, func.count()).where(Case.status == "active").group_by(Case.process_version_id)
    )
    return {version_id: count for version_id, count in rows}


@bp.get("/<key>")
@roles_required(OWNER)
def process(key: str) -> str:
    return _process_page(key)


@bp.post("/<key>/concept")
@roles_required(OWNER)
def create_draft(key: str) -> BaseResponse:
    with db.writer() as session:
        drafts.create(session, key, actor=current_actor().id, at=clock()())
    return redirect(url_for("models.editor", key=key))


# -- the editor and the file API ------------------------------------------------------------------------------


@bp.get("/<key>/concept/bewerken")
@roles_required(OWNER)
def editor(key: str) -> str:
    draft = drafts.current(db.reader(), key)
    files = [
        {"name": name, "kind": name.rsplit(".", 1)[-1], "url": url_for("models.draft_file", key=key, name=name)}
        for name in sorted(draft.bundle.diagram_files)
    ]
    forms = sorted(draft.bundle.form_files)
    return render_template(
        "models/editor.html",
        process_key=key,
        files=files,
        forms=forms,
        check_url=url_for("models.check", key=key),
        compare_url=url_for("models.compare", key=key),
        deploy_url=url_for("models.deploy", key=key),
        trial_url=url_for("models.trial", key=key),
        process_url=url_for("models.process", key=key),
        form_editor_urls={name: url_for("models.form_editor", key=key, name=name) for name in forms},
    )


def _file_response(name: str, text: str) -> Response:
    kind = "application/json" if name.endswith(".json") else "application/xml"
    response = make_response(text)
    response.headers["Content-Type"] = f"{kind}; charset=utf-8"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Disposition"] = "inline"
    return response


@bp.get("/<key>/concept/bestanden/<path:name>")
@roles_required(OWNER)
def draft_file(key: str, name: str) -> Response:
    return _file_response(name, drafts.current(db.reader(), key).text(name))


@bp.post("/<key>/concept/bestanden/<path:name>")
@roles_required(OWNER)
def save_file(key: str, name: str) -> Response:
    body = request.get_json(silent=True)
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str):
        refused = [Finding(name, "", 'het verzoek moet JSON zijn met een veld "text"')]
        return _json_no_store({"opgeslagen": False, "problemen": _problems(refused)}, 400)
    drafts.current(db.reader(), key)  # 404 for a process that does not exist
    with db.writer() as session:
        result = drafts.save_file(session, key, name, text, actor=current_actor().id, at=clock()())
    status = 200 if result.stored else 400
    return _json_no_store({"opgeslagen": result.stored, "problemen": _problems(result.findings)}, status)


@bp.post("/<key>/concept/bestanden")
@roles_required(OWNER)
def upload(key: str) -> BaseResponse:
    drafts.current(db.reader(), key)
    upload = request.files.get("bestand")
    if upload is None or not upload.filename:
        flash("Kies een bestand (.bpmn, .dmn of .schema.json) om te importeren.")
        return redirect(url_for("models.process", key=key))
    try:
        content = upload.stream.read(MAX_FILE_BYTES + 1)
    finally:
        upload.close()  # a large upload is spooled to a temporary file: give it back now
    with db.writer() as session:
        result = drafts.import_file(session, key, upload.filename, content, actor=current_actor().id, at=clock()())
    if not result.stored:
        flash(f"Bestand geweigerd: {'; '.join(f.message for f in result.findings)}")
    else:
        flash(f"Bestand geïmporteerd in het concept als {result.name}; {_check_summary(result.findings)}")
    return redirect(url_for("models.process", key=key))


@bp.post("/<key>/concept/bestand-verwijderen")
@roles_required(OWNER)
def remove_file(key: str) -> BaseResponse:
    """Take a file out of the draft; the page asked to tick a confirmation first (no script needed)."""
    drafts.current(db.reader(), key)
    name = request.form.get("bestand", "")[:MAX_FILE_NAME]
    if not name:
        flash("Kies het bestand dat uit het concept moet.")
        return redirect(url_for("models.process", key=key))
    if request.form.get("bevestigd") != "ja":
        flash(f"Bestand {name} is niet verwijderd: vink eerst aan dat het weg mag.")
        return redirect(url_for("models.process", key=key))
    try:
        with db.writer() as session:
            result = drafts.remove_file(session, key, name, actor=current_actor().id, at=clock()())
    except drafts.DraftRefusedError as refused:
        flash(f"Bestand niet verwijderd: {refused}.")
        return redirect(url_for("models.process", key=key))
    flash(f"Bestand {name} is uit het concept verwijderd; {_check_summary(result.findings)}")
    return redirect(url_for("models.process", key=key))


def _check_summary(findings: Sequence[Finding]) -> str:
    blocking = errors(findings)
    return f"Controleren vindt {len(blocking)} fout(en)." if blocking else "Controleren vindt geen fouten."


@bp.post("/<key>/concept/controleren")
@roles_required(OWNER)
def check(key: str) -> Response:
    return _json_no_store({"problemen": _problems(drafts.check(db.reader(), key))})


# -- compare, deploy, move cases ------------------------------------------------------------------------------


@bp.get("/<key>/concept/vergelijken")
@roles_required(OWNER)
def compare(key: str) -> str:
    session = db.reader()
    draft = drafts.current(session, key)
    base = drafts.version(session, key, draft.base_version)
    diffs = diff_bundles(Bundle(base.files), draft.bundle)
    shown = [d for d in diffs if d.status != "gelijk"]
    cases: list[AffectedCase] = affected_cases(session, key, draft.bundle) if shown else []
    more_cases = running_count(session, key) - len(cases) if shown else 0
    return render_template(
        "models/compare.html",
        key=key,
        base=base,
        diagrams=[d for d in diffs if d.is_diagram and d.status == "gewijzigd"],
        changes=shown,
        cases=cases,
        more_cases=more_cases,
        old_url=lambda d: url_for("models.version_file", key=key, version=base.version, name=d.name),
        new_url=lambda d: url_for("models.draft_file", key=key, name=d.name),
        findings=errors(drafts.check(session, key)),
    )


@bp.post("/<key>/concept/in-gebruik-nemen")
@roles_required(OWNER)
def deploy(key: str) -> BaseResponse | tuple[str, int]:
    comment = request.form.get("toelichting", "")[:MAX_TOELICHTING]
    try:
        with db.writer() as session:
            version = drafts.deploy(session, key, actor=current_actor().id, comment=comment, at=clock()())
            number = version.version
    except drafts.DraftRefusedError as refused:
        return _process_page(key, refusal=str(refused), findings=refused.findings), 422
    flash(f"Versie {number} is in gebruik genomen. Nieuwe zaken starten erop; lopende zaken blijven op hun versie.")
    return redirect(url_for("models.process", key=key))


def _process_page(key: str, *, refusal: str | None = None, findings: list[Finding] | None = None) -> str:
    session = db.reader()
    versions = drafts.versions(session, key)
    if not versions:
        raise NotFoundError("no such process")
    draft = drafts.current(session, key)
    newest = versions[0]
    cases = affected_cases(session, key, Bundle(newest.files), below=newest.version)
    return render_template(
        "models/process.html",
        key=key,
        versions=versions,
        draft=draft,
        needed=drafts.needed_files(draft.bundle, key),
        counts=_running_counts(),
        newest=newest,
        cases=cases,
        more_cases=running_count(session, key, below=newest.version) - len(cases),
        refusal=refusal,
        findings=findings or [],
    )


@bp.post("/<key>/versies/<int:version>/zaken/<reference>/migreren")
@roles_required(OWNER)
def migrate(key: str, version: int, reference: str) -> BaseResponse | tuple[str, int]:
    reason = request.form.get("toelichting", "")[:MAX_TOELICHTING]
    if not reason.strip():
        return _process_page(key, refusal="Geef een toelichting: waarom gaat deze zaak over?", findings=[]), 422
    try:
        with db.writer() as session:
            newest = drafts.versions(session, key)
            case = session.scalar(select(Case).where(Case.reference == reference))
            if not newest or case is None or case.process_version.process_key != key:
                raise NotFoundError("case not found")
            target = newest[0]
            if case.process_version.version != version:
                raise InvalidTransitionError("de zaak loopt niet (meer) op deze versie")
            migration.migrate(session, current_actor(), reference, target, reason=reason, at=clock()())
            number = target.version
    except InvalidTransitionError as refused:
        return _process_page(key, refusal=str(refused), findings=[]), 409
    flash(f"Zaak {reference} loopt nu op versie {number}; dit staat in de geschiedenis van de zaak.")
    return redirect(url_for("models.process", key=key))


# -- proefrit -------------------------------------------------------------------------------------------------


@bp.get("/<key>/concept/proefrit")
@roles_required(OWNER)
def trial(key: str) -> str:
    draft = drafts.current(db.reader(), key)
    return _trial_page(key, draft.bundle, samples=None, result=None)


@bp.post("/<key>/concept/proefrit")
@roles_required(OWNER)
def trial_post(key: str) -> tuple[str, int]:
    draft = drafts.current(db.reader(), key)
    samples: dict[str, Any] = {}
    invalid: dict[str, str] = {}
    for field, value in request.form.items():
        if not field.startswith("voorbeeld-"):
            continue
        bpmn_id = field.removeprefix("voorbeeld-")
        try:
            parsed = json.loads(value[:MAX_SAMPLE_CHARS] or "{}")
        except json.JSONDecodeError as error:
            invalid[bpmn_id] = f"geen geldige JSON: {error.msg} (regel {error.lineno}, kolom {error.colno})"
            continue
        if not isinstance(parsed, dict):
            invalid[bpmn_id] = "voorbeeldgegevens moeten een JSON-object zijn"
            continue
        samples[bpmn_id] = parsed
    if invalid:
        return _trial_page(key, draft.bundle, samples=samples, result=None, invalid=invalid), 422
    result = proefrit.run(draft.bundle, key, samples)
    return _trial_page(key, draft.bundle, samples=samples, result=result), 200


def _trial_page(
    key: str,
    bundle: Bundle,
    *,
    samples: dict[str, Any] | None,
    result: proefrit.TrialResult | None,
    invalid: dict[str, str] | None = None,
) -> str:
    try:
        tasks = proefrit.user_tasks(bundle, key)
    except EngineError:  # a broken draft has no tasks to list; the run says why
        tasks = []
    texts = {
        task.bpmn_id: json.dumps(
            (samples or {}).get(task.bpmn_id, proefrit.sample_for(bundle, task.form)), indent=2, ensure_ascii=False
        )
        for task in tasks
    }
    return render_template(
        "models/proefrit.html",
        key=key,
        tasks=tasks,
        texts=texts,
        result=result,
        invalid=invalid or {},
        diagrams=sorted(n for n in bundle.diagram_files if n.endswith(".bpmn")),
        file_url=lambda name: url_for("models.draft_file", key=key, name=name),
    )


# -- forms ----------------------------------------------------------------------------------------------------


@bp.get("/<key>/concept/formulieren/<name>")
@roles_required(OWNER)
def form_editor(key: str, name: str) -> str:
    draft = drafts.current(db.reader(), key)
    draft.text(f"forms/{name}")  # 404 for a form the draft does not have
    return render_template(
        "models/formulier.html",
        process_key=key,
        form_name=name,
        file_url=url_for("models.draft_file", key=key, name=f"forms/{name}"),
        preview_url=url_for("models.form_preview", key=key, name=name),
        back_url=url_for("models.editor", key=key),
    )


@bp.post("/<key>/concept/formulieren/<name>/voorbeeld")
@roles_required(OWNER)
def form_preview(key: str, name: str) -> Response:
    drafts.current(db.reader(), key)
    body = request.get_json(silent=True)
    text = body.get("text") if isinstance(body, dict) else None
    file_name = f"forms/{name}"
    if not isinstance(text, str) or not name.endswith(FORM_SUFFIX):
        return _json_no_store(
            {"problemen": _problems([Finding(file_name, "", 'verwacht JSON met een veld "text"')])}, 400
        )
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as error:
        message = f"geen geldige JSON: {error.msg} (regel {error.lineno}, kolom {error.colno})"
        return _json_no_store({"problemen": _problems([Finding(file_name, "", message)])}, 400)
    if not isinstance(schema, dict):
        return _json_no_store(
            {"problemen": _problems([Finding(file_name, "", "een formulier is een JSON-object")])}, 400
        )
    problems = [translate(Problem(file_name, "", p)) for p in form_definition_problems(name, schema)]
    if problems:
        return _json_no_store({"problemen": _problems(problems)}, 400)
    html = render_template("models/form_preview.html", schema=schema)
    return _json_no_store({"html": html})


# -- deployed versions ----------------------------------------------------------------------------------------


@bp.get("/<key>/versies/<int:version>/bestanden/<path:name>")
@roles_required(OWNER)
def version_file(key: str, version: int, name: str) -> Response:
    found = drafts.version(db.reader(), key, version)
    if name not in found.files:
        raise NotFoundError("no such file in this version")
    return _file_response(name, found.files[name])


@bp.get("/<key>/versies/<int:version>/export.zip")
@roles_required(OWNER)
def export_zip(key: str, version: int) -> Response:
    found = drafts.version(db.reader(), key, version)
    response = make_response(export.export_zip(found))
    response.headers["Content-Type"] = "application/zip"
    response.headers["Content-Disposition"] = f'attachment; filename="{export.zip_name(found)}"'
    response.headers["Cache-Control"] = "no-store"
    return response
