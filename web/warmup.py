"""A web process made ready before its first request (gunicorn's ``post_worker_init``).

It parses the active process diagrams, so the first person to open a task on this worker does not wait for
that, and then takes the garbage collector out of the way of requests:

- What exists now lives as long as the process (the app, its compiled processes, the libraries' module-level
  objects). A full collection walks every tracked object and stalls every request of the worker meanwhile;
  frozen objects are skipped.
- Python collects its youngest generation after 700 new container objects, and a task page makes thousands
  (a restored workflow alone). Each collection moves the survivors on, so the workflows in the cache kept
  reaching the oldest generation and set off full collections. From 50,000 on, nearly every collection finds
  a request's objects already gone.

bench/gc_pause.py, 2026-11-29, 400 completions per interpreter (first the freeze alone, then with the
threshold): the longest collection 110–151 ms without, 46–84 ms with the freeze alone, 15–17 ms with both;
collection time per completion 0.71–0.81 ms without, 0.09 with both, and no full collection in 1,500
completions (8 without); peak memory 206.6 against 197.2 MB.
"""

from __future__ import annotations

import gc
import logging

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from engine import bundles
from web import db

log = logging.getLogger(__name__)


def settle(app: Flask) -> None:
    try:
        with app.app_context():
            keys = bundles.compile_active(db.reader())
    except SQLAlchemyError:
        # A worker may start before the database does (compose restarts them in any order); the first
        # case then parses its process, as before.
        log.warning("process diagrams not parsed before serving: the database did not answer")
    else:
        log.info("process diagrams parsed before serving: %s", ", ".join(keys) or "none deployed")
    gc.freeze()
    gc.set_threshold(50_000, 20, 10)
