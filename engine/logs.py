"""Log set-up shared by every process (web, worker, CLI): JSON lines in production, text otherwise.

Log lines carry ids and names of things, never case data (the code that logs sees to that). An exception is
logged by its type only: its message and traceback may quote SQL or case data.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, request id; an exception only by its type."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        if record.exc_info and record.exc_info[0] is not None:
            line["exception"] = record.exc_info[0].__name__
        return json.dumps(line, ensure_ascii=False)


class NoRequestFilter(logging.Filter):
    """Outside a web request (the worker, the CLI) every record gets ``-`` as its request id."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = "-"
        return True


def configure_logging(json_lines: bool, level: int = logging.INFO, record_filter: logging.Filter | None = None) -> None:
    """The process's one log handler on the root logger."""
    handler = logging.StreamHandler()
    handler.addFilter(record_filter or NoRequestFilter())
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # SpiffWorkflow logs every task state change at INFO (some 30 lines per command): only its warnings pass.
    logging.getLogger("spiff").setLevel(logging.WARNING)
    # Alembic names each of its plugins at INFO when first imported (a dozen lines per process): noise.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
