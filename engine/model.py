"""The tables of the engine (SQLAlchemy 2.x, typed); migrations in engine/migrations mirror this file."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from engine import crypto


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out — SQLite would otherwise hand back naive datetimes."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused; the engine stores UTC only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON, datetime: UTCDateTime()}


class ProcessVersion(Base):
    """One deployed bundle (BPMN + DMN + forms) of a process, pinned by the hash of its content."""

    __tablename__ = "process_version"
    __table_args__ = (
        UniqueConstraint("process_key", "version"),
        UniqueConstraint("process_key", "content_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    process_key: Mapped[str] = mapped_column(String(100))
    version: Mapped[int]
    content_hash: Mapped[str] = mapped_column(String(64))
    # Deferred: loaded only when a version is parsed for the first time, not with every case.
    files: Mapped[dict[str, Any]] = mapped_column(deferred=True)
    deployed_by: Mapped[str] = mapped_column(String(100))
    deployed_at: Mapped[datetime]
    comment: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="active")


class Case(Base):
    """One bestuurder's dossier: the pinned version, the workflow snapshot and what the inbox needs."""

    __tablename__ = "case"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    process_version_id: Mapped[int] = mapped_column(ForeignKey("process_version.id"))
    status: Mapped[str] = mapped_column(String(20))
    end_event: Mapped[str | None] = mapped_column(String(100))
    organisation: Mapped[str] = mapped_column(String(100))
    bestuurder: Mapped[str] = mapped_column(String(100))
    urgent: Mapped[bool] = mapped_column(default=False)
    # The CCV adviser who took the case on (account id); None while it waits for an adviser to claim it.
    ccv_adviser: Mapped[str | None] = mapped_column(String(100), default=None)
    # When the first BVA task opened: from then on the BVA may see the case.
    bva_since: Mapped[datetime | None] = mapped_column(default=None)
    # The workflow without its spec, as JSON, encrypted (engine/crypto.py; engine/replay.py reads it).
    # Deferred: a command that finds the live workflow in the cache never needs to read it, only to write it.
    state: Mapped[str] = mapped_column(Text, deferred=True)
    serializer_version: Mapped[str] = mapped_column(String(10))
    next_timer_at: Mapped[datetime | None]
    lock_version: Mapped[int] = mapped_column(Integer, default=1)
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    process_version: Mapped[ProcessVersion] = relationship()

    __table_args__ = (
        Index("ix_case_next_timer_at", "next_timer_at"),
        Index("ix_case_organisation", "organisation"),
        Index("ix_case_bestuurder", "bestuurder"),
        # The auditor's search (engine/audit.py) filters on each of these and pages newest first (created_at, id).
        Index("ix_case_status_created", "status", "created_at", "id"),
        Index("ix_case_version_created", "process_version_id", "created_at", "id"),
        Index("ix_case_created", "created_at", "id"),
        # A reference prefix (LIKE 'BV-2026-%') can use an index only in C order on PostgreSQL.
        Index("ix_case_reference_prefix", "reference", postgresql_ops={"reference": "text_pattern_ops"}),
        # The timer sweep (commands.fire_due_timers): status, due moment and its order in one index (0012).
        Index("ix_case_timer_due", "status", "next_timer_at", "id"),
    )


class HumanTask(Base):
    """The inbox index: one row per user task instance; inbox queries never restore workflows."""

    __tablename__ = "human_task"
    __table_args__ = (
        UniqueConstraint("case_id", "task_guid"),
        Index("ix_human_task_open", "state", "lane", "created_at"),
        # A case's open tasks without walking every open task (the inbox index above would be chosen).
        Index("ix_human_task_case_state", "case_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"))
    task_guid: Mapped[str] = mapped_column(String(36))
    bpmn_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    # What this instance is about when a step runs once per item (the measure of a parallel branch),
    # encrypted at rest (engine/crypto.py); ``subject`` is the plaintext.
    sealed_subject: Mapped[str | None] = mapped_column("subject", Text, default=None)
    lane: Mapped[str] = mapped_column(String(50))
    form: Mapped[str | None] = mapped_column(String(200))
    assignee: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20))  # open / completed / cancelled
    created_at: Mapped[datetime]
    due_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    finished_by: Mapped[str | None] = mapped_column(String(100))

    @property
    def subject(self) -> str | None:
        if self.sealed_subject is None:
            return None
        return crypto.open_text(self.sealed_subject, aad=crypto.subject_aad(self.case_id, self.task_guid))


