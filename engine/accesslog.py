"""Who looked at which case's sensitive data: one ``access_log`` row per view (case page, task page, document,
inzage export), naming the account, its role, the case, what was shown and which form fields — never values.

Like the commands, nothing here commits: the web layer writes each view in a short transaction of its own
before the page leaves the server, and shows no page whose view could not be recorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from engine.access import Actor
from engine.model import AccessLog, Case
from engine.visibility import form_key

CASE_PAGE = "zaakpagina"
INZAGE_EXPORT = "inzage-export"


def task_view(bpmn_id: str) -> str:
    return f"taak:{bpmn_id}"


def document_view(form: str, field: str) -> str:
    return f"document:{form_key(form)}/{field}"


def field_name(form: str, field: str) -> str:
    """How a field is named in the log: ``aanmelding/woonadres``."""
    return f"{form_key(form)}/{field}"


def field_names(shown: Iterable[tuple[str, Iterable[str]]]) -> list[str]:
    """The sorted, distinct ``form/field`` names of (form, field names) pairs, e.g. the steps a page showed."""
    return sorted({field_name(form, name) for form, names in shown for name in names})


_ACCESS_LOG: Table = AccessLog.__table__  # type: ignore[assignment]
_INSERT_VIEW = _ACCESS_LOG.insert()


def record_view(
    session: Session, actor: Actor, case: Case | int, what: str, fields: Iterable[str], at: datetime
) -> None:
    """Add one view to the log. The INSERT is sent at once, so a failure shows here and not at commit; it is a
    Core statement because every page with case data writes one, and the ORM's unit of work doubled its cost."""
    row = {
        "account_id": actor.id,
        "role": actor.role.value,
        "case_id": case if isinstance(case, int) else case.id,
        "what": what[:200],
        "fields": sorted(set(fields)),
        "at": at,
    }
    session.connection().execute(_INSERT_VIEW, row)


def views_of_case(session: Session, case_id: int) -> list[AccessLog]:
    """Every recorded view of one case, oldest first."""
    query = select(AccessLog).where(AccessLog.case_id == case_id).order_by(AccessLog.at, AccessLog.id)
    return list(session.scalars(query))


def views_by_account(session: Session, account_id: str) -> list[AccessLog]:
    """Every view one account made, oldest first."""
    query = select(AccessLog).where(AccessLog.account_id == account_id).order_by(AccessLog.at, AccessLog.id)
    return list(session.scalars(query))
