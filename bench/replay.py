"""Benchmark: verifying finished cases by re-execution, against running them live.

Run: `python -m bench.replay [--cases 1000]`. The last line is key=value pairs. Target (auditors' issue):
replay cost per event ≤ live cost per event (ratio ≤ 1.0) — a replay reads the history and re-runs it in
memory, without writing anything.

The cases follow the regeling's main path (26 commands each, to its end). Live cost: CPU time of driving
them through the engine's commands with persistence, per event. Replay cost: CPU time of
`replay.replay_from_start` plus the hash chain check (`history.verify_case`) of every case, per event.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from bench.engine import fresh_driver, main_path
from engine import replay
from engine.history import verify_case
from engine.model import Case, Event
from tests.processes.drive import drive_path
from tests.support import ROOT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        driver = fresh_driver(Path(tmp), "replay", ROOT / "processes")
        path = main_path()
        drive_path(driver, path)  # warm-up: the compiled process, statement caches
        started = time.process_time()
        for _ in range(args.cases):
            drive_path(driver, path)
        live_seconds = time.process_time() - started
        with driver.factory() as session:
            cases = list(session.scalars(select(Case).order_by(Case.id)))[1:]
            events = int(
                session.scalar(select(func.count()).select_from(Event).where(Event.case_id.in_([c.id for c in cases])))
                or 0
            )
            wall = time.perf_counter()
            started = time.process_time()
            failures = 0
            for case in cases:
                if not (replay.replay_from_start(session, case).ok and verify_case(session, case).ok):
                    failures += 1
            replay_seconds = time.process_time() - started
            wall_seconds = time.perf_counter() - wall
    live_per_event = live_seconds / events * 1000
    replay_per_event = replay_seconds / events * 1000
    print(f"{len(cases)} afgeronde zaken, {events} gebeurtenissen; geverifieerd in {wall_seconds:.1f} s")
    print(f"live {live_per_event:.3f} ms per gebeurtenis, replay {replay_per_event:.3f} ms per gebeurtenis")
    print(
        f"cases={len(cases)} verify_s={wall_seconds:.1f} live_ms_per_event={live_per_event:.3f} "
        f"replay_ms_per_event={replay_per_event:.3f} ratio={replay_per_event / live_per_event:.2f} failures={failures}"
    )


if __name__ == "__main__":
    main()
