"""Restoring a case: its last snapshot, then the events recorded since, re-run exactly as they first ran.

The case row holds a snapshot of the workflow taken every few events (``SNAPSHOT_EVERY``) and after a command
that ran many tasks (``SNAPSHOT_TASKS``), not after every command: serializing the whole workflow
was a third of a command's cost. Every event records
what the engine needs to run it again: the frozen time of its command, the task it completed and the
validated data, the message, the timers it fired. Task guids and timestamps come from the step's seed
(the case and the hash its history had before the event; see runtime._Step), so the re-run builds the
very same workflow, which each event's recorded state hash confirms.

A beheerder's repair (engine/repair.py) and a retention erasure (engine/retention.py) are events like the
others and re-run the same way: a correction sets the recorded values, a move back takes on the state it
recorded, an erasure forgets the case data. An erased history cannot be re-executed from its start: its
inputs are gone (``ReplayResult.erased``), which is not a divergence.

Snapshots and the form data in events are encrypted at rest (engine/crypto.py); a restore decrypts
the snapshot and the payloads it re-runs (values stored before encryption are read as they are).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from engine import bundles, crypto
from engine.clock import FrozenClock
from engine.errors import EngineError, ProcessError
from engine.history import ERASURE, REPAIR, is_erased, open_payload
from engine.model import Case, Event, ProcessVersion
from engine.runtime import CompiledProcess, Workflow

# Events about who works on a task, not about the workflow: a replay passes them by.
CLAIMED = "task_claimed"
UNCLAIMED = "task_unclaimed"
WORKFLOW_UNCHANGED = frozenset({CLAIMED, UNCLAIMED})
# A case moved to a newer version of its process (engine/migration.py): the workflow is rebuilt there by
# re-running every recorded input on the new version, and the event's state hash is what that rebuild reached.
MIGRATED = "case_migrated"

# The kinds of repair event (engine/repair.py).
CORRECT_DATA = "correct_data"
MOVE_BACK = "move_back"

# A snapshot at most this many events back: a restore re-runs fewer than this many commands ...
SNAPSHOT_EVERY = 8
# ... and none that ran this many tasks or more. Re-running a task costs about a fifth of storing a snapshot
# (bench/engine.py): a command that runs a DMN table, gateways and the start of a subprocess (the aanmelding runs
# 11 tasks) is stored at once, so the next page view does not run it again; commands that run a task or two share
# a snapshot.
SNAPSHOT_TASKS = 10

EVENT_TABLE: Table = Event.__table__  # type: ignore[assignment]
_REPLAY_COLUMNS = (
    EVENT_TABLE.c.seq,
    EVENT_TABLE.c.type,
    EVENT_TABLE.c.occurred_at,
    EVENT_TABLE.c.payload,
    EVENT_TABLE.c.payload_hash,
    EVENT_TABLE.c.state_hash,
    EVENT_TABLE.c.prev_hash,
)


def step_seed(reference: str, prev_hash: str) -> str:
    """The seed of the command that appends the event after ``prev_hash`` to the history of ``reference``."""
    return f"{reference}:{prev_hash}"


def snapshot_due(workflow: Workflow, seq: int, completed: bool, tasks_run: int) -> bool:
    """Whether the command that records event ``seq``, having run ``tasks_run`` tasks, stores the whole workflow."""
    if completed or workflow.snapshot_seq is None:
        return True
    return tasks_run >= SNAPSHOT_TASKS or seq - workflow.snapshot_seq >= SNAPSHOT_EVERY


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
    elif kind == ERASURE:
        workflow.forget_data()
    elif kind == REPAIR:
        apply_repair(workflow, payload, clock, seed=seed)
    elif kind == "timers_fired":
        fired = workflow.fire_due_timers(clock, seed=seed)
        if [{"element": t.element, "due_at": t.due_at} for t in fired] != payload["timers"]:
            raise ProcessError(f"case {reference}: replayed timers differ from the recorded ones")
    else:
        raise ProcessError(f"case {reference}: an event of type {kind!r} cannot be replayed")


def apply_repair(workflow: Workflow, payload: dict[str, Any], clock: FrozenClock, *, seed: str) -> None:
    """What a repair event (engine/repair.py) does to the workflow, the first time and in every replay."""
    if payload["kind"] == CORRECT_DATA:
        workflow.correct_data(payload["after"])
    elif payload["kind"] == MOVE_BACK:
        workflow.become(payload["state"])
    else:
        raise ProcessError(f"a repair of kind {payload['kind']!r} cannot be replayed")


@dataclass(frozen=True)
class ReplayResult:
    """``ok``: re-executed and every state hash reached. ``erased``: the form data was erased after the
    retention period, so the case cannot be re-executed (not a divergence; the chain still verifies)."""

    reference: str
    events: int
    diverged_at: int | None = None
    reason: str = ""
    erased: bool = False

    @property
    def ok(self) -> bool:
        return self.diverged_at is None and not self.erased


def replay_from_start(session: Session, case: Case) -> ReplayResult:
    """Re-execute ``case`` from its first event on its pinned process version, with the recorded inputs and
    clock values (nothing is called again: notifications are only collected), checking the state hash
    after every event. The auditor's proof that the stored history produces the stored state."""
    rows = session.execute(
        select(*_REPLAY_COLUMNS).where(EVENT_TABLE.c.case_id == case.id).order_by(EVENT_TABLE.c.seq)
    ).all()
    if any(is_erased(row.payload, row.payload_hash) for row in rows):
        return ReplayResult(case.reference, len(rows), reason="gewist", erased=True)
    try:
        _version, workflow = start_again(session, case, rows[0] if rows else None)
    except EngineError as error:
        return ReplayResult(case.reference, len(rows), 1, str(error))
    try:
        _replay_across_migrations(session, case, rows, workflow, until=case.event_count)
    except EngineError as error:
        return ReplayResult(case.reference, len(rows), _event_named(str(error)), str(error))
    return ReplayResult(case.reference, len(rows))


