"""Benchmark: raw SpiffWorkflow in memory vs our engine with persistence, and late vs early commands.

Run: `python -m bench.engine [--runs N] [--long-events 500]`. The last line is key=value pairs.
Targets (issue 2): ratio <= 2.0 and long_vs_short <= 1.5. core_ratio is the engine without its database
(run, a snapshot whenever engine/replay.py says one is due, hash, index changes) against raw SpiffWorkflow:
what the database layer adds is the rest.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from engine.db import make_engine, migrate
from tests.processes.drive import drive_path
from tests.processes.paths import PATHS
from tests.processes.steps import Path as ProcessPath
from tests.support import ROOT, CaseDriver

LOOP = Path(__file__).parent / "loop" / "processes"
SAMPLE = 31


def main_path() -> ProcessPath:
    return next(p for p in PATHS if p.name == "in_natura_zonder_bezwaar_dan_aftreden")


def fresh_driver(workdir: Path, name: str, *bundle: Path) -> CaseDriver:
    engine = make_engine(f"sqlite:///{workdir / name}.db")
    migrate(engine)
    driver = CaseDriver(engine, checks=False)
    driver.deploy(*bundle)
    return driver


def timed(action: Callable[[], object]) -> float:
    # CPU time of this process: both sides run in it, and other tenants of the machine do not count.
    started = time.process_time()
    action()
    return time.process_time() - started


def compare_with_raw(workdir: Path, runs: int, repeats: int) -> tuple[float, float]:
    """Best per-path time of each side; the two sides take turns so machine noise hits both alike."""
    from bench.raw_spiff import load_specs, run_path

    path = main_path()
    specs = load_specs(ROOT / "processes")
    driver = fresh_driver(workdir, "ratio", ROOT / "processes")
    run_path(path, specs)  # warm-up: imports, caches
    drive_path(driver, path)  # warm-up: spec cache, statement cache
    raw, ours = [], []
    for _ in range(repeats):
        raw.append(timed(lambda: [run_path(path, specs) for _ in range(runs)]))
        ours.append(timed(lambda: [drive_path(driver, path) for _ in range(runs)]))
    return min(raw) / runs, min(ours) / runs


def engine_without_database(path: ProcessPath) -> Callable[[], None]:
    """The engine's own work on a path, minus the database: run, snapshots as the engine takes them, hash and
    index changes."""
    from datetime import UTC, datetime

    from engine import bundles, runtime
    from engine.clock import FrozenClock
    from engine.replay import snapshot_due
    from tests.processes.steps import Advance, Complete, Message

    bundle = bundles.read_bundle([ROOT / "processes"])
    process = runtime.compile_process(bundle.diagram_files, "regeling")

    def run() -> None:
        clock = FrozenClock(datetime(2026, 3, 2, 9, tzinfo=UTC))
        initial = {"referentie": "BV-2026-0001", "organisatie": "o"}
        workflow = runtime.Workflow.start(process, initial, clock, seed="BV-2026-0001:0")
        workflow.to_state(1)
        workflow.snapshot_seq = 1
        for number, step in enumerate(path.steps, start=2):
            seed = f"BV-2026-0001:{number}"  # one per step, as the engine's (case, history head)
            if isinstance(step, Complete):
                guid = next(v.guid for v in workflow.ready_user_tasks() if v.bpmn_id == step.task)
                workflow.complete(guid, step.data, clock, seed=seed)
            elif isinstance(step, Message):
                workflow.deliver_message(step.name, step.payload, clock, seed=seed)
            elif isinstance(step, Advance):
                clock.advance(step.by)
                workflow.fire_due_timers(clock, seed=seed)
            ran = workflow.drain_completed()
            if snapshot_due(workflow, number, workflow.completed, len(ran)):
                workflow.to_state(number)
                workflow.snapshot_seq = number
            workflow.state_hash()
            workflow.index_changes()
            workflow.drain_notifications()

    return run


def core_cost(runs: int, repeats: int) -> float:
    run = engine_without_database(main_path())
    run()
    return min(timed(lambda: [run() for _ in range(runs)]) for _ in range(repeats)) / runs


def long_case_costs(workdir: Path, late_event: int) -> tuple[float, float]:
    """Median cost of a command on a young case and on an old one, taking turns so noise hits both."""
    driver = fresh_driver(workdir, "long", LOOP)
    young, old = driver.start(process_key="lus"), driver.start(process_key="lus")
    round_data = {"doorgaan": True, "toelichting": "nog een ronde"}

    def one_round(reference: str) -> float:
        return timed(lambda: driver.complete(reference, "herzien", "CCV", round_data))

    while driver.case(old).event_count < late_event:
        one_round(old)
    while driver.case(young).event_count < 10:
        one_round(young)
    early, late = [], []
    for _ in range(SAMPLE):
        early.append(one_round(young))
        late.append(one_round(old))
    return statistics.median(early), statistics.median(late)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--long-events", type=int, default=500)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        raw, ours = compare_with_raw(workdir, args.runs, args.repeats)
        print(
            f"main path ({main_path().name}): raw SpiffWorkflow {raw * 1000:.1f} ms, engine+SQLite {ours * 1000:.1f} ms"
        )
        core = core_cost(args.runs, args.repeats)
        print(f"engine without its database: {core * 1000:.1f} ms per path")
        early, late = long_case_costs(workdir, args.long_events)
        print(f"one command at event 10: {early * 1000:.2f} ms; at event {args.long_events}: {late * 1000:.2f} ms")
    print(
        f"ratio={ours / raw:.2f} long_vs_short={late / early:.2f} core_ratio={core / raw:.2f} "
        f"raw_ms={raw * 1000:.1f} engine_ms={ours * 1000:.1f} core_ms={core * 1000:.1f} "
        f"cmd10_ms={early * 1000:.2f} cmd{args.long_events}_ms={late * 1000:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
