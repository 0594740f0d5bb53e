"""Who a notification for a role reaches in one case: the people of that role in the case's scope."""

from __future__ import annotations

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from engine.access import Role
from engine.model import Account, Case


def recipients(session: Session, case: Case, role: str) -> list[Account]:
    """The bestuurder of the case; the werkgevers of its organisation; its CCV adviser, or every CCV
    adviser while nobody has taken it on; every BVA official. Only active accounts."""
    query = select(Account).where(Account.active.is_(True))
    match Role(role):
        case Role.BESTUURDER:
            query = query.where(Account.id == case.bestuurder)
        case Role.WERKGEVER:
            query = query.where(Account.organisation == case.organisation)
        case Role.CCV if case.ccv_adviser is not None:
            query = query.where(Account.id == case.ccv_adviser)
        case Role.CCV | Role.BVA:
            # roles is a JSON list; its text holds the role in quotes on every database we run on.
            query = query.where(cast(Account.roles, String).like(f'%"{role}"%'))
        case _:
            return []
    return [account for account in session.scalars(query.order_by(Account.id)) if role in account.roles]
