"""The append-only event table: every input from outside the engine, chained by hash.

The form data in a payload (``data`` of task_completed and case_started, ``payload`` of
message_delivered, ``before``/``after``/``reason``/``state`` of a repair: ``SEALED_PARTS``) is encrypted at rest
(engine/crypto.py); the rest of the payload (task ids, the completed/opened/notifications lists,
timers) stays readable for the timeline, the diagram and the inbox checks.

**The hash covers the plaintext, the form data through its digest.** Each event's hash is taken over
the canonical JSON of the payload without its form data plus ``payload_hash``, the sha256 of the
canonical JSON of the form-data parts (decrypted). ``verify_case`` decrypts those parts and recomputes
their digest. Hashing the ciphertext instead would tie the chain to one key and one random nonce:
every key rotation would have to rewrite every hash, and a chain re-made by whoever holds the keys
proves little. With the plaintext's digest hashed, ``regeling rotate-key`` re-encrypts payloads without
touching a hash, an edited ciphertext still shows (it no longer decrypts: AES-GCM authenticates it,
bound to its case, event and part) and so does re-encrypted edited plaintext (its digest differs).

**Erasure keeps the chain.** When a case's retention period ends (engine/retention.py) its form data is
removed from the payloads and the recorded digest stands in for it. Data may only be missing from an
event that a later ``erasure`` event of the same chain names; removed any other way, verify reports
the event.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection, Table, select
from sqlalchemy.orm import Session

from engine import crypto
from engine.access import Actor
from engine.model import Case, Event

GENESIS_HASH = "0" * 64
EVENT_TABLE: Table = Event.__table__  # type: ignore[assignment]
_INSERT_EVENT = EVENT_TABLE.insert()

# The parts of a payload that hold form data or free text someone wrote (a repair's reason may name a
# person): encrypted at rest, hashed through their digest, erasable.
SEALED_PARTS = ("data", "payload", "before", "after", "reason", "state")
# The event that removes a case's form data once its retention period has ended (engine/retention.py);
# its payload lists the events it emptied under this key.
ERASURE = "erasure"
# A beheerder's correction of a case (engine/repair.py): before and after, with the written reason.
REPAIR = "repair"
ERASED_EVENTS = "erased_events"


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class EventLike(Protocol):
    """What the hash of an event covers: a stored row, or one about to be written."""

    @property
    def seq(self) -> int: ...
    @property
    def type(self) -> str: ...
    @property
    def actor(self) -> str: ...
    @property
    def actor_role(self) -> str: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def payload(self) -> dict[str, Any]: ...
    @property
    def payload_hash(self) -> str | None: ...
    @property
    def state_hash(self) -> str: ...
    @property
    def prev_hash(self) -> str: ...


@dataclass(frozen=True)
class NewEvent:
    """An event as append_event wrote it (the row itself is never read back)."""

    case_id: int
    seq: int
    type: str
    actor: str
    actor_role: str
    occurred_at: datetime
    payload: dict[str, Any]
    state_hash: str
    prev_hash: str
    payload_hash: str | None = None
    hash: str = ""


_NEW_EVENT_FIELDS = dataclasses.fields(NewEvent)


def _sealed_parts(payload: dict[str, Any]) -> dict[str, bytes]:
    """The canonical JSON of each form-data part present, by part name."""
    return {key: canonical_json(payload[key]) for key in SEALED_PARTS if key in payload}


def _digest_of_parts(parts: dict[str, bytes]) -> str | None:
    # The canonical JSON of {part: value}, put together from each part's own canonical bytes (so a
    # payload is serialised once on the way in: for the digest and for its envelopes alike).
    if not parts:
        return None
    body = b",".join(canonical_json(key) + b":" + parts[key] for key in sorted(parts))
    return hashlib.sha256(b"{" + body + b"}").hexdigest()


def payload_digest(payload: dict[str, Any]) -> str | None:
    """The sha256 of the canonical JSON of the form-data parts of a plaintext payload (None: it has none)."""
    return _digest_of_parts(_sealed_parts(payload))


def seal_payload(case_id: int, seq: int, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as stored: its form data as text envelopes bound to this case, event and part."""
    return {
        key: crypto.seal_json(value, aad=crypto.event_payload_aad(case_id, seq, key)) if key in SEALED_PARTS else value
        for key, value in payload.items()
    }


