"""A case's workflow right after any event of its history, for the auditor's scrubber: which elements were
live (active or waiting) and which had been cancelled.

The history is re-run with the engine's own replay (engine/replay.py), from the start or from the migration
before the moment, on the version the case then ran on. Every ``replay.SNAPSHOT_EVERY`` events the workflow is
kept serialized in a small in-process cache (keyed by the case and its chain head, so a new event makes a new
entry), so scrubbing back and forth re-runs at most that many events. The kept states hold case data: they live
in this process's memory only, like the live workflows of engine/cache.py.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from engine import bundles, history, replay
from engine.errors import EngineError
from engine.model import Case, Event, ProcessVersion
from engine.runtime import SERIALIZER_VERSION, Workflow


class ErasedHistoryError(EngineError):
    """The case's form data was erased after its retention period: its history can no longer be re-run."""


@dataclass(frozen=True)
class _Snapshot:
    seq: int
    version_id: int  # the process version the workflow ran on then (a migration changes it)
    state: str  # the workflow right after event ``seq``, serialized
    cancelled: frozenset[str]  # elements cancelled up to then and not live at that moment


_CACHE_SIZE = 16
_SNAPSHOTS: OrderedDict[tuple[int, str], dict[int, _Snapshot]] = OrderedDict()
_LOCK = threading.Lock()


def _snapshots(case: Case) -> dict[int, _Snapshot]:
    # Keyed by the chain head: any new event makes a new history, and the old entry ages out.
    key = (case.id, case.last_hash)
    with _LOCK:
        found = _SNAPSHOTS.get(key)
        if found is None:
            found = _SNAPSHOTS[key] = {}
            while len(_SNAPSHOTS) > _CACHE_SIZE:
                _SNAPSHOTS.popitem(last=False)
        _SNAPSHOTS.move_to_end(key)
        return found


def clear() -> None:
    with _LOCK:
        _SNAPSHOTS.clear()


def elements_after(
    session: Session, case: Case, events: Sequence[Event], seq: int
) -> tuple[dict[str, dict[str, list[str]]], set[str]]:
    """The live elements (per process: active / waiting) and the cancelled ones right after event ``seq`` of
    ``events`` (the case's whole history, in order): from the nearest kept snapshot, else from the last migration
    before ``seq``, else from the start. Raises EngineError when the history cannot be re-run (erased data,
    a process that no longer fits it)."""
    if any(history.is_erased(e.payload, e.payload_hash) for e in events):
        raise ErasedHistoryError("the case's form data was erased (retention period); it cannot be re-run")
    migration = next((e for e in reversed(events[:seq]) if e.type == replay.MIGRATED), None)
    kept = _snapshots(case)
    base = max(
        (s for s in list(kept.values()) if s.seq <= seq and (migration is None or s.seq >= migration.seq)),
        key=lambda s: s.seq,
        default=None,
    )
    if base is not None:
        version = session.get(ProcessVersion, base.version_id) or case.process_version
        workflow = Workflow.restore(bundles.compiled(version), base.state, SERIALIZER_VERSION)
        cancellations, at = _Cancellations.resumed(base.cancelled, workflow), base.seq
    elif migration is not None:
        version = replay.version_of(session, case, history.payload_of(migration).get("to_content_hash"))
        # The inputs before the migration, re-run on the version it took the case to: what they cancelled
        # there stays cancelled on the diagram after the move.
        cancellations = _Cancellations()
        workflow = replay.rebuild_on(
            bundles.compiled(version),
            case.reference,
            events[: migration.seq - 1],
            case_id=case.id,
            after_each=cancellations.follow,
        )
        if workflow.state_hash() != migration.state_hash:
            raise EngineError(f"the migration at event {migration.seq} does not reach its recorded state")
        workflow.snapshot_seq = migration.seq
        at = migration.seq
    else:
        version, workflow = replay.start_again(session, case, events[0])
        cancellations, at = _Cancellations.resumed(frozenset(), workflow), 1
    for event in events[at:seq]:
        replay.replay(workflow, case.reference, [event], until=event.seq, case_id=case.id)
        workflow.snapshot_seq = event.seq
        cancellations.follow(event.payload, workflow)
        if event.seq % replay.SNAPSHOT_EVERY == 0:
            state = workflow.to_state(event.seq)
            kept[event.seq] = _Snapshot(event.seq, version.id, state, frozenset(cancellations.cancelled))
    return workflow.live_elements(), set(cancellations.cancelled)


class _Cancellations:
    """Elements that were live and went without being completed (an interrupted timer, a withdrawn branch),
    followed event by event; an element that becomes live again is no longer cancelled."""

    def __init__(self) -> None:
        self.cancelled: set[str] = set()
        self.live: set[str] | None = None

    @classmethod
    def resumed(cls, cancelled: frozenset[str], workflow: Workflow) -> _Cancellations:
        found = cls()
        found.cancelled = set(cancelled)
        found.live = _live_ids(workflow.live_elements())
        return found

    def follow(self, payload: Mapping[str, Any], workflow: Workflow) -> None:
        """After an event (its payload's readable part names what it completed) left ``workflow``."""
        now = _live_ids(workflow.live_elements())
        if self.live is not None:
            completed = set(payload.get("completed", []) or [])
            self.cancelled = (self.cancelled | (self.live - now - completed)) - now
        self.live = now


def _live_ids(live: Mapping[str, Mapping[str, list[str]]]) -> set[str]:
    return {i for marks in live.values() for ids in marks.values() for i in ids}
