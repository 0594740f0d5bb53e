from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from engine.access import Role
from engine.accounts import create_account, ensure_organisation
from tests.support import ORGANISATION, START
from tests.worker.mailserver import RunningMailServer

# The people of the test cases (tests.support.ACTORS) and people who must NOT get their mail.
PEOPLE = (
    ("bestuurder-1", ORGANISATION, Role.BESTUURDER),
    ("bestuurder-2", ORGANISATION, Role.BESTUURDER),  # same organisation, other case
    ("werkgever-1", ORGANISATION, Role.WERKGEVER),
    ("werkgever-2", "gemeente-elders", Role.WERKGEVER),  # other organisation
    ("ccv-adviseur-1", "ccv", Role.CCV),
    ("ccv-adviseur-2", "ccv", Role.CCV),
    ("bva-1", "bzk", Role.BVA),
    ("bva-2", "bzk", Role.BVA),
    ("auditor-1", "bzk", Role.AUDITOR),
    ("beheerder-1", "bzk", Role.BEHEERDER),
)


def email_of(account_id: str) -> str:
    return f"{account_id}@voorbeeld.invalid"


def add_people(engine: Engine) -> None:
    with sessionmaker(engine)() as session, session.begin():
        for code in {org for _id, org, _role in PEOPLE}:
            ensure_organisation(session, code, code.replace("-", " ").title(), "gemeente")
        session.flush()
        for account_id, organisation, role in PEOPLE:
            create_account(
                session,
                account_id=account_id,
                name=f"Synthetische {account_id}",
                email=email_of(account_id),
                organisation=organisation,
                roles=[role],
                password_hash="niet-om-in-te-loggen",
                at=START,
            )


@pytest.fixture
def worker_database_url(db_engine: Engine) -> str:
    """The URL of an empty, migrated database, SQLite or PostgreSQL, for worker processes of their own."""
    return db_engine.url.render_as_string(hide_password=False)


@pytest.fixture
def mail_server() -> Iterator[RunningMailServer]:
    server = RunningMailServer().start()
    yield server
    server.close()
