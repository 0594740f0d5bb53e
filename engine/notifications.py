"""In-app notifications (the bell): unread count, the latest ones, marking them read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from engine.mail import render_mail
from engine.model import Account, Case, Notification


@dataclass(frozen=True)
class Shown:
    id: int
    reference: str
    text: str
    created_at: datetime
    read: bool


def unread_count(session: Session, account_id: str) -> int:
    query = select(func.count()).where(Notification.account_id == account_id, Notification.read_at.is_(None))
    return int(session.scalar(query) or 0)


def latest(session: Session, account: Account, *, base_url: str = "", limit: int = 50) -> list[Shown]:
    """The account's notifications, newest first, as the subject line of their e-mail."""
    rows = session.execute(
        select(Notification, Case.reference)
        .join(Case, Case.id == Notification.case_id)
        .where(Notification.account_id == account.id)
        .order_by(Notification.id.desc())
        .limit(limit)
    )
    shown = []
    for note, reference in rows:
        subject, _text, _html = render_mail(
            note.template,
            reference=reference,
            link=f"{base_url}/zaken/{reference}",
            recipient_name=account.name,
            role=", ".join(account.roles),
        )
        shown.append(Shown(note.id, reference, subject, note.created_at, note.read_at is not None))
    return shown


def mark_all_read(session: Session, account_id: str, at: datetime) -> int:
    result = session.execute(
        update(Notification)
        .where(Notification.account_id == account_id, Notification.read_at.is_(None))
        .values(read_at=at)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
