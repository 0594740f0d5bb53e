"""Whether a running case can move to a draft or version, remembered between page views.

Judging a case means rebuilding it on the target (engine/migration.py ``assess``), so the process and compare
pages would rebuild up to 50 cases on every view. A verdict depends only on the case's history (its last event
hash) and the target's content (its bundle hash): once either changes the key changes, so an entry never goes
stale, it is only no longer asked for. Only the answer is kept (a yes/no and a Dutch reason), never a workflow
or case data; the least recently used entries go first (engine/cache.py keeps workflows the same way).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

CAPACITY = 2048

Key = tuple[int, str, str]  # case id, the case's last event hash, the target's content hash


@dataclass(frozen=True)
class Verdict:
    can_move: bool
    reason: str


_entries: OrderedDict[Key, Verdict] = OrderedDict()
_lock = threading.Lock()


def get(case_id: int, last_hash: str, content_hash: str) -> Verdict | None:
    key = (case_id, last_hash, content_hash)
    with _lock:
        verdict = _entries.get(key)
        if verdict is not None:
            _entries.move_to_end(key)
        return verdict


def put(case_id: int, last_hash: str, content_hash: str, verdict: Verdict) -> None:
    with _lock:
        _entries[(case_id, last_hash, content_hash)] = verdict
        _entries.move_to_end((case_id, last_hash, content_hash))
        while len(_entries) > CAPACITY:
            _entries.popitem(last=False)


def clear() -> None:
    with _lock:
        _entries.clear()


def size() -> int:
    with _lock:
        return len(_entries)
