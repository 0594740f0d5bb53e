"""Accounts: who can log in, with which roles, for which organisation; passwords hashed with argon2id."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from engine import sessions, totp
from engine.access import Actor, Role
from engine.errors import PermissionDeniedError
from engine.model import Account, LoginAttempt, Organisation, RecoveryCode

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


def disable_account(session: Session, account_id: str, at: datetime) -> None:
    """The account can no longer log in, and every session it has ends with the next request."""
    session.execute(update(Account).where(Account.id == account_id).values(active=False, sessions_valid_from=at))
    sessions.revoke_all(session, account_id, at)


def end_all_sessions(session: Session, account_id: str, at: datetime) -> None:
    """Every session of the account started before ``at`` is void (e.g. a lost laptop)."""
    session.execute(update(Account).where(Account.id == account_id).values(sessions_valid_from=at))
    sessions.revoke_all(session, account_id, at)


def enable_account(session: Session, account_id: str) -> None:
    """The account can log in again (its old sessions stay void: they started before it was disabled)."""
    session.execute(update(Account).where(Account.id == account_id).values(active=True))


def change_password(session: Session, account_id: str, new_password: str, at: datetime, *, keep: str) -> None:
    """A new password; every other session of the account ends (``keep``: the session that asked)."""
    session.execute(update(Account).where(Account.id == account_id).values(password_hash=hash_password(new_password)))
    sessions.revoke_all(session, account_id, at, keep=keep)


def unlock(session: Session, account_id: str) -> None:
    """A lockout after failed logins ends now (the failures stay recorded)."""
    session.execute(update(Account).where(Account.id == account_id).values(locked_until=None, failed_logins=0))


def reset_second_factor(session: Session, account_id: str, at: datetime) -> None:
    """The authenticator app and the recovery codes stop working; the next login enrols a new app. Every session
    ends, so nobody keeps working on the old factor."""
    session.execute(
        update(Account)
        .where(Account.id == account_id)
        .values(sealed_totp_secret=None, totp_enabled_at=None, totp_last_step=None, sessions_valid_from=at)
    )
    session.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account_id))
    sessions.revoke_all(session, account_id, at)


# -- login throttling -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginPolicy:
    max_failures: int = 5  # per account (password or second factor) ...
    lockout: timedelta = timedelta(minutes=15)  # ... then locked this long
    source_max_failures: int = 20  # per source address ...
    source_window: timedelta = timedelta(minutes=15)  # ... within this window, then 429


# Login attempts older than this are no longer needed for throttling or lockout, and are swept away
# (``sweep_login_attempts``); the latest successful login of each account stays, as its "last login".
LOGIN_ATTEMPT_RETENTION = timedelta(days=30)


def keyed_hash(pepper: bytes, purpose: str, value: str) -> str:
    """An HMAC-SHA256 of ``value`` (hex): a source address or an unknown name, never stored in clear."""
    return hmac.new(pepper, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def _unknown_key(pepper: bytes, name: str) -> str:
    # A name that is no account: its failures are kept under a keyed hash of it (never the typed text, which
    # may be a password typed in the wrong field), so it locks exactly like an account would.
    return "?" + keyed_hash(pepper, "naam", name.casefold())[:63]


def source_throttled(session: Session, source_hash: str, at: datetime, policy: LoginPolicy) -> bool:
    failures = session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(
            LoginAttempt.source_hash == source_hash,
            LoginAttempt.success.is_(False),
            LoginAttempt.at > at - policy.source_window,
        )
    )
    return (failures or 0) >= policy.source_max_failures


def _simulated_lock(session: Session, key: str, at: datetime, policy: LoginPolicy) -> datetime | None:
    """The lock an account would have after the failures recorded under ``key`` (the same rules, replayed)."""
    times = session.scalars(
        select(LoginAttempt.at)
        .where(
            LoginAttempt.account_id == key,
            LoginAttempt.success.is_(False),
            LoginAttempt.at > at - LOGIN_ATTEMPT_RETENTION,
        )
        .order_by(LoginAttempt.at)
    )
    count, locked_until = 0, None
    for moment in times:
        if locked_until is not None and moment < locked_until:
            continue
        count += 1
        if count >= policy.max_failures:
            locked_until, count = moment + policy.lockout, 0
    return locked_until


def is_locked(session: Session, name: str, at: datetime, policy: LoginPolicy, pepper: bytes) -> bool:
    """Whether logging in as ``name`` is locked now; unknown names lock the same way as accounts."""
    account = session.get(Account, name)
    if account is not None:
        return account.locked_until is not None and at < account.locked_until
    locked_until = _simulated_lock(session, _unknown_key(pepper, name), at, policy)
    return locked_until is not None and at < locked_until


def record_failure(
    session: Session, name: str, source_hash: str, at: datetime, policy: LoginPolicy, pepper: bytes
) -> bool:
    """A failed password or second factor for ``name`` from this source; True when that (now) locks it."""
    account = session.get(Account, name, with_for_update=True)
    key = account.id if account is not None else _unknown_key(pepper, name)
    session.add(LoginAttempt(account_id=key, source_hash=source_hash, success=False, at=at))
    if account is None:
        session.flush()
        return is_locked(session, name, at, policy, pepper)
    if account.locked_until is not None and at < account.locked_until:
        return True
    account.failed_logins = (account.failed_logins or 0) + 1
    if account.failed_logins >= policy.max_failures:
        account.locked_until = at + policy.lockout
        account.failed_logins = 0
        return True
    return False


def record_success(session: Session, account_id: str, source_hash: str, at: datetime) -> None:
    """Both factors passed: the failure count starts again."""
    session.execute(update(Account).where(Account.id == account_id).values(failed_logins=0, locked_until=None))
    session.add(LoginAttempt(account_id=account_id, source_hash=source_hash, success=True, at=at))


def last_logins(session: Session) -> dict[str, datetime]:
    """Account id -> the moment of its latest successful login (both factors)."""
    rows = session.execute(
        select(LoginAttempt.account_id, func.max(LoginAttempt.at))
        .where(LoginAttempt.success.is_(True))
        .group_by(LoginAttempt.account_id)
    )
    return {account_id: at for account_id, at in rows if account_id is not None}


def sweep_login_attempts(session: Session, at: datetime) -> int:
    """Delete attempts older than the retention, except each account's latest successful login; how many went."""
    newer = aliased(LoginAttempt)
    latest_success = (
        select(func.max(newer.at))
        .where(newer.account_id == LoginAttempt.account_id, newer.success.is_(True))
        .correlate_except(newer)
        .scalar_subquery()
    )
    result = session.execute(
        delete(LoginAttempt)
        .where(
            LoginAttempt.at < at - LOGIN_ATTEMPT_RETENTION,
            or_(LoginAttempt.success.is_(False), LoginAttempt.at < latest_success),
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# -- second factor: TOTP and recovery codes -------------------------------------------------------------------

RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: easy to read off paper


def pending_totp_secret(session: Session, account_id: str) -> str:
    """The secret to enrol (made once and kept until confirmed, so reloading shows the same QR code)."""
    account = session.get(Account, account_id, with_for_update=True)
    if account is None or account.totp_enabled_at is not None:
        raise PermissionDeniedError("already enrolled")
    if not account.totp_secret:
        account.totp_secret = totp.new_secret()
    return account.totp_secret


def confirm_totp(session: Session, account_id: str, code: str, at: datetime) -> bool:
    """Enrolment: the first code from the app proves it holds the secret; then TOTP is on."""
    account = session.get(Account, account_id, with_for_update=True)
    if account is None or account.totp_enabled_at is not None or not account.totp_secret:
        return False
    step = totp.verify(account.totp_secret, code, at, account.totp_last_step)
    if step is None:
        return False
    account.totp_last_step = step
    account.totp_enabled_at = at
    return True


def replace_totp(session: Session, account_id: str, secret: str, code: str, at: datetime) -> bool:
    """Re-enrolment of an enrolled account: a code of the new secret proves the new app holds it; then the new
    secret replaces the old one (the old app's codes stop working)."""
    account = session.get(Account, account_id, with_for_update=True)
    if account is None or account.totp_enabled_at is None:
        return False
    step = totp.verify(secret, code, at, None)
    if step is None:
        return False
    account.totp_secret = secret
    account.totp_last_step = step
    account.totp_enabled_at = at
    return True


def _normalise_recovery(code: str) -> str:
    return "".join(ch for ch in code.casefold() if ch.isalnum())


# Recovery codes are random (16 characters of 31: ≈ 79 bits), so one salted SHA-256 per code is enough: nobody
# tries 2^79 guesses against a stolen table, and the per-code salt makes precomputed tables useless. No key is
# involved, so rotating SECRET_KEY leaves them working (they used to be an HMAC keyed with it). A slow KDF such as
# argon2 would add nothing for codes this long and cost ~50 ms for each of ten stored codes at every use.
_RECOVERY_SCHEME = "sha256"
_RECOVERY_SALT_BYTES = 16


def recovery_hash(code: str, salt: bytes | None = None) -> str:
    """``sha256$<salt hex>$<digest hex>`` of the normalised code (case, spaces and dashes do not matter)."""
    salt = secrets.token_bytes(_RECOVERY_SALT_BYTES) if salt is None else salt
    digest = hashlib.sha256(salt + _normalise_recovery(code).encode("utf-8")).hexdigest()
    return f"{_RECOVERY_SCHEME}${salt.hex()}${digest}"


def recovery_matches(stored: str, code: str, pepper: bytes) -> bool:
    """Whether ``code`` is the one ``stored`` was made from.

    Codes issued before the salted hashes are an HMAC keyed with SECRET_KEY (64 hex characters, no ``$``). Nothing
    is migrated: they keep working while that key is unchanged, and stop working once it is rotated (as they always
    did); "Nieuwe herstelcodes" on Mijn account replaces them with salted ones.
    """
    scheme, _, rest = stored.partition("$")
    if scheme == _RECOVERY_SCHEME and rest:
        salt_hex, _, _digest = rest.partition("$")
        try:
            salt = bytes.fromhex(salt_hex)
        except ValueError:
            return False
        return hmac.compare_digest(recovery_hash(code, salt), stored)
    return hmac.compare_digest(stored, keyed_hash(pepper, "herstelcode", _normalise_recovery(code)))


def new_recovery_codes(session: Session, account_id: str) -> list[str]:
    """Ten fresh one-time codes (the old ones stop working); only their salted hashes are stored."""
    session.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account_id))
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(16))  # ≈ 79 bits
        code = "-".join(raw[i : i + 4] for i in range(0, 16, 4))
        session.add(RecoveryCode(account_id=account_id, code_hash=recovery_hash(code)))
        codes.append(code)
    return codes


def unused_recovery_codes(session: Session, account_id: str) -> int:
    count = session.scalar(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.account_id == account_id, RecoveryCode.used_at.is_(None))
    )
    return count or 0


def verify_second_factor(session: Session, account_id: str, code: str, at: datetime, pepper: bytes) -> bool:
    """A TOTP code not used before, or an unused recovery code (then used up)."""
    account = session.get(Account, account_id, with_for_update=True)
    if account is None or account.totp_enabled_at is None or not account.totp_secret:
        return False
    cleaned = code.replace(" ", "").strip()
    if cleaned.isdigit():
        step = totp.verify(account.totp_secret, cleaned, at, account.totp_last_step)
        if step is None:
            return False
        account.totp_last_step = step
        return True
    unused = session.scalars(
        select(RecoveryCode)
        .where(RecoveryCode.account_id == account_id, RecoveryCode.used_at.is_(None))
        .order_by(RecoveryCode.id)
        .with_for_update()
    ).all()
    # Every stored code is compared, so the time taken does not tell which one (if any) matched.
    matching = [row for row in unused if recovery_matches(row.code_hash, cleaned, pepper)]
    if not matching:
        return False
    matching[0].used_at = at
    return True
