"""A seeded database (migrated, processes deployed, demo accounts and cases) built once per test run and
copied for each test, and helpers to act as one of the demo accounts through the Flask test client."""

from __future__ import annotations

import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Column, Integer, Table, func, select, text
from sqlalchemy.orm import Session

from engine import bundles, cache, demo, totp
from engine.db import make_engine, make_session_factory, migrate
from engine.model import Account, Base, Case, Document, HumanTask
from web import create_app, security
from web.db import Database

PROJECT = Path(__file__).resolve().parent.parent
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
PASSWORD = demo.DEMO_PASSWORD
# Every account of the test database has this TOTP secret (the demo of `make run` has none: it enrols).
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def build_seeded_database(path: Path) -> dict[str, str]:
    """Create the template database; returns login -> reference of the demo case of each bestuurder."""
    return seed_database(f"sqlite:///{path}")


def seed_database(url: str) -> dict[str, str]:
    """Migrate the (empty) database at ``url`` and seed it: processes, demo accounts with TOTP, demo cases."""
    engine = make_engine(url)
    migrate(engine)
    with make_session_factory(engine)() as session, session.begin():
        bundles.deploy(session, bundles.read_bundle([PROJECT / "processes"]), actor="test", comment="test", at=START)
        references = demo.seed(session, at=START)
        for account in session.scalars(select(Account)):
            account.totp_secret, account.totp_enabled_at = TOTP_SECRET, START
    engine.dispose()
    cache.clear()
    return dict(zip([login for login, _urgent, _steps in demo.CASES], references, strict=True))


def copy_database(template: Path, target: Path) -> str:
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


class SeededTemplate(Protocol):
    """A seeded database that tests get copies of, and copies are put back to."""

    def copy(self, workdir: Path) -> str: ...

    def restore(self, url: str) -> None: ...

    def discard(self, url: str) -> None: ...


@dataclass(frozen=True)
class SqliteTemplate:
    path: Path

    def copy(self, workdir: Path) -> str:
        return copy_database(self.path, workdir / "site.db")

    def restore(self, url: str) -> None:
        shutil.copyfile(self.path, url.removeprefix("sqlite:///"))

    def discard(self, url: str) -> None:
        """The copy lives in the test's tmp_path."""


class PostgresTemplate:
    """The seeded database on PostgreSQL, made once per run and kept as rows in memory. A test's copy is that
    same database put back to those rows (a fresh database per test would cost a checkpoint on every DROP): other
    connections to it are ended, every table emptied and refilled, and the id sequences set past the rows."""

    def __init__(self, server_url: str) -> None:
        self.server = make_engine(server_url).execution_options(isolation_level="AUTOCOMMIT")
        self.name = f"regeling_site_{uuid.uuid4().hex[:12]}"
        self.url = self.server.url.set(database=self.name).render_as_string(hide_password=False)
        self._execute(f'CREATE DATABASE "{self.name}"')
        self.cases = seed_database(self.url)
        self.engine = make_engine(self.url)
        with self.engine.connect() as connection:
            self.rows = {t.name: [dict(r) for r in connection.execute(select(t)).mappings()] for t in _tables()}

    def copy(self, _workdir: Path) -> str:
        self.restore(self.url)
        return self.url

    def restore(self, url: str) -> None:
        assert url == self.url, "not the database of this template"
        with self.engine.begin() as connection:
            connection.execute(_END_OTHER_CONNECTIONS, {"name": self.name})
            connection.execute(text("SET LOCAL lock_timeout = '10s'"))  # a lock held anyway fails, never hangs
            for table in reversed(_tables()):
                connection.execute(table.delete())
            for table in _tables():
                if self.rows[table.name]:
                    connection.execute(table.insert(), self.rows[table.name])
                for column in _serial_columns(table):
                    sequence = func.pg_get_serial_sequence(f'"{table.name}"', column.name)
                    connection.execute(select(func.setval(sequence, func.coalesce(func.max(column), 0) + 1, False)))
        self.engine.dispose()

    def discard(self, url: str) -> None:
        """The database stays for the next test; ``drop`` removes it at the end of the run."""

    def drop(self) -> None:
        self.engine.dispose()
        self._execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self.server.dispose()

    def _execute(self, statement: str) -> None:
        with self.server.connect() as connection:
            connection.execute(text(statement))


_END_OTHER_CONNECTIONS = text(
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()"
)


def _tables() -> list[Table]:
    return list(Base.metadata.sorted_tables)


