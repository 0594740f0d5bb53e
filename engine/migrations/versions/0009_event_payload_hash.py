"""event.payload_hash: the form data of an event is covered by its digest, so it can be erased

Each event's hash used to cover the full plaintext payload; it now covers the payload without its
form-data parts (engine.history.SEALED_PARTS) plus ``payload_hash``, the sha256 of those parts'
canonical JSON. Erasing the form data (retention, engine/retention.py) then leaves the chain verifiable.

Pre-release: existing rows are rewritten in place — the digest of each event's form data is computed
and every event hash, and each case's chain head, is recomputed in sequence. A database whose chain
was already broken before this migration comes out with a valid-looking chain; run ``regeling verify``
before upgrading if that matters.

A command's task guids come from the chain head it followed (engine/replay.py ``step_seed``), so new
hashes would make the events recorded since an active case's last snapshot re-run differently. Every
unfinished case is therefore first restored under its old chain and its snapshot stored as of its last
event. Re-execution from the start (``regeling replay``) of a case begun before this revision fails at
its second event: its guids came from the old chain. Its chain verifies.

Revision ID: 0009
Revises: 0008
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payload_hash", sa.String(length=64), nullable=True))
    _snapshot_every_unfinished_case(op.get_bind())
    _rehash_every_chain(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_column("payload_hash")


@dataclass(frozen=True)
class _Row:
    seq: int
    type: str
    actor: str
    actor_role: str
    occurred_at: datetime
    payload: dict[str, Any]
    payload_hash: str | None
    state_hash: str
    prev_hash: str


def _snapshot_every_unfinished_case(connection: sa.Connection) -> None:
    from sqlalchemy.orm import Session, joinedload, load_only

    from engine import crypto, replay
    from engine.model import Case, ProcessVersion

    # Only the columns this revision knows: later revisions may add others to these tables.
    query = (
        sa.select(Case)
        .where(Case.status == "active")
        .options(
            load_only(Case.id, Case.reference, Case.state, Case.serializer_version, Case.event_count),
            joinedload(Case.process_version).load_only(
                ProcessVersion.process_key, ProcessVersion.content_hash, ProcessVersion.files
            ),
        )
        .order_by(Case.id)
    )
    with Session(bind=connection) as session:
        for case in session.scalars(query):
            workflow = replay.restore(session, case)
            state = crypto.seal_text(workflow.to_state(case.event_count), aad=crypto.case_state_aad(case.id))
            connection.execute(sa.update(Case).where(Case.id == case.id).values(state=state))


def _rehash_every_chain(connection: sa.Connection) -> None:
    # Imported here: the engine's hashing as it is at this revision (decrypting needs the key ring).
    from engine.history import GENESIS_HASH, event_hash, open_payload, payload_digest
    from engine.model import UTCDateTime

    case = sa.table("case", sa.column("id"), sa.column("reference"), sa.column("last_hash"))
    event = sa.table(
        "event",
        *(sa.column(name) for name in ("id", "case_id", "seq", "type", "actor", "actor_role", "state_hash")),
        sa.column("occurred_at", UTCDateTime()),
        sa.column("payload", sa.JSON()),
        sa.column("payload_hash"),
        sa.column("prev_hash"),
        sa.column("hash"),
    )
    cases: list[tuple[int, str]] = [
        (row.id, row.reference)
        for row in connection.execute(sa.select(case.c.id, case.c.reference).order_by(case.c.id))
    ]
    for case_id, reference in cases:
        prev = GENESIS_HASH
        rows = connection.execute(sa.select(event).where(event.c.case_id == case_id).order_by(event.c.seq)).all()
        for row in rows:
            digest = payload_digest(open_payload(case_id, row.seq, row.payload))
            fields = _Row(
                row.seq, row.type, row.actor, row.actor_role, row.occurred_at, row.payload, digest, row.state_hash, prev
            )
            prev = event_hash(reference, fields)
            connection.execute(
                event.update()
                .where(event.c.id == row.id)
                .values(payload_hash=digest, prev_hash=fields.prev_hash, hash=prev)
            )
        if rows:
            connection.execute(case.update().where(case.c.id == case_id).values(last_hash=prev))
