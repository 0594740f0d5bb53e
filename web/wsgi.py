"""The WSGI entry for gunicorn (``gunicorn web.wsgi:app``): configuration from the environment only."""

from __future__ import annotations

from web import create_app
from web.logs import configure_logging, json_lines_wanted

configure_logging(json_lines=json_lines_wanted())
app = create_app()
