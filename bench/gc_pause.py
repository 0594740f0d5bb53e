"""Benchmark: the garbage collector's share of a task completion, with and without web.warmup.settle.

Run: `python -m bench.gc_pause [--database URL] [--completions N] [--rounds R]`. The last line is key=value
pairs. PostgreSQL from ``--database`` or TEST_DATABASE_URL (a database of its own, dropped at the end).

Each round starts two fresh interpreters in turn, one that settles its app as gunicorn's post_worker_init
does (process diagrams parsed, then gc.freeze) and one that does not. Each logs a CCV adviser in through
Flask's test client, completes 60 tasks to warm up, then ``--completions`` more (GET the task page, POST it),
timing every collection with gc.callbacks: milliseconds of collection per completion, the longest single
collection (a stall for every request of that worker), the full collections, CPU per completion and the
interpreter's peak memory (a larger first threshold leaves garbage in cycles longer).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from bench.http import CONTACT, LOCK_VERSION, PROJECT, create_database, drop_database, seed, token
from engine.db import make_engine, migrate
from tests.websupport import log_in
from web import create_app
from web import db as web_db
from web.warmup import settle

WARMUP = 60


class Collections:
    """Every collection's duration, from gc.callbacks."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self.full = 0
        self._began = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
            return
        self.seconds.append(time.perf_counter() - self._began)
        self.full += info["generation"] == 2


def complete(client: FlaskClient, reference: str, guid: str) -> None:
    path = f"/zaken/{reference}/taken/{guid}"
    page = client.get(path).get_data(as_text=True)
    version = LOCK_VERSION.search(page)
    if version is None:
        raise SystemExit(f"no task form at {path}")
    form = {**CONTACT, "lock_version": version.group(1), "csrf_token": token(page)}
    response = client.post(path, data=form)
    if response.status_code != 302:
        raise SystemExit(f"completing {path} gave {response.status_code}")


def run_variant(url: str, work: list[tuple[str, str]], *, settled: bool) -> dict[str, float]:
    """One interpreter's figures (runs in the child process)."""
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": f"bench-{os.getpid()}-niet-voor-productie"})
    if settled:
        settle(app)
    client = app.test_client()
    response = log_in(client, "bench-ccv-1")
    if response.status_code != 302 or response.headers["Location"].startswith("/inloggen"):
        raise SystemExit("the log-in of bench-ccv-1 failed")
    for reference, guid in work[:WARMUP]:
        complete(client, reference, guid)
    measured = work[WARMUP:]
    collections = Collections()
    gc.callbacks.append(collections)
    cpu = time.process_time()
    for reference, guid in measured:
        complete(client, reference, guid)
    cpu = time.process_time() - cpu
    gc.callbacks.remove(collections)
    app.extensions[web_db.KEY].engine.dispose()
    return {
        "gc_ms": sum(collections.seconds) * 1000 / len(measured),
        "longest_ms": max(collections.seconds, default=0.0) * 1000,
        "full": collections.full,
        "cpu_ms": cpu * 1000 / len(measured),
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default=os.environ.get("TEST_DATABASE_URL", ""), help="PostgreSQL server URL")
    parser.add_argument("--completions", type=int, default=400, help="measured completions per interpreter")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--child", nargs=3, metavar=("URL", "WORK", "VARIANT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        url, work_file, variant = args.child
        work = [tuple(item) for item in json.loads(Path(work_file).read_text())]
        print(json.dumps(run_variant(url, work, settled=variant == "settled")))
        return 0
    if not args.database.startswith("postgres"):
        parser.error("needs a PostgreSQL server: --database or TEST_DATABASE_URL")

    per_run = WARMUP + args.completions
    server, name, url = create_database(args.database)
    engine = make_engine(url)
    results: dict[str, list[dict[str, float]]] = {"plain": [], "settled": []}
    try:
        migrate(engine)
        work = seed(engine, 1, per_run * 2 * args.rounds)
        with tempfile.TemporaryDirectory() as tmp:
            for run in range(2 * args.rounds):
                variant = ("plain", "settled")[run % 2]
                work_file = Path(tmp) / f"work-{run}.json"
                work_file.write_text(json.dumps(work[run * per_run : (run + 1) * per_run]))
                child = [sys.executable, "-m", "bench.gc_pause", "--child", url, str(work_file), variant]
                output = subprocess.run(child, cwd=PROJECT, capture_output=True, text=True, check=False)  # noqa: S603
                if output.returncode != 0:
                    raise SystemExit(f"the {variant} interpreter failed:\n{output.stderr[-2000:]}")
                figures = json.loads(output.stdout.splitlines()[-1])
                results[variant].append(figures)
                print(f"{variant:>7}: " + ", ".join(f"{k} {v:.2f}" for k, v in figures.items()))
    finally:
        engine.dispose()
        drop_database(server, name)

    def median(variant: str, key: str) -> float:
        return statistics.median(r[key] for r in results[variant])

    pairs = {
        "gc_ms_plain": median("plain", "gc_ms"),
        "gc_ms_settled": median("settled", "gc_ms"),
        "longest_ms_plain": median("plain", "longest_ms"),
        "longest_ms_settled": median("settled", "longest_ms"),
        "cpu_ms_plain": median("plain", "cpu_ms"),
        "cpu_ms_settled": median("settled", "cpu_ms"),
        "rss_mb_plain": median("plain", "rss_mb"),
        "rss_mb_settled": median("settled", "rss_mb"),
    }
    pairs["gc_ratio"] = pairs["gc_ms_settled"] / max(pairs["gc_ms_plain"], 1e-9)
    print(" ".join(f"{k}={v:.2f}" for k, v in pairs.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
