"""The WSGI entry for gunicorn (``gunicorn web.wsgi:app``): configuration from the environment only."""

from __future__ import annotations

import logging

from flask import Flask

from engine.crypto import KeyConfigError
from web import create_app
from web.config import ConfigurationError
from web.logs import configure_logging, json_lines_wanted


def _app_or_refusal() -> Flask:
    try:
        return create_app()
    except (ConfigurationError, KeyConfigError) as refusal:
        # Our own sentence naming the setting, without data. A JSON line names an exception by its type only, so
        # without this line the operator would read "ConfigurationError" and not which setting to fix.
        logging.getLogger(__name__).critical("the web app refuses to start: %s", refusal)
        raise


configure_logging(json_lines=json_lines_wanted())
app = _app_or_refusal()
