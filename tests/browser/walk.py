"""Walk a path of the regeling (tests/processes/paths.py) through the web UI in real Chromium.

Every role acts in a browser session of its own (its own ``new_page()``, logged in through /inloggen): it opens
"Mijn taken", clicks the task of the case, fills the form field by field from the step's data, presses
Versturen and reads the flash message. Messages go through the link on the case page; Advance moves the app's
injected clock and fires the due timers with the engine, as the (not yet existing) worker will.

    walk = Walk(base, site.app, site.clock, new_page, GEMEENTE)
    reference = walk.run(path)
    walk.assert_clean()
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from flask import Flask
from playwright.sync_api import FilePayload, Locator, Page, expect
from sqlalchemy import select

from engine import commands
from engine.access import SYSTEM
from engine.clock import FrozenClock
from engine.model import Case, HumanTask
from tests.browser.support import PageProblems, watch
from tests.processes.steps import Advance, Complete, ExpectReady, Message, Path
from tests.websupport import PASSWORD, totp_code
from web.db import Database

# A real, tiny PDF: the upload check sniffs the content, so the bytes must start with %PDF-.
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Count 0/Kids[]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)

# Who plays each role (engine/demo.py ACCOUNTS), per organisation.
GEMEENTE = {"Bestuurder": "burgemeester", "Werkgever": "werkgever-gemeente", "CCV": "ccv-adviseur-1", "BVA": "bva"}
PROVINCIE = {
    "Bestuurder": "gedeputeerde",
    "Werkgever": "werkgever-provincie",
    "CCV": "ccv-adviseur-2",
    "BVA": "bva",
}


def field_id(path: str) -> str:
    """The id the form macros give the input of a slash path (``maatregelen/0/omschrijving``)."""
    return "veld-" + path.replace("/", "-")


def dutch_number(value: float) -> str:
    """A number as a Dutch user types it: 3.500 and 1.250,5 (thousands dots, decimal comma)."""
    number = Decimal(str(value))
    whole = int(abs(number))
    text = f"{whole:,}".replace(",", ".")
    fraction = abs(number) - whole
    if fraction:
        text += "," + str(fraction).split(".")[1]
    return ("-" if number < 0 else "") + text


def log_in(page: Page, base: str, login: str, app: Flask) -> None:
    page.goto(base + "/inloggen")
    page.get_by_label("Gebruikersnaam").fill(login)
    page.get_by_label("Wachtwoord").fill(PASSWORD)
    page.locator("#inloggen").click()
    # the second step: the code the account's authenticator app shows at the app's clock
    page.get_by_label("Code of herstelcode").fill(totp_code(app, login))
    page.locator("#bevestigen").click()
    expect(page.locator("#uitloggen")).to_be_visible()


def fill_form(page: Page, data: Mapping[str, Any], prefix: str = "") -> None:
    """Fill a rendered form from engine-shaped data, one field at a time as a person would.

    Rows of a repeatable group are added with its "Rij toevoegen" button; every upload field gets a real PDF
    (the path data carries made-up document ids there).
    """
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, list) and value and isinstance(value[0], Mapping):
            _fill_rows(page, path, value)
        else:
            fill_field(page, path, value)


def _fill_rows(page: Page, path: str, rows: list[Mapping[str, Any]]) -> None:
    group = page.locator(f"#{field_id(path)}")
    for index, row in enumerate(rows):
        row_box = page.locator(f"#{field_id(f'{path}/{index}')}")
        if row_box.count() == 0:
            group.get_by_role("button", name=re.compile(r"^Rij toevoegen")).click()
            # the page comes back opened at the new row, not at the top of the form
            expect(page).to_have_url(re.compile(f"#{field_id(f'{path}/{index}')}$"))
            expect(row_box).to_be_in_viewport()
        fill_form(page, row, f"{path}/{index}/")


def fill_field(page: Page, path: str, value: Any) -> None:
    if isinstance(value, bool):
        checkbox = page.locator(f"input[type=checkbox]#{field_id(path)}")
        if checkbox.count():
            checkbox.set_checked(value)
        else:
            _option(page, path, "ja" if value else "nee").check()
        return
    widget = page.locator(f"#{field_id(path)}")
    kind = widget.evaluate("e => e.tagName.toLowerCase() + ':' + (e.type || '')")
    if kind == "input:file":
        name = path.rsplit("/", 1)[-1]
        pdf: FilePayload = {"name": f"{name}.pdf", "mimeType": "application/pdf", "buffer": PDF}
        widget.set_input_files(files=pdf)
    elif kind.startswith("select"):
        widget.select_option(str(value))
    elif kind == "input:radio":
        _option(page, path, str(value)).check()
    elif isinstance(value, int | float):
        widget.fill(dutch_number(value))
    else:
        widget.fill(str(value))


def _option(page: Page, path: str, value: str) -> Locator:
    return page.locator(f'input[type=radio][name="{path}"][value="{value}"]')


def forgiven(problems: PageProblems, status: int) -> None:
    """Drop the responses with ``status`` (and Chromium's console line about each) from ``problems``."""
    problems.failed_responses[:] = [f for f in problems.failed_responses if not f.startswith(f"HTTP {status} ")]
    problems.console_errors[:] = [e for e in problems.console_errors if f"status of {status} " not in e]


def submit(page: Page) -> None:
    """Press Versturen; fail with the page's error summary if the form came back with errors."""
    page.locator("#versturen").click()
    page.wait_for_load_state()
    summary = page.locator(".foutoverzicht")
    if summary.count():
        raise AssertionError(f"the form was refused on {page.url}:\n{summary.inner_text()}")


@dataclass
class Walk:
    """One case walked through the UI; each role in its own browser session."""

    base: str
    app: Flask
    clock: FrozenClock
    new_page: Callable[..., Page]
    logins: Mapping[str, str]
    reference: str = ""
    pages: dict[str, Page] = field(default_factory=dict)
    problems: dict[str, PageProblems] = field(default_factory=dict)
    # hooks, bpmn id -> called once with the page: the inbox before the click, the task page as it opened,
    # the task page filled in before Versturen
    in_inbox: dict[str, Callable[[Page], None]] = field(default_factory=dict)
    on_open: dict[str, Callable[[Page], None]] = field(default_factory=dict)
    before_submit: dict[str, Callable[[Page], None]] = field(default_factory=dict)
    claim: set[str] = field(default_factory=set)  # bpmn ids taken with "Oppakken" in the inbox, not the link

    # -- sessions ------------------------------------------------------------------------------------------

    def page(self, role: str) -> Page:
        login = self.logins[role]
        if login not in self.pages:
            page = self.new_page()
            self.problems[login] = watch(page)
            log_in(page, self.base, login, self.app)
            self.pages[login] = page
        return self.pages[login]

    def assert_clean(self) -> None:
        for login, problems in self.problems.items():
            assert not problems.all(), f"problems on the pages of {login}:\n" + "\n".join(problems.all())

    def forgive(self, role: str, status: int) -> None:
        """Forget the responses with ``status`` seen so far by ``role``: a step provoked them on purpose."""
        forgiven(self.problems[self.logins[role]], status)

    # -- steps ----------------------------------------------------------------------------------------------

    def run(self, path: Path) -> str:
        for number, step in enumerate(path.steps, start=1):
            try:
                self.step(step)
            except Exception as error:
                error.add_note(f"path {path.name!r}, step {number}: {step}")
                raise
        return self.reference

    def step(self, step: Complete | Message | Advance | ExpectReady) -> None:
        if isinstance(step, Complete) and not self.reference:
            self.apply_for(step)
        elif isinstance(step, Complete):
            self.complete(step)
        elif isinstance(step, Message):
            self.message(step)
        elif isinstance(step, Advance):
            self.advance(step)
        else:
            self.expect_ready(step)

    def apply_for(self, step: Complete) -> None:
        """The aanmelding: /aanmelden starts the case and completes its first task."""
        assert step.task == "aanmelding", step
        page = self.page(step.role)
        page.get_by_role("link", name="Aanmelden").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Aanmelding beveiligingsmaatregelen")
        fill_form(page, step.data)
        submit(page)
        flash = page.locator(".melding")
        expect(flash).to_contain_text("Uw aanmelding is ontvangen onder zaaknummer")
        match = re.search(r"zaaknummer (\S+?)\.", flash.inner_text())
        assert match, flash.inner_text()
        self.reference = match.group(1)
        expect(page.locator("#zaakstatus")).to_contain_text("Lopend")

    def open_task(self, role: str, bpmn_id: str) -> tuple[Page, str]:
        """Open "Mijn taken" and click this case's task; returns the page and the task's name."""
        page = self.page(role)
        page.get_by_role("link", name="Mijn taken").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Mijn taken")
        # the step filter names the steps of this lane: the task's name as the user reads it
        name = page.locator(f'#f-stap option[value="{bpmn_id}"]').inner_text().strip()
        link = page.get_by_role("link", name=name, exact=True)
        row = page.locator("table.taken tbody tr").filter(has_text=self.reference).filter(has=link).first
        if bpmn_id in self.in_inbox:
            self.in_inbox.pop(bpmn_id)(page)
        if bpmn_id in self.claim:
            row.get_by_role("button", name=f"Oppakken ({self.reference}, {name})").click()
            expect(page.locator(".melding")).to_have_text("U heeft de taak opgepakt.")
            expect(page.get_by_text("opgepakt door")).to_be_visible()
        else:
            row.get_by_role("link", name=name, exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(name)  # and the measure, if one
        expect(page.locator(".kruimel")).to_contain_text(self.reference)
        return page, name

    def complete(self, step: Complete) -> None:
        page, name = self.open_task(step.role, step.task)
        if step.task in self.on_open:
            self.on_open.pop(step.task)(page)
        fill_form(page, step.data)
        if step.task in self.before_submit:
            self.before_submit.pop(step.task)(page)
        submit(page)
        expect(page.locator(".melding")).to_have_text(f"‘{name}’ is afgerond.")
        expect(page.get_by_role("heading", level=1)).to_have_text("Mijn taken")

    def message(self, step: Message) -> None:
        page = self.open_case(step.role)
        link = page.locator(f'a[href$="/berichten/{step.name}"]')
        label = link.inner_text().strip()
        link.click()
        expect(page.get_by_role("heading", level=1)).to_have_text(label)
        fill_form(page, step.payload)
        submit(page)
        expect(page.locator(".melding")).to_have_text(f"‘{label}’ is verwerkt.")

    def open_case(self, role: str) -> Page:
        page = self.page(role)
        page.goto(f"{self.base}/zaken/{self.reference}")
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Zaak {self.reference}")
        return page

    def advance(self, step: Advance) -> None:
        self.clock.advance(step.by)
        database: Database = self.app.extensions["regeling.db"]
        with database.writer() as session, session.begin():
            commands.fire_due_timers(session, SYSTEM, clock=self.clock)

    def expect_ready(self, step: ExpectReady) -> None:
        ready = Counter(task.bpmn_id for task in self.open_tasks())
        assert ready == Counter(step.tasks), f"ready {sorted(ready.elements())}, expected {sorted(step.tasks)}"

    # -- reading the case back (the engine, not the UI) -----------------------------------------------------

    def open_tasks(self) -> Iterable[HumanTask]:
        database: Database = self.app.extensions["regeling.db"]
        with database.reader() as session:
            return list(
                session.scalars(
                    select(HumanTask)
                    .join(Case, Case.id == HumanTask.case_id)
                    .where(Case.reference == self.reference, HumanTask.state == "open")
                )
            )

    def case(self) -> tuple[Case, dict[str, Any]]:
        """The case row and its process data."""
        database: Database = self.app.extensions["regeling.db"]
        with database.reader() as session:
            case = commands.find_case(session, self.reference)
            return case, commands.load_workflow(session, case).data
