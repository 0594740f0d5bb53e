"""The procesbeheerder's draft of a process: the bundle of its active version, edited file by file (in the browser
or by uploading a file from Camunda Modeler or SpiffArena), checked, then deployed as a new version.

Until the first change is saved there is no stored draft: the draft *is* the active version. A saved file is
kept even when the checks find problems (a draft may be half done); a file that is not a diagram or form at all
(not well-formed, a DTD or entities, too large, the wrong kind) is refused and nothing is stored.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import bundles, check_details
from engine.bundles import BPMN_NS, FORM_SUFFIX, MAX_FILE_BYTES, Bundle, parse_xml
from engine.errors import BundleInvalidError, InvalidTransitionError, NotFoundError, Problem
from engine.lint import Finding, errors, lint_bundle, translate
from engine.model import ProcessDraft, ProcessVersion
from engine.validation import DMN_NAMESPACES, xml_syntax_error

# A diagram's name, or a form's under forms/: no directories, nothing that could leave the bundle.
_DIAGRAM_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}\.(bpmn|dmn)")
_FORM_NAME = re.compile(r"forms/[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}\.schema\.json")
MAX_FILES = 100


@dataclass(frozen=True)
class Draft:
    """What the editor works on: the stored draft, or the active version when nothing was changed yet."""

    process_key: str
    base_version: int
    files: dict[str, str]
    stored: bool
    updated_by: str | None = None
    updated_at: datetime | None = None

    @property
    def bundle(self) -> Bundle:
        return Bundle(self.files)

    def text(self, name: str) -> str:
        if name not in self.files:
            raise NotFoundError(f"the draft of {self.process_key} has no file {name}")
        return self.files[name]


@dataclass(frozen=True)
class SaveResult:
    stored: bool
    findings: list[Finding] = field(default_factory=list)
    name: str = ""  # the file it was stored as


def current(session: Session, process_key: str) -> Draft:
    """The draft of ``process_key``; raises NotFoundError if the process has never been deployed."""
    row = _stored(session, process_key)
    if row is not None:
        return Draft(process_key, row.base_version, dict(row.files), True, row.updated_by, row.updated_at)
    active = bundles.active_version(session, process_key)
    return Draft(process_key, active.version, dict(active.files), False)


def create(session: Session, process_key: str, *, actor: str, at: datetime) -> ProcessDraft:
    """Store a draft copied from the active version, or return the one that exists (never two drafts).

    The row comes back locked (on PostgreSQL), so two saves to one draft follow each other instead of the later
    overwriting the earlier's file list. Two creations at the same moment both end with the one draft: the
    later insert meets the unique key, its savepoint is rolled back and it takes the row the other stored."""
    row = _stored(session, process_key, for_update=True)
    if row is not None:
        return row
    active = bundles.active_version(session, process_key)
    try:
        with session.begin_nested():
            row = ProcessDraft(
                process_key=process_key,
                base_version=active.version,
                files=dict(active.files),
                created_by=actor,
                created_at=at,
                updated_by=actor,
                updated_at=at,
            )
            session.add(row)
    except IntegrityError:
        # The unique key waited for the other transaction: it committed, so its row is there to read now.
        return session.scalars(_draft_query(process_key, for_update=True)).one()
    return row


def discard(session: Session, process_key: str) -> None:
    session.execute(delete(ProcessDraft).where(ProcessDraft.process_key == process_key))


def refusals(name: str, text: str) -> list[Finding]:
    """Why ``text`` cannot be stored as file ``name`` at all (empty: it can, problems or not)."""
    if not (_DIAGRAM_NAME.fullmatch(name) or _FORM_NAME.fullmatch(name)):
        return [
            Finding(name, "", "bestandsnaam niet toegestaan: gebruik naam.bpmn, naam.dmn of forms/naam.schema.json")
        ]
    if len(text.encode("utf-8")) > MAX_FILE_BYTES:
        return [Finding(name, "", f"bestand is groter dan {MAX_FILE_BYTES // 1_000_000} MB")]
    if name.endswith(FORM_SUFFIX):
        return _form_refusals(name, text)
    return _xml_refusals(name, text)


def _form_refusals(name: str, text: str) -> list[Finding]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        where = f"regel {error.lineno}, kolom {error.colno}"
        return [Finding(name, "", f"geen geldige JSON: {where}: {check_details.json_syntax(error.msg)}")]
    if not isinstance(value, dict):
        return [Finding(name, "", "een formulier moet een JSON-object zijn")]
    return []


def _xml_refusals(name: str, text: str) -> list[Finding]:
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        return [Finding(name, "", "DOCTYPE- en ENTITY-declaraties zijn niet toegestaan (geweigerd)")]
    root = parse_xml(text)
    if root is None:
        return [translate(Problem(name, "", xml_syntax_error(text)))]
    expected = (
        {f"{{{BPMN_NS}}}definitions"} if name.endswith(".bpmn") else {f"{{{ns}}}definitions" for ns in DMN_NAMESPACES}
    )
    if root.tag not in expected:
        kind = "BPMN 2.0" if name.endswith(".bpmn") else "DMN"
        return [Finding(name, "", f"geen {kind}-bestand (het hoofdelement is geen {kind}-definitions)")]
    return []


def save_file(session: Session, process_key: str, name: str, text: str, *, actor: str, at: datetime) -> SaveResult:
    """Store one file in the draft (creating the draft if needed) and return the findings of the whole draft."""
    refused = refusals(name, text)
    if refused:
        return SaveResult(False, refused)
    row = create(session, process_key, actor=actor, at=at)
    files = dict(row.files)
    if name not in files and len(files) >= MAX_FILES:
        return SaveResult(False, [Finding(name, "", f"een concept heeft ten hoogste {MAX_FILES} bestanden")])
    files[name] = text
    row.files = files  # a new dict: the JSON column sees the change
    row.updated_by, row.updated_at = actor, at
    session.flush()
    return SaveResult(True, lint_bundle(Bundle(files)), name)


def remove_file(session: Session, process_key: str, name: str, *, actor: str, at: datetime) -> SaveResult:
    """Take one file out of the draft (creating the draft if needed) and return the findings of what is left.

    A diagram that declares the process itself, or a process it calls, cannot go: without it no case could
    start. Raises DraftRefusedError saying why in Dutch; NotFoundError for a file the draft does not have."""
    files = current(session, process_key).files
    if name not in files:
        raise NotFoundError(f"the draft of {process_key} has no file {name}")
    needed = needed_files(Bundle(files), process_key).get(name)
    if needed:
        raise DraftRefusedError(
            f"{name} kan niet weg: het bevat {needed}, dat het proces {process_key} nodig heeft om te starten"
        )
    row = create(session, process_key, actor=actor, at=at)
    if name not in row.files:  # removed by someone else while this page was open
        raise NotFoundError(f"the draft of {process_key} has no file {name}")
    remaining = {n: t for n, t in row.files.items() if n != name}
    row.files = remaining
    row.updated_by, row.updated_at = actor, at
    session.flush()
    return SaveResult(True, lint_bundle(Bundle(remaining)), name)


def needed_files(bundle: Bundle, process_key: str) -> dict[str, str]:
    """Diagram file -> the processes in it that ``process_key`` is or calls (directly or further down), in words."""
    declared: dict[str, str] = {}
    calls: dict[str, set[str]] = {}
    for file_name, text in bundle.diagram_files.items():
        root = parse_xml(text) if file_name.endswith(".bpmn") else None
        for process in root.iter(f"{{{BPMN_NS}}}process") if root is not None else ():
            process_id = str(process.get("id", ""))
            declared[process_id] = file_name
            calls[process_id] = {str(c.get("calledElement", "")) for c in process.iter(f"{{{BPMN_NS}}}callActivity")}
    needed: dict[str, list[str]] = {}
    seen: set[str] = set()
    waiting = [process_key]
    while waiting:
        process_id = waiting.pop()
        if process_id in seen or process_id not in declared:
            continue
        seen.add(process_id)
        label = "het hoofdproces" if process_id == process_key else "het deelproces"
        needed.setdefault(declared[process_id], []).append(f"{label} {process_id}")
        waiting.extend(calls[process_id])
    return {file_name: " en ".join(parts) for file_name, parts in needed.items()}


def import_file(
    session: Session, process_key: str, filename: str, content: bytes, *, actor: str, at: datetime
) -> SaveResult:
    """An uploaded .bpmn, .dmn or .schema.json file (from Camunda Modeler, SpiffArena, ...) into the draft."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = f"forms/{base}" if base.endswith(FORM_SUFFIX) else base
    if len(content) > MAX_FILE_BYTES:
        return SaveResult(False, [Finding(name, "", f"bestand is groter dan {MAX_FILE_BYTES // 1_000_000} MB")])
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return SaveResult(False, [Finding(name, "", "bestand is geen UTF-8-tekst")])
    if name.endswith(".bpmn") and not refusals(name, text):
        name = _file_declaring_the_same(current(session, process_key).files, name, text)
    return save_file(session, process_key, name, text, actor=actor, at=at)