def open_payload(case_id: int, seq: int, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload with its form data decrypted; a payload stored before encryption comes back as it is."""
    if not any(crypto.is_encrypted_text(payload.get(key)) for key in SEALED_PARTS):
        return payload
    return {
        key: crypto.open_json(value, aad=crypto.event_payload_aad(case_id, seq, key)) if key in SEALED_PARTS else value
        for key, value in payload.items()
    }


def payload_of(event: Event) -> dict[str, Any]:
    """The decrypted payload of a stored event (an erased event's without its form data)."""
    return open_payload(event.case_id, event.seq, event.payload)


def is_erased(payload: dict[str, Any], payload_hash: str | None) -> bool:
    """Whether the form data of an event was removed (its digest stands in for it)."""
    return payload_hash is not None and not any(key in payload for key in SEALED_PARTS)


def without_form_data(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as it is after erasure: everything but the form data."""
    return {key: value for key, value in payload.items() if key not in SEALED_PARTS}


def _body(case_reference: str, row: EventLike) -> dict[str, Any]:
    # Everything that makes the event what it is, including its place in the chain; the form data
    # through its digest, so it can be erased without breaking the chain.
    return {
        "case": case_reference,
        "seq": row.seq,
        "type": row.type,
        "actor": row.actor,
        "actor_role": row.actor_role,
        "occurred_at": row.occurred_at.isoformat(),
        "payload": without_form_data(row.payload),
        "payload_hash": row.payload_hash,
        "state_hash": row.state_hash,
        "prev_hash": row.prev_hash,
    }


def event_hash(case_reference: str, row: EventLike) -> str:
    """The hash of an event: its fields, the payload outside the form data, and the form data's digest
    (``row.payload_hash``; the form data itself is checked against that digest by verify_case)."""
    return hashlib.sha256(row.prev_hash.encode() + canonical_json(_body(case_reference, row))).hexdigest()


def append_event(
    connection: Connection,
    case: Case,
    *,
    type: str,  # noqa: A002 - the column's name
    actor: Actor,
    at: datetime,
    payload: dict[str, Any],
    state_hash: str,
) -> NewEvent:
    """Add the next event of ``case``; the caller holds the case's lock and records the new chain head
    (``seq`` and ``hash`` of the returned event) on the case. The returned event holds the plaintext
    payload, the row its form data encrypted."""
    seq = case.event_count + 1
    parts = _sealed_parts(payload)
    row = NewEvent(
        case_id=case.id,
        seq=seq,
        type=type,
        actor=actor.id,
        actor_role=actor.role.value,
        occurred_at=at,
        payload=json.loads(json.dumps(payload)),
        state_hash=state_hash,
        prev_hash=case.last_hash,
        payload_hash=_digest_of_parts(parts),
    )
    row = dataclasses.replace(row, hash=event_hash(case.reference, row))
    # A plain INSERT: the row is never read back or changed, so the unit of work has nothing to track.
    values = {f.name: getattr(row, f.name) for f in _NEW_EVENT_FIELDS}
    values["payload"] = {
        key: crypto.encrypt_text(parts[key], aad=crypto.event_payload_aad(case.id, seq, key)) if key in parts else value
        for key, value in row.payload.items()
    }
    connection.execute(_INSERT_EVENT, values)
    return row


@dataclass(frozen=True)
class Verification:
    reference: str
    events: int
    broken_at: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_at is None

    def __str__(self) -> str:
        if self.ok:
            return f"{self.reference}: ok ({self.events} events)"
        return f"{self.reference}: BROKEN at event {self.broken_at}: {self.reason}"


def verify_case(session: Session, case: Case) -> Verification:
    """Recompute the chain of ``case`` and name the first event that does not fit."""
    rows = session.scalars(select(Event).where(Event.case_id == case.id).order_by(Event.seq, Event.id)).all()
    erasable = _named_by_erasures(rows)
    prev = GENESIS_HASH
    for expected_seq, row in enumerate(rows, start=1):
        problem = _link_problem(case.reference, row, expected_seq, prev, erasable)
        if problem:
            # Named by its place in the chain: a missing or moved event is reported where it is missing.
            return Verification(case.reference, len(rows), expected_seq, problem)
        prev = row.hash
    if len(rows) != case.event_count or prev != case.last_hash:
        return Verification(case.reference, len(rows), len(rows) + 1, "events missing at the end of the chain")
    return Verification(case.reference, len(rows))


def _named_by_erasures(rows: Sequence[Event]) -> set[int]:
    """The events whose form data an erasure event says it removed (each erasure is itself checked in
    its turn: an erasure edited to name more events breaks the chain there)."""
    named: set[int] = set()
    for row in rows:
        listed = row.payload.get(ERASED_EVENTS) if row.type == ERASURE and isinstance(row.payload, dict) else None
        if isinstance(listed, list):
            named.update(seq for seq in listed if isinstance(seq, int) and seq < row.seq)
    return named


def _link_problem(reference: str, row: Event, expected_seq: int, prev: str, erasable: set[int]) -> str:
    if row.seq != expected_seq:
        return f"sequence number {row.seq} where {expected_seq} was expected (event missing or reordered)"
    if row.prev_hash != prev:
        return "prev_hash does not match the previous event"
    stored: Any = row.payload  # a JSON column: an edit can leave any JSON value in it
    if not isinstance(stored, dict):
        return "payload is not an object (edited)"
    if is_erased(stored, row.payload_hash):
        if row.seq not in erasable:
            return "form data removed without an erasure event (edited)"
    else:
        try:
            payload = payload_of(row)
        except crypto.CryptoError as error:
            return f"payload does not decrypt ({error})"
        if payload_digest(payload) != row.payload_hash:
            return "form data does not match its digest (edited)"
    if event_hash(reference, row) != row.hash:
        return "content does not match its hash (edited)"
    return ""
