"""Logging in (password, then a TOTP or recovery code; enrolment on the first login), logging out and switching
between the roles of one account. Changing one's password or second factor is on "Mijn account" (web/account.py)."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import segno
from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from markupsafe import Markup
from werkzeug.wrappers import Response

from engine import accounts, totp
from engine.access import Role
from engine.accounts import authenticate
from engine.model import Account
from web import db, security

bp = Blueprint("auth", __name__)
log = logging.getLogger(__name__)

MIN_PASSWORD = 12
MAX_PASSWORD = 1000  # argon2 copes, but nobody types more; a megabyte of "password" is only work for us

Page = Response | tuple[str, int] | tuple[str, int, dict[str, str]] | str


@bp.get("/inloggen")
def login() -> str:
    return render_template("auth/login.html", next=_safe_next(request.args.get("next")), failed=False)


@bp.post("/inloggen")
def login_post() -> Page:
    if throttled():
        return too_many()
    name = request.form.get("gebruikersnaam", "").strip()[:100]
    password = request.form.get("wachtwoord", "")[:MAX_PASSWORD]
    next_target = _safe_next(request.form.get("next"))
    at, policy, pepper = security.now(), security.login_policy(), security.pepper()
    reader = db.reader()
    # A locked name is refused before its password is looked at: the same answer for every name.
    account = None
    if not accounts.is_locked(reader, name, at, policy, pepper):
        account = authenticate(reader, name, password)
    if account is None:
        with db.writer() as writer:
            locked = accounts.record_failure(writer, name, security.source_hash(), at, policy, pepper)
        log_failure("wachtwoord", reader.get(Account, name))
        return login_page(next_target, name, locked=locked), 401
    security.begin(account, second_factor_done=False)
    if next_target:
        session["next"] = next_target
    return redirect(url_for("auth.second_factor" if account.totp_enabled_at else "auth.enrol"))


@bp.get("/inloggen/code")
def second_factor() -> Page:
    account = g.get("pending_account")
    if account is None:
        return redirect(url_for("home.index" if g.get("actor") else "auth.login"))
    if account.totp_enabled_at is None:
        return redirect(url_for("auth.enrol"))
    return render_template("auth/code.html", failed=False)


@bp.post("/inloggen/code")
def second_factor_post() -> Page:
    account = g.get("pending_account")
    if account is None:
        return redirect(url_for("auth.login"))
    if account.totp_enabled_at is None:
        return redirect(url_for("auth.enrol"))
    if throttled():
        return too_many()
    code = request.form.get("code", "")[:100]
    at, policy, pepper = security.now(), security.login_policy(), security.pepper()
    source = security.source_hash()
    with db.writer() as writer:
        locked = accounts.is_locked(writer, account.id, at, policy, pepper)
        ok = not locked and accounts.verify_second_factor(writer, account.id, code, at, pepper)
        if ok:
            accounts.record_success(writer, account.id, source, at)
        else:
            locked = accounts.record_failure(writer, account.id, source, at, policy, pepper)
    if ok:
        return _logged_in(account)
    log_failure("tweede factor", account)
    if locked:
        security.end()
        return login_page("", account.id, locked=True), 401
    return render_template("auth/code.html", failed=True), 401


@bp.get("/inloggen/koppelen")
def enrol() -> Page:
    account = g.get("pending_account")
    if account is None:
        return redirect(url_for("home.index" if g.get("actor") else "auth.login"))
    if account.totp_enabled_at is not None:
        return redirect(url_for("auth.second_factor"))
    return _enrol_page(account, failed=False), 200


@bp.post("/inloggen/koppelen")
def enrol_post() -> Page:
    account = g.get("pending_account")
    if account is None:
        return redirect(url_for("auth.login"))
    if account.totp_enabled_at is not None:
        return redirect(url_for("auth.second_factor"))
    if throttled():
        return too_many()
    code = request.form.get("code", "")[:100]
    at, policy, pepper = security.now(), security.login_policy(), security.pepper()
    source = security.source_hash()
    codes: list[str] = []
    with db.writer() as writer:
        locked = accounts.is_locked(writer, account.id, at, policy, pepper)
        ok = not locked and accounts.confirm_totp(writer, account.id, code, at)
        if ok:
            codes = accounts.new_recovery_codes(writer, account.id)
            accounts.record_success(writer, account.id, source, at)
        else:
            locked = accounts.record_failure(writer, account.id, source, at, policy, pepper)
    if not ok:
        log_failure("koppelen", account)
        if locked:
            security.end()
            return login_page("", account.id, locked=True), 401
        return _enrol_page(account, failed=True), 401
    next_target = _safe_next(session.get("next"))
    security.begin(account, second_factor_done=True)
    # Shown once, never again: only their hashes are kept.
    return render_template("auth/herstelcodes.html", codes=codes, next=next_target or url_for("home.index"))


@bp.post("/uitloggen")
def logout() -> Response:
    security.end()
    flash("U bent uitgelogd.")
    return redirect(url_for("auth.login"))


@bp.post("/rol")
@security.login_required
def switch_role() -> Response:
    wanted = request.form.get("rol", "")
    if wanted not in g.account.roles:
        abort(403)
    security.switch_role(Role(wanted))
    return redirect(url_for("home.index"))


@bp.get("/wachtwoord")
@security.login_required
def password() -> Response:
    """The old address: changing the password is on "Mijn account" now (it asks to log in again first)."""
    return redirect(url_for("account.password"))


# -- helpers --------------------------------------------------------------------------------------------------


def _logged_in(account: Account) -> Response:
    next_target = _safe_next(session.get("next"))
    security.begin(account, second_factor_done=True)
    return redirect(next_target or url_for("home.index"))


def login_page(next_target: str, name: str, *, locked: bool) -> str:
    return render_template(
        "auth/login.html",
        next=next_target,
        failed=not locked,
        locked=locked,
        lockout_minutes=_minutes(current_app.config["LOGIN_LOCKOUT"]),
        username=name,
    )


def _enrol_page(account: Account, *, failed: bool) -> str:
    with db.writer() as writer:
        secret = accounts.pending_totp_secret(writer, account.id)
    uri = totp.provisioning_uri(secret, account.id, current_app.config["TOTP_ISSUER"])
    return render_template(
        "auth/koppelen.html", qr=qr_svg(uri), secret=totp.grouped(secret), account=account, failed=failed
    )


def qr_svg(text: str) -> Markup:
    """A QR code as inline SVG (no script, no image request), drawn on the server."""
    svg = segno.make(text, error="m").svg_inline(scale=5, border=4, dark="#000", light="#fff", svgclass="qr")
    # Generated from the otpauth URI by segno: markup we made ourselves, nothing a user typed.
    return Markup(  # noqa: S704
        svg.replace("<svg ", '<svg role="img" aria-label="QR-code met de geheime sleutel" ', 1)
    )


def throttled() -> bool:
    return accounts.source_throttled(db.reader(), security.source_hash(), security.now(), security.login_policy())


def too_many() -> tuple[str, int, dict[str, str]]:
    window = current_app.config["LOGIN_SOURCE_WINDOW"]
    page = render_template("auth/te_veel.html", minutes=_minutes(window))
    return page, 429, {"Retry-After": str(window)}


def _minutes(seconds: int) -> int:
    return max(1, seconds // 60)


def log_failure(step: str, account: Account | None) -> None:
    # Never the typed name (it may be a password typed in the wrong field) or anything typed.
    log.warning("inloggen mislukt: stap=%s account=%s", step, account.id if account is not None else "onbekend")


def _safe_next(target: str | None) -> str:
    """Only a path on this site: a login link must not send anyone elsewhere afterwards."""
    if not target:
        return ""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return ""
    return target
