"""The append-only event table: every input from outside the engine, chained by hash.

The form data in a payload (``data`` of task_completed and case_started, ``payload`` of
message_delivered) is encrypted at rest (engine/crypto.py); the rest of the payload (task ids, the
completed/opened/notifications lists, timers) stays readable for the timeline, the diagram and the
inbox checks.

**The hash covers the plaintext.** Each event's hash is taken over the canonical JSON of the decrypted
payload, and ``verify_case`` decrypts before it recomputes. Hashing the ciphertext instead would tie
the chain to one key and one random nonce: every key rotation would have to rewrite every hash (and
the head kept on the case), and a chain re-made by whoever holds the keys proves little. With the
plaintext hashed, ``regeling rotate-key`` re-encrypts payloads without touching a hash, chains written
before encryption existed stay valid as they are, and an edited ciphertext still shows: it no longer
decrypts (AES-GCM authenticates it, bound to its case, event and field), which verify reports as a
broken event.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
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
    hash: str = ""


_NEW_EVENT_FIELDS = dataclasses.fields(NewEvent)

# The parts of a payload that hold form data, encrypted at rest.
SEALED_PARTS = ("data", "payload")


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
    """The decrypted payload of a stored event."""
    return open_payload(event.case_id, event.seq, event.payload)


def _body(case_reference: str, row: EventLike, payload: dict[str, Any]) -> dict[str, Any]:
    # Everything that makes the event what it is, including its place in the chain.
    return {
        "case": case_reference,
        "seq": row.seq,
        "type": row.type,
        "actor": row.actor,
        "actor_role": row.actor_role,
        "occurred_at": row.occurred_at.isoformat(),
        "payload": payload,
        "state_hash": row.state_hash,
        "prev_hash": row.prev_hash,
    }


def event_hash(case_reference: str, row: EventLike, payload: dict[str, Any] | None = None) -> str:
    """The hash of an event over its plaintext payload (``payload``: the decrypted one; default: the row's)."""
    body = _body(case_reference, row, row.payload if payload is None else payload)
    return hashlib.sha256(row.prev_hash.encode() + canonical_json(body)).hexdigest()


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
    row = NewEvent(
        case_id=case.id,
        seq=case.event_count + 1,
        type=type,
        actor=actor.id,
        actor_role=actor.role.value,
        occurred_at=at,
        payload=json.loads(json.dumps(payload)),
        state_hash=state_hash,
        prev_hash=case.last_hash,
    )
    row = dataclasses.replace(row, hash=event_hash(case.reference, row))
    # A plain INSERT: the row is never read back or changed, so the unit of work has nothing to track.
    values = {f.name: getattr(row, f.name) for f in _NEW_EVENT_FIELDS}
    values["payload"] = seal_payload(case.id, row.seq, row.payload)
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
    prev = GENESIS_HASH
    for expected_seq, row in enumerate(rows, start=1):
        problem = _link_problem(case.reference, row, expected_seq, prev)
        if problem:
            return Verification(case.reference, len(rows), row.seq, problem)
        prev = row.hash
    if len(rows) != case.event_count or prev != case.last_hash:
        return Verification(case.reference, len(rows), len(rows) + 1, "events missing at the end of the chain")
    return Verification(case.reference, len(rows))


def _link_problem(reference: str, row: Event, expected_seq: int, prev: str) -> str:
    if row.seq != expected_seq:
        return f"sequence number {row.seq} where {expected_seq} was expected (event missing or reordered)"
    if row.prev_hash != prev:
        return "prev_hash does not match the previous event"
    try:
        payload = payload_of(row)
    except crypto.CryptoError as error:
        return f"payload does not decrypt ({error})"
    if event_hash(reference, row, payload) != row.hash:
        return "content does not match its hash (edited)"
    return ""
