"""`regeling rotate-key`: every encrypted value re-encrypted under the active key (and plaintext from
before encryption encrypted), so older keys can then leave the ring.

Rows are visited in primary-key order in batches, one transaction per batch, each row locked while it
is rewritten (a command on the same case waits, or is waited for). A value already under the active
key is left alone, so an interrupted run is resumed by running it again. Hashes are never touched:
the event chain covers the plaintext (engine/history.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from engine import crypto
from engine.history import SEALED_PARTS, open_payload, seal_payload
from engine.model import Account, Case, Document, Event, HumanTask, TaskDraft

BATCH = 200
DOCUMENT_BATCH = 10  # documents are up to 10 MB each

CASE_TABLE: Table = Case.__table__  # type: ignore[assignment]
EVENT_TABLE: Table = Event.__table__  # type: ignore[assignment]
DOCUMENT_TABLE: Table = Document.__table__  # type: ignore[assignment]
DRAFT_TABLE: Table = TaskDraft.__table__  # type: ignore[assignment]
ACCOUNT_TABLE: Table = Account.__table__  # type: ignore[assignment]
HUMAN_TASK_TABLE: Table = HumanTask.__table__  # type: ignore[assignment]


@dataclass
class Count:
    table: str
    scanned: int = 0
    rewritten: int = 0

    def __str__(self) -> str:
        return f"{self.table}: {self.scanned} rijen gelezen, {self.rewritten} opnieuw versleuteld"


@dataclass(frozen=True)
class _Column:
    table: Table
    value: str  # the encrypted column's name
    keys: tuple[str, ...]  # the row's columns its AAD is made of
    needs_rotation: Callable[[Any], bool]
    rewrite: Callable[[Any, Any], Any]  # (row, value) -> the value under the active key
    batch: int = BATCH


def _case_state(row: Any, value: str) -> str:
    aad = crypto.case_state_aad(row.id)
    return crypto.seal_text(crypto.open_text(value, aad=aad), aad=aad)


def _payload_needs_rotation(payload: Any) -> bool:
    return isinstance(payload, dict) and any(
        key in payload and crypto.needs_rotation(payload[key]) for key in SEALED_PARTS
    )


def _event_payload(row: Any, payload: dict[str, Any]) -> dict[str, Any]:
    return seal_payload(row.case_id, row.seq, open_payload(row.case_id, row.seq, payload))


def _document(row: Any, content: bytes) -> bytes:
    aad = crypto.document_aad(row.case_id, row.id)
    return crypto.seal_bytes(crypto.open_bytes(content, aad=aad), aad=aad)


def _totp_secret(row: Any, value: str) -> str:
    aad = crypto.totp_secret_aad(row.id)
    return crypto.seal_text(crypto.open_text(value, aad=aad), aad=aad)


def _subject(row: Any, value: str) -> str:
    aad = crypto.subject_aad(row.case_id, row.task_guid)
    return crypto.seal_text(crypto.open_text(value, aad=aad), aad=aad)


def _draft(row: Any, values: Any) -> str:
    aad = crypto.draft_aad(row.human_task_id, row.account_id)
    return crypto.seal_json(crypto.open_json(values, aad=aad), aad=aad)


COLUMNS = (
    _Column(CASE_TABLE, "state", ("id",), crypto.needs_rotation, _case_state),
    _Column(EVENT_TABLE, "payload", ("id", "case_id", "seq"), _payload_needs_rotation, _event_payload),
    _Column(DOCUMENT_TABLE, "content", ("id", "case_id"), crypto.needs_rotation, _document, DOCUMENT_BATCH),
    _Column(DRAFT_TABLE, "values", ("id", "human_task_id", "account_id"), crypto.needs_rotation, _draft),
    _Column(ACCOUNT_TABLE, "totp_secret", ("id",), crypto.needs_rotation, _totp_secret),
    _Column(HUMAN_TASK_TABLE, "subject", ("id", "case_id", "task_guid"), crypto.needs_rotation, _subject),
)


def rotate(
    session: Session, *, batch: int | None = None, on_batch: Callable[[Count], None] | None = None
) -> list[Count]:
    """Re-encrypt every encrypted column under the active key, ``batch`` rows per transaction (default:
    per table); ``on_batch`` is told after each committed batch. ``session`` must not be in a transaction."""
    crypto.keyring()  # a broken ring fails before the first batch
    return [_rotate_column(session, column, batch or column.batch, on_batch) for column in COLUMNS]


def _rotate_column(session: Session, column: _Column, size: int, on_batch: Callable[[Count], None] | None) -> Count:
    count = Count(column.table.name)
    for _ in _batches(session, column, size, count):
        if on_batch is not None:
            on_batch(count)
    return count


def _batches(session: Session, column: _Column, size: int, count: Count) -> Iterator[None]:
    table = column.table
    key = table.c["id"]
    value = table.c[column.value]
    query = (
        select(*(table.c[name] for name in column.keys), value.label("value"))
        .order_by(key)
        .limit(size)
        .with_for_update()
    )
    last: Any = None
    while True:
        with session.begin():
            batch_query = query if last is None else query.where(key > last)
            rows = session.execute(batch_query).all()
            for row in rows:
                count.scanned += 1
                if row.value is not None and column.needs_rotation(row.value):
                    fresh = column.rewrite(row, row.value)
                    session.execute(table.update().where(key == row.id).values({column.value: fresh}))
                    count.rewritten += 1
        if not rows:
            return
        last = rows[-1].id
        yield
