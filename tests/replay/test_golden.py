"""The golden histories (tests/replay/histories, recorded by make_golden.py) re-executed from their first event
against the current engine, on the bundle each was recorded with: every event must reach its recorded state hash
and its recorded chain hash (P1). A diagram changed so a recorded path no longer fits fails at that event (P2)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from engine import runtime
from engine.bundles import Bundle
from engine.clock import FrozenClock
from engine.errors import EngineError
from engine.history import GENESIS_HASH, event_hash, payload_digest
from engine.replay import replay, step_seed
from tests.replay.golden import GoldenHistory, histories, load

KINDS_COVERED = {"case_started", "task_completed", "message_delivered", "timers_fired", "repair"}


def _re_execute(golden: GoldenHistory, files: dict[str, str]) -> runtime.Workflow:
    """Start the case from its first event, then replay the rest (raises naming the first event that differs)."""
    process = runtime.compile_process(Bundle(files).diagram_files, golden.process_key)
    first, rest = golden.events[0], golden.events[1:]
    workflow = runtime.Workflow.start(
        process,
        first.payload["data"],
        FrozenClock(first.occurred_at),
        seed=step_seed(golden.reference, first.prev_hash),
    )
    assert workflow.state_hash() == first.state_hash, f"{golden.name}: event 1 (case_started) differs"
    workflow.snapshot_seq = first.seq
    # Payloads are plaintext here: the engine's decryption hands back a value without an envelope as it is.
    replay(workflow, golden.reference, rest, until=golden.events[-1].seq, case_id=0)
    return workflow


def test_the_golden_histories_cover_every_kind_of_event() -> None:
    kinds = {event.type for path in histories() for event in load(path).events}
    assert KINDS_COVERED <= kinds, KINDS_COVERED - kinds
    assert len(histories()) >= 8


@pytest.mark.parametrize("path", histories(), ids=[p.stem for p in histories()])
def test_a_golden_history_re_executes_to_every_recorded_state(path: Path) -> None:
    golden = load(path)
    workflow = _re_execute(golden, golden.bundle_files())
    assert workflow.state_hash() == golden.events[-1].state_hash


@pytest.mark.parametrize("path", histories(), ids=[p.stem for p in histories()])
def test_a_golden_histories_chain_recomputes_to_its_final_hash(path: Path) -> None:
    golden = load(path)
    prev = GENESIS_HASH
    for event in golden.events:
        assert event.prev_hash == prev, f"{golden.name}: event {event.seq} is not chained to the one before"
        assert payload_digest(event.payload) == event.payload_hash, f"{golden.name}: event {event.seq} form data"
        assert event_hash(golden.reference, event) == event.hash, f"{golden.name}: event {event.seq} hash"
        prev = event.hash
    assert prev == golden.final_hash


def test_a_diagram_that_no_longer_fits_a_golden_history_fails_at_the_right_event() -> None:
    golden = load(next(p for p in histories() if p.stem == "in_natura_zonder_bezwaar_dan_aftreden"))
    files = golden.bundle_files()
    # The BVA's determination drawn as another step: the recorded completion of it no longer fits.
    files["advisering.bpmn"] = files["advisering.bpmn"].replace("vaststellen_advies", "vaststellen_anders")
    determination = next(e.seq for e in golden.events if e.payload.get("task") == "vaststellen_advies")
    with pytest.raises(EngineError, match=r"event \d+") as failure:
        _re_execute(golden, files)
    found = re.search(r"event (\d+)", str(failure.value))
    assert found is not None
    diverged = int(found.group(1))
    assert diverged <= determination
    # and the events before it still replay: the failure is where the path changed, not before
    cut = dataclasses.replace(golden, events=[e for e in golden.events if e.seq < diverged])
    _re_execute(cut, files)
