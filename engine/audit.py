"""The auditor's view of cases: search over all of them, one timeline of everything that happened to a case,
the case as it stood after any event (point in time), and the proof that its history is complete and untouched.

Search reads only the ``case`` row and its joins (paged, the count bounded), never a workflow. The element states
of a moment come from re-running the history (engine/pointintime.py, which keeps snapshots so that scrubbing
re-runs only a few events); the data of a moment comes from the history itself (each step's recorded input, or
its correction by a repair), marked with what the role that acted at that moment was allowed to see
(forms/visibility.json).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from engine import bundles, crypto, history, pointintime, replay, visibility
from engine.access import Role
from engine.errors import EngineError, NotFoundError
from engine.model import Account, Case, Event, HumanTask, MailDelivery, Organisation, Outbox, ProcessVersion
from engine.queries import COUNT_CAP, MESSAGE_NAMES, PER_PAGE, Page, _bounded_count

log = logging.getLogger(__name__)

STATUSES = {"active": "Lopend", "completed": "Afgerond"}

EVENT_TEXTS = {
    "case_started": "Zaak gestart",
    "task_completed": "Stap afgerond",
    "message_delivered": "Bericht ontvangen",
    "timers_fired": "Termijn verstreken",
    "task_claimed": "Taak opgepakt",
    "task_unclaimed": "Taak teruggegeven",
    "repair": "Hersteld door beheer",
    "erasure": "Persoonsgegevens gewist",
    "case_migrated": "Zaak overgezet naar een nieuwe procesversie",
    "deployment": "Procesversie uitgerold",
    "notification": "Melding",
}


# -- search ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilter:
    reference: str = ""
    organisation: str = ""
    status: str = ""
    since: date | None = None  # the case was still open on or after this day
    until: date | None = None  # the case had started on or before this day
    version_id: int | None = None
    page: int = 1


@dataclass(frozen=True)
class CaseRow:
    reference: str
    status: str
    organisation: str
    process_key: str
    version: int
    created_at: datetime
    updated_at: datetime


def search(session: Session, wanted: AuditFilter) -> Page[CaseRow]:
    """One page of all cases matching ``wanted``, newest first; SQL only, the count stops at a cap."""
    query = (
        select(
            Case.reference,
            Case.status,
            Organisation.name,
            Case.organisation,
            ProcessVersion.process_key,
            ProcessVersion.version,
            Case.created_at,
            Case.updated_at,
        )
        .join(ProcessVersion, ProcessVersion.id == Case.process_version_id)
        .outerjoin(Organisation, Organisation.code == Case.organisation)
    )
    if wanted.reference:
        query = query.where(Case.reference.startswith(wanted.reference.strip().upper(), autoescape=True))
    if wanted.organisation:
        query = query.where(Case.organisation == wanted.organisation)
    if wanted.status:
        query = query.where(Case.status == wanted.status)
    if wanted.since is not None:
        query = query.where(Case.updated_at >= _start_of(wanted.since))
    if wanted.until is not None:
        query = query.where(Case.created_at < _start_of(wanted.until + timedelta(days=1)))
    if wanted.version_id is not None:
        query = query.where(Case.process_version_id == wanted.version_id)
    page = max(1, wanted.page)
    total, capped = _bounded_count(session, query, max(COUNT_CAP, page * PER_PAGE))
    # Newest first by creation (ids follow it): the order the created-period and status indexes keep.
    newest_first = (Case.created_at.desc(), Case.id.desc())
    rows = session.execute(query.order_by(*newest_first).limit(PER_PAGE).offset((page - 1) * PER_PAGE))
    return Page(rows=[_case_row(row) for row in rows], total=total, page=page, capped=capped)


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _case_row(row: Row[str, str, str | None, str, str, int, datetime, datetime]) -> CaseRow:
    reference, status, organisation_name, organisation, process_key, version, created_at, updated_at = row
    return CaseRow(reference, status, organisation_name or organisation, process_key, version, created_at, updated_at)


def organisations(session: Session) -> list[tuple[str, str]]:
    """(code, name) of every organisation, for the search form."""
    return [
        (code, name)
        for code, name in session.execute(select(Organisation.code, Organisation.name).order_by(Organisation.name))
    ]


def versions(session: Session) -> list[tuple[int, str]]:
    """(id, "key versie n") of every deployed process version, for the search form."""
    rows = session.execute(
        select(ProcessVersion.id, ProcessVersion.process_key, ProcessVersion.version).order_by(
            ProcessVersion.process_key, ProcessVersion.version.desc()
        )
    )
    return [(version_id, f"{key} versie {number}") for version_id, key, number in rows]


# -- the timeline ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    name: str
    role: str
    organisation: str


@dataclass(frozen=True)
class AuditEntry:
    """One line of the unified timeline: an event of the history, a notification, or a deployment."""

    kind: str
    at: datetime
    what: str
    by: Person
    seq: int | None = None  # the event's number in the history; None for what is not an event
    detail: str = ""
    form: str = ""  # the form whose data ``data`` holds
    data: dict[str, Any] = field(default_factory=dict)  # the data as the auditor may see it
    notes: list[str] = field(default_factory=list)
    hash: str = ""
    after: int = 0  # for what is not an event: the event it follows (a notification: the one that wrote it)

    def order(self) -> tuple[datetime, float]:
        # By time; at one moment events in their order, each followed by the notifications it wrote.
        if self.seq is not None:
            return self.at, float(self.seq)
        return self.at, self.after + (0.5 if self.kind == "notification" else -0.5)


SYSTEM_PERSON = Person("systeem", "systeem", "")


def timeline(session: Session, case: Case) -> list[AuditEntry]:
    """Everything that happened to ``case``, oldest first, in Dutch, with the data an auditor may see."""
    events = _events(session, case)
    context = _Context.of(session, case, events)
    entries = [_event_entry(context, event) for event in events]
    entries += _notification_entries(session, case)
    entries += _deployment_entries(session, case)
    return sorted(entries, key=AuditEntry.order)


def _events(session: Session, case: Case) -> list[Event]:
    return list(session.scalars(select(Event).where(Event.case_id == case.id).order_by(Event.seq)))


@dataclass(frozen=True)
class _Context:
    """What turns events into readable lines: task names and forms, and who the actors are."""

    tasks: dict[str, HumanTask]  # by task guid
    names: dict[str, str]  # bpmn id -> step name
    people: dict[str, Person]

    @classmethod
    def of(cls, session: Session, case: Case, events: Sequence[Event]) -> _Context:
        tasks = {t.task_guid: t for t in session.scalars(select(HumanTask).where(HumanTask.case_id == case.id))}
        names = {**_elements(case.process_version).names, **{t.bpmn_id: t.name for t in tasks.values()}}
        return cls(tasks, names, people(session, (e.actor for e in events)))

    def person(self, actor: str, role: str) -> Person:
        known = self.people.get(actor)
        if known is None:
            return SYSTEM_PERSON if role == Role.SYSTEEM.value else Person(actor, role, "")
        return Person(known.name, role, known.organisation)

    def step_name(self, bpmn_id: str) -> str:
        return self.names.get(bpmn_id, bpmn_id)


def people(session: Session, account_ids: Iterable[str]) -> dict[str, Person]:
    """Account id -> name and organisation name (roles come from each event: a person may have several)."""
    ids = set(account_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(Account.id, Account.name, Organisation.name)
        .outerjoin(Organisation, Organisation.code == Account.organisation)
        .where(Account.id.in_(ids))
    )
    return {account_id: Person(name, "", organisation or "") for account_id, name, organisation in rows}


def _event_entry(context: _Context, event: Event) -> AuditEntry:
    payload = _opened_payload(event)
    form, data = _form_data(context, event, payload)
    return AuditEntry(
        kind=event.type,
        at=event.occurred_at,
        what=EVENT_TEXTS.get(event.type, event.type),
        by=context.person(event.actor, event.actor_role),
        seq=event.seq,
        detail=_detail(context, event, payload),
        form=form,
        data=visibility.visible_data(Role.AUDITOR, form, data) if form else {},
        notes=_notes(context, event, payload),
        hash=event.hash,
    )


def _opened_payload(event: Event) -> dict[str, Any]:
    """The decrypted payload; an event whose form data cannot be read keeps only its readable parts."""
    try:
        return history.payload_of(event)
    except (EngineError, crypto.CryptoError):
        return {key: value for key, value in event.payload.items() if key not in history.SEALED_PARTS}


def _form_data(context: _Context, event: Event, payload: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The form an event's input belongs to, and that input."""
    if event.type == "task_completed":
        task = context.tasks.get(str(payload.get("task_guid", "")))
        data = payload.get("data")
        if task is not None and task.form and isinstance(data, dict):
            return task.form, data
    if event.type == history.REPAIR and payload.get("kind") == replay.CORRECT_DATA:
        # A beheerder's correction: from then on the step's data is what it says after.
        task = context.tasks.get(str(payload.get("task_guid", "")))
        if task is not None and task.form and isinstance(payload.get("after"), dict):
            return task.form, payload["after"]
    if event.type == "message_delivered" and isinstance(payload.get("payload"), dict):
        return bundles.message_form_name(str(payload.get("name", ""))), payload["payload"]
    return "", {}


