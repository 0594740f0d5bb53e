"""Files uploaded with a task form, kept with the case; and drafts of half-filled forms.

Both are encrypted at rest: ``Document.content`` and ``TaskDraft.values`` are properties that encrypt
on write and decrypt on read (engine/model.py, engine/crypto.py).

A file is accepted by what it is, not by what it is called: its first bytes must be those of one of
the accepted types, whatever its name or the browser claims.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePath
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.errors import FieldError, FormValidationError
from engine.model import Case, Document, HumanTask, TaskDraft

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class FileKind:
    content_type: str
    extension: str
    magic: tuple[bytes, ...]


ACCEPTED = (
    FileKind("application/pdf", ".pdf", (b"%PDF-",)),
    FileKind("image/png", ".png", (b"\x89PNG\r\n\x1a\n",)),
    FileKind("image/jpeg", ".jpg", (b"\xff\xd8\xff",)),
)
ACCEPTED_TEXT = "PDF, PNG of JPEG"


def sniff(content: bytes) -> FileKind | None:
    return next((kind for kind in ACCEPTED if content.startswith(kind.magic)), None)


def clean_filename(name: str, kind: FileKind) -> str:
    """The base name only (no folders), printable, at most 100 characters, with the extension of its kind."""
    stem = PurePath(name.replace("\\", "/")).stem
    stem = "".join(ch for ch in stem if ch.isalnum() or ch in " -_.()")[:100].strip() or "document"
    return stem + kind.extension


def store_document(
    session: Session,
    case: Case,
    *,
    form: str,
    field: str,
    filename: str,
    content: bytes,
    uploaded_by: str,
    at: datetime,
    max_bytes: int = MAX_DOCUMENT_BYTES,
) -> Document:
    """Keep an uploaded file with the case; a refused file raises FormValidationError naming the field."""
    if not content:
        raise FormValidationError([FieldError(field, "Het bestand is leeg.")])
    if len(content) > max_bytes:
        limit = max_bytes // (1024 * 1024)
        raise FormValidationError([FieldError(field, f"Het bestand is groter dan {limit} MB.")])
    kind = sniff(content)
    if kind is None:
        raise FormValidationError([FieldError(field, f"Dit soort bestand wordt niet aanvaard ({ACCEPTED_TEXT}).")])
    document = Document(
        id=str(uuid.uuid4()),
        case_id=case.id,
        form=form,
        field=field,
        filename=clean_filename(filename, kind),
        content_type=kind.content_type,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        uploaded_by=uploaded_by,
        uploaded_at=at,
    )
    document.content = content  # encrypted, bound to the document and its case (engine/model.py)
    session.add(document)
    return document


def filenames(session: Session, case: Case, ids: list[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = session.execute(
        select(Document.id, Document.filename).where(Document.case_id == case.id, Document.id.in_(ids))
    )
    return {row[0]: row[1] for row in rows}


def save_draft(session: Session, task: HumanTask, account_id: str, values: dict[str, Any], at: datetime) -> None:
    draft = session.scalar(
        select(TaskDraft).where(TaskDraft.human_task_id == task.id, TaskDraft.account_id == account_id)
    )
    if draft is None:
        draft = TaskDraft(human_task_id=task.id, account_id=account_id, saved_at=at)
        session.add(draft)
    draft.values = values  # encrypted, bound to the task and the account (engine/model.py)
    draft.saved_at = at


def load_draft(session: Session, task: HumanTask, account_id: str) -> TaskDraft | None:
    return session.scalar(
        select(TaskDraft).where(TaskDraft.human_task_id == task.id, TaskDraft.account_id == account_id)
    )


def drop_drafts(session: Session, task: HumanTask) -> None:
    session.execute(delete(TaskDraft).where(TaskDraft.human_task_id == task.id))
