"""The periodic sweep (engine.sessions.sweep, engine.accounts.sweep_login_attempts, run by the worker): ended web
sessions and login attempts no longer needed for throttling are deleted; valid sessions, recent attempts and each
account's last successful login stay. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from engine import accounts, sessions
from engine.access import Role
from engine.clock import FrozenClock
from engine.db import make_session_factory
from engine.model import LoginAttempt, WebSession
from engine.worker import Worker

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
LIMITS = sessions.Limits()


class NoMail:
    def send(self, mail: object) -> None:
        raise AssertionError("nothing to send")

    def delivered(self, message_id: str) -> bool | None:
        return None


def _seed_accounts(session: Session) -> None:
    accounts.ensure_organisation(session, "bzk", "BZK", "bzk")
    session.flush()
    for login in ("a", "b"):
        accounts.create_account(
            session,
            account_id=login,
            name=f"Account {login}",
            email=f"{login}@example.invalid",
            organisation="bzk",
            roles=[Role.AUDITOR],
            password_hash="x",
            at=NOW - timedelta(days=400),
        )
    session.flush()


def _session_row(
    name: str, *, created: timedelta, seen: timedelta, revoked: timedelta | None = None, done: bool = True
) -> WebSession:
    return WebSession(
        id=name,
        account_id="a",
        role="Auditor",
        second_factor_done=done,
        created_at=NOW - created,
        last_seen_at=NOW - seen,
        revoked_at=None if revoked is None else NOW - revoked,
    )


SESSIONS: dict[str, tuple[dict[str, Any], bool]] = {
    # name: (its times, kept by the sweep)
    "in-gebruik": (dict(created=timedelta(hours=2), seen=timedelta(minutes=1)), True),
    "net-beeindigd": (dict(created=timedelta(hours=3), seen=timedelta(hours=2), revoked=timedelta(hours=2)), True),
    "lang-beeindigd": (dict(created=timedelta(days=3), seen=timedelta(days=3), revoked=timedelta(days=2)), False),
    "lang-inactief": (dict(created=timedelta(days=2), seen=timedelta(days=2)), False),
    "te-oud": (dict(created=timedelta(days=2), seen=timedelta(minutes=5)), False),
    "halverwege": (dict(created=timedelta(days=2), seen=timedelta(days=2), done=False), False),
}


def _attempt(account: str, days: int, success: bool) -> LoginAttempt:
    return LoginAttempt(account_id=account, source_hash="s" * 64, success=success, at=NOW - timedelta(days=days))


def _seed(engine: Engine) -> None:
    with make_session_factory(engine)() as session, session.begin():
        _seed_accounts(session)
        session.add_all(_session_row(name, **shape) for name, (shape, _kept) in SESSIONS.items())
        session.add_all(
            [
                _attempt("a", 50, True),  # an older success: goes
                _attempt("a", 40, True),  # a's last login: stays though old
                _attempt("a", 40, False),  # old failure: goes
                _attempt("a", 10, False),  # within the lockout look-back: stays
                _attempt("b", 2, True),  # b's last login
                _attempt("b", 60, True),  # an old success of b: goes
                _attempt("?0123abc", 45, False),  # an unknown name's old failure: goes
            ]
        )


def _remaining(engine: Engine) -> tuple[set[str], list[tuple[str | None, int, bool]]]:
    with make_session_factory(engine)() as session:
        names = set(session.scalars(select(WebSession.id)))
        attempts = [
            (row.account_id, (NOW - row.at).days, row.success)
            for row in session.scalars(select(LoginAttempt).order_by(LoginAttempt.account_id, LoginAttempt.at))
        ]
    return names, attempts


def test_the_sweep_deletes_ended_sessions_and_old_attempts_only(db_engine: Engine) -> None:
    _seed(db_engine)
    with make_session_factory(db_engine)() as session, session.begin():
        assert sessions.sweep(session, NOW, LIMITS) == 4
        assert accounts.sweep_login_attempts(session, NOW) == 4
    names, attempts = _remaining(db_engine)
    assert names == {name for name, (_row, kept) in SESSIONS.items() if kept}
    assert attempts == [("a", 40, True), ("a", 10, False), ("b", 2, True)]
    with make_session_factory(db_engine)() as session:
        assert accounts.last_logins(session) == {"a": NOW - timedelta(days=40), "b": NOW - timedelta(days=2)}


def test_the_worker_sweeps_once_an_hour(db_engine: Engine) -> None:
    _seed(db_engine)
    clock = FrozenClock(NOW)
    worker = Worker(make_session_factory(db_engine), NoMail(), clock=clock)
    worker.run_once()
    names, _attempts = _remaining(db_engine)
    assert names == {"in-gebruik", "net-beeindigd"}
    with make_session_factory(db_engine)() as session, session.begin():
        late = SESSIONS["lang-beeindigd"][0]
        session.add(_session_row("nog-een", **late))
    clock.advance(timedelta(minutes=59))
    worker.run_once()
    assert "nog-een" in _remaining(db_engine)[0]  # not swept again within the hour
    clock.advance(timedelta(minutes=2))
    worker.run_once()
    assert _remaining(db_engine)[0] == {"in-gebruik", "net-beeindigd"}


def test_the_worker_uses_the_apps_session_timeouts() -> None:
    limits = sessions.limits_from_env(
        {"REGELING_SESSION_ABSOLUTE_TIMEOUT": "86400", "REGELING_SESSION_IDLE_TIMEOUT": "x"}
    )
    assert limits.absolute == timedelta(days=1) and limits.idle == LIMITS.idle