def _detail(context: _Context, event: Event, payload: Mapping[str, Any]) -> str:
    if "task" in payload:
        return context.step_name(str(payload["task"]))
    if event.type == "message_delivered":
        name = str(payload.get("name", ""))
        return MESSAGE_NAMES.get(name, name)
    if event.type == "case_started":
        return f"{payload.get('process_key', '')} versie {payload.get('version', '')}"
    if event.type == "case_migrated":
        return f"van versie {payload.get('from_version', '?')} naar versie {payload.get('to_version', '?')}"
    return ""


def _notes(context: _Context, event: Event, payload: Mapping[str, Any]) -> list[str]:
    notes: list[str] = []
    for timer in payload.get("timers", []) or []:
        due = timer.get("due_at", "") if isinstance(timer, dict) else ""
        element = timer.get("element", "") if isinstance(timer, dict) else ""
        notes.append(f"Termijn {context.step_name(element)} (verviel {due}); klok bij afvuren {utc(event.occurred_at)}")
    for key, label in (("reason", "Reden"), ("reden", "Reden"), ("rule", "Regel"), ("comment", "Toelichting")):
        if payload.get(key):
            notes.append(f"{label}: {payload[key]}")
    if payload.get(history.ERASED_EVENTS):
        listed = ", ".join(str(seq) for seq in payload[history.ERASED_EVENTS])
        notes.append(f"Formuliergegevens gewist uit gebeurtenissen {listed}; hun hashes blijven")
    for key, label in (("before", "Voor"), ("after", "Na")):
        if key in payload:
            notes.append(f"{label}: {_plain(payload[key])}")
    for role, template in payload.get("notifications", []) or []:
        notes.append(f"Dienst ‘melding’: {_template_text(template)} aan {role}")
    opened = [context.step_name(bpmn_id) for bpmn_id, _lane in payload.get("opened", []) or []]
    if opened:
        notes.append("Daarna open: " + ", ".join(opened))
    return notes