class Event(Base):
    """Append-only history of a case; each row chains to the previous one by hash."""

    __tablename__ = "event"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"))
    seq: Mapped[int]
    type: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(100))
    actor_role: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]]
    # The sha256 of the form data in the payload (engine/history.py): what the chain covers of it, and
    # what stays once it is erased. None: the payload holds no form data.
    payload_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    state_hash: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Outbox(Base):
    """Notifications written in the same transaction as the step that caused them; a worker sends them."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"))
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    recipient_role: Mapped[str] = mapped_column(String(40))
    template: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class ReferenceCounter(Base):
    """The last case number handed out per year, for references like BV-2026-0001."""

    __tablename__ = "reference_counter"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Organisation(Base):
    """A gemeente, provincie or waterschap (the bestuurder's employer), or CCV or BZK itself."""

    __tablename__ = "organisation"

    code: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # gemeente / provincie / waterschap / ccv / bzk


class Account(Base):
    """A person who logs in; belongs to one organisation and has one or more roles."""

    __tablename__ = "account"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str] = mapped_column(ForeignKey("organisation.code"))
    roles: Mapped[list[str]]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    # Two-factor login (TOTP): the shared secret once enrolled, and when enrolment was confirmed.
    # Stored encrypted: whoever reads it can make this person's codes (engine.crypto, bound to the account).
    sealed_totp_secret: Mapped[str | None] = mapped_column("totp_secret", String(200), default=None)
    totp_enabled_at: Mapped[datetime | None] = mapped_column(default=None)
    # The time step of the last TOTP code accepted: that code, and every older one, is refused (replay).
    totp_last_step: Mapped[int | None] = mapped_column(default=None)
    # Every session started before this moment is void (password changed, account disabled).
    sessions_valid_from: Mapped[datetime | None] = mapped_column(default=None)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(default=None)

    @property
    def totp_secret(self) -> str | None:
        if self.sealed_totp_secret is None:
            return None
        return crypto.open_text(self.sealed_totp_secret, aad=crypto.totp_secret_aad(self.id))

    @totp_secret.setter
    def totp_secret(self, secret: str | None) -> None:
        self.sealed_totp_secret = (
            None if secret is None else crypto.seal_text(secret, aad=crypto.totp_secret_aad(self.id))
        )


class Document(Base):
    """A file uploaded with a task form (a PKVW-certificaat, a report); the form field holds its id."""

    __tablename__ = "document"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    form: Mapped[str] = mapped_column(String(200))
    field: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))  # of the plaintext
    # The file encrypted at rest (engine/crypto.py); ``content`` is the plaintext.
    sealed_content: Mapped[bytes] = mapped_column("content", LargeBinary, deferred=True)
    uploaded_by: Mapped[str] = mapped_column(String(100))
    uploaded_at: Mapped[datetime]

    @property
    def content(self) -> bytes:
        return crypto.open_bytes(self.sealed_content, aad=crypto.document_aad(self.case_id, self.id))

    @content.setter
    def content(self, plaintext: bytes) -> None:
        if self.id is None or self.case_id is None:
            raise ValueError("a document's id and case_id come before its content (they bind the ciphertext)")
        self.sealed_content = crypto.seal_bytes(plaintext, aad=crypto.document_aad(self.case_id, self.id))


