"""The web app: thin, server-rendered, in Dutch. Every page asks the engine; nothing here runs a workflow."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from web import (
    account,
    admin,
    auth,
    db,
    errors,
    filters,
    health,
    home,
    limits,
    logs,
    notifications,
    privacy,
    security,
    tasks,
)
from web.audit import bp as audit_bp
from web.cases import bp as cases_bp
from web.config import defaults, finish
from web.models import bp as models_bp
from web.repairs import bp as repairs_bp


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(defaults())
    app.config.from_prefixed_env("REGELING")
    if config:
        app.config.update(config)
    finish(app.config)  # refuses an unsafe production start; local key for the embedded set-up
    if proxies := app.config["PROXY_COUNT"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
    logs.init_app(app)
    db.init_app(app)
    limits.init_app(app)  # before security: its CSRF check is the first to read a body
    security.init_app(app)
    errors.init_app(app)
    filters.init_app(app)
    for blueprint in (
        auth.bp,
        account.bp,
        home.bp,
        tasks.bp,
        cases_bp,
        notifications.bp,
        admin.bp,
        health.bp,
        privacy.bp,
        models_bp,
    ):
        app.register_blueprint(blueprint)
    app.register_blueprint(audit_bp)
    app.register_blueprint(repairs_bp)
    return app