def _plain(value: Any) -> str:
    if isinstance(value, Mapping):
        return "; ".join(f"{key} = {_plain(item)}" for key, item in value.items())
    if isinstance(value, list):
        return ", ".join(_plain(item) for item in value)
    return str(value)


def _template_text(template: str) -> str:
    return template.replace("_", " ")


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


OUTBOX_STATUS = {"pending": "nog niet verwerkt", "expanded": "verwerkt", "no_recipients": "niemand met die rol"}
DELIVERY_STATUS = {"pending": "wacht", "sending": "wordt verzonden", "failed": "mislukt", "skipped": "overgeslagen"}


def _notification_entries(session: Session, case: Case) -> list[AuditEntry]:
    """Each notification the process sent: to which role, which template, when, and how the e-mails went —
    never an address or a name of a recipient."""
    outbox = list(session.scalars(select(Outbox).where(Outbox.case_id == case.id).order_by(Outbox.id)))
    deliveries: dict[int, list[MailDelivery]] = {}
    for delivery in session.scalars(select(MailDelivery).where(MailDelivery.case_id == case.id)):
        deliveries.setdefault(delivery.outbox_id, []).append(delivery)
    entries = []
    for row in outbox:
        notes = [f"Verwerking: {OUTBOX_STATUS.get(row.status, row.status)}"]
        for delivery in deliveries.get(row.id, []):
            if delivery.status == "sent" and delivery.sent_at is not None:
                notes.append(f"E-mail verzonden {utc(delivery.sent_at)}")
            else:
                notes.append(f"E-mail {DELIVERY_STATUS.get(delivery.status, delivery.status)}")
        entries.append(
            AuditEntry(
                kind="notification",
                at=row.created_at,
                what=EVENT_TEXTS["notification"],
                by=SYSTEM_PERSON,
                detail=f"{_template_text(row.template)} aan {row.recipient_role}",
                notes=notes,
                after=_cause(row.idempotency_key),
            )
        )
    return entries


