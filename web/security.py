"""Who is logged in, in which role; CSRF tokens on every POST; the security headers of every response.

The login is a server-side session (``web_session``, engine/sessions.py): the cookie holds only a random token,
the row its sha256, so logging out, disabling an account or changing a password ends it on the server. A
session that has passed only the password is *pending*: it reaches the second step and nothing else.
Flask's signed cookie keeps only flash messages, the CSRF token of a visitor not logged in and where to go
after logging in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Flask, Response, abort, current_app, g, redirect, request, session, url_for

from engine import sessions
from engine.access import Actor, Role
from engine.accounts import LoginPolicy, actor_for, keyed_hash
from engine.model import Account
from web import db

CSRF_FIELD = "csrf_token"
HSTS = "max-age=31536000; includeSubDomains"
F = TypeVar("F", bound=Callable[..., Any])


class CsrfError(Exception):
    """A POST without the token of this session: refused before anything is read or changed."""


def init_app(app: Flask) -> None:
    app.before_request(_load_user)
    app.before_request(_check_csrf)
    app.after_request(_headers)
    app.jinja_env.globals.update(csrf_token=csrf_token, CSRF_FIELD=CSRF_FIELD)


# -- settings -------------------------------------------------------------------------------------------------


def now() -> datetime:
    moment: datetime = current_app.config["CLOCK"]()
    return moment


def pepper() -> bytes:
    """The key for keyed hashes (source addresses, recovery codes, CSRF tokens)."""
    return str(current_app.config["SECRET_KEY"]).encode("utf-8")


def limits() -> sessions.Limits:
    config = current_app.config
    return sessions.Limits(
        idle=timedelta(seconds=config["SESSION_IDLE_TIMEOUT"]),
        absolute=timedelta(seconds=config["SESSION_ABSOLUTE_TIMEOUT"]),
        pending=timedelta(seconds=config["SESSION_PENDING_TIMEOUT"]),
    )


def login_policy() -> LoginPolicy:
    config = current_app.config
    return LoginPolicy(
        max_failures=config["LOGIN_MAX_FAILURES"],
        lockout=timedelta(seconds=config["LOGIN_LOCKOUT"]),
        source_max_failures=config["LOGIN_SOURCE_MAX_FAILURES"],
        source_window=timedelta(seconds=config["LOGIN_SOURCE_WINDOW"]),
    )


def source_hash() -> str:
    """The requesting address as a keyed hash: enough to throttle it, useless to anyone reading the table."""
    return keyed_hash(pepper(), "bron", request.remote_addr or "onbekend")


# -- CSRF -----------------------------------------------------------------------------------------------------


def csrf_for(secret_key: str, session_id: str) -> str:
    """The CSRF token of a server-side session (derived from its id, so nothing more to store)."""
    return hmac.new(secret_key.encode("utf-8"), f"csrf:{session_id}".encode(), hashlib.sha256).hexdigest()


def csrf_for_token(secret_key: str, token: str) -> str:
    """The same, from the cookie's token (for tests that post as a browser would)."""
    return csrf_for(secret_key, sessions.token_hash(token))


def csrf_token() -> str:
    session_id = g.get("session_id")
    if session_id:
        # A page puts the token in each of its forms (the inbox: one per row): one HMAC per request is enough.
        known: tuple[str, str] | None = g.get("csrf_of_session")
        if known is None or known[0] != session_id:
            known = (session_id, csrf_for(str(current_app.config["SECRET_KEY"]), session_id))
            g.csrf_of_session = known
        return known[1]
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


def _check_csrf() -> None:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    sent = request.form.get(CSRF_FIELD) or request.headers.get("X-CSRF-Token") or ""
    if g.get("session_id"):
        expected: str | None = csrf_token()
    else:
        expected = session.get("csrf")
    if not expected or not hmac.compare_digest(str(sent), str(expected)):
        raise CsrfError


# -- the session ----------------------------------------------------------------------------------------------