def _file_declaring_the_same(files: dict[str, str], name: str, text: str) -> str:
    """The draft's diagram that declares the processes the uploaded one declares: a diagram exported from
    another modeler under another file name is a new edition of that file, not a second copy of it."""
    uploaded = _process_ids(text)
    for existing, existing_text in sorted(files.items()):
        if existing.endswith(".bpmn") and uploaded and uploaded == _process_ids(existing_text):
            return existing
    return name


def _process_ids(text: str) -> set[str]:
    root = parse_xml(text)
    return set() if root is None else {str(p.get("id", "")) for p in root.iter(f"{{{BPMN_NS}}}process")}


def check(session: Session, process_key: str) -> list[Finding]:
    return lint_bundle(current(session, process_key).bundle)


class DraftRefusedError(InvalidTransitionError):
    """The draft cannot be deployed: no comment, nothing changed, or errors in the checks (``findings``)."""

    def __init__(self, message: str, findings: list[Finding] | None = None) -> None:
        super().__init__(message)
        self.findings = findings or []


def deploy(session: Session, process_key: str, *, actor: str, comment: str, at: datetime) -> ProcessVersion:
    """Deploy the stored draft as the next version of ``process_key`` with the mandatory comment; the
    draft is gone afterwards. New cases start on the new version; running ones keep theirs."""
    comment = comment.strip()
    if not comment:
        raise DraftRefusedError("een toelichting is verplicht: waarom deze nieuwe versie?")
    row = _stored(session, process_key, for_update=True)  # a save at the same moment goes first or waits
    active = bundles.active_version(session, process_key)
    if row is None or Bundle(dict(row.files)).content_hash == active.content_hash:
        raise DraftRefusedError("het concept is gelijk aan de actieve versie: er is niets in gebruik te nemen")
    bundle = Bundle(dict(row.files))
    earlier = next((v for v in versions(session, process_key) if v.content_hash == bundle.content_hash), None)
    if earlier is not None:
        # Deploying it would only point at that version again, and the newest would stay the active one.
        raise DraftRefusedError(f"het concept is gelijk aan versie {earlier.version}; wijzig iets of ga verder met die")
    blocking = errors(lint_bundle(bundle))
    if blocking:
        raise DraftRefusedError(f"het concept heeft {len(blocking)} fout(en); los ze eerst op", blocking)
    if process_key not in bundle.root_process_ids():
        raise DraftRefusedError(f"het concept bevat geen uitvoerbaar hoofdproces {process_key!r}")
    try:
        deployed = bundles.deploy(session, bundle, actor=actor, comment=comment, at=at)
    except BundleInvalidError as error:  # checked above; a race with another deploy ends here
        raise DraftRefusedError("het concept is ongeldig", [translate(p) for p in error.problems]) from None
    discard(session, process_key)
    return next(v for v in deployed if v.process_key == process_key)


def _stored(session: Session, process_key: str, *, for_update: bool = False) -> ProcessDraft | None:
    return session.scalar(_draft_query(process_key, for_update=for_update))


def _draft_query(process_key: str, *, for_update: bool) -> Select[ProcessDraft]:
    query = select(ProcessDraft).where(ProcessDraft.process_key == process_key)
    if for_update:
        # populate_existing: a row this session read before the lock is refreshed with what is committed now.
        query = query.with_for_update().execution_options(populate_existing=True)
    return query


def versions(session: Session, process_key: str) -> list[ProcessVersion]:
    """Every deployed version of ``process_key``, newest first."""
    return list(
        session.scalars(
            select(ProcessVersion)
            .where(ProcessVersion.process_key == process_key)
            .order_by(ProcessVersion.version.desc())
        )
    )


def version(session: Session, process_key: str, number: int) -> ProcessVersion:
    found = session.scalar(
        select(ProcessVersion).where(ProcessVersion.process_key == process_key, ProcessVersion.version == number)
    )
    if found is None:
        raise NotFoundError(f"process {process_key} has no version {number}")
    return found
