"""Liveness and readiness for the load balancer and the orchestrator; no login, no case data."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from engine.db import schema_is_current
from engine.model import ProcessVersion
from web import db

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/gezond")
def alive() -> ResponseReturnValue:
    """The process answers (it says nothing about the database)."""
    return jsonify(status="ok")


@bp.get("/gereed")
def ready() -> ResponseReturnValue:
    """Ready for traffic: the database answers, its schema is the newest, and a process is deployed."""
    problems = []
    try:
        with db.database().engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            if not schema_is_current(connection):
                problems.append("schema")
            elif connection.execute(select(ProcessVersion.id).limit(1)).first() is None:
                problems.append("processen")
    except SQLAlchemyError as error:
        log.warning("readiness: database unreachable (%s)", type(error).__name__)
        problems.append("database")
    if problems:
        return jsonify(status="niet gereed", problemen=problems), 503
    return jsonify(status="ok")
