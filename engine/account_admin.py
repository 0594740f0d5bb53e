"""The beheerder's account administration: the list of accounts (no case data), and disabling, enabling, ending
sessions, resetting the second factor and unlocking — each only by a beheerder, only with a reason, and each
recorded in ``admin_action``. A person's own changes on "Mijn account" are recorded there too (``record_own``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import accounts
from engine.access import Actor, Role
from engine.errors import FieldError, FormValidationError, NotFoundError, PermissionDeniedError
from engine.model import Account, AdminAction, Organisation

MAX_REASON = 1000


@dataclass(frozen=True)
class AccountSummary:
    id: str
    name: str
    organisation: str
    roles: tuple[str, ...]
    active: bool
    enrolled: bool
    locked: bool
    last_login: datetime | None


def overview(session: Session, at: datetime) -> list[AccountSummary]:
    """Every account with what the beheerder needs to manage it, and nothing about cases."""
    last = accounts.last_logins(session)
    rows = session.execute(
        select(Account, Organisation.name)
        .join(Organisation, Organisation.code == Account.organisation)
        .order_by(Account.id)
    )
    return [
        AccountSummary(
            id=account.id,
            name=account.name,
            organisation=organisation,
            roles=tuple(account.roles),
            active=account.active,
            enrolled=account.totp_enabled_at is not None,
            locked=account.locked_until is not None and at < account.locked_until,
            last_login=last.get(account.id),
        )
        for account, organisation in rows
    ]


@dataclass(frozen=True)
class Action:
    """One thing a beheerder can do to an account: its record name and whether it may be done to oneself."""

    name: str
    apply: Callable[[Session, str, datetime], None]
    on_oneself: bool = True


def _disable(session: Session, account_id: str, at: datetime) -> None:
    accounts.disable_account(session, account_id, at)


def _enable(session: Session, account_id: str, _at: datetime) -> None:
    accounts.enable_account(session, account_id)


def _unlock(session: Session, account_id: str, _at: datetime) -> None:
    accounts.unlock(session, account_id)


ACTIONS = {
    # Disabling oneself would lock the last beheerder out; resetting one's own second factor would skip the
    # re-authentication "Mijn account" asks for.
    "uitschakelen": Action("account_uitgeschakeld", _disable, on_oneself=False),
    "inschakelen": Action("account_ingeschakeld", _enable),
    "sessies_beeindigen": Action("sessies_beeindigd", accounts.end_all_sessions),
    "tweede_factor_herstellen": Action("tweede_factor_hersteld", accounts.reset_second_factor, on_oneself=False),
    "ontgrendelen": Action("account_ontgrendeld", _unlock),
}


def apply(session: Session, actor: Actor, account_id: str, action: str, *, reason: str, at: datetime) -> None:
    """Do ``action`` (a key of ``ACTIONS``) to the account and record it with the beheerder's reason."""
    if actor.role is not Role.BEHEERDER:
        raise PermissionDeniedError("only a beheerder manages accounts")
    chosen = ACTIONS.get(action)
    if chosen is None:
        raise NotFoundError("no such account action")
    if session.get(Account, account_id, with_for_update=True) is None:
        raise NotFoundError("account not found")
    reason = reason.strip()
    if not reason:
        raise FormValidationError([FieldError("reden", "Geef een reden op.")])
    if len(reason) > MAX_REASON:
        raise FormValidationError([FieldError("reden", f"Gebruik hoogstens {MAX_REASON} tekens.")])
    if account_id == actor.id and not chosen.on_oneself:
        raise FormValidationError([FieldError("account", "Dit kunt u niet met uw eigen account doen.")])
    chosen.apply(session, account_id, at)
    session.add(AdminAction(actor=actor.id, action=chosen.name, target=f"account:{account_id}", reason=reason, at=at))


OWN_REASON = "zelf, via Mijn account"


def record_own(session: Session, account_id: str, action: str, at: datetime) -> None:
    """A change someone made to their own login (password, authenticator app, recovery codes, a session ended)."""
    session.add(AdminAction(actor=account_id, action=action, target=f"account:{account_id}", reason=OWN_REASON, at=at))
