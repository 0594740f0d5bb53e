"""A task form between browser and engine: posted fields parsed, uploads stored, drafts kept, errors mapped."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import current_app, request
from sqlalchemy.orm import Session

from engine import commands, documents
from engine.access import Actor
from engine.clock import Clock
from engine.errors import EngineError, FieldError, FormValidationError
from engine.forms import FormSchema
from engine.model import Case, HumanTask
from web import db
from web.filters import for_end_users
from web.formdata import ParsedForm, error_map, field_kind, parse_submission


def clock() -> Clock:
    configured: Clock = current_app.config["CLOCK"]
    return configured


@dataclass
class FormPage:
    """What a form page shows: the schema, the values (as typed or stored), errors per field path."""

    form: FormSchema
    values: dict[str, Any]
    lock_version: int
    errors: dict[str, list[str]] = field(default_factory=dict)
    documents: dict[str, str] = field(default_factory=dict)  # document id -> file name
    data: dict[str, Any] = field(default_factory=dict)
    row_action: bool = False
    stale: bool = False
    draft_saved_at: datetime | None = None

    @classmethod
    def for_task(cls, session: Session, actor: Actor, case: Case, task: HumanTask, form: FormSchema) -> FormPage:
        draft = documents.load_draft(session, task, actor.id)
        values = dict(draft.values) if draft else prefilled(form.schema, _case_data(session, case, task))
        page = cls(form, values, case.lock_version, draft_saved_at=draft.saved_at if draft else None)
        page.documents = documents.filenames(session, case, [doc for _path, doc in _document_ids(form.schema, values)])
        return page

    @property
    def schema(self) -> Mapping[str, Any]:
        """The form as users see it: its texts without the markers meant for process owners."""
        return display_schema(self.form)

    def show_errors(self, errors: list[FieldError]) -> None:
        self.errors = error_map(errors, self.form.schema)

    def save_draft(self, session: Session, task: HumanTask, actor: Actor) -> None:
        documents.save_draft(session, task, actor.id, self.values, clock()())

    def drop_drafts(self, session: Session, task: HumanTask) -> None:
        documents.drop_drafts(session, task)


_DISPLAY: dict[tuple[str, str], dict[str, Any]] = {}


def display_schema(form: FormSchema) -> dict[str, Any]:
    key = (form.name, json.dumps(form.schema, sort_keys=True))
    if key not in _DISPLAY:
        _DISPLAY[key] = _without_traces(form.schema)
    return _DISPLAY[key]


def _without_traces(node: Any) -> Any:
    if isinstance(node, Mapping):
        return {
            key: for_end_users(value)
            if key in ("title", "description") and isinstance(value, str)
            else _without_traces(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_without_traces(item) for item in node]
    return node


def _case_data(session: Session, case: Case, task: HumanTask) -> dict[str, Any]:
    try:
        with commands.read_workflow(session, case) as workflow:
            return workflow.task_data(task.task_guid)
    except EngineError:
        return {}


def prefilled(schema: Mapping[str, Any], case_data: Mapping[str, Any]) -> dict[str, Any]:
    """First values of a form from the case: a field takes the case value of the same name (the same
    name means the same thing, processes/CONVENTIONS.md) or of the name its ``x-prefill`` gives; a
    repeatable group takes one row per item of that list, with the item fields its rows declare."""
    values: dict[str, Any] = {}
    for name, prop in (schema.get("properties") or {}).items():
        source = case_data.get(prop.get("x-prefill", name))
        if source is None:
            continue
        if field_kind(prop) == "group":
            columns = (prop.get("items") or {}).get("properties") or {}
            if isinstance(source, list):
                values[name] = [
                    {key: item[key] for key in columns if key in item} for item in source if isinstance(item, Mapping)
                ]
        elif field_kind(prop) != "object":
            values[name] = source
    return values


def submitted_form(actor: Actor, case: Case, form: FormSchema, *, lock_version: int) -> FormPage:
    """The posted form with its new files stored (in their own transaction, so a refused submission
    keeps them: the page shows them as the current files and nothing has to be uploaded twice)."""
    new_files = {name for name, file in request.files.items() if file.filename}
    parsed = parse_submission(form.schema, request.form, new_files)
    problems, stored = _store_uploads(actor, case, form, parsed)
    page = FormPage(form, parsed.raw, lock_version, data=parsed.data, row_action=parsed.row_action is not None)
    claimed = dict(_document_ids(form.schema, parsed.raw))
    page.documents = documents.filenames(db.reader(), case, list(claimed.values())) | stored
    # The browser can post any id: only this case's own documents may be referred to.
    problems += [
        FieldError(path, "Dit document hoort niet bij deze zaak.")
        for path, doc_id in claimed.items()
        if doc_id not in page.documents
    ]
    if problems:
        page.show_errors(problems)
    return page


def _store_uploads(
    actor: Actor, case: Case, form: FormSchema, parsed: ParsedForm
) -> tuple[list[FieldError], dict[str, str]]:
    problems: list[FieldError] = []
    stored: dict[str, str] = {}
    limit = current_app.config["UPLOAD_MAX_BYTES"]
    for slot in parsed.uploads:
        file = request.files.get(slot.name)
        if file is None or not file.filename:
            continue
        try:
            with db.writer() as session:
                doc = documents.store_document(
                    session,
                    case,
                    form=form.name,
                    field=slot.path,
                    filename=file.filename,
                    content=file.read(limit + 1),
                    uploaded_by=actor.id,
                    at=clock()(),
                    max_bytes=limit,
                )
        except FormValidationError as error:
            problems += error.errors
            continue
        parsed.set_value(slot.path, doc.id)
        stored[doc.id] = doc.filename
    return problems, stored


def _document_ids(schema: Mapping[str, Any], values: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(path, document id) of every filled upload field, in rows of repeatable groups too."""
    for name, prop in (schema.get("properties") or {}).items():
        value = values.get(name)
        path = f"{prefix}{name}"
        kind = field_kind(prop)
        if kind == "upload" and isinstance(value, str) and value:
            yield path, value
        elif kind == "group" and isinstance(value, list):
            for index, row in enumerate(value):
                if isinstance(row, Mapping):
                    yield from _document_ids(prop.get("items") or {}, row, f"{path}/{index}/")
