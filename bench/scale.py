"""Benchmark: the pages and the timer sweep with 1,000 and with 100,000 cases in the database.

Run: `python -m bench.scale [--requests N] [--large 100000]`. The last line is key=value pairs. Target
(production issue): each time with 100,000 cases at most 1.5 × the time with 1,000 — no query may scan all
cases or deserialize workflows to list them.

Measured, as server time through the Flask app in this process: the inbox of a CCV adviser (who sees
every unassigned case), the auditor's case list, and the case page of one real case (diagram markers,
timeline, steps: it restores that one workflow); and one timer sweep (`fire_due_timers`) at a moment when
nothing is due, which must find that out from the index on ``next_timer_at``. The cases beside the three
real demo cases are rows with one open CCV task, one open werkgever task and a deadline each.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from bench.inbox import add_cases
from engine import commands
from engine.access import SYSTEM
from engine.clock import FrozenClock
from engine.db import make_engine, make_session_factory
from tests.websupport import START, build_seeded_database, copy_database, log_in, make_app

NOW = START + timedelta(hours=6)


def median_ms(action: Callable[[], object], repeats: int) -> float:
    for _ in range(3):
        action()  # warm-up: templates, statement caches, the compiled process
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def measure(url: str, reference: str, repeats: int) -> dict[str, float]:
    app = make_app(url, FrozenClock(NOW))
    ccv, auditor = app.test_client(), app.test_client()
    log_in(ccv, "ccv-adviseur-1")
    log_in(auditor, "auditor")

    def page(client: object, path: str) -> Callable[[], object]:
        def get() -> object:
            response = client.get(path)  # type: ignore[attr-defined]
            assert response.status_code == 200, path
            return response

        return get

    engine = make_engine(url)
    factory = make_session_factory(engine)

    def sweep() -> None:
        with factory() as session, session.begin():
            assert commands.fire_due_timers(session, SYSTEM, clock=FrozenClock(NOW)) == []

    results = {
        "inbox": median_ms(page(ccv, "/taken"), repeats),
        "case_list": median_ms(page(auditor, "/zaken"), repeats),
        "case_page": median_ms(page(auditor, f"/zaken/{reference}"), repeats),
        "timer_sweep": median_ms(sweep, repeats),
    }
    engine.dispose()
    app.extensions["regeling.db"].engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        template = workdir / "template.db"
        references = build_seeded_database(template)
        reference = references["dijkgraaf"]  # a real case well into its advice
        results = {}
        for count in (args.small, args.large):
            url = copy_database(template, workdir / f"scale_{count}.db")
            started = time.perf_counter()
            add_cases(url, count, first_timer=NOW + timedelta(days=1))
            print(f"{count:>7} zaken aangemaakt in {time.perf_counter() - started:.1f} s")
            results[count] = measure(url, reference, args.requests)
            print(f"{count:>7} zaken: " + ", ".join(f"{k} {v:.1f} ms" for k, v in results[count].items()))
    small, large = results[args.small], results[args.large]
    ratios = {name: large[name] / small[name] for name in small}
    pairs = [f"{name}_ms_large={large[name]:.1f} {name}_ratio={ratios[name]:.2f}" for name in small]
    print(" ".join(pairs) + f" worst_ratio={max(ratios.values()):.2f}")


if __name__ == "__main__":
    main()
