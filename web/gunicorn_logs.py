"""gunicorn's own log lines written as the app's (``logger_class`` in deploy/gunicorn.conf.py): with JSON logs
(REGELING_LOG_FORMAT, json unless set otherwise) its start-up, worker and access lines are JSON lines too, and
an access line carries the request id the app gave the response. An access line names the method, the path
without its query string, the status and the seconds taken: never a query value, a referrer or an address."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from gunicorn.glogging import Logger

from engine.logs import TEXT_FORMAT, NoRequestFilter
from web.logs import JsonFormatter, json_lines_wanted


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
            environ.get("REQUEST_METHOD", "-"),
            environ.get("PATH_INFO", "-"),
            status,
            request_time.total_seconds(),
            extra={"request_id": request_id},
        )