def start_again(session: Session, case: Case, first: Any) -> tuple[ProcessVersion, Workflow]:
    """The workflow as the case's first event (``case_started``) left it, on the version it started on, with
    its state hash checked; ProcessError if the history does not begin so or does not reach that state."""
    if first is None or first.type != "case_started" or first.seq != 1:
        raise ProcessError(f"case {case.reference}: the history does not begin with the start of the case")
    payload = open_payload(case.id, first.seq, first.payload)
    version = version_of(session, case, payload.get("content_hash"))
    workflow = Workflow.start(
        bundles.compiled(version),
        payload["data"],
        FrozenClock(first.occurred_at),
        seed=step_seed(case.reference, first.prev_hash),
    )
    if workflow.state_hash() != first.state_hash:
        raise ProcessError(f"case {case.reference}: starting the case does not reach its recorded state")
    workflow.snapshot_seq = first.seq
    return version, workflow


def _replay_across_migrations(
    session: Session, case: Case, rows: Sequence[Any], workflow: Workflow, *, until: int
) -> Workflow:
    """Re-run ``rows`` after the first on ``workflow``: up to each migration on the version the case then ran on,
    where the migration rebuilt it on the next (``_migrated``)."""
    begin = 1
    for index in [i for i, row in enumerate(rows) if row.type == MIGRATED]:
        replay(workflow, case.reference, rows[begin:index], until=rows[index].seq - 1, case_id=case.id)
        workflow = _migrated(session, case, rows[:index], rows[index])
        begin = index + 1
    replay(workflow, case.reference, rows[begin:], until=until, case_id=case.id)
    return workflow


def version_of(session: Session, case: Case, content_hash: Any) -> ProcessVersion:
    """The version of the case's process with this content (where it started, or where a migration took
    it); the pinned one if the history does not say."""
    found = session.scalar(
        select(ProcessVersion).where(
            ProcessVersion.process_key == case.process_version.process_key,
            ProcessVersion.content_hash == str(content_hash or ""),
        )
    )
    return found or case.process_version


def _migrated(session: Session, case: Case, before: Sequence[Any], row: Any) -> Workflow:
    payload = open_payload(case.id, row.seq, row.payload)
    target = version_of(session, case, payload.get("to_content_hash"))
    workflow = rebuild_on(bundles.compiled(target), case.reference, before, case_id=case.id)
    if workflow.state_hash() != row.state_hash:
        raise ProcessError(f"case {case.reference}: replaying event {row.seq} ({MIGRATED}) does not reach its state")
    workflow.snapshot_seq = row.seq
    return workflow


