"""Server-side login sessions: the browser holds only a random token, the ``web_session`` row its sha256.

A session is valid while its row is not revoked, the account is active, it started after the account's
``sessions_valid_from``, it was used within the idle limit and it is younger than the absolute limit. A session
that has only passed the password (``second_factor_done`` false) lives for a few minutes at most.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.orm import Session

from engine.model import Account, WebSession

TOKEN_BYTES = 32
# last_seen_at is written at most this often: not a database write on every page view.
TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class Limits:
    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)
    # between the password and the second factor
    pending: timedelta = timedelta(minutes=10)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start(session: Session, account: Account, role: str, at: datetime, *, second_factor_done: bool) -> str:
    """A new session row; returns the token for the cookie (never stored)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(
        WebSession(
            id=token_hash(token),
            account_id=account.id,
            role=role,
            second_factor_done=second_factor_done,
            created_at=at,
            last_seen_at=at,
        )
    )
    return token


# Every request reads its session and the account behind it: one statement, built once.
_SESSION_AND_ACCOUNT = (
    select(WebSession, Account)
    .outerjoin(Account, Account.id == WebSession.account_id)
    .where(WebSession.id == bindparam("session_id"))
)


def load(session: Session, session_id: str) -> tuple[WebSession | None, Account | None]:
    """The session row and its account (either ``None`` if missing), in one round trip."""
    found = session.execute(_SESSION_AND_ACCOUNT, {"session_id": session_id}).first()
    if found is None:
        return None, None
    return found[0], found[1]


def invalid_reason(row: WebSession | None, account: Account | None, at: datetime, limits: Limits) -> str | None:
    """Why this session may not be used at ``at`` (``None``: it may)."""
    if row is None or account is None:
        return "onbekend"
    if row.revoked_at is not None:
        return "beëindigd"
    if not account.active:
        return "account uitgeschakeld"
    if account.sessions_valid_from is not None and row.created_at < account.sessions_valid_from:
        return "ingetrokken"
    if not row.second_factor_done and at - row.created_at > limits.pending:
        return "tweede stap verlopen"
    if at - row.last_seen_at > limits.idle:
        return "inactief"
    if at - row.created_at > limits.absolute:
        return "maximale duur"
    return None


def needs_touch(row: WebSession, at: datetime) -> bool:
    return at - row.last_seen_at >= TOUCH_EVERY


def touch(session: Session, session_id: str, at: datetime) -> None:
    session.execute(update(WebSession).where(WebSession.id == session_id).values(last_seen_at=at))


def revoke(session: Session, session_id: str, at: datetime) -> None:
    session.execute(
        update(WebSession).where(WebSession.id == session_id, WebSession.revoked_at.is_(None)).values(revoked_at=at)
    )


def revoke_all(session: Session, account_id: str, at: datetime, *, keep: str | None = None) -> None:
    """End every open session of the account (but ``keep``, the one asking, if given)."""
    query = update(WebSession).where(WebSession.account_id == account_id, WebSession.revoked_at.is_(None))
    if keep is not None:
        query = query.where(WebSession.id != keep)
    session.execute(query.values(revoked_at=at))


def set_role(session: Session, session_id: str, role: str) -> None:
    session.execute(update(WebSession).where(WebSession.id == session_id).values(role=role))


def is_fresh(row: WebSession, at: datetime, within: timedelta) -> bool:
    """Whether both factors were given within ``within``: every login, and every re-authentication, starts a new
    session, so its start is the moment of the last full authentication."""
    return row.second_factor_done and at - row.created_at <= within


def public_id(session_id: str) -> str:
    """The handle a session is shown and ended by on "Mijn account": not its key (from which its CSRF token is
    derived), and not reversible to it."""
    return hashlib.sha256(f"weergave:{session_id}".encode()).hexdigest()[:16]


def open_sessions(session: Session, account: Account, at: datetime, limits: Limits) -> list[WebSession]:
    """The account's sessions that may be used now, the most recently used first."""
    rows = session.scalars(
        select(WebSession)
        .where(
            WebSession.account_id == account.id,
            WebSession.revoked_at.is_(None),
            WebSession.second_factor_done.is_(True),
        )
        .order_by(WebSession.last_seen_at.desc(), WebSession.created_at.desc())
    )
    return [row for row in rows if invalid_reason(row, account, at, limits) is None]


def revoke_shown(
    session: Session, account: Account, handle: str, at: datetime, limits: Limits, *, keep: str | None = None
) -> bool:
    """End the account's open session shown as ``handle`` (never ``keep``, the one asking: that is logging out);
    False if it has none such (ended already)."""
    for row in open_sessions(session, account, at, limits):
        if public_id(row.id) == handle and row.id != keep:
            revoke(session, row.id, at)
            return True
    return False


# Sessions stay this long after they can no longer be used (revoked, idle or too old), so "Mijn account" and the
# inzage export show a recent end; then the sweep deletes them.
SWEEP_GRACE = timedelta(days=1)


def sweep(session: Session, at: datetime, limits: Limits, grace: timedelta = SWEEP_GRACE) -> int:
    """Delete sessions that ended more than ``grace`` ago; returns how many. A deleted session's cookie is
    refused like an unknown one."""
    result = session.execute(
        delete(WebSession)
        .where(
            or_(
                WebSession.revoked_at < at - grace,
                WebSession.last_seen_at < at - limits.idle - grace,
                WebSession.created_at < at - limits.absolute - grace,
                (WebSession.second_factor_done.is_(False)) & (WebSession.created_at < at - limits.pending - grace),
            )
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def limits_from_env(environ: Mapping[str, str]) -> Limits:
    """The timeouts the web app reads (``REGELING_SESSION_{IDLE,ABSOLUTE,PENDING}_TIMEOUT``, seconds), for a
    process without the app's config (the worker's sweep)."""
    defaults = Limits()

    def seconds(name: str, default: timedelta) -> timedelta:
        raw = environ.get(f"REGELING_SESSION_{name}_TIMEOUT", "").strip()
        return timedelta(seconds=int(raw)) if raw.isdigit() else default

    return Limits(
        idle=seconds("IDLE", defaults.idle),
        absolute=seconds("ABSOLUTE", defaults.absolute),
        pending=seconds("PENDING", defaults.pending),
    )
