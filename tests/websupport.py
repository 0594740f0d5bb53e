"""A seeded database (migrated, processes deployed, demo accounts and cases) built once per test run and
copied for each test, and helpers to act as one of the demo accounts through the Flask test client."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import bundles, cache, demo, totp
from engine.db import make_engine, make_session_factory, migrate
from engine.model import Account, Case, Document, HumanTask
from web import create_app, security
from web.db import Database

PROJECT = Path(__file__).resolve().parent.parent
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
PASSWORD = demo.DEMO_PASSWORD
# Every account of the test database has this TOTP secret (the demo of `make run` has none: it enrols).
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def build_seeded_database(path: Path) -> dict[str, str]:
    """Create the template database; returns login -> reference of the demo case of each bestuurder."""
    engine = make_engine(f"sqlite:///{path}")
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


@dataclass
class Site:
    """The app under test, its clock and the demo cases (login of the bestuurder -> reference)."""

    app: Flask
    clock: Any
    cases: dict[str, str]

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