def rebuild_on(
    process: CompiledProcess,
    reference: str,
    rows: Sequence[Any],
    *,
    case_id: int,
    after_each: Callable[[Mapping[str, Any], Workflow], None] | None = None,
) -> Workflow:
    """The workflow the recorded inputs of a case (``rows``: its history from the start, in order) make on
    another version of its process, with the recorded clock values and seeds. A completed task is found by
    its BPMN id (``_same_task``); the timers fired must be the same elements. Raises ProcessError naming the
    first event that does not apply.
    ``after_each`` sees every event's payload and the workflow it left (the auditor's scrubber follows the
    cancelled elements with it)."""
    first = rows[0]
    payload = open_payload(case_id, first.seq, first.payload)
    workflow = Workflow.start(
        process, payload["data"], FrozenClock(first.occurred_at), seed=step_seed(reference, first.prev_hash)
    )
    if after_each is not None:
        after_each(payload, workflow)
    for row in rows[1:]:
        if row.type == MIGRATED or row.type in WORKFLOW_UNCHANGED:
            continue
        payload = open_payload(case_id, row.seq, row.payload)
        try:
            _rerun_elsewhere(workflow, reference, row.type, row.occurred_at, payload, row.prev_hash)
        except ProcessError as error:
            raise ProcessError(f"event {row.seq} ({row.type}): {error}") from None
        except EngineError as error:
            raise ProcessError(f"event {row.seq} ({row.type}) does not apply: {error}") from None
        if after_each is not None:
            after_each(payload, workflow)
    workflow.recorded()
    return workflow


def _rerun_elsewhere(
    workflow: Workflow, reference: str, kind: str, at: datetime, payload: dict[str, Any], prev_hash: str
) -> None:
    clock = FrozenClock(at)
    seed = step_seed(reference, prev_hash)
    if kind == "task_completed":
        workflow.complete(_same_task(workflow, payload), payload["data"], clock, seed=seed)
    elif kind == "timers_fired":
        fired = workflow.fire_due_timers(clock, seed=seed)
        if sorted(t.element for t in fired) != sorted(t["element"] for t in payload["timers"]):
            raise ProcessError("the timers that fire differ from the recorded ones")
    else:
        _rerun(workflow, reference, kind, at, payload, prev_hash)


def _same_task(workflow: Workflow, payload: dict[str, Any]) -> str:
    """The ready task of the other version that a recorded completion belongs to: the one with the recorded BPMN
    id. Not the one with the recorded guid: guids come from the seed and a counter, so in a changed diagram the
    same guid can name another step, and a renamed step would pass for the old one. The guid only picks among
    several ready tasks with that BPMN id (the instances of a multi-instance step)."""
    bpmn_id = payload.get("task")
    candidates = [view.guid for view in workflow.ready_user_tasks() if view.bpmn_id == bpmn_id]
    if len(candidates) == 1:
        return candidates[0]
    if payload["task_guid"] in candidates:
        return str(payload["task_guid"])
    if not candidates:
        raise ProcessError(f"task {bpmn_id!r} is not ready in this version")
    raise ProcessError(f"task {bpmn_id!r} is ready {len(candidates)} times in this version, none the recorded one")


def state_as_of(session: Session, case: Case, seq: int) -> Workflow:
    """The workflow of ``case`` as it stood after event ``seq``, re-executed from the first event (every
    state hash checked on the way)."""
    rows = session.execute(
        select(*_REPLAY_COLUMNS)
        .where(EVENT_TABLE.c.case_id == case.id, EVENT_TABLE.c.seq <= seq)
        .order_by(EVENT_TABLE.c.seq)
    ).all()
    if any(is_erased(row.payload, row.payload_hash) for row in rows):
        raise ProcessError(f"case {case.reference}: its history up to event {seq} cannot be re-executed")
    _version, workflow = start_again(session, case, rows[0] if rows else None)
    return _replay_across_migrations(session, case, rows, workflow, until=seq)


def _event_named(message: str) -> int | None:
    found = re.search(r"event (\d+)", message)
    return int(found.group(1)) if found else None
