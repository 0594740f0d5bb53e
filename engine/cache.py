"""Live workflows kept between commands, so a command on a busy case skips restoring it.

An entry is valid only for the exact history it was built from (the case's last event hash), so a
change made by another process, or a rolled-back command, simply misses and the case is restored
from the database. An entry is taken out while a command uses it and comes back only on commit.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from sqlalchemy import event
from sqlalchemy.orm import Session

from engine.runtime import Workflow

CAPACITY = 256
_PENDING_KEY = "engine.pending_workflows"

_entries: OrderedDict[str, tuple[str, Workflow]] = OrderedDict()
_lock = threading.Lock()


def take(reference: str, last_hash: str) -> Workflow | None:
    """The live workflow of ``reference`` if it matches ``last_hash``; it leaves the cache either way."""
    with _lock:
        entry = _entries.pop(reference, None)
    if entry is None or entry[0] != last_hash:
        return None
    return entry[1]


def give_back(reference: str, last_hash: str, workflow: Workflow) -> None:
    """Return a workflow that was taken but not changed (a refused command, a page that only read it)."""
    with _lock:
        _entries[reference] = (last_hash, workflow)
        _entries.move_to_end(reference)
        _evict()


def put_on_commit(session: Session, reference: str, last_hash: str, workflow: Workflow) -> None:
    session.info.setdefault(_PENDING_KEY, {})[reference] = (last_hash, workflow)


def clear() -> None:
    with _lock:
        _entries.clear()


@event.listens_for(Session, "after_commit")
def _promote(session: Session) -> None:
    pending: dict[str, tuple[str, Workflow]] = session.info.pop(_PENDING_KEY, {})
    if not pending:
        return
    with _lock:
        for reference, entry in pending.items():
            _entries[reference] = entry
            _entries.move_to_end(reference)
        _evict()


def _evict() -> None:
    # Called with _lock held: the least recently used entries go first.
    while len(_entries) > CAPACITY:
        _entries.popitem(last=False)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)
