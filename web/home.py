"""The start page after login: each role lands where its work is."""

from __future__ import annotations

from flask import Blueprint, redirect, url_for
from werkzeug.wrappers import Response

from engine.access import LANE_ROLES, Role
from web.security import current_actor, login_required

bp = Blueprint("home", __name__)


@bp.get("/")
@login_required
def index() -> Response | str:
    actor = current_actor()
    if actor.role in LANE_ROLES:
        return redirect(url_for("tasks.inbox"))
    if actor.role is Role.AUDITOR:
        return redirect(url_for("audit.index"))
    if actor.role is Role.PROCESBEHEERDER:
        return redirect(url_for("models.index"))
    return redirect(url_for("admin.failures"))


@bp.get("/favicon.ico")
def favicon() -> Response:
    # Browsers ask for it whatever the page links; answer rather than log a 404 on every page.
    return redirect(url_for("static", filename="favicon.svg"), code=301)
