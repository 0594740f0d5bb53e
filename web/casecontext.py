"""What a page shows of a case's earlier steps: their data as this role may see it, with its documents."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import url_for
from sqlalchemy.orm import Session

from engine import bundles, queries
from engine.access import Actor
from engine.errors import NotFoundError
from engine.model import Case
from web.taskforms import display_schema


def steps_context(session: Session, actor: Actor, case: Case) -> dict[str, Any]:
    steps = queries.completed_steps(session, actor, case)
    forms: dict[str, Any] = {}
    for step in steps:
        try:
            forms[step.form] = display_schema(bundles.form_of(case.process_version, step.form))
        except NotFoundError:
            forms[step.form] = {}
    visible = queries.documents(session, actor, case)
    return {
        "steps": steps,
        "step_forms": forms,
        "step_documents": {doc.id: doc.filename for doc in visible},
        "document_url": _document_url(case.reference),
    }


def _document_url(reference: str) -> Callable[[str], str]:
    def url(document_id: str) -> str:
        return url_for("cases.document", reference=reference, document_id=document_id)

    return url
