"""Restoring a case: its last snapshot, then the events recorded since, re-run exactly as they first ran.

The case row holds a snapshot of the workflow taken every few events (``SNAPSHOT_EVERY``), not after
every command: serializing the whole workflow was a third of a command's cost. Every event records
what the engine needs to run it again: the frozen time of its command, the task it completed and the
validated data, the message, the timers it fired. Task guids and timestamps come from the step's seed
(the case and the hash its history had before the event; see runtime._Step), so the re-run builds the
very same workflow, which each event's recorded state hash confirms.

Snapshots and the form data in events are encrypted at rest (engine/crypto.py); a restore decrypts
the snapshot and the payloads it re-runs (values stored before encryption are read as they are).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from engine import bundles, crypto
from engine.clock import FrozenClock
from engine.errors import EngineError, ProcessError
from engine.history import open_payload
from engine.model import Case, Event
from engine.runtime import Workflow

# Events about who works on a task, not about the workflow: a replay passes them by.
CLAIMED = "task_claimed"
UNCLAIMED = "task_unclaimed"
WORKFLOW_UNCHANGED = frozenset({CLAIMED, UNCLAIMED})

# A snapshot at most this many events back: a restore re-runs fewer than this many commands.
SNAPSHOT_EVERY = 8

EVENT_TABLE: Table = Event.__table__  # type: ignore[assignment]
_REPLAY_COLUMNS = (
    EVENT_TABLE.c.seq,
    EVENT_TABLE.c.type,
    EVENT_TABLE.c.occurred_at,
    EVENT_TABLE.c.payload,
    EVENT_TABLE.c.state_hash,
    EVENT_TABLE.c.prev_hash,
)


def step_seed(reference: str, prev_hash: str) -> str:
    """The seed of the command that appends the event after ``prev_hash`` to the history of ``reference``."""
    return f"{reference}:{prev_hash}"


def snapshot_due(workflow: Workflow, seq: int, completed: bool) -> bool:
    """Whether the command that records event ``seq`` stores the whole workflow."""
    if completed or workflow.snapshot_seq is None:
        return True
    return seq - workflow.snapshot_seq >= SNAPSHOT_EVERY


def stored_state(case: Case) -> str:
    """The snapshot of ``case`` as JSON, decrypted (a snapshot stored before encryption as it is)."""
    return crypto.open_text(case.state, aad=crypto.case_state_aad(case.id))


def restore(session: Session, case: Case) -> Workflow:
    """The workflow of ``case`` as of its last event: the snapshot, then every later event re-run."""
    workflow = Workflow.restore(bundles.compiled(case.process_version), stored_state(case), case.serializer_version)
    if workflow.snapshot_seq is None:
        # Stored before snapshots said which event they follow: then every command stored its state,
        # so it is the latest. The next command stores a snapshot that says so.
        return workflow
    if workflow.snapshot_seq < case.event_count:
        rows = session.execute(
            select(*_REPLAY_COLUMNS)
            .where(EVENT_TABLE.c.case_id == case.id, EVENT_TABLE.c.seq > workflow.snapshot_seq)
            .order_by(EVENT_TABLE.c.seq)
        ).all()
        replay(workflow, case.reference, rows, until=case.event_count, case_id=case.id)
    return workflow


def replay(workflow: Workflow, reference: str, rows: Iterable[Any], *, until: int, case_id: int) -> None:
    """Re-run events (rows with seq, type, occurred_at, payload, state_hash, prev_hash) on ``workflow``,
    which holds the state after the event before the first row; each must reach its recorded state hash.
    Payloads are decrypted with the AAD of case ``case_id``."""
    expected = workflow.snapshot_seq
    for row in rows:
        if expected is not None and row.seq != expected + 1:
            raise ProcessError(f"case {reference}: event {expected + 1} is missing from the history")
        payload = open_payload(case_id, row.seq, row.payload)
        try:
            _rerun(workflow, reference, row.type, row.occurred_at, payload, row.prev_hash)
        except ProcessError:
            raise
        except EngineError as error:
            # The recorded input no longer fits the process (a task that is not ready, a message not awaited).
            raise ProcessError(f"case {reference}: replaying event {row.seq} ({row.type}) fails: {error}") from None
        if workflow.state_hash() != row.state_hash:
            raise ProcessError(f"case {reference}: replaying event {row.seq} ({row.type}) does not reach its state")
        expected = row.seq
    if expected != until:
        raise ProcessError(f"case {reference}: the history ends at event {expected}, the case at {until}")
    workflow.recorded()


def _rerun(
    workflow: Workflow, reference: str, kind: str, at: datetime, payload: dict[str, Any], prev_hash: str
) -> None:
    clock = FrozenClock(at)
    seed = step_seed(reference, prev_hash)
    if kind == "task_completed":
        workflow.complete(payload["task_guid"], payload["data"], clock, seed=seed)
    elif kind == "message_delivered":
        workflow.deliver_message(payload["name"], payload["payload"], clock, seed=seed)
    elif kind in WORKFLOW_UNCHANGED:
        return
    elif kind == "timers_fired":
        fired = workflow.fire_due_timers(clock, seed=seed)
        if [{"element": t.element, "due_at": t.due_at} for t in fired] != payload["timers"]:
            raise ProcessError(f"case {reference}: replayed timers differ from the recorded ones")
    else:
        raise ProcessError(f"case {reference}: an event of type {kind!r} cannot be replayed")


@dataclass(frozen=True)
class ReplayResult:
    reference: str
    events: int
    diverged_at: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.diverged_at is None


def replay_from_start(session: Session, case: Case) -> ReplayResult:
    """Re-execute ``case`` from its first event on its pinned process version, with the recorded inputs and
    clock values (nothing is called again: notifications are only collected), checking the state hash
    after every event. The auditor's proof that the stored history produces the stored state."""
    rows = session.execute(
        select(*_REPLAY_COLUMNS).where(EVENT_TABLE.c.case_id == case.id).order_by(EVENT_TABLE.c.seq)
    ).all()
    if not rows or rows[0].type != "case_started" or rows[0].seq != 1:
        return ReplayResult(case.reference, len(rows), 1, "the history does not begin with the start of the case")
    first = rows[0]
    payload = open_payload(case.id, first.seq, first.payload)
    try:
        process = bundles.compiled(case.process_version)
        workflow = Workflow.start(
            process, payload["data"], FrozenClock(first.occurred_at), seed=step_seed(case.reference, first.prev_hash)
        )
    except EngineError as error:
        return ReplayResult(case.reference, len(rows), 1, str(error))
    if workflow.state_hash() != first.state_hash:
        return ReplayResult(case.reference, len(rows), 1, "starting the case does not reach its recorded state")
    workflow.snapshot_seq = first.seq
    try:
        replay(workflow, case.reference, rows[1:], until=case.event_count, case_id=case.id)
    except EngineError as error:
        return ReplayResult(case.reference, len(rows), _event_named(str(error)), str(error))
    return ReplayResult(case.reference, len(rows))


def _event_named(message: str) -> int | None:
    found = re.search(r"event (\d+)", message)
    return int(found.group(1)) if found else None