def _serial_columns(table: Table) -> list[Column[Any]]:
    return [
        column
        for column in table.primary_key.columns
        if isinstance(column.type, Integer) and not column.foreign_keys and column.autoincrement in (True, "auto")
    ]


@dataclass
class Site:
    """The app under test, its clock and the demo cases (login of the bestuurder -> reference)."""

    app: Flask
    clock: Any
    cases: dict[str, str]
    template: SeededTemplate | None = None

    def restore(self) -> None:
        """The seeded database again (sessions included: everyone logs in anew); the app keeps its URL."""
        assert self.template is not None, "this site was not made from a template"
        database: Database = self.app.extensions["regeling.db"]
        database.engine.dispose()
        self.template.restore(str(self.app.config["DATABASE_URL"]))
        cache.clear()

    def client(self, login: str | None = None) -> FlaskClient:
        client = self.app.test_client()
        if login is not None:
            log_in(client, login)
        return client

    def open_task(self, reference: str, bpmn_id: str | None = None) -> HumanTask:
        with self.session() as session:
            query = (
                select(HumanTask)
                .join(Case, Case.id == HumanTask.case_id)
                .where(Case.reference == reference, HumanTask.state == "open")
            )
            if bpmn_id:
                query = query.where(HumanTask.bpmn_id == bpmn_id)
            task = session.scalars(query.order_by(HumanTask.id)).first()
            assert task is not None, f"no open task {bpmn_id or ''} in {reference}"
            return task

    def case(self, reference: str) -> Case:
        with self.session() as session:
            case = session.scalar(select(Case).where(Case.reference == reference))
            assert case is not None
            return case

    def documents(self, reference: str) -> list[Document]:
        with self.session() as session:
            return list(
                session.scalars(
                    select(Document).join(Case, Case.id == Document.case_id).where(Case.reference == reference)
                )
            )

    def session(self) -> Session:
        database: Database = self.app.extensions["regeling.db"]
        return database.reader()


def csrf_of(client: FlaskClient) -> str:
    """The CSRF token of the client's session: derived from the login cookie's token when logged in, else
    the anonymous one in Flask's cookie (made by visiting a page if there is none yet)."""
    app = client.application
    cookie = client.get_cookie(app.config["AUTH_COOKIE_NAME"], domain=_cookie_domain(client))
    if cookie is not None:
        return security.csrf_for_token(app.config["SECRET_KEY"], cookie.value)
    with client.session_transaction() as session:
        token = session.get("csrf")
    if token is None:
        client.get("/inloggen")
        with client.session_transaction() as session:
            token = session["csrf"]
    return str(token)


def _cookie_domain(client: FlaskClient) -> str:
    return client.application.config.get("SERVER_NAME") or "localhost"


def totp_code(app: Flask, login: str) -> str:
    """The code the account's authenticator app shows at the app's (injected) clock. A test shortcut: the
    account's replay marker is cleared first, so the same frozen moment can log in more than once."""
    database: Database = app.extensions["regeling.db"]
    with database.writer() as session, session.begin():
        account = session.get(Account, login)
        assert account is not None and account.totp_secret, f"{login} has no TOTP secret"
        account.totp_last_step = None
        secret = account.totp_secret
    return totp.code_at(secret, app.config["CLOCK"]())


def log_in(client: FlaskClient, login: str, password: str = PASSWORD) -> Any:
    """Password, then the TOTP code (as a person with the app would); returns the last response."""
    first = client.post(
        "/inloggen", data={"gebruikersnaam": login, "wachtwoord": password, "csrf_token": csrf_of(client)}
    )
    if first.status_code != 302 or first.headers["Location"] != "/inloggen/code":
        return first
    return post(client, "/inloggen/code", {"code": totp_code(client.application, login)})


def post(client: FlaskClient, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """A POST as a browser sends it: with the session's CSRF token."""
    return client.post(url, data={"csrf_token": csrf_of(client), **(data or {})}, **kwargs)


def form_fields(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Engine-shaped form data as the browser posts it: slash paths, yes/no as ja/nee."""
    fields: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, bool):
            fields[path] = "ja" if value else "nee"
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for index, row in enumerate(value):
                fields.update(form_fields(row, f"{path}/{index}/"))
        else:
            fields[path] = value if isinstance(value, list) else str(value)
    return fields


def lock_version_of(html: str) -> str:
    match = re.search(r'name="lock_version" value="(\d+)"', html)
    assert match, "the form carries no lock_version"
    return match.group(1)


def make_app(url: str, clock: Any, **config: Any) -> Flask:
    return create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": "test-secret-key-not-for-production",
            "CLOCK": clock,
            "TESTING": False,
            **config,
        }
    )
