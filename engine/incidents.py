"""E-mails the worker gave up on: the beheerder's list, and a retry that is recorded with its reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.access import Actor, Role
from engine.errors import FieldError, FormValidationError, InvalidTransitionError, NotFoundError, PermissionDeniedError
from engine.model import AdminAction, Case, MailDelivery


@dataclass(frozen=True)
class Incident:
    delivery_id: int
    reference: str
    template: str
    account_id: str
    attempts: int
    last_error: str | None
    created_at: datetime


def incidents(session: Session) -> list[Incident]:
    rows = session.execute(
        select(MailDelivery, Case.reference)
        .join(Case, Case.id == MailDelivery.case_id)
        .where(MailDelivery.status == "failed")
        .order_by(MailDelivery.id)
    )
    return [
        Incident(row.id, reference, row.template, row.account_id, row.attempts, row.last_error, row.created_at)
        for row, reference in rows
    ]


def retry_delivery(session: Session, actor: Actor, delivery_id: int, *, reason: str, at: datetime) -> None:
    """Send a failed e-mail again (once more through the worker); only a beheerder, only with a reason."""
    if actor.role is not Role.BEHEERDER:
        raise PermissionDeniedError("only a beheerder retries e-mails")
    if not reason.strip():
        raise FormValidationError([FieldError("reden", "Geef een reden op.")])
    row = session.scalar(select(MailDelivery).where(MailDelivery.id == delivery_id).with_for_update())
    if row is None:
        raise NotFoundError("delivery not found")
    if row.status != "failed":
        raise InvalidTransitionError(f"e-mail {delivery_id} is {row.status}, not failed")
    row.status = "pending"
    row.attempts = 0
    row.next_attempt_at = at
    row.last_error = None
    session.add(
        AdminAction(
            actor=actor.id, action="retry_mail", target=f"mail_delivery:{delivery_id}", reason=reason.strip(), at=at
        )
    )
