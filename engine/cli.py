"""`regeling`: initialise, validate, deploy, list and inspect cases, verify their history, rotate keys."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from engine import bundles, crypto, db, demo, drafts, lint, logs, replay, retention, rotation
from engine.clock import system_clock
from engine.commands import find_case, open_tasks
from engine.errors import BundleInvalidError, EngineError, NotFoundError
from engine.export import export_to_directory
from engine.history import verify_case
from engine.model import Case, Event, ProcessVersion
from engine.outline import outline
from engine.validation import validate_bundle
from engine.worker import worker_from_env

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class CliError(Exception):
    """A problem the command line explains in one Dutch line, without a traceback."""


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except BundleInvalidError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return 1
    except CliError as error:
        print(f"fout: {error}", file=sys.stderr)
        return 1
    except EngineError as error:
        print(f"fout: {error}", file=sys.stderr)
        return 1
    except crypto.CryptoError as error:
        print(f"fout: {error}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="regeling", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(name: str, handler: Any, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    command("init", _init, "migrate the database and deploy processes/")
    validate = command("validate", _validate, "check BPMN/DMN/form files; one line per problem")
    validate.add_argument("paths", nargs="+")
    deploy = command("deploy", _deploy, "deploy the files as a new process version")
    deploy.add_argument("paths", nargs="+")
    deploy.add_argument("--comment", default="gedeployed met regeling deploy")
    deploy.add_argument("--actor", default="cli")
    command("demo", _demo, "create demo accounts for every role and a few demo cases (once)")
    worker = command("worker", _worker, "fire due timers and send the outbox, until SIGTERM")
    worker.add_argument("--once", action="store_true", help="one pass, then stop")
    worker.add_argument("--interval", type=float, default=5.0, help="seconds between passes when idle")
    command("processes", _processes, "list the deployed process versions")
    export = command("export", _export, "write a version's BPMN, DMN and form files: [KEY] VERSION DIR")
    export.add_argument("where", nargs="+", metavar="[KEY] VERSION DIR")
    describe = command("describe", _describe, "outline the active version of a process: lanes, tasks, timers")
    describe.add_argument("process_key", nargs="?", default="regeling")
    command("cases", _cases, "list the cases")
    show = command("show", _show, "status, open tasks and history of one case")
    show.add_argument("reference")
    show.add_argument("--json", action="store_true")
    replay_cmd = command(
        "replay", _replay, "re-execute one case or all from their first event and compare every state hash"
    )
    replay_cmd.add_argument("reference", nargs="?")
    replay_cmd.add_argument("--all", action="store_true")
    verify = command("verify", _verify, "check the hash chain of one case or of all cases")
    verify.add_argument("reference", nargs="?")
    retention_cmd = command(
        "retention", _retention, "erase the personal data of finished cases whose retention period has ended"
    )
    retention_cmd.add_argument("--dry-run", action="store_true", help="only list the cases that would be erased")
    command("rotate-key", _rotate_key, "re-encrypt every encrypted value with the active key (resumable)")
    new_key = command("generate-key", _generate_key, "print a new key entry for REGELING_ENCRYPTION_KEYS")
    new_key.add_argument("key_id")
    return parser


def _demo(_args: argparse.Namespace) -> int:
    with _session(read_only=False) as session, session.begin():
        references = demo.seed(session, at=system_clock())
    if not references:
        print("demo-accounts bestaan al; niets gedaan")
        return 0
    print(f"demo-accounts aangemaakt (wachtwoord: {demo.DEMO_PASSWORD}); demo-zaken: {', '.join(references)}")
    return 0


def _worker(args: argparse.Namespace) -> int:
    logs.configure_logging(json_lines=os.environ.get("REGELING_LOG_FORMAT") == "json")
    engine = db.make_engine()
    try:
        try:
            worker = worker_from_env(db.make_session_factory(engine), os.environ)
        except ValueError as error:  # a setting the worker reads; each message names its variable
            raise CliError(str(error)) from None
        if args.once:
            print(worker.run_once().line())
            return 0
        stop = threading.Event()
        # SIGTERM (docker stop, systemd) and Ctrl-C end the loop after the pass in progress.
        signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
        signal.signal(signal.SIGINT, lambda _signum, _frame: stop.set())
        worker.run(stop, interval=args.interval)
        print("worker gestopt")
    finally:
        engine.dispose()
    return 0


def _replay(args: argparse.Namespace) -> int:
    if bool(args.reference) == bool(args.all):
        raise CliError("geef één zaaknummer of --all")
    failures = 0
    with _session() as session:
        cases = (
            [_find_case(session, args.reference)]
            if args.reference
            else list(session.scalars(select(Case).order_by(Case.id)))
        )
        for number, case in enumerate(cases, start=1):
            result = replay.replay_from_start(session, case)
            chain = verify_case(session, case)
            if result.ok and chain.ok:
                print(f"[{number}/{len(cases)}] {case.reference}: geverifieerd ({result.events} gebeurtenissen)")
                continue
            if result.erased and chain.ok:
                # Not a divergence: the recorded inputs are gone, the chain over their digests holds.
                print(f"[{number}/{len(cases)}] {case.reference}: gewist — herhalen niet mogelijk, keten in orde")
                continue
            failures += 1
            if not chain.ok:
                print(f"[{number}/{len(cases)}] {chain}")
            if not result.ok and not result.erased:
                where = f"gebeurtenis {result.diverged_at}"
                print(f"[{number}/{len(cases)}] {case.reference}: wijkt af bij {where}: {result.reason}")
    return 1 if failures else 0


@contextmanager
def _session(*, read_only: bool = True) -> Iterator[Session]:
    """A session on DATABASE_URL, which must have been initialised; the engine is disposed afterwards."""
    engine = db.make_engine()
    try:
        if not inspect(engine).has_table("alembic_version"):
            url = engine.url.render_as_string(hide_password=True)
            raise CliError(f"database {url} is niet geïnitialiseerd; voer eerst `regeling init` uit")
        factory = db.make_read_session_factory if read_only else db.make_session_factory
        with factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


def _find_case(session: Session, reference: str) -> Case:
    try:
        return find_case(session, reference)
    except NotFoundError:
        raise CliError(f"zaak {reference} bestaat niet") from None


def _init(_args: argparse.Namespace) -> int:
    engine = db.make_engine()
    try:
        db.migrate(engine)
        bundle = bundles.read_bundle([PROJECT_ROOT / "processes"])
        with db.make_session_factory(engine)() as session, session.begin():
            versions = bundles.deploy(
                session, bundle, actor="init", comment="regeling init: processes/", at=system_clock()
            )
            for version in versions:
                print(f"{version.process_key} versie {version.version} ({version.content_hash[:12]}) actief")
        print(f"database: {engine.url.render_as_string(hide_password=True)}")
    finally:
        engine.dispose()
    return 0


def _validate(args: argparse.Namespace) -> int:
    problems = validate_bundle(bundles.read_bundle(args.paths))
    for problem in problems:
        print(lint.problem_line(problem))
    if not problems:
        print("geldig: geen problemen gevonden")
    return 1 if problems else 0


def _deploy(args: argparse.Namespace) -> int:
    bundle = bundles.read_bundle(args.paths)
    with _session(read_only=False) as session, session.begin():
        versions = bundles.deploy(session, bundle, actor=args.actor, comment=args.comment, at=system_clock())
        for version in versions:
            print(f"{version.process_key} versie {version.version} ({version.content_hash[:12]})")
    return 0


def _processes(_args: argparse.Namespace) -> int:
    with _session() as session:
        versions = session.scalars(select(ProcessVersion).order_by(ProcessVersion.process_key, ProcessVersion.version))
        for v in versions:
            cases = session.query(Case).filter(Case.process_version_id == v.id).count()
            files = ", ".join(sorted(n for n in v.files if not n.startswith("forms/")))
            print(
                f"{v.process_key} v{v.version} [{v.status}] {v.content_hash[:12]} "
                f"door {v.deployed_by} op {v.deployed_at:%Y-%m-%d %H:%M} UTC — {v.comment}\n"
                f"    bestanden: {files}; formulieren: {sum(n.startswith('forms/') for n in v.files)}; "
                f"zaken: {cases}"
            )
    return 0


def _export(args: argparse.Namespace) -> int:
    if len(args.where) not in (2, 3):
        raise CliError("gebruik: regeling export [PROCES] VERSIE MAP (proces standaard: regeling)")
    key, number, directory = args.where if len(args.where) == 3 else ("regeling", *args.where)
    if not number.isdigit():
        raise CliError(f"versie {number!r} is geen getal")
    with _session() as session:
        try:
            version = drafts.version(session, key, int(number))
        except NotFoundError:
            raise CliError(f"{key} heeft geen versie {number}") from None
        written = export_to_directory(version, Path(directory))
    print(f"{key} versie {number}: {len(written)} bestanden geschreven naar {directory}")
    return 0


def _describe(args: argparse.Namespace) -> int:
    with _session() as session:
        version = bundles.active_version(session, args.process_key)
        print(f"{version.process_key} versie {version.version} ({version.content_hash[:12]})")
        for line in outline(bundles.bundle_of(version)):
            print(line)
    return 0


def _cases(_args: argparse.Namespace) -> int:
    with _session() as session:
        for case in session.scalars(select(Case).order_by(Case.id)):
            print(f"{case.reference}  {case.status:9}  {'urgent ' if case.urgent else ''}{case.organisation}")
    return 0


def _show(args: argparse.Namespace) -> int:
    with _session() as session:
        case = _find_case(session, args.reference)
        report = _case_report(session, case)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    print(f"{report['reference']}: {report['status']} (versie {report['process_version']})")
    if report["end_event"]:
        print(f"  geëindigd bij {report['end_event']}")
    for task in report["open_tasks"]:
        print(f"  open: {task['bpmn_id']} — {task['name']} [{task['lane']}]")
    for event in report["history"]:
        print(f"  {event['seq']:4} {event['occurred_at']} {event['type']:18} {event['actor']} ({event['role']})")
        if event["opened"]:
            print(f"         open gezet: {', '.join(event['opened'])}")
    return 0


def _case_report(session: Session, case: Case) -> dict[str, Any]:
    # Names and ids only: the history's form data stays in the database, out of terminals and logs.
    events = session.scalars(select(Event).where(Event.case_id == case.id).order_by(Event.seq))
    return {
        "reference": case.reference,
        "status": case.status,
        "end_event": case.end_event,
        "urgent": case.urgent,
        "process_version": case.process_version.version,
        "lock_version": case.lock_version,
        "next_timer_at": case.next_timer_at.isoformat() if case.next_timer_at else None,
        "open_tasks": [
            {"bpmn_id": t.bpmn_id, "name": t.name, "lane": t.lane, "task_guid": t.task_guid}
            for t in open_tasks(session, case)
        ],
        "history": [
            {
                "seq": e.seq,
                "type": e.type,
                "actor": e.actor,
                "role": e.actor_role,
                "occurred_at": e.occurred_at.isoformat(),
                "task": e.payload.get("task") or e.payload.get("name"),
                "completed": e.payload.get("completed", []),
                "opened": [bpmn_id for bpmn_id, _lane in e.payload.get("opened", [])],
            }
            for e in events
        ],
    }


def _verify(args: argparse.Namespace) -> int:
    with _session() as session:
        if args.reference:
            cases = [_find_case(session, args.reference)]
        else:
            cases = list(session.scalars(select(Case).order_by(Case.id)))
        results = [verify_case(session, case) for case in cases]
    for result in results:
        print(result)
    broken = [r for r in results if not r.ok]
    print(f"{len(results)} zaken gecontroleerd, {len(broken)} met een gebroken keten")
    return 1 if broken else 0


def _retention(args: argparse.Namespace) -> int:
    try:
        policy = retention.policy_from_env()
    except retention.RetentionConfigError as error:
        raise CliError(str(error)) from None
    print("bewaartermijnen: " + ", ".join(str(rule) for rule in policy.rules.values()))
    with _session(read_only=args.dry_run) as session, session.begin():
        lines = retention.sweep(session, policy, system_clock(), dry_run=args.dry_run, limit=10_000)
    for line in lines:
        print(line)
    print(f"{len(lines)} zaken {'zouden gewist worden' if args.dry_run else 'verwerkt'}")
    return 0


def _rotate_key(_args: argparse.Namespace) -> int:
    ring = crypto.keyring()
    print(f"actieve sleutel: {ring.active}; in de sleutelring: {', '.join(ring.keys)}")
    with _session(read_only=False) as session:
        counts = rotation.rotate(session)
    for count in counts:
        print(count)
    print(f"klaar: {sum(c.rewritten for c in counts)} waarden opnieuw versleuteld met sleutel {ring.active}")
    return 0


def _generate_key(args: argparse.Namespace) -> int:
    entry = f"{args.key_id}:{crypto.generate_key()}"
    crypto.KeyRing.parse(entry)  # the id must be usable
    print(entry)
    return 0


if __name__ == "__main__":
    sys.exit(main())
