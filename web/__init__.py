"""The web app: thin, server-rendered, in Dutch. Every page asks the engine; nothing here runs a workflow."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from web import admin, auth, db, errors, filters, health, home, logs, notifications, privacy, security, tasks
from web.cases import bp as cases_bp
from web.config import defaults, finish


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(defaults())
    app.config.from_prefixed_env("REGELING")
    if config:
        app.config.update(config)
    finish(app.config)  # refuses an unsafe production start; local key for the embedded set-up
    logs.init_app(app)
    db.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    filters.init_app(app)
    for blueprint in (auth.bp, home.bp, tasks.bp, cases_bp, notifications.bp, admin.bp, health.bp, privacy.bp):
        app.register_blueprint(blueprint)
    return app
