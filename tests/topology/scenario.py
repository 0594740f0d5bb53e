"""The cases the topology test drives through HTTP: who plays each role, the three kinds of case, and a runner
that walks one case's steps of one phase as the people would (GET the page, POST the form with its token).

The clock is shared by all processes, so every case lives through the same advances: a phase is everything
between two of them. Most cases take the shortest complete path (an aanmelding that is not eligible); some wait
for a reminder and end by aftreden; some take the main path with its objection period.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from engine import totp
from engine.access import Role
from engine.accounts import create_account, ensure_organisation, hash_password
from engine.model import Case, HumanTask
from tests.processes.paths import BEZWAARTERMIJN_VERSTREKEN, PATHS, aanmelding, aftreden
from tests.processes.steps import Advance, Complete, ExpectReady, Message
from tests.support import ROOT
from tests.topology.browser import Browser, Response, Statuses
from tests.websupport import PASSWORD, TOTP_SECRET, form_fields

Step = Complete | Message | ExpectReady
ORGANISATION = ("gemeente-topologie", "Gemeente Topologie", "gemeente")
BESTUURDERS = tuple(f"bestuurder-{n:02d}" for n in range(1, 21))
# One person in each other role, so every hand-over mails exactly one person however the worker's expansion
# and the case's progress interleave (a CCV hand-over goes to every adviser until one takes the case on).
PLAYERS = {Role.WERKGEVER: "werkgever-topologie", Role.CCV: "ccv-topologie", Role.BVA: "bva-topologie"}
PDF = b"%PDF-1.4\n% synthetic topology test document\n%%EOF\n"
ADVANCE = BEZWAARTERMIJN_VERSTREKEN.by


@dataclass(frozen=True)
class Plan:
    """A kind of case: its steps before the clock advances and after, and the end event it must reach."""

    name: str
    before: tuple[Step, ...]
    after: tuple[Step, ...]
    end_event: str


def plans() -> dict[str, Plan]:
    main = next(p for p in PATHS if p.name == "in_natura_zonder_bezwaar_dan_aftreden")
    advances = [i for i, step in enumerate(main.steps) if isinstance(step, Advance)]
    assert len(advances) == 1 and main.steps[advances[0]] == Advance(ADVANCE), "the main path changed its timers"
    split = advances[0]
    refused = next(p for p in PATHS if p.name == "niet_in_aanmerking_raadslid")
    return {
        "weigering": Plan("weigering", refused.steps, (), refused.end_event),  # type: ignore[arg-type]
        "herinnering_aftreden": Plan(
            "herinnering_aftreden", (aanmelding(),), tuple(aftreden()), "end_beeindigd_na_aftreden"
        ),
        "hoofdpad": Plan("hoofdpad", main.steps[:split], main.steps[split + 1 :], main.end_event),  # type: ignore[arg-type]
    }


def email_of(login: str) -> str:
    return f"{login}@voorbeeld.invalid"


def seed_people(engine: Engine, at: datetime) -> None:
    code, name, kind = ORGANISATION
    people = [(login, Role.BESTUURDER) for login in BESTUURDERS] + [(login, role) for role, login in PLAYERS.items()]
    organisations = {Role.BESTUURDER: code, Role.WERKGEVER: code, Role.CCV: "ccv", Role.BVA: "bzk"}
    password_hash = hash_password(PASSWORD)
    with Session(engine) as session, session.begin():
        ensure_organisation(session, code, name, kind)
        ensure_organisation(session, "ccv", "CCV", "ccv")
        ensure_organisation(session, "bzk", "BZK", "rijk")
        session.flush()
        for login, role in people:
            account = create_account(
                session,
                account_id=login,
                name=f"Topologie {login}",
                email=email_of(login),
                organisation=organisations[role],
                roles=[role],
                password_hash=password_hash,
                at=at,
            )
            account.totp_secret, account.totp_enabled_at = TOTP_SECRET, at


def log_in(ports: list[int], statuses: Statuses, login: str, now: datetime) -> dict[str, str]:
    """Password, then the code the authenticator shows at the shared clock; returns the login's cookies."""
    browser = Browser(ports, statuses)
    try:
        first = browser.post(
            "/inloggen",
            {"gebruikersnaam": login, "wachtwoord": PASSWORD, "csrf_token": browser.get("/inloggen").token()},
        )
        assert (first.status, first.location) == (302, "/inloggen/code"), f"{login}: {first.status} {first.location}"
        code = totp.code_at(TOTP_SECRET, now)
        second = browser.post("/inloggen/code", {"code": code, "csrf_token": browser.get("/inloggen/code").token()})
        assert second.status == 302 and not second.location.startswith("/inloggen"), f"{login}: {second.status}"
        return browser.cookies
    finally:
        browser.close()


