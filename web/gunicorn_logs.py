"""gunicorn's own log lines written as the app's (``logger_class`` in deploy/gunicorn.conf.py): with JSON logs
(REGELING_LOG_FORMAT, json unless set otherwise) its start-up, worker and access lines are JSON lines too, and
an access line carries the request id the app gave the response. An access line names the method, the path
without its query string (percent-encoded, at most 200 characters), the status and the seconds taken: never a
query value, a referrer or an address."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from gunicorn.glogging import Logger

from engine.logs import TEXT_FORMAT, NoRequestFilter
from web.logs import JsonFormatter, json_lines_wanted

MAX_PATH = 200


class GunicornLogger(Logger):  # type: ignore[misc] # gunicorn has no type information
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        formatter = JsonFormatter() if json_lines_wanted() else logging.Formatter(TEXT_FORMAT)
        for handler in [*self.error_log.handlers, *self.access_log.handlers]:
            handler.addFilter(NoRequestFilter())
            handler.setFormatter(formatter)

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> None:
        if not self.cfg.accesslog:
            return
        status = str(resp.status).split(None, 1)[0]
        request_id = next((value for name, value in resp.headers if name.lower() == "x-request-id"), "-")
        self.access_log.info(
            "%s %s %s %.6f",
            environ.get("REQUEST_METHOD", "-")[:10],
            logged_path(environ.get("PATH_INFO", "")),
            status,
            request_time.total_seconds(),
            extra={"request_id": request_id},
        )


def logged_path(path: str) -> str:
    """The path as it travelled, percent-encoded again and cut short: whoever sends a request chooses its path,
    and a line break, an escape sequence or a Unicode line separator in it must not forge or break a log line."""
    raw = path.encode("latin-1", "replace")  # WSGI hands over the path's bytes as latin-1 characters
    return quote(raw, safe="/:@!$&'()*+,;=-._~")[:MAX_PATH]
