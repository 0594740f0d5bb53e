"""The beheerder's area: e-mails the worker gave up on, and retrying them with a recorded reason."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from engine import incidents
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
