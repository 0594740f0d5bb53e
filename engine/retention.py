"""Retention: once a finished case has been kept for its period, its personal data is erased through one
recorded ``erasure`` event, and the history stays verifiable (engine/history.py: the digests remain).

The periods come from ``REGELING_RETENTION``: comma-separated ``key=ISO 8601 duration`` entries, where a
key is a case status (``completed``) or, more specific, the id of the end event the case finished at
(``end_niet_in_aanmerking=P2Y``). The period counts from the case's last change (the moment it
finished). Cases that are still running are never erased. Defaults: ``DEFAULT_RULES``.

What an erasure removes (every place engine/model.py holds case data): the form data in the event
payloads, the case data in the workflow snapshot (the snapshot keeps which elements ran), the subjects
of its tasks in the inbox index, its drafts, the content and file names of its documents, and the
error texts of its e-mail deliveries. What stays: references, organisation, account ids, task and
element names, times, the notification templates, the access log (which fields were seen, never
values) and every hash.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, exists, select
from sqlalchemy.orm import Session, undefer

from engine import cache, commands, crypto, isotime, replay
from engine.access import SYSTEM, Actor
from engine.errors import EngineError, InvalidTransitionError
from engine.history import ERASED_EVENTS, ERASURE, SEALED_PARTS, append_event, without_form_data
from engine.model import Case, Document, Event, HumanTask, MailDelivery, TaskDraft

ENV_RETENTION = "REGELING_RETENTION"
# Seven years for a case that led to a decision (the fiscal records of a provided measure are kept that
# long, AWR art. 52); two for a case that ended without measures. The process owner confirms these.
DEFAULT_RULES = {
    "completed": "P7Y",
    "end_niet_in_aanmerking": "P2Y",
    "end_geen_maatregelen": "P2Y",
}
ERASED_FILENAME = "gewist"
SWEEP_REASON = "bewaartermijn verstreken"

log = logging.getLogger(__name__)
EVENT_TABLE: Table = Event.__table__  # type: ignore[assignment]
HUMAN_TASK_TABLE: Table = HumanTask.__table__  # type: ignore[assignment]
DOCUMENT_TABLE: Table = Document.__table__  # type: ignore[assignment]
DRAFT_TABLE: Table = TaskDraft.__table__  # type: ignore[assignment]
MAIL_TABLE: Table = MailDelivery.__table__  # type: ignore[assignment]


class RetentionConfigError(ValueError):
    """``REGELING_RETENTION`` cannot be read; the message names the entry and why."""


@dataclass(frozen=True)
class Rule:
    key: str  # a case status, or an end event id
    period: isotime.Duration
    text: str  # as configured, e.g. "P7Y"

    def __str__(self) -> str:
        return f"{self.key}={self.text}"


@dataclass(frozen=True)
class Policy:
    rules: Mapping[str, Rule]

    def rule_for(self, case: Case) -> Rule | None:
        """The end event's own rule, else the status's; None while the case runs or nothing applies."""
        if case.status == "active":
            return None
        return self.rules.get(case.end_event or "") or self.rules.get(case.status)

    def expires_at(self, case: Case) -> datetime | None:
        rule = self.rule_for(case)
        return None if rule is None else isotime.add_duration(case.updated_at, rule.period)


def parse_policy(spec: str | None) -> Policy:
    """The policy of ``key=duration,…`` entries over the defaults (an empty spec: the defaults)."""
    entries = dict(DEFAULT_RULES)
    for entry in (part.strip() for part in (spec or "").split(",")):
        if not entry:
            continue
        key, sep, text = (piece.strip() for piece in entry.partition("="))
        if not sep or not key or not text:
            raise RetentionConfigError(f"{ENV_RETENTION}: {entry!r} is not of the form status=P7Y")
        if key == "active":
            raise RetentionConfigError(f"{ENV_RETENTION}: running cases are never erased ({entry!r})")
        entries[key] = text
    rules = {}
    for key, text in entries.items():
        try:
            rules[key] = Rule(key, isotime.parse_duration(text), text)
        except ValueError as error:
            raise RetentionConfigError(f"{ENV_RETENTION}: {key}: {error}") from None
    return Policy(rules)


DEFAULT_POLICY = parse_policy(None)


def policy_from_env(environ: Mapping[str, str] = os.environ) -> Policy:
    return parse_policy(environ.get(ENV_RETENTION))


@dataclass(frozen=True)
class Erasure:
    """What one erasure removed (counts, never values)."""

    reference: str
    rule: str
    events: int
    tasks: int
    drafts: int
    documents: int
    deliveries: int

    def __str__(self) -> str:
        return (
            f"{self.reference}: gewist volgens {self.rule} ({self.events} gebeurtenissen, {self.tasks} taken, "
            f"{self.drafts} concepten, {self.documents} documenten)"
        )


_NOT_ERASED = ~exists().where(EVENT_TABLE.c.case_id == Case.id, EVENT_TABLE.c.type == ERASURE)


def expired_cases(session: Session, policy: Policy, now: datetime, *, limit: int = 100) -> list[tuple[str, Rule]]:
    """References of finished, not yet erased cases whose retention period has ended, with their rule."""
    candidates = session.execute(
        select(Case.reference, Case.status, Case.end_event, Case.updated_at)
        .where(Case.status != "active", _NOT_ERASED)
        .order_by(Case.updated_at, Case.id)
    ).all()
    found: list[tuple[str, Rule]] = []
    for row in candidates:
        rule = policy.rules.get(row.end_event or "") or policy.rules.get(row.status)
        if rule is not None and isotime.add_duration(row.updated_at, rule.period) <= now:
            found.append((row.reference, rule))
            if len(found) >= limit:
                break
    return found


def erase_case(
    session: Session, reference: str, *, rule: str, reason: str, now: datetime, actor: Actor = SYSTEM
) -> Erasure:
    """Remove every piece of personal data of the finished case ``reference`` and record it as one
    ``erasure`` event (rule, reason, actor, the events emptied). The caller owns the transaction."""
    case = session.scalar(
        select(Case)
        .where(Case.reference == reference)
        .options(undefer(Case.state))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if case is None:
        raise InvalidTransitionError(f"case {reference} does not exist")
    if case.status == "active":
        raise InvalidTransitionError(f"case {reference} is still running; it cannot be erased")
    if session.scalar(select(EVENT_TABLE.c.id).where(EVENT_TABLE.c.case_id == case.id, EVENT_TABLE.c.type == ERASURE)):
        raise InvalidTransitionError(f"case {reference} was erased already")
    # Taken out of the cache either way: the workflow held there has the data that is erased now.
    workflow = cache.take(reference, case.last_hash) or replay.restore(session, case)
    workflow.forget_data()
    connection = session.connection()
    emptied = _empty_event_payloads(session, case)
    tasks = connection.execute(
        HUMAN_TASK_TABLE.update()
        .where(HUMAN_TASK_TABLE.c.case_id == case.id, HUMAN_TASK_TABLE.c.subject.is_not(None))
        .values(subject=None)
    ).rowcount
    task_ids = select(HUMAN_TASK_TABLE.c.id).where(HUMAN_TASK_TABLE.c.case_id == case.id).scalar_subquery()
    drafts = connection.execute(DRAFT_TABLE.delete().where(DRAFT_TABLE.c.human_task_id.in_(task_ids))).rowcount
    documents = _empty_documents(session, case)
    deliveries = connection.execute(
        MAIL_TABLE.update()
        .where(MAIL_TABLE.c.case_id == case.id, MAIL_TABLE.c.last_error.is_not(None))
        .values(last_error=None)
    ).rowcount
    payload: dict[str, Any] = {
        "rule": rule,
        "reason": reason,
        ERASED_EVENTS: emptied,
        "erased": {
            "events": len(emptied),
            "tasks": tasks,
            "drafts": drafts,
            "documents": documents,
            "deliveries": deliveries,
            "state": True,
        },
    }
    event = append_event(
        connection, case, type=ERASURE, actor=actor, at=now, payload=payload, state_hash=workflow.state_hash()
    )
    state = crypto.seal_text(workflow.to_state(event.seq), aad=crypto.case_state_aad(case.id))
    commands.write_case(
        connection,
        case,
        state=state,
        lock_version=case.lock_version + 1,
        event_count=event.seq,
        last_hash=event.hash,
        updated_at=now,
    )
    return Erasure(reference, rule, len(emptied), tasks, drafts, documents, deliveries)


def _empty_event_payloads(session: Session, case: Case) -> list[int]:
    rows = session.execute(
        select(EVENT_TABLE.c.id, EVENT_TABLE.c.seq, EVENT_TABLE.c.payload)
        .where(EVENT_TABLE.c.case_id == case.id)
        .order_by(EVENT_TABLE.c.seq)
    ).all()
    emptied = [row for row in rows if isinstance(row.payload, dict) and any(k in row.payload for k in SEALED_PARTS)]
    if emptied:
        session.connection().execute(
            EVENT_TABLE.update().where(EVENT_TABLE.c.id == bindparam("b_id")),
            [{"b_id": row.id, "payload": without_form_data(row.payload)} for row in emptied],
        )
    return [row.seq for row in emptied]


def _empty_documents(session: Session, case: Case) -> int:
    ids: list[str] = list(session.scalars(select(DOCUMENT_TABLE.c.id).where(DOCUMENT_TABLE.c.case_id == case.id)))
    for document_id in ids:
        # Sealed, not left empty: the column stays an envelope like every other document's.
        sealed = crypto.seal_bytes(b"", aad=crypto.document_aad(case.id, document_id))
        session.connection().execute(
            DOCUMENT_TABLE.update()
            .where(DOCUMENT_TABLE.c.id == document_id)
            .values(content=sealed, filename=ERASED_FILENAME)
        )
    return len(ids)


def sweep(session: Session, policy: Policy, now: datetime, *, dry_run: bool = False, limit: int = 100) -> list[str]:
    """Erase every expired case (or, ``dry_run``, only name them); one line per case."""
    lines = []
    for reference, rule in expired_cases(session, policy, now, limit=limit):
        if dry_run:
            lines.append(f"{reference}: zou gewist worden volgens {rule}")
            continue
        try:
            with session.begin_nested():
                erasure = erase_case(session, reference, rule=str(rule), reason=SWEEP_REASON, now=now)
        except (EngineError, crypto.CryptoError) as error:
            # The class only: the others are still erased; the case is tried again next time.
            log.warning("retention: case %s could not be erased (%s)", reference, type(error).__name__)
            lines.append(f"{reference}: niet gewist ({type(error).__name__})")
            continue
        log.info("retention: case %s erased under rule %s", reference, rule)
        lines.append(str(erasure))
    return lines
