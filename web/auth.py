"""Logging in and out, and switching between the roles of one account."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from engine.access import Role
from engine.accounts import authenticate
from web import db, security

bp = Blueprint("auth", __name__)


@bp.get("/inloggen")
def login() -> str:
    return render_template("auth/login.html", next=_safe_next(request.args.get("next")), failed=False)


@bp.post("/inloggen")
def login_post() -> Response | tuple[str, int]:
    account_id = request.form.get("gebruikersnaam", "").strip()
    password = request.form.get("wachtwoord", "")
    account = authenticate(db.reader(), account_id, password)
    if account is None:
        page = render_template(
            "auth/login.html", next=_safe_next(request.form.get("next")), failed=True, username=account_id
        )
        return page, 401
    security.log_in(account, Role(account.roles[0]))
    return redirect(_safe_next(request.form.get("next")) or url_for("home.index"))


@bp.post("/uitloggen")
def logout() -> Response:
    security.log_out()
    flash("U bent uitgelogd.")
    return redirect(url_for("auth.login"))


@bp.post("/rol")
@security.login_required
def switch_role() -> Response:
    wanted = request.form.get("rol", "")
    if wanted not in g.account.roles:
        abort(403)
    security.log_in(g.account, Role(wanted))
    return redirect(url_for("home.index"))


def _safe_next(target: str | None) -> str:
    """Only a path on this site: a login link must not send anyone elsewhere afterwards."""
    if not target:
        return ""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return ""
    return target
