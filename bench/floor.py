"""Benchmark: the fastest a task completion can be on this stack and machine, to judge the bench.http targets.

Run: `python -m bench.floor [--database URL] [--completions N] [--clients 10,50]`. The last line is key=value
pairs.

bench.http's targets are closed-loop: with N clients and no think time, a GET + POST cycle takes N / throughput
on average (Little's law), so a POST p95 under 150 ms at N = 50 needs well over 300 completions/s. This script
asks whether any implementation could do that here. It serves the same URLs to the same clients (bench.http's
Client, one keep-alive connection each) with gunicorn as compose runs it, on cases seeded the same way, but the
app (``floor_app``) keeps only what a completion cannot do without on this stack:

- GET: one SELECT of the case, its stored state decrypted and parsed, the task's data picked out of it for the
  form, a Jinja page with the lock version and a token;
- POST: one transaction: the case locked (SELECT ... FOR UPDATE) and its lock version checked, the workflow
  restored, the task completed and run to the next wait, the state serialized, encrypted and written, the
  task row closed; then a 302.

It leaves out everything else the real app does: log-in session and CSRF checks, authorization, the access-log
row, the event and its hash chain, the next tasks' index rows, e-mail, drafts, the completed-steps panel, the
ORM. Its throughput is therefore an upper bound for the real app, and its POST p95 at N = 50 a lower bound. If
the floor itself misses a target, no implementation on SpiffWorkflow + Flask + PostgreSQL can meet it on this
machine: it needs more cores, or a target measured with think time.

A second floor, ``--no-engine``, also leaves out SpiffWorkflow (the POST only updates the rows): what the web
stack alone costs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask, abort, redirect, request
from sqlalchemy import Connection, Engine, make_url, text
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from bench.http import (
    Client,
    Round,
    Watched,
    create_database,
    drop_database,
    free_port,
    print_round,
    run_round,
    seed,
    start_gunicorn,
)
from engine import bundles, crypto
from engine.clock import FrozenClock
from engine.db import make_engine, migrate
from engine.model import ProcessVersion
from engine.runtime import CompiledProcess, Workflow
from web import db as web_db

PAGE = """<!doctype html><title>{{ name }}</title><form method="post">
<input type="hidden" name="csrf_token" value="floor"><input type="hidden" name="lock_version" value="{{ lock }}">
{% for key, value in fields.items() %}<label>{{ key }} <input name="{{ key }}" value="{{ value }}"></label>
{% endfor %}<button>Afronden</button></form>"""
FORM_FIELDS = ("contactpersoon_organisatie", "datum_contact", "datum_gesprek_organisatie")

_CASE = text(
    'SELECT id, state, serializer_version, lock_version, process_version_id FROM "case" WHERE reference = :reference'
)
_LOCKED_CASE = text(
    'SELECT id, state, serializer_version, lock_version, process_version_id, last_hash FROM "case" '
    "WHERE reference = :reference FOR UPDATE"
)
_SAVE_CASE = text('UPDATE "case" SET state = :state, lock_version = lock_version + 1 WHERE id = :id')
_CLOSE_TASK = text(
    "UPDATE human_task SET state = 'completed', finished_at = :at WHERE case_id = :case_id AND task_guid = :guid"
)


def floor_app(database: Engine, *, with_engine: bool = True) -> Flask:
    """The floor: the same URLs as the task page, with only the unavoidable work (see the module docstring)."""
    app = Flask(__name__)
    app.extensions[web_db.KEY] = web_db.Database(database)  # as the real app holds it (web.warmup reads it)
    processes: dict[int, CompiledProcess] = {}
    page = app.jinja_env.from_string(PAGE)

    def compiled(connection: Connection, version_id: int) -> CompiledProcess:
        if version_id not in processes:
            with Session(bind=connection) as session:
                version = session.get(ProcessVersion, version_id)
                if version is None:
                    abort(404)
                processes[version_id] = bundles.compiled(version)
        return processes[version_id]

    @app.get("/gereed")
    def ready() -> str:
        return "gereed"

    @app.get("/zaken/<reference>/taken/<guid>")
    def task(reference: str, guid: str) -> str:
        with database.connect() as connection:
            row = connection.execute(_CASE, {"reference": reference}).first()
        if row is None:
            abort(404)
        state = json.loads(crypto.open_text(row.state, aad=crypto.case_state_aad(row.id)))
        data = _task_data(state, guid)
        fields = {key: data.get(key, "") for key in FORM_FIELDS}
        return page.render(name=reference, lock=row.lock_version, fields=fields)

    @app.post("/zaken/<reference>/taken/<guid>")
    def complete(reference: str, guid: str) -> Response | tuple[str, int]:
        now = datetime.now(UTC)
        with database.begin() as connection:
            row = connection.execute(_LOCKED_CASE, {"reference": reference}).first()
            if row is None:
                abort(404)
            if str(row.lock_version) != request.form.get("lock_version"):
                return "conflict", 409
            state = crypto.open_text(row.state, aad=crypto.case_state_aad(row.id))
            if with_engine:
                process = compiled(connection, row.process_version_id)
                workflow = Workflow.restore(process, state, row.serializer_version)
                values = {key: request.form.get(key, "") for key in FORM_FIELDS}
                workflow.complete(guid, values, FrozenClock(now), seed=f"{reference}:{row.last_hash}")
                state = workflow.to_state()
            sealed = crypto.seal_text(state, aad=crypto.case_state_aad(row.id))
            connection.execute(_SAVE_CASE, {"state": sealed, "id": row.id})
            connection.execute(_CLOSE_TASK, {"at": now, "case_id": row.id, "guid": guid})
        return redirect("/taken")

    return app


def _task_data(state: dict[str, Any], guid: str) -> dict[str, Any]:
    for workflow in (state, *state["subprocesses"].values()):
        if guid in workflow["tasks"]:
            data: dict[str, Any] = workflow["tasks"][guid]["data"]
            return data
    abort(404)


def create_floor_app() -> Flask:
    """gunicorn's entry (``bench.floor:create_floor_app()``), configured by the environment bench.floor sets."""
    return floor_app(make_engine(os.environ["DATABASE_URL"]), with_engine=os.environ.get("FLOOR_ENGINE", "1") == "1")


