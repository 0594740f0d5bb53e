"""The bell: how many notifications are unread (on every page), and the list of them."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, url_for
from werkzeug.wrappers import Response

from engine import notifications
from web import db
from web.security import login_required
from web.taskforms import clock

bp = Blueprint("notifications", __name__)


@bp.app_context_processor
def _unread() -> dict[str, Any]:
    account = g.get("account")
    if account is None:
        return {"unread_notifications": 0}
    return {"unread_notifications": notifications.unread_count(db.reader(), account.id)}


@bp.get("/meldingen")
@login_required
def index() -> str:
    shown = notifications.latest(db.reader(), g.account)
    return render_template("notifications/index.html", notifications=shown)


@bp.post("/meldingen/gelezen")
@login_required
def mark_read() -> Response:
    with db.writer() as session:
        notifications.mark_all_read(session, g.account.id, clock()())
    flash("Alle meldingen zijn als gelezen gemarkeerd.")
    return redirect(url_for("notifications.index"))
