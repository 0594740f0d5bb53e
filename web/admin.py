"""The beheerder's area: e-mails the worker gave up on, and retrying them; the accounts, and disabling, enabling,
ending sessions, resetting the second factor and unlocking them. Every action needs a reason and is recorded."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from engine import account_admin, incidents
from engine.access import Role
from engine.errors import FormValidationError, InvalidTransitionError
from web import db
from web.security import current_actor, roles_required
from web.taskforms import clock

bp = Blueprint("admin", __name__, url_prefix="/beheer")


@bp.get("/storingen")
@roles_required(Role.BEHEERDER)
def failures() -> str:
    return render_template("admin/failures.html", incidents=incidents.incidents(db.reader()), errors={})


@bp.post("/storingen/<int:delivery_id>/opnieuw")
@roles_required(Role.BEHEERDER)
def retry(delivery_id: int) -> Response | tuple[str, int]:
    reason = request.form.get("reden", "")[:1000]
    try:
        with db.writer() as session:
            incidents.retry_delivery(session, current_actor(), delivery_id, reason=reason, at=clock()())
    except FormValidationError:
        page = render_template(
            "admin/failures.html",
            incidents=incidents.incidents(db.reader()),
            errors={delivery_id: "Geef een reden op."},
        )
        return page, 422
    except InvalidTransitionError:
        abort(409)
    flash("De e-mail wordt opnieuw verstuurd.")
    return redirect(url_for("admin.failures"))


@bp.get("/accounts")
@roles_required(Role.BEHEERDER)
def accounts() -> str:
    return _accounts_page({})


@bp.post("/accounts")
@roles_required(Role.BEHEERDER)
def account_action() -> Response | tuple[str, int]:
    # The account is named in the form, not the URL: a login name can be a person's name.
    account_id = request.form.get("account", "")[:100]
    action = request.form.get("actie", "")[:50]
    reason = request.form.get("reden", "")[: account_admin.MAX_REASON + 1]
    try:
        with db.writer() as session:
            account_admin.apply(session, current_actor(), account_id, action, reason=reason, at=clock()())
    except FormValidationError as error:
        return _accounts_page({account_id: error.errors[0].message}), 422
    flash(ACCOUNT_DONE[action])
    return redirect(url_for("admin.accounts"))


ACCOUNT_DONE = {
    "uitschakelen": "Het account is uitgeschakeld; al zijn sessies zijn beëindigd.",
    "inschakelen": "Het account is weer ingeschakeld.",
    "sessies_beeindigen": "Alle sessies van het account zijn beëindigd.",
    "tweede_factor_herstellen": (
        "De tweede factor is hersteld: bij de volgende keer inloggen koppelt de gebruiker een nieuwe app."
    ),
    "ontgrendelen": "Het account is ontgrendeld.",
}


def _accounts_page(errors: dict[str, str]) -> str:
    rows = account_admin.overview(db.reader(), clock()())
    return render_template("admin/accounts.html", accounts=rows, errors=errors, me=current_actor().id)
