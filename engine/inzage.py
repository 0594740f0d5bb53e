"""An AVG inzageverzoek (art. 15 AVG): everything stored about one person, for the functionaris
gegevensbescherming (who works with the Auditor role), as one JSON-ready dict.

What is in it: the account (without password hash, TOTP secret or recovery codes), its sessions and login
attempts (without the source address hash), the cases of which the person is the bestuurder with the data of
every step as the engine stored it (every field: the DPO decides what to release, not the visibility policy),
the documents (name, size, hash; their content goes in the zip the web layer makes), concept forms, the
timeline, the access log of those cases, the person's notifications and e-mail deliveries (status, template,
time — no content), and what the person looked at themselves.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import accesslog, queries
from engine.accounts import display_names
from engine.errors import NotFoundError
from engine.history import ERASED_EVENTS, ERASURE, REPAIR, is_erased, payload_of
from engine.model import (
    AccessLog,
    Account,
    Case,
    Document,
    Event,
    HumanTask,
    LoginAttempt,
    MailDelivery,
    Notification,
    TaskDraft,
    WebSession,
)
from engine.replay import CORRECT_DATA, MOVE_BACK

FORMAT = "regeling-inzage/1"


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def find_account(session: Session, account_id: str) -> Account:
    account = session.get(Account, account_id.strip())
    if account is None:
        raise NotFoundError("account not found")
    return account


def cases_of(session: Session, account_id: str) -> list[Case]:
    """The cases of which the person is the bestuurder."""
    return list(session.scalars(select(Case).where(Case.bestuurder == account_id).order_by(Case.id)))


def documents_of(session: Session, cases: list[Case]) -> list[Document]:
    """The documents of these cases, content included (for the zip)."""
    if not cases:
        return []
    query = (
        select(Document)
        .where(Document.case_id.in_([case.id for case in cases]))
        .order_by(Document.case_id, Document.uploaded_at, Document.id)
    )
    return list(session.scalars(query))


def _account(account: Account) -> dict[str, Any]:
    # Named one by one, so a column added later (a secret, say) is not exported without a decision.
    return {
        "id": account.id,
        "naam": account.name,
        "email": account.email,
        "organisatie": account.organisation,
        "rollen": list(account.roles),
        "actief": account.active,
        "aangemaakt_op": _time(account.created_at),
        "tweestapsverificatie_actief": account.totp_enabled_at is not None,
        "tweestapsverificatie_sinds": _time(account.totp_enabled_at),
        "sessies_geldig_vanaf": _time(account.sessions_valid_from),
        "mislukte_inlogpogingen": account.failed_logins,
        "geblokkeerd_tot": _time(account.locked_until),
    }


def _sessions(session: Session, account_id: str) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(WebSession).where(WebSession.account_id == account_id).order_by(WebSession.created_at)
    )
    return [
        {
            "rol": row.role,
            "tweede_factor_gedaan": row.second_factor_done,
            "begonnen_op": _time(row.created_at),
            "laatst_gezien_op": _time(row.last_seen_at),
            "beeindigd_op": _time(row.revoked_at),
        }
        for row in rows
    ]


def _login_attempts(session: Session, account_id: str) -> list[dict[str, Any]]:
    rows = session.scalars(select(LoginAttempt).where(LoginAttempt.account_id == account_id).order_by(LoginAttempt.at))
    return [{"op": _time(row.at), "gelukt": row.success} for row in rows]


def _view(row: AccessLog, references: dict[int, str], names: dict[str, str]) -> dict[str, Any]:
    return {
        "op": _time(row.at),
        "door": row.account_id,
        "naam": names.get(row.account_id, row.account_id),
        "rol": row.role,
        "zaak": references.get(row.case_id, str(row.case_id)),
        "wat": row.what,
        "velden": list(row.fields),
    }


def _steps(session: Session, case: Case, names: dict[str, str]) -> list[dict[str, Any]]:
    """The data of every completed step and every message, complete and as stored, and every repair of it with
    before, after and reason; a step whose data was erased after the retention period says so."""
    tasks = {task.task_guid: task for task in session.scalars(select(HumanTask).where(HumanTask.case_id == case.id))}
    events = session.scalars(
        select(Event)
        .where(Event.case_id == case.id, Event.type.in_(("task_completed", "message_delivered", REPAIR)))
        .order_by(Event.seq)
    )
    steps = []
    for event in events:
        payload = payload_of(event)  # the form data is stored encrypted
        entry: dict[str, Any] = {
            "volgnummer": event.seq,
            "op": _time(event.occurred_at),
            "door": event.actor,
            "naam_door": names.get(event.actor, event.actor),
            "rol": event.actor_role,
        }
        task = tasks.get(str(payload.get("task_guid", "")))
        if event.type == "task_completed":
            entry |= {
                "soort": "stap",
                "stap": task.bpmn_id if task else payload.get("task"),
                "naam": task.name if task else None,
                "formulier": task.form if task else None,
                "gegevens": payload.get("data", {}),
            }
        elif event.type == REPAIR:
            entry |= _repair(payload, task)
        else:
            message = str(payload.get("name", ""))
            entry |= {
                "soort": "bericht",
                "bericht": message,
                "naam": queries.MESSAGE_NAMES.get(message, message),
                "gegevens": payload.get("payload", {}),
            }
        if is_erased(event.payload, event.payload_hash):
            entry["gewist"] = True  # the data went at the end of the retention period (see "wissingen")
        steps.append(entry)
    return steps


REPAIR_KINDS = {CORRECT_DATA: "correctie", MOVE_BACK: "teruggezet"}


def _repair(payload: dict[str, Any], task: HumanTask | None) -> dict[str, Any]:
    """A beheerder's repair: a correction's data before and after, or a move back's open steps before and after
    (not the workflow it restored: that is the engine's own record of the same data)."""
    kind = str(payload.get("kind", ""))
    entry: dict[str, Any] = {
        "soort": REPAIR_KINDS.get(kind, kind),
        "stap": task.bpmn_id if task else payload.get("task"),
        "naam": task.name if task else None,
        "formulier": task.form if task else None,
        "reden": payload.get("reason"),
    }
    before, after = payload.get("before") or {}, payload.get("after") or {}
    if kind == MOVE_BACK:
        return entry | {"open_voor": before.get("open", []), "open_na": after.get("open", [])}
    return entry | {"voor": before, "na": after}


def _erasures(session: Session, case: Case) -> list[dict[str, Any]]:
    """What each erasure removed and why: which events and how many of what, never the values."""
    rows = session.scalars(select(Event).where(Event.case_id == case.id, Event.type == ERASURE).order_by(Event.seq))
    erasures = []
    for event in rows:
        payload = payload_of(event)
        erasures.append(
            {
                "volgnummer": event.seq,
                "op": _time(event.occurred_at),
                "door": event.actor,
                "regel": payload.get("rule"),
                "reden": payload.get("reason"),
                "gewiste_gebeurtenissen": list(payload.get(ERASED_EVENTS, []) or []),
                "aantallen": dict(payload.get("erased", {}) or {}),
            }
        )
    return erasures


def _drafts(session: Session, case: Case) -> list[dict[str, Any]]:
    rows = session.execute(
        select(TaskDraft, HumanTask.bpmn_id)
        .join(HumanTask, HumanTask.id == TaskDraft.human_task_id)
        .where(HumanTask.case_id == case.id)
        .order_by(TaskDraft.saved_at)
    )
    return [
        {"stap": bpmn_id, "door": draft.account_id, "opgeslagen_op": _time(draft.saved_at), "waarden": draft.values}
        for draft, bpmn_id in rows
    ]


def _document(doc: Document) -> dict[str, Any]:
    return {
        "id": doc.id,
        "formulier": doc.form,
        "veld": doc.field,
        "bestandsnaam": doc.filename,
        "soort": doc.content_type,
        "grootte": doc.size,
        "sha256": doc.sha256,
        "geupload_door": doc.uploaded_by,
        "geupload_op": _time(doc.uploaded_at),
    }


def _case(session: Session, case: Case, documents: list[Document]) -> dict[str, Any]:
    events = session.scalars(select(Event.actor).where(Event.case_id == case.id))
    views = accesslog.views_of_case(session, case.id)
    names = display_names(session, [*events, *(view.account_id for view in views)])
    return {
        "zaaknummer": case.reference,
        "status": case.status,
        "einde": case.end_event,
        "organisatie": case.organisation,
        "urgent": case.urgent,
        "ccv_adviseur": case.ccv_adviser,
        "gestart_op": _time(case.created_at),
        "gewijzigd_op": _time(case.updated_at),
        "procesversie": {"proces": case.process_version.process_key, "versie": case.process_version.version},
        "stappen": _steps(session, case, names),
        "wissingen": _erasures(session, case),
        "concepten": _drafts(session, case),
        "documenten": [_document(doc) for doc in documents if doc.case_id == case.id],
        "tijdlijn": [
            {
                "volgnummer": entry.seq,
                "op": _time(entry.at),
                "wat": entry.what,
                "detail": entry.detail,
                "door": entry.by,
                "rol": entry.role,
                "geopend": entry.opened,
            }
            for entry in queries.timeline(session, case)
        ],
        "inzages": [_view(view, {case.id: case.reference}, names) for view in views],
    }


def _references(session: Session, case_ids: set[int]) -> dict[int, str]:
    if not case_ids:
        return {}
    rows = session.execute(select(Case.id, Case.reference).where(Case.id.in_(case_ids)))
    return {case_id: reference for case_id, reference in rows}


def _notifications(session: Session, account_id: str) -> list[dict[str, Any]]:
    rows = list(
        session.scalars(select(Notification).where(Notification.account_id == account_id).order_by(Notification.id))
    )
    references = _references(session, {row.case_id for row in rows})
    return [
        {
            "zaak": references.get(row.case_id),
            "sjabloon": row.template,
            "aangemaakt_op": _time(row.created_at),
            "gelezen_op": _time(row.read_at),
        }
        for row in rows
    ]


def _mail(session: Session, account_id: str) -> list[dict[str, Any]]:
    rows = list(
        session.scalars(select(MailDelivery).where(MailDelivery.account_id == account_id).order_by(MailDelivery.id))
    )
    references = _references(session, {row.case_id for row in rows})
    return [
        {
            "zaak": references.get(row.case_id),
            "sjabloon": row.template,
            "status": row.status,
            "pogingen": row.attempts,
            "aangemaakt_op": _time(row.created_at),
            "verzonden_op": _time(row.sent_at),
        }
        for row in rows
    ]


def build_export(session: Session, account_id: str, generated_at: datetime) -> dict[str, Any]:
    """Everything stored about the person with this account id; NotFoundError if there is no such account."""
    account = find_account(session, account_id)
    cases = cases_of(session, account.id)
    documents = documents_of(session, cases)
    own_views = accesslog.views_by_account(session, account.id)
    names = display_names(session, [account.id])
    viewed = _references(session, {row.case_id for row in own_views})
    return {
        "formaat": FORMAT,
        "gemaakt_op": _time(generated_at),
        "betrokkene": account.id,
        "account": _account(account),
        "sessies": _sessions(session, account.id),
        "inlogpogingen": _login_attempts(session, account.id),
        "zaken": [_case(session, case, documents) for case in cases],
        "meldingen": _notifications(session, account.id),
        "e_mails": _mail(session, account.id),
        "eigen_inzages": [_view(view, viewed, names) for view in own_views],
    }


def exported_fields(export: dict[str, Any], reference: str) -> list[str]:
    """The ``form/field`` names of one case of an export, for the access log of the export itself."""
    shown: list[tuple[str, list[str]]] = []
    for case in export["zaken"]:
        if case["zaaknummer"] != reference:
            continue
        for step in case["stappen"]:
            form = step.get("formulier") or f"bericht_{step.get('bericht', '')}"
            for part in ("gegevens", "voor", "na"):  # a correction's fields are in its before and after
                if isinstance(step.get(part), dict):
                    shown.append((str(form), list(step[part])))
    return accesslog.field_names(shown)
