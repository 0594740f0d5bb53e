"""A request id on every request and log line, and JSON log lines for production.

The id comes from the proxy's ``X-Request-ID`` when it is a plain token, or is made here; it is sent back
in the response and is the reference on error pages, so a user's report, the proxy log and our log
meet. Log lines carry ids and names of things, never case data (the code that logs sees to that).
"""

from __future__ import annotations

import logging
import os
import re
import secrets

from flask import Flask, Response, g, has_request_context, request

from engine import logs
from engine.logs import JsonFormatter

__all__ = ["JsonFormatter", "RequestIdFilter", "configure_logging", "init_app", "json_lines_wanted", "request_id"]

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


def init_app(app: Flask) -> None:
    app.before_request(_take_request_id)
    app.after_request(_send_request_id)


def request_id() -> str:
    if not has_request_context():
        return "-"
    return str(g.get("request_id", "-"))


def _take_request_id() -> None:
    offered = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = offered if _SAFE_ID.fullmatch(offered) else secrets.token_hex(8)


def _send_request_id(response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = request_id()
    return response


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record (``-`` outside requests, e.g. the worker)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id()
        return True


def json_lines_wanted() -> bool:
    """Served by gunicorn, the logs are JSON lines unless REGELING_LOG_FORMAT says otherwise."""
    return os.environ.get("REGELING_LOG_FORMAT", "json") == "json"


def configure_logging(json_lines: bool, level: int = logging.INFO) -> None:
    """The process's log set-up (``python -m web``, gunicorn), with the request id on every line."""
    logs.configure_logging(json_lines, level, record_filter=RequestIdFilter())