def measure(
    url: str, work: list[tuple[str, str]], counts: list[int], args: argparse.Namespace, *, with_engine: bool
) -> list[Round]:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        log = Path(tmp) / "gunicorn.log"
        floor = {"FLOOR_ENGINE": "1" if with_engine else "0"}
        process = start_gunicorn(url, port, log, args.workers, app="bench.floor:create_floor_app()", env=floor)
        try:
            watched = Watched(process.pid, str(make_url(url).database))
            people = [Client(port) for _ in range(max(counts))]
            run_round(people[: min(10, len(people))], work[: args.warmup], watched)
            work = work[args.warmup :]
            rounds = []
            for index, count in enumerate(counts):
                result = run_round(
                    people[:count], work[index * args.completions : (index + 1) * args.completions], watched
                )
                print_round(result)
                rounds.append(result)
            for person in people:
                person.connection.close()
            if any(r.tally.errors for r in rounds):
                print(log.read_text()[-3000:])
        finally:
            process.terminate()
            process.wait(timeout=30)
    return rounds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default=os.environ.get("TEST_DATABASE_URL", ""), help="PostgreSQL server URL")
    parser.add_argument("--completions", type=int, default=600, help="completions per client count")
    parser.add_argument("--clients", default="10,50")
    parser.add_argument("--workers", type=int, default=4, help="WEB_CONCURRENCY")
    parser.add_argument("--warmup", type=int, default=60, help="completions before measuring (not counted)")
    parser.add_argument("--no-engine", action="store_true", help="leave SpiffWorkflow out as well")
    args = parser.parse_args(argv)
    if not args.database.startswith("postgres"):
        parser.error("needs a PostgreSQL server: --database or TEST_DATABASE_URL")
    counts = [int(n) for n in args.clients.split(",")]
    with_engine = not args.no_engine

    server, name, url = create_database(args.database)
    engine: Engine = make_engine(url)
    try:
        migrate(engine)
        work = seed(engine, 1, args.completions * len(counts) + args.warmup)
        print(f"floor {'with' if with_engine else 'without'} SpiffWorkflow, {len(work)} cases")
        rounds = measure(url, work, counts, args, with_engine=with_engine)
    finally:
        engine.dispose()
        drop_database(server, name)

    pairs = {"engine": "1" if with_engine else "0"}
    pairs.update({f"tput_{r.clients}": f"{r.throughput:.1f}" for r in rounds})
    pairs.update({f"p95_{r.clients}_ms": f"{r.percentile_ms(95):.1f}" for r in rounds})
    pairs.update({f"cpu_{r.clients}_ms": f"{sum(r.cpu.values()):.1f}" for r in rounds})
    pairs["errors"] = str(sum(len(r.tally.errors) for r in rounds))
    print(" ".join(f"{k}={v}" for k, v in pairs.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
