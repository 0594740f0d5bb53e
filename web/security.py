"""Who is logged in, in which role; CSRF tokens on every POST; the security headers of every response."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Flask, Response, abort, g, redirect, request, session, url_for

from engine.access import Actor, Role
from engine.accounts import actor_for
from engine.model import Account
from web import db

CSRF_FIELD = "csrf_token"
F = TypeVar("F", bound=Callable[..., Any])


class CsrfError(Exception):
    """A POST without the token of this session: refused before anything is read or changed."""


def init_app(app: Flask) -> None:
    app.before_request(_load_user)
    app.before_request(_check_csrf)
    app.after_request(_headers)
    app.jinja_env.globals.update(csrf_token=csrf_token, CSRF_FIELD=CSRF_FIELD)


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


def _check_csrf() -> None:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    sent = request.form.get(CSRF_FIELD) or request.headers.get("X-CSRF-Token") or ""
    expected = session.get("csrf")
    if not expected or not hmac.compare_digest(str(sent), str(expected)):
        raise CsrfError


def log_in(account: Account, role: Role) -> None:
    # A fresh session at login: nothing from before (a planted id or token) survives it.
    session.clear()
    session.permanent = True
    session["account"] = account.id
    session["role"] = role.value
    csrf_token()


def log_out() -> None:
    session.clear()


def _load_user() -> None:
    g.account = None
    g.actor = None
    account_id = session.get("account")
    if not account_id:
        return
    account = db.reader().get(Account, account_id)
    if account is None or not account.active:
        session.clear()
        return
    role_name = session.get("role")
    if role_name not in account.roles:
        role_name = account.roles[0]
        session["role"] = role_name
    g.account = account
    g.actor = actor_for(account, Role(role_name))


def current_actor() -> Actor:
    actor = g.get("actor")
    if actor is None:
        abort(401)
    return cast(Actor, actor)


def login_required(view: F) -> F:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.get("actor") is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return cast(F, wrapped)


def roles_required(*roles: Role) -> Callable[[F], F]:
    """Only these roles may open the page; anyone else logged in gets 403."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            actor = g.get("actor")
            if actor is None:
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if actor.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorate


def _headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    )
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    if g.get("actor") is not None and not request.path.startswith("/static/"):
        # Pages behind the login may hold case data: no copy in any cache.
        headers["Cache-Control"] = "no-store"
    return response