class TaskDraft(Base):
    """A half-filled form ("Opslaan als concept"), as typed; never validated, never case data."""

    __tablename__ = "task_draft"
    __table_args__ = (UniqueConstraint("human_task_id", "account_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    human_task_id: Mapped[int] = mapped_column(ForeignKey("human_task.id"))
    account_id: Mapped[str] = mapped_column(String(100))
    # The form as typed, encrypted at rest (a text envelope as the JSON value); ``values`` is the plaintext.
    sealed_values: Mapped[Any] = mapped_column("values", JSON)
    saved_at: Mapped[datetime]

    @property
    def values(self) -> dict[str, Any]:
        opened: dict[str, Any] = crypto.open_json(
            self.sealed_values, aad=crypto.draft_aad(self.human_task_id, self.account_id)
        )
        return opened

    @values.setter
    def values(self, plaintext: dict[str, Any]) -> None:
        if self.human_task_id is None or self.account_id is None:
            raise ValueError("a draft's task and account come before its values (they bind the ciphertext)")
        self.sealed_values = crypto.seal_json(plaintext, aad=crypto.draft_aad(self.human_task_id, self.account_id))


class MailDelivery(Base):
    """One e-mail to one person for one outbox row; what the worker claims, sends, retries, or gives up on
    (then it is an incident for a beheerder). Its key and Message-ID make a re-send recognisable."""

    __tablename__ = "mail_delivery"
    __table_args__ = (Index("ix_mail_delivery_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"))
    account_id: Mapped[str] = mapped_column(String(100))
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)
    template: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))  # pending / sending / sent / failed / skipped
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    message_id: Mapped[str] = mapped_column(String(200))
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime]


class Notification(Base):
    """An in-app notification (the bell): the same events as the e-mails, for the same people."""

    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint("outbox_id", "account_id"),
        Index("ix_notification_unread", "account_id", "read_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"))
    account_id: Mapped[str] = mapped_column(String(100))
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"))
    template: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None] = mapped_column(default=None)


class AdminAction(Base):
    """What a beheerder did outside any case's process (e.g. retrying a failed e-mail), with why."""

    __tablename__ = "admin_action"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    target: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]


class RecoveryCode(Base):
    """A one-time code that stands in for the second factor; only its hash is kept."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("account.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(200))
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class WebSession(Base):
    """A login, kept on the server so it can be ended there: the cookie holds only a random id whose
    hash is this row's key."""

    __tablename__ = "web_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie's token
    account_id: Mapped[str] = mapped_column(ForeignKey("account.id"), index=True)
    role: Mapped[str] = mapped_column(String(40))
    second_factor_done: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class LoginAttempt(Base):
    """A failed or successful login, for throttling; the source address is kept only as a keyed hash."""

    __tablename__ = "login_attempt"
    __table_args__ = (Index("ix_login_attempt_source", "source_hash", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[str | None] = mapped_column(String(100), index=True)
    source_hash: Mapped[str] = mapped_column(String(64))
    success: Mapped[bool]
    at: Mapped[datetime]


class AccessLog(Base):
    """Who looked at which case's sensitive data, in which role, which set of fields, when (never the values)."""

    __tablename__ = "access_log"
    __table_args__ = (Index("ix_access_log_case", "case_id", "at"), Index("ix_access_log_account", "account_id", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(40))
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"))
    what: Mapped[str] = mapped_column(String(200))  # e.g. "zaakpagina", "taak:woningscan", "document:<id>"
    fields: Mapped[list[str]]
    at: Mapped[datetime]


class ProcessDraft(Base):
    """The procesbeheerder's work in progress on a process: the whole bundle, edited file by file until it
    is deployed as a new version (then the draft is gone). Diagrams and forms only, never case data."""

    __tablename__ = "process_draft"

    id: Mapped[int] = mapped_column(primary_key=True)
    process_key: Mapped[str] = mapped_column(String(100), unique=True)
    # The version it started from: what "Vergelijken" compares against and what a deploy must still follow.
    base_version: Mapped[int]
    files: Mapped[dict[str, Any]] = mapped_column(deferred=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime]
