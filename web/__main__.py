"""``python -m web``: the app on http://127.0.0.1:5000 with the embedded defaults (``make run``)."""

from __future__ import annotations

import argparse
import os
import threading

from werkzeug.serving import run_simple

from engine.worker import worker_from_env
from web import create_app
from web.logs import configure_logging


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m web", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--no-worker", action="store_true", help="do not run the background worker in this process")
    args = parser.parse_args()
    configure_logging(json_lines=os.environ.get("REGELING_LOG_FORMAT") == "json")
    app = create_app()
    stop = threading.Event()
    if not args.no_worker:
        # The embedded set-up runs one worker in-process (timers, e-mail to var/mail); production runs
        # `regeling worker` processes of its own.
        worker = worker_from_env(app.extensions["regeling.db"].writer, os.environ)
        threading.Thread(target=worker.run, args=(stop,), kwargs={"interval": 2.0}, daemon=True, name="worker").start()
    try:
        # Never the interactive debugger: it would show stack traces and run code for whoever reaches the port.
        run_simple(args.host, args.port, app, use_debugger=False, use_reloader=False, threaded=True)
    finally:
        stop.set()


if __name__ == "__main__":
    main()
