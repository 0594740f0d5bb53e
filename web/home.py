"""The start page after login: each role lands where its work is."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from engine.access import LANE_ROLES, Role
from engine.model import Case, ProcessVersion
from web import db
from web.security import current_actor, login_required, roles_required

bp = Blueprint("home", __name__)


@bp.get("/")
@login_required
def index() -> Response | str:
    actor = current_actor()
    if actor.role in LANE_ROLES:
        return redirect(url_for("tasks.inbox"))
    if actor.role is Role.AUDITOR:
        return redirect(url_for("cases.index"))
    if actor.role is Role.PROCESBEHEERDER:
        return redirect(url_for("home.processes"))
    return redirect(url_for("admin.failures"))


@bp.get("/favicon.ico")
def favicon() -> Response:
    # Browsers ask for it whatever the page links; answer rather than log a 404 on every page.
    return redirect(url_for("static", filename="favicon.svg"), code=301)


@bp.get("/processen")
@roles_required(Role.PROCESBEHEERDER, Role.BEHEERDER)
def processes() -> str:
    """The deployed process versions with how many cases run on each; no case data."""
    session = db.reader()
    rows = session.execute(
        select(Case.process_version_id, func.count()).where(Case.status == "active").group_by(Case.process_version_id)
    )
    counts = {version_id: count for version_id, count in rows}
    versions = session.scalars(
        select(ProcessVersion).order_by(ProcessVersion.process_key, ProcessVersion.version.desc())
    )
    return render_template("home/processen.html", versions=list(versions), counts=counts)