def _cause(idempotency_key: str) -> int:
    """The event that wrote an outbox row (its key is ``reference:seq:task``, engine/commands.py)."""
    parts = idempotency_key.split(":")
    return int(parts[1]) if len(parts) > 2 and parts[1].isdigit() else 0


def _deployment_entries(session: Session, case: Case) -> list[AuditEntry]:
    """The deployment of the case's version, and later versions of its process deployed while it ran."""
    pinned = case.process_version
    later = session.scalars(
        select(ProcessVersion).where(
            ProcessVersion.process_key == pinned.process_key,
            ProcessVersion.version > pinned.version,
            ProcessVersion.deployed_at <= case.updated_at,
        )
    )
    entries = []
    for version in (pinned, *later):
        note = "De zaak loopt op deze versie." if version.id == pinned.id else "De zaak bleef op haar eigen versie."
        entries.append(
            AuditEntry(
                kind="deployment",
                at=version.deployed_at,
                what=EVENT_TEXTS["deployment"],
                by=Person(version.deployed_by, Role.PROCESBEHEERDER.value, ""),
                detail=f"{version.process_key} versie {version.version}",
                notes=[note, f"Toelichting: {version.comment}", f"Inhoudshash {version.content_hash}"],
            )
        )
    return entries


# -- the case at one moment -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepAt:
    """One step's recorded input as it stood at the moment, with what the acting role could not see."""

    seq: int
    name: str
    form: str
    at: datetime
    by: Person
    data: dict[str, Any]  # what the auditor may see
    hidden_from_actor: frozenset[str]  # of ``data``, the fields the role acting at the moment could not see


@dataclass(frozen=True)
class Moment:
    seq: int
    last: int
    entry: AuditEntry
    markers: dict[str, list[str]]  # done / active / waiting / cancelled -> BPMN ids
    diagrams: list[str]  # the process ids the case had reached by then, the main process first
    steps: list[StepAt]
    problem: str = ""  # why the engine could not re-run the case to this moment (markers then from history)

    @property
    def acting_role(self) -> str:
        return self.entry.by.role


def moment(session: Session, case: Case, seq: int) -> Moment:
    """``case`` as it stood right after its event ``seq``: element states, the data, who did what."""
    events = _events(session, case)
    if not events:
        raise NotFoundError("the case has no history")
    seq = min(max(seq, 1), len(events))
    context = _Context.of(session, case, events)
    entry = _event_entry(context, events[seq - 1])
    done = _completed_until(events, seq)
    problem = ""
    try:
        live, cancelled = pointintime.elements_after(session, case, events, seq)
    except (EngineError, crypto.CryptoError) as error:
        live, cancelled, problem = {}, set(), _rerun_problem(case, seq, error)
    markers = {
        "done": done,
        "active": sorted({i for marks in live.values() for i in marks.get("active", [])}),
        "waiting": sorted({i for marks in live.values() for i in marks.get("waiting", [])}),
        "cancelled": sorted(cancelled),
    }
    steps = _steps_until(context, events, seq, entry.by.role)
    return Moment(seq, len(events), entry, markers, _diagrams(case, markers), steps, problem)


RERUN_ERASED = "de formuliergegevens zijn na de bewaartermijn gewist"
RERUN_FAILED = (
    "de vastgelegde geschiedenis laat zich hier niet opnieuw uitvoeren; "
    "Verifiëren noemt de eerste gebeurtenis die afwijkt"
)


