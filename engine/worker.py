"""The background worker: fires due timers, turns outbox rows into one e-mail and one in-app
notification per person, and sends the e-mails with retries; what keeps failing becomes an incident.

Several workers may run at once. Each claims its rows with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (on
SQLite every write transaction holds the single write lock), and a claimed e-mail is marked ``sending``
with a lease in its own transaction before anything is sent. A worker killed between sending and
recording leaves the row ``sending``; when the lease has run out, the next worker asks the mail server
whether a message with that row's Message-ID (derived from its idempotency key) was accepted, and
records it as sent instead of sending it again. Where the server cannot tell (plain SMTP), it sends
again with the same Message-ID, which mail stores use to drop the duplicate.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from engine import accounts, commands, retention, sessions
from engine.access import SYSTEM
from engine.clock import Clock, clock_from_env, system_clock
from engine.mail import Mail, Mailer, MailError, mailer_from_env, message_id_for, render_mail
from engine.model import Account, Case, MailDelivery, Notification, Outbox
from engine.recipients import recipients
from engine.retention import DEFAULT_POLICY, Policy, policy_from_env

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerSettings:
    batch: int = 50
    max_attempts: int = 5
    backoff: timedelta = timedelta(minutes=1)  # then 2, 4, 8 … minutes
    lease: timedelta = timedelta(minutes=5)
    base_url: str = "http://127.0.0.1:5000"
    mail_domain: str = "regeling.invalid"
    # Ended web sessions and old login attempts are deleted this often (engine.sessions.sweep,
    # engine.accounts.sweep_login_attempts), with the web app's session timeouts.
    sweep_every: timedelta = timedelta(hours=1)
    session_limits: sessions.Limits = sessions.Limits()
    # Finished cases whose retention period ended are erased at the same pace (engine.retention).
    retention: Policy = DEFAULT_POLICY
    # A file touched after every pass and every e-mail (REGELING_WORKER_HEARTBEAT): a container's health check
    # tells a hung worker from a working one by its age (deploy/worker_healthcheck.py).
    heartbeat: Path | None = None


@dataclass
class CycleReport:
    """What one pass did; its ``line`` goes to the log (at INFO when the pass did something)."""

    timers: int = 0
    expanded: int = 0
    sent: int = 0
    recovered: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    seconds: float = field(default=0.0, compare=False)

    def line(self) -> str:
        counts = " ".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self) if f.name != "seconds")
        return f"worker cycle {counts} ms={self.seconds * 1000:.0f}"

    @property
    def busy(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self) if f.name != "seconds")


def worker_from_env(
    factory: sessionmaker[Session], environ: Mapping[str, str], *, clock: Clock | None = None
) -> Worker:
    """A worker configured like the app: mail settings (engine.mail), REGELING_BASE_URL for links,
    REGELING_WORKER_{BATCH,MAX_ATTEMPTS,BACKOFF_SECONDS,LEASE_SECONDS,HEARTBEAT}, and its clock (REGELING_CLOCK_FILE,
    outside production) unless one is given."""
    clock = clock or clock_from_env(environ)
    defaults = WorkerSettings()
    settings = WorkerSettings(
        batch=_int_setting(environ, "REGELING_WORKER_BATCH", defaults.batch),
        max_attempts=_int_setting(environ, "REGELING_WORKER_MAX_ATTEMPTS", defaults.max_attempts),
        backoff=timedelta(seconds=_int_setting(environ, "REGELING_WORKER_BACKOFF_SECONDS", 60)),
        lease=timedelta(seconds=_int_setting(environ, "REGELING_WORKER_LEASE_SECONDS", 300)),
        base_url=environ.get("REGELING_BASE_URL", defaults.base_url).rstrip("/"),
        session_limits=sessions.limits_from_env(environ),
        retention=policy_from_env(environ),
        heartbeat=Path(beat) if (beat := environ.get("REGELING_WORKER_HEARTBEAT", "").strip()) else None,
    )
    return Worker(factory, mailer_from_env(environ, clock=clock), clock=clock, settings=settings)


def _int_setting(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name, "")
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {raw!r}") from None
    if value < 1:
        raise ValueError(f"{name} must be at least 1, not {value}")
    return value


class Worker:
    def __init__(
        self,
        factory: sessionmaker[Session],
        mailer: Mailer,
        *,
        clock: Clock = system_clock,
        settings: WorkerSettings = WorkerSettings(),
    ) -> None:
        self.factory = factory
        self.mailer = mailer
        self.clock = clock
        self.settings = settings
        self._swept_at: datetime | None = None
        self._retention_swept_at: datetime | None = None

    # -- one pass ---------------------------------------------------------------------------------

    def run_once(self) -> CycleReport:
        started = time.perf_counter()
        report = CycleReport()
        self._sweep_logins()
        self._sweep_retention()
        report.timers = self._fire_timers()
        report.expanded = self._expand_outbox()
        for delivery_id, recovered in self._claim_deliveries():
            self._deliver(delivery_id, recovered, report)
            self._beat()
        report.seconds = time.perf_counter() - started
        return report

    def run(self, stop: threading.Event, *, interval: float = 5.0) -> None:
        """Pass after pass until ``stop`` is set (SIGTERM); a pass in progress is finished first."""
        while not stop.is_set():
            try:
                report = self.run_once()
                # A pass that did nothing says so only at DEBUG: at one pass per 5 s that was 17,000 lines a day
                # per worker, and the heartbeat file is what tells a live worker (deploy/worker_healthcheck.py).
                log.log(logging.INFO if report.busy else logging.DEBUG, report.line())
            except Exception as error:  # noqa: BLE001 - one failed pass must not end the worker
                # The type only: messages of database errors may quote case data.
                log.error("worker cycle failed: %s", type(error).__name__)
                report = CycleReport()
            self._beat()  # a failed pass is a live worker too: a database outage is not cured by a restart
            if not report.busy:
                stop.wait(interval)

    def _beat(self) -> None:
        if self.settings.heartbeat is None:
            return
        try:
            self.settings.heartbeat.touch()
        except OSError as error:  # the health check will say so; the worker itself carries on
            log.error("worker heartbeat not written: %s", type(error).__name__)

    # -- ended sessions and old login attempts ----------------------------------------------------

    def _sweep_logins(self) -> None:
        now = self.clock()
        if self._swept_at is not None and now - self._swept_at < self.settings.sweep_every:
            return
        with self.factory() as session, session.begin():
            gone = sessions.sweep(session, now, self.settings.session_limits)
            attempts = accounts.sweep_login_attempts(session, now)
        self._swept_at = now
        log.info("worker sweep sessions=%d login_attempts=%d", gone, attempts)

    def _sweep_retention(self) -> None:
        now = self.clock()
        if self._retention_swept_at is not None and now - self._retention_swept_at < self.settings.sweep_every:
            return
        with self.factory() as session, session.begin():
            erased = retention.sweep(session, self.settings.retention, now, limit=self.settings.batch)
        self._retention_swept_at = now
        if erased:
            log.info("worker retention erased=%d", len(erased))

    # -- timers -----------------------------------------------------------------------------------

    def _fire_timers(self) -> int:
        with self.factory() as session, session.begin():
            return len(commands.fire_due_timers(session, SYSTEM, clock=self.clock, limit=self.settings.batch))

    # -- outbox → one delivery and one in-app notification per person ------------------------------

    def _expand_outbox(self) -> int:
        now = self.clock()
        with self.factory() as session, session.begin():
            rows = session.scalars(
                select(Outbox)
                .where(Outbox.status == "pending", Outbox.next_attempt_at <= now)
                .order_by(Outbox.id)
                .limit(self.settings.batch)
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                case = session.get(Case, row.case_id)
                people = recipients(session, case, row.recipient_role) if case is not None else []
                for account in people:
                    session.add(self._delivery(row, account, now))
                    session.add(
                        Notification(
                            outbox_id=row.id,
                            account_id=account.id,
                            case_id=row.case_id,
                            template=row.template,
                            created_at=now,
                        )
                    )
                row.status = "expanded" if people else "no_recipients"
                if not people:
                    log.warning("outbox %s: nobody of role %s in the scope of its case", row.id, row.recipient_role)
            return len(rows)

    def _delivery(self, row: Outbox, account: Account, now: datetime) -> MailDelivery:
        key = f"{row.idempotency_key}:{account.id}"
        return MailDelivery(
            outbox_id=row.id,
            case_id=row.case_id,
            account_id=account.id,
            idempotency_key=key,
            template=row.template,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            message_id=message_id_for(key, self.settings.mail_domain),
            created_at=now,
        )

    # -- e-mail -----------------------------------------------------------------------------------

    def _claim_deliveries(self) -> list[tuple[int, bool]]:
        """Due deliveries, and ones whose worker died (lease run out); marked ``sending`` and committed
        before anything is sent. Returns (id, whether it was recovered from a dead worker)."""
        now = self.clock()
        with self.factory() as session, session.begin():
            rows = session.scalars(
                select(MailDelivery)
                .where(
                    or_(
                        (MailDelivery.status == "pending") & (MailDelivery.next_attempt_at <= now),
                        (MailDelivery.status == "sending") & (MailDelivery.lease_until < now),
                    )
                )
                .order_by(MailDelivery.id)
                .limit(self.settings.batch)
                .with_for_update(skip_locked=True)
            ).all()
            claimed = []
            for row in rows:
                recovered = row.status == "sending"
                row.status = "sending"
                row.lease_until = now + self.settings.lease
                row.attempts += 0 if recovered else 1
                claimed.append((row.id, recovered))
            return claimed

    def _deliver(self, delivery_id: int, recovered: bool, report: CycleReport) -> None:
        now = self.clock()
        with self.factory() as session, session.begin():
            row = session.get(MailDelivery, delivery_id)
            if row is None or row.status != "sending":
                return
            account = session.get(Account, row.account_id)
            case = session.get(Case, row.case_id)
            if account is None or not account.active or case is None:
                _finish(row, "skipped", now)
                report.skipped += 1
                return
            if recovered and self.mailer.delivered(row.message_id):
                _finish(row, "sent", now)
                report.recovered += 1
                return
            try:
                self.mailer.send(self._mail(row, account, case))
            except MailError as error:
                self._failed(row, error, now, report)
                return
            _finish(row, "sent", now)
            report.sent += 1

    def _mail(self, row: MailDelivery, account: Account, case: Case) -> Mail:
        subject, text, html = render_mail(
            row.template,
            reference=case.reference,
            link=f"{self.settings.base_url}/zaken/{case.reference}",
            recipient_name=account.name,
            role=", ".join(account.roles),
        )
        return Mail(to=account.email, subject=subject, text=text, html=html, message_id=row.message_id)

    def _failed(self, row: MailDelivery, error: MailError, now: datetime, report: CycleReport) -> None:
        row.last_error = error.reason[:200]
        row.lease_until = None
        if error.permanent or row.attempts >= self.settings.max_attempts:
            row.status = "failed"
            report.failed += 1
            # The delivery id only: a template's name can tell how a case went.
            log.warning("incident: e-mail %s failed after %s attempts: %s", row.id, row.attempts, error.reason)
            return
        row.status = "pending"
        row.next_attempt_at = now + self.settings.backoff * 2 ** (row.attempts - 1)
        report.retried += 1


def _finish(row: MailDelivery, status: str, now: datetime) -> None:
    row.status = status
    row.lease_until = None
    if status == "sent":
        row.sent_at = now
