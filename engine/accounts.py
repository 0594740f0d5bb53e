"""Accounts: who can log in, with which roles, for which organisation; passwords hashed with argon2id."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.access import Actor, Role
from engine.errors import PermissionDeniedError
from engine.model import Account, Organisation

_hasher = PasswordHasher()
# Verified against when the user name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("niet-bestaand-account")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def authenticate(session: Session, account_id: str, password: str) -> Account | None:
    """The active account whose password this is, else None (the same answer for every failure)."""
    account = session.get(Account, account_id)
    if account is None:
        verify_password(_DUMMY_HASH, password)
        return None
    if not verify_password(account.password_hash, password) or not account.active:
        return None
    return account


def ensure_organisation(session: Session, code: str, name: str, kind: str) -> Organisation:
    organisation = session.get(Organisation, code)
    if organisation is None:
        organisation = Organisation(code=code, name=name, kind=kind)
        session.add(organisation)
    return organisation


def create_account(
    session: Session,
    *,
    account_id: str,
    name: str,
    email: str,
    organisation: str,
    roles: Iterable[Role],
    password_hash: str,
    at: datetime,
) -> Account:
    """A new account; the caller hashes the password (``hash_password``) so seeding many can share one."""
    account = Account(
        id=account_id,
        name=name,
        email=email,
        organisation=organisation,
        roles=[role.value for role in roles],
        password_hash=password_hash,
        active=True,
        created_at=at,
    )
    session.add(account)
    return account


def actor_for(account: Account, role: Role) -> Actor:
    """The actor on whose behalf commands run: the account acting in one of its roles."""
    if role.value not in account.roles:
        raise PermissionDeniedError(f"account has no role {role.value}")
    return Actor(account.id, role, account.organisation)


def display_names(session: Session, account_ids: Iterable[str]) -> dict[str, str]:
    """Account id -> name, for timelines; ids without an account (the worker) map to themselves."""
    ids = set(account_ids)
    if not ids:
        return {}
    rows = session.execute(select(Account.id, Account.name).where(Account.id.in_(ids)))
    names = {row.id: row.name for row in rows}
    return {account_id: names.get(account_id, account_id) for account_id in ids}