def _rerun_problem(case: Case, seq: int, error: Exception) -> str:
    """The reason in Dutch for the page; the engine's own text only in the log (it names ids, never case data)."""
    if isinstance(error, pointintime.ErasedHistoryError):
        return RERUN_ERASED
    log.warning("audit: case %s cannot be re-run to event %d: %s: %s", case.reference, seq, type(error).__name__, error)
    return RERUN_FAILED


def _completed_until(events: Sequence[Event], seq: int) -> list[str]:
    done: dict[str, None] = {}
    for event in events[:seq]:
        done.update(dict.fromkeys(event.payload.get("completed", []) or []))
    return list(done)


def _steps_until(context: _Context, events: Sequence[Event], seq: int, acting_role: str) -> list[StepAt]:
    role = _role(acting_role)
    steps = []
    for event in events[:seq]:
        payload = _opened_payload(event)
        form, data = _form_data(context, event, payload)
        if not form:
            continue
        shown = visibility.visible_data(Role.AUDITOR, form, data)
        seen = visibility.visible_data(role, form, shown) if role is not None else {}
        steps.append(
            StepAt(
                seq=event.seq,
                name=_detail(context, event, payload),
                form=form,
                at=event.occurred_at,
                by=context.person(event.actor, event.actor_role),
                data=shown,
                hidden_from_actor=frozenset(shown) - frozenset(seen),
            )
        )
    return steps


def _role(value: str) -> Role | None:
    try:
        return Role(value)
    except ValueError:
        return None


def _diagrams(case: Case, markers: Mapping[str, list[str]]) -> list[str]:
    """The main process and every process holding an element the moment marks, in the bundle's order."""
    owner = element_processes(case.process_version)
    marked = {owner[i] for ids in markers.values() for i in ids if i in owner}
    main = case.process_version.process_key
    return [main, *sorted(p for p in marked if p != main)]


@dataclass(frozen=True)
class _Elements:
    owner: dict[str, str]  # BPMN element id -> the id of its process
    names: dict[str, str]  # BPMN element id -> its name, where it has one


_ELEMENTS: dict[str, _Elements] = {}  # by content hash: the same bundle in any database


def _elements(version: ProcessVersion) -> _Elements:
    """The elements of every diagram of a deployed version (read once per version: versions never change)."""
    if version.content_hash not in _ELEMENTS:
        owner: dict[str, str] = {}
        names: dict[str, str] = {}
        for name, text in bundles.bundle_of(version).diagram_files.items():
            root = bundles.parse_xml(text) if name.endswith(".bpmn") else None
            if root is None:
                continue
            for process in root.iter(f"{{{bundles.BPMN_NS}}}process"):
                for element in process.iter():
                    element_id, label = element.get("id"), element.get("name")
                    if element_id:
                        owner.setdefault(element_id, str(process.get("id")))
                        if label:
                            names.setdefault(element_id, label)
        _ELEMENTS[version.content_hash] = _Elements(owner, names)
    return _ELEMENTS[version.content_hash]


def element_processes(version: ProcessVersion) -> dict[str, str]:
    """BPMN element id -> the id of the process it belongs to, over the whole bundle."""
    return _elements(version).owner


# -- verification ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditVerification:
    """The hash chain and the re-execution from the first event, each with the first event that fails."""

    chain: history.Verification
    rerun: replay.ReplayResult

    @property
    def erased(self) -> bool:
        """The form data was erased after the retention period: the chain proves the history, but the case
        can no longer be re-executed (not a divergence)."""
        return self.rerun.erased

    @property
    def ok(self) -> bool:
        return self.chain.ok and (self.rerun.ok or self.erased)

    @property
    def findings(self) -> list[str]:
        """In Dutch: what failed and at which event; empty when everything holds."""
        found = []
        if not self.chain.ok:
            found.append(f"Hashketen verbroken bij gebeurtenis {self.chain.broken_at}: {self.chain.reason}")
        if not self.rerun.ok and not self.erased:
            found.append(f"Herhaling wijkt af bij gebeurtenis {self.rerun.diverged_at}: {self.rerun.reason}")
        return found


def verify(session: Session, case: Case) -> AuditVerification:
    return AuditVerification(history.verify_case(session, case), replay.replay_from_start(session, case))
