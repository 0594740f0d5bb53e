"""Mijn account: one's own login. Changing the password, linking a new authenticator app and making new recovery
codes first ask for the password and a code again (ASVS 7.5.1); a full authentication starts a new session, so a
session younger than ``REAUTH_WINDOW`` seconds counts as fresh. Each change ends the person's other sessions and
is recorded in ``admin_action``; any open session of one's own can be ended here too.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from engine import account_admin, accounts, crypto, sessions, totp
from engine.accounts import verify_password
from engine.model import Account, Organisation, WebSession
from web import db, security
from web.auth import MAX_PASSWORD, MIN_PASSWORD, log_failure, login_page, qr_svg, throttled, too_many

bp = Blueprint("account", __name__, url_prefix="/mijn-account")

Page = Response | tuple[str, int] | tuple[str, int, dict[str, str]] | str

DEFAULT_REAUTH_WINDOW = 5 * 60  # seconds
# What the confirmation leads on to: a name from this list, never a URL (nothing to redirect elsewhere).
GOALS = {"wachtwoord": "account.password", "koppelen": "account.enrol", "herstelcodes": "account.recovery_codes"}
PENDING_SECRET = "herkoppelen"  # noqa: S105 - the key in Flask's cookie under which the new TOTP secret waits, sealed
MAX_CODE = 100


@bp.get("")
@security.login_required
def index() -> str:
    account: Account = g.account
    reader = db.reader()
    open_rows = sessions.open_sessions(reader, account, security.now(), security.limits())
    return render_template(
        "account/index.html",
        account=account,
        organisation=_organisation_name(account),
        recovery_left=accounts.unused_recovery_codes(reader, account.id),
        open_sessions=[(sessions.public_id(row.id), row, row.id == g.session_id) for row in open_rows],
    )


# -- confirming who one is ------------------------------------------------------------------------------------


@bp.post("/bevestigen")
@security.login_required
def reauth_post() -> Page:
    goal = request.form.get("doel", "")
    goal = goal if goal in GOALS else "wachtwoord"
    if throttled():
        return too_many()
    password = request.form.get("wachtwoord", "")[:MAX_PASSWORD]
    code = request.form.get("code", "")[:MAX_CODE]
    if not password or not code.strip():
        return _reauth_page(goal, missing=True), 422
    account: Account = g.account
    at, policy, pepper, source = security.now(), security.login_policy(), security.pepper(), security.source_hash()
    password_ok = verify_password(account.password_hash, password)  # slow on purpose: outside the transaction
    with db.writer() as writer:
        locked = accounts.is_locked(writer, account.id, at, policy, pepper)
        ok = not locked and password_ok and accounts.verify_second_factor(writer, account.id, code, at, pepper)
        if ok:
            accounts.record_success(writer, account.id, source, at)
        else:
            locked = accounts.record_failure(writer, account.id, source, at, policy, pepper)
    if not ok:
        log_failure("opnieuw bevestigen", account)
        if locked:
            security.end(all_of_account=True)
            return login_page("", account.id, locked=True), 401
        return _reauth_page(goal, failed=True), 401
    security.begin(account, second_factor_done=True, role=g.actor.role.value)
    return redirect(url_for(GOALS[goal]))


# -- password ---------------------------------------------------------------------------------------------------


@bp.get("/wachtwoord")
@security.login_required
def password() -> Page:
    if not _fresh():
        return _reauth_page("wachtwoord")
    return render_template("account/wachtwoord.html", errors={})


@bp.post("/wachtwoord")
@security.login_required
def password_post() -> Page:
    if not _fresh():
        return _reauth_page("wachtwoord"), 401
    new = request.form.get("nieuw_wachtwoord", "")
    repeat = request.form.get("herhaal_wachtwoord", "")
    account: Account = g.account
    errors = _password_errors(account, new, repeat)
    if errors:
        return render_template("account/wachtwoord.html", errors=errors), 422
    at = security.now()
    with db.writer() as writer:
        accounts.change_password(writer, account.id, new, at, keep=g.session_id)
        account_admin.record_own(writer, account.id, "wachtwoord_gewijzigd", at)
    flash("Uw wachtwoord is gewijzigd. Op andere apparaten bent u uitgelogd.")
    return redirect(url_for("account.index"))


def _password_errors(account: Account, new: str, repeat: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    if len(new) < MIN_PASSWORD:
        errors["nieuw_wachtwoord"] = f"Kies een wachtwoord van minstens {MIN_PASSWORD} tekens."
    elif len(new) > MAX_PASSWORD:
        errors["nieuw_wachtwoord"] = f"Kies een wachtwoord van hoogstens {MAX_PASSWORD} tekens."
    elif verify_password(account.password_hash, new):
        errors["nieuw_wachtwoord"] = "Kies een ander wachtwoord dan het huidige."
    if new != repeat:
        errors["herhaal_wachtwoord"] = "De twee nieuwe wachtwoorden zijn niet gelijk."
    return errors


# -- a new authenticator app ----------------------------------------------------------------------------------


@bp.get("/koppelen")
@security.login_required
def enrol() -> Page:
    if not _fresh():
        return _reauth_page("koppelen")
    return _enrol_page(failed=False)


@bp.post("/koppelen")
@security.login_required
def enrol_post() -> Page:
    if not _fresh():
        return _reauth_page("koppelen"), 401
    secret = _pending_secret()
    if secret is None:  # never shown in this session (or a session ago): a new QR code to scan
        return _enrol_page(failed=True), 422
    code = request.form.get("code", "")[:MAX_CODE]
    account: Account = g.account
    at = security.now()
    with db.writer() as writer:
        ok = accounts.replace_totp(writer, account.id, secret, code, at)
        if ok:
            sessions.revoke_all(writer, account.id, at, keep=g.session_id)
            account_admin.record_own(writer, account.id, "tweede_factor_gekoppeld", at)
    if not ok:
        return _enrol_page(failed=True), 422
    session.pop(PENDING_SECRET, None)
    flash("De nieuwe authenticator-app is gekoppeld; de oude werkt niet meer. Op andere apparaten bent u uitgelogd.")
    return redirect(url_for("account.index"))


def _enrol_page(*, failed: bool) -> str:
    secret = _pending_secret() or _new_pending_secret()
    account: Account = g.account
    uri = totp.provisioning_uri(secret, account.id, current_app.config["TOTP_ISSUER"])
    return render_template("account/koppelen.html", qr=qr_svg(uri), secret=totp.grouped(secret), failed=failed)


def _pending_aad() -> bytes:
    # Bound to this account and this very session: a copied cookie or a later login cannot use it.
    return f"herkoppelen:{g.account.id}:{g.session_id}".encode()


def _new_pending_secret() -> str:
    # Flask's cookie is signed, not encrypted: the secret goes in sealed with the encryption key.
    secret = totp.new_secret()
    session[PENDING_SECRET] = crypto.seal_text(secret, aad=_pending_aad())
    return secret


def _pending_secret() -> str | None:
    sealed = session.get(PENDING_SECRET)
    if not isinstance(sealed, str) or not crypto.is_encrypted_text(sealed):
        return None
    try:
        return crypto.open_text(sealed, aad=_pending_aad())
    except crypto.CryptoError:
        return None


# -- recovery codes ---------------------------------------------------------------------------------------------


@bp.get("/herstelcodes")
@security.login_required
def recovery_codes() -> Page:
    if not _fresh():
        return _reauth_page("herstelcodes")
    left = accounts.unused_recovery_codes(db.reader(), g.account.id)
    return render_template("account/herstelcodes_vervangen.html", recovery_left=left)


@bp.post("/herstelcodes")
@security.login_required
def recovery_codes_post() -> Page:
    if not _fresh():
        return _reauth_page("herstelcodes"), 401
    account: Account = g.account
    at = security.now()
    with db.writer() as writer:
        codes = accounts.new_recovery_codes(writer, account.id)
        sessions.revoke_all(writer, account.id, at, keep=g.session_id)
        account_admin.record_own(writer, account.id, "herstelcodes_vervangen", at)
    # Shown once, never again: only their hashes are kept (and the page is never cached: no-store).
    return render_template("account/herstelcodes.html", codes=codes)


# -- sessions ---------------------------------------------------------------------------------------------------


@bp.post("/sessies")
@security.login_required
def end_sessions() -> Response:
    account: Account = g.account
    chosen = request.form.get("sessie", "")[:64]
    at = security.now()
    with db.writer() as writer:
        if chosen == "alle":
            sessions.revoke_all(writer, account.id, at, keep=g.session_id)
            account_admin.record_own(writer, account.id, "andere_sessies_beeindigd", at)
            message = "U bent op al uw andere apparaten uitgelogd."
        elif sessions.revoke_shown(writer, account, chosen, at, security.limits(), keep=g.session_id):
            account_admin.record_own(writer, account.id, "sessie_beeindigd", at)
            message = "De sessie is beëindigd."
        else:
            message = "Deze sessie was al beëindigd."
    flash(message)
    return redirect(url_for("account.index"))


# -- helpers ----------------------------------------------------------------------------------------------------


def _organisation_name(account: Account) -> str:
    organisation = db.reader().get(Organisation, account.organisation)
    return organisation.name if organisation is not None else account.organisation


def _fresh() -> bool:
    """Whether this session was started by giving both factors within the re-authentication window."""
    row = db.reader().get(WebSession, g.session_id)
    window = current_app.config.get("REAUTH_WINDOW", DEFAULT_REAUTH_WINDOW)
    return row is not None and sessions.is_fresh(row, security.now(), timedelta(seconds=int(window)))


def _reauth_page(goal: str, *, failed: bool = False, missing: bool = False) -> str:
    return render_template(
        "account/bevestigen.html",
        goal=goal,
        failed=failed,
        missing=missing,
        minutes=max(1, int(current_app.config.get("REAUTH_WINDOW", DEFAULT_REAUTH_WINDOW)) // 60),
    )