def begin(account: Account, *, second_factor_done: bool, role: str | None = None) -> None:
    """A new server session for ``account`` with a new token, in place of any the browser had (fixation)."""
    at = now()
    with db.writer() as writer:
        old = g.get("session_id")
        if old:
            sessions.revoke(writer, old, at)
        token = sessions.start(writer, account, role or account.roles[0], at, second_factor_done=second_factor_done)
    g.new_token = token
    g.session_id = sessions.token_hash(token)
    g.drop_cookie = False
    # Nothing planted in Flask's cookie before the login survives it.
    session.clear()
    if second_factor_done:
        g.pending_account = None
        g.account = account
        g.actor = actor_for(account, Role(role or account.roles[0]))
    else:
        g.pending_account = account


def end(*, all_of_account: bool = False) -> None:
    """Log out: the row is revoked on the server and the cookie dropped."""
    session_id = g.get("session_id")
    account = g.get("account") or g.get("pending_account")
    with db.writer() as writer:
        if all_of_account and account is not None:
            sessions.revoke_all(writer, account.id, now())
        elif session_id:
            sessions.revoke(writer, session_id, now())
    session.clear()
    g.session_id = None
    g.account = g.actor = g.pending_account = None
    g.new_token = None
    g.drop_cookie = True


def switch_role(role: Role) -> None:
    with db.writer() as writer:
        sessions.set_role(writer, g.session_id, role.value)
    g.actor = actor_for(g.account, role)


def _load_user() -> None:
    g.account = None
    g.actor = None
    g.pending_account = None
    g.session_id = None
    token = request.cookies.get(current_app.config["AUTH_COOKIE_NAME"])
    if not token or request.path.startswith("/static/"):
        return
    row, account = sessions.load(db.reader(), sessions.token_hash(token))
    at = now()
    if sessions.invalid_reason(row, account, at, limits()) is not None:
        if row is not None and row.revoked_at is None:
            with db.writer() as writer:
                sessions.revoke(writer, row.id, at)
        g.drop_cookie = True
        return
    if row is None or account is None:  # ruled out by invalid_reason; said again for the type checker
        return
    if sessions.needs_touch(row, at):
        with db.writer() as writer:
            sessions.touch(writer, row.id, at)
    g.session_id = row.id
    if not row.second_factor_done:
        g.pending_account = account
        return
    role_name = row.role if row.role in account.roles else account.roles[0]
    g.account = account
    g.actor = actor_for(account, Role(role_name))


def current_actor() -> Actor:
    actor = g.get("actor")
    if actor is None:
        abort(401)
    return cast(Actor, actor)


def _to_login() -> Any:
    if g.get("pending_account") is not None:
        return redirect(url_for("auth.second_factor"))
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def login_required(view: F) -> F:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.get("actor") is None:
            return _to_login()
        return view(*args, **kwargs)

    return cast(F, wrapped)


def roles_required(*roles: Role) -> Callable[[F], F]:
    """Only these roles may open the page; anyone else logged in gets 403."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            actor = g.get("actor")
            if actor is None:
                return _to_login()
            if actor.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorate


def _headers(response: Response) -> Response:
    config = current_app.config
    headers = response.headers
    headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    )
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    if config["PRODUCTION"]:
        headers.setdefault("Strict-Transport-Security", HSTS)
    if not request.path.startswith("/static/") and (
        g.get("session_id") or g.get("new_token") or request.blueprint == "auth"
    ):
        # Pages behind the login may hold case data, the enrolment page a secret: no copy in any cache.
        headers["Cache-Control"] = "no-store"
    name = config["AUTH_COOKIE_NAME"]
    secure = bool(config["PRODUCTION"])
    if g.get("new_token"):
        response.set_cookie(
            name, g.new_token, path="/", secure=secure, httponly=True, samesite="Lax"
        )  # no Max-Age: gone when the browser closes; the server enforces the timeouts
    elif g.get("drop_cookie"):
        response.delete_cookie(name, path="/", secure=secure, httponly=True, samesite="Lax")
    return response
