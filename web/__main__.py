"""``python -m web``: the app on http://127.0.0.1:5000 with the embedded defaults (``make run``)."""

from __future__ import annotations

import argparse
import logging

from werkzeug.serving import run_simple

from web import create_app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m web", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # Never the interactive debugger: it would show stack traces and run code for whoever reaches the port.
    run_simple(args.host, args.port, create_app(), use_debugger=False, use_reloader=False, threaded=True)


if __name__ == "__main__":
    main()
