"""The WSGI entry for gunicorn (``gunicorn web.wsgi:app``): configuration from the environment only."""

from __future__ import annotations

import os

from web import create_app
from web.logs import configure_logging

configure_logging(json_lines=os.environ.get("REGELING_LOG_FORMAT", "json") == "json")
app = create_app()