@cache
def upload_fields(form: str) -> frozenset[str]:
    schema = json.loads((ROOT / "forms" / form).read_text(encoding="utf-8"))
    return frozenset(k for k, v in schema.get("properties", {}).items() if v.get("x-widget") == "upload")


@dataclass
class CaseRun:
    """One case, walked by its people; ``reference`` is known after the aanmelding."""

    plan: Plan
    bestuurder: str
    engine: Engine
    ports: list[int]
    statuses: Statuses
    reference: str = ""
    conflicts: int = 0
    browsers: dict[str, Browser] = field(default_factory=dict)

    def run(self, steps: tuple[Step, ...], cookies: dict[str, dict[str, str]]) -> None:
        try:
            for number, step in enumerate(steps, start=1):
                try:
                    self.step(step, cookies)
                except AssertionError as error:
                    error.add_note(f"{self.plan.name} {self.reference or '(new)'}, step {number}: {step}")
                    raise
        finally:
            for browser in self.browsers.values():
                browser.close()
            self.browsers.clear()

    def step(self, step: Step, cookies: dict[str, dict[str, str]]) -> None:
        if isinstance(step, ExpectReady):
            ready = sorted(t.bpmn_id for t in self.open_tasks())
            assert ready == sorted(step.tasks), f"ready {ready}, expected {sorted(step.tasks)}"
            return
        browser = self.browser(step.role, cookies)
        if isinstance(step, Message):
            self.message(browser, step)
        elif not self.reference:
            self.apply(browser, step)
        else:
            self.complete(browser, step)

    def browser(self, role: str, cookies: dict[str, dict[str, str]]) -> Browser:
        login = self.bestuurder if role == Role.BESTUURDER.value else PLAYERS[Role(role)]
        if login not in self.browsers:
            self.browsers[login] = Browser(self.ports, self.statuses, cookies[login])
        return self.browsers[login]

    def apply(self, browser: Browser, step: Complete) -> None:
        page = browser.get("/aanmelden")
        assert page.status == 200, page.status
        response = browser.post(
            "/aanmelden", {**form_fields(step.data), "_actie": "versturen", "csrf_token": page.token()}
        )
        assert response.status == 302 and response.location.startswith("/zaken/BV-"), refusal(response)
        self.reference = response.location.rsplit("/", 1)[-1]

    def complete(self, browser: Browser, step: Complete) -> None:
        for _attempt in range(5):
            task = self.open_task(step.task)
            url = f"/zaken/{self.reference}/taken/{task.task_guid}"
            page = browser.get(url)
            assert page.status == 200, page.status
            uploads = upload_fields(task.form or "")
            fields = form_fields({k: v for k, v in step.data.items() if k not in uploads})
            files = {k: (f"{v}.pdf", PDF) for k, v in step.data.items() if k in uploads}
            form = {**fields, "lock_version": page.lock_version(), "csrf_token": page.token(), "_actie": "versturen"}
            response = browser.post(url, form, files)
            if response.status != 409:  # a designed "busy, try again": the case was locked by someone else
                assert response.status == 302 and response.location == "/taken", refusal(response)
                return
            self.conflicts += 1
        raise AssertionError(f"{step.task}: still 409 after 5 attempts")

    def message(self, browser: Browser, step: Message) -> None:
        url = f"/zaken/{self.reference}/berichten/{step.name}"
        page = browser.get(url)
        assert page.status == 200, page.status
        response = browser.post(url, {**form_fields(step.payload), "_actie": "versturen", "csrf_token": page.token()})
        assert response.status == 302, refusal(response)
        assert "is verwerkt" in browser.get(response.location).text, f"the message {step.name} was not taken"

    def open_tasks(self) -> list[HumanTask]:
        with Session(self.engine) as session:
            return list(
                session.scalars(
                    select(HumanTask)
                    .join(Case, Case.id == HumanTask.case_id)
                    .where(Case.reference == self.reference, HumanTask.state == "open")
                    .order_by(HumanTask.id)
                )
            )

    def open_task(self, bpmn_id: str) -> HumanTask:
        for task in self.open_tasks():
            if task.bpmn_id == bpmn_id:
                return task
        raise AssertionError(f"{bpmn_id} is not open in {self.reference}: {[t.bpmn_id for t in self.open_tasks()]}")


def refusal(response: Response) -> str:
    errors = [line.strip() for line in response.text.splitlines() if "fout" in line.lower()][:5]
    return f"status {response.status} location {response.location!r} {errors}"
