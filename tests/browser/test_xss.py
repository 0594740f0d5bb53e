"""Scenario X3 in real Chromium, with the app's own CSP: stored-XSS payloads typed into every free-text field of
the aanmelding (the name included), of the werkgever's input and of two CCV tasks (contact_organisatie,
intakeverslag, whose upload also gets a payload as its file name), then every page that shows them opened as
the roles that see them: the forms given back with errors or as a draft, the case page with its steps and
timeline, the task page with the earlier steps, the inbox, the case list and the bell.

On every page: no payload ran (``window.__xss``), none became an element or an attribute (``[onerror]``,
``[onload]``, an inline ``<script>``, a ``javascript:`` link), the CSP reported no violation (none is expected:
escaped text triggers nothing), ``{{7*7}}`` is shown as typed and never as 49, the console is clean, and the
payloads the role may see are there as text, character for character.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from flask import Flask
from playwright.sync_api import FilePayload, Page, expect
from sqlalchemy import select

from engine.model import Case, HumanTask
from tests.browser.support import PageProblems, watch
from tests.browser.walk import PDF, field_id, fill_field, fill_form, forgiven, submit
from tests.websupport import PASSWORD, totp_code

SCRIPT = "<script>window.__xss=1</script>"
IMG = '<img src=x onerror="window.__xss=1">'
SVG = '"><svg onload=window.__xss=1>'
JS_URL = "javascript:window.__xss=1"
TEMPLATE = "T{{7*7}}T"
ALL = f"{SCRIPT} {IMG} {SVG} {JS_URL} {TEMPLATE}"


def payload(tag: str) -> str:
    """Every payload at once, behind a tag naming the field (so a page can be asked for this very value)."""
    return f"{tag}: {ALL}"


# The free-text fields of each form with what is typed into them (within each field's maxLength).
AANMELDING_TEXT = {
    "naam": payload("naam"),
    "organisatie_naam": payload("organisatie"),
    "telefoon_prive": SVG,  # at most 30 characters
    "email_prive": f"{SVG}@voorbeeld.invalid".replace(" ", ""),
    "woonadres": payload("adres"),
    "ontheffing_referentie": f"kenmerk {SVG} {TEMPLATE} {JS_URL}",  # at most 100
    "urgentie_reden": payload("urgentie"),
}
AANMELDING = {
    "functie": "burgemeester",
    "ambtsstatus": "in_ambt",
    "organisatie_type": "gemeente",
    "datum_benoeming": "2024-03-01",
    "ontheffing_woonplaatsvereiste": True,
    "acute_dreiging": True,
    "toestemming_contact_organisatie": True,
    "toestemming_delen_advies": True,
}
CONTACT = {"contactpersoon_organisatie": payload("contactpersoon")}
INPUT_ORGANISATIE = {
    "lokaal_dreigingsbeeld": payload("dreigingsbeeld"),
    "bekende_incidenten": payload("incidenten"),
    "eigen_maatregelen_organisatie": payload("maatregelen"),
}
INTAKE = {"intakeverslag_samenvatting": payload("intake")}
UPLOAD_NAME = '<img src=x onerror="window.__xss=1">{{7*7}}.pdf'

# Which typed values each role must find on the case page (forms/visibility.json), and which it must not.
SEEN_BY = {
    "burgemeester": (["naam", "organisatie", "adres", "urgentie"], ["contactpersoon", "dreigingsbeeld", "intake"]),
    "werkgever-gemeente": (
        ["naam", "organisatie", "contactpersoon", "dreigingsbeeld"],
        ["adres", "urgentie", "intake"],
    ),
    "ccv-adviseur-1": (["naam", "adres", "contactpersoon", "dreigingsbeeld", "intake"], []),
    "auditor": (["naam", "adres", "urgentie", "contactpersoon", "incidenten", "intake"], []),
}

# Collects what the CSP refused, from before the page's own code runs (Playwright's init scripts are not
# subject to the page's CSP).
CSP_LISTENER = """
document.addEventListener('securitypolicyviolation', e => {
  (window.__csp = window.__csp || []).push(e.violatedDirective + ' ' + (e.blockedURI || '') + ' ' + e.sample);
});
"""
INJECTED = """() => ({
  xss: typeof window.__xss,
  csp: window.__csp || [],
  handlers: document.querySelectorAll('[onerror], [onload], [onclick], [onmouseover]').length,
  inline: [...document.scripts].filter(s => !s.src && s.type !== 'application/json').length,
  jsLinks: [...document.querySelectorAll('a[href], form[action], iframe[src]')]
      .map(e => e.getAttribute('href') || e.getAttribute('action') || e.getAttribute('src'))
      .filter(url => /^\\s*javascript:/i.test(url)).length,
  html: document.documentElement.outerHTML,
  text: document.body.textContent,
})"""


class Browser:
    """One browser session per login, each watched for console errors, CSP reports and failed requests."""

    def __init__(self, app: Flask, base: str, new_page: Callable[..., Page]) -> None:
        self.app, self.base, self.new_page = app, base, new_page
        self.pages: dict[str, Page] = {}
        self.problems: dict[str, PageProblems] = {}
        self.visited: list[str] = []

    def as_(self, login: str) -> Page:
        if login not in self.pages:
            page = self.new_page()
            page.add_init_script(CSP_LISTENER)
            self.problems[login] = watch(page)
            log_in(page, self.base, self.app, login)
            self.pages[login] = page
        return self.pages[login]

    def check(self, login: str, what: str, *, shows: Sequence[str] = (), hides: Sequence[str] = ()) -> str:
        """No payload ran or became markup on the page as it stands; ``shows`` are there as text."""
        page = self.pages[login]
        page.wait_for_load_state("load")
        state: dict[str, Any] = page.evaluate(INJECTED)
        where = f"{what} as {login} ({page.url})"
        self.visited.append(where)
        assert state["xss"] == "undefined", f"a payload ran on {where}"
        assert state["handlers"] == 0, f"a payload became an event-handler attribute on {where}"
        assert state["inline"] == 0, f"an inline script on {where}"
        assert state["jsLinks"] == 0, f"a javascript: URL became a link on {where}"
        assert state["csp"] == [], f"CSP violations on {where}: {state['csp']}"
        assert "T49T" not in state["text"] and "T49T" not in state["html"], f"{{{{7*7}}}} was evaluated on {where}"
        for tag in shows:
            assert payload(tag) in state["text"], f"the {tag} value is not shown as typed on {where}"
        for tag in hides:
            assert f"{tag}: " not in state["text"], f"the {tag} value reached {where}"
        problems = self.problems[login]
        assert not problems.all(), f"problems on {where}:\n" + "\n".join(problems.all())
        return str(state["text"])


def log_in(page: Page, base: str, app: Flask, login: str) -> None:
    """As tests/browser/walk.py, with the second step when the login asks for it."""
    page.goto(f"{base}/inloggen")
    page.fill("#gebruikersnaam", login)
    page.fill("#wachtwoord", PASSWORD)
    page.click("#inloggen")
    page.wait_for_load_state()
    if "/inloggen/code" in page.url:
        page.fill("#code", totp_code(app, login))
        page.click("#bevestigen")
    expect(page.locator("#uitloggen")).to_be_visible()


def open_task(app: Flask, reference: str, bpmn_id: str) -> str:
    database = app.extensions["regeling.db"]
    with database.reader() as session:
        guid = session.scalar(
            select(HumanTask.task_guid)
            .join(Case, Case.id == HumanTask.case_id)
            .where(Case.reference == reference, HumanTask.bpmn_id == bpmn_id, HumanTask.state == "open")
        )
    assert guid, f"no open {bpmn_id} in {reference}"
    return f"/zaken/{reference}/taken/{guid}"


def fill_text(page: Page, values: dict[str, str]) -> None:
    for name, value in values.items():
        page.locator(f"#{field_id(name)}").fill(value)


def test_stored_payloads_stay_text_on_every_page_for_every_role(
    app: Flask, live_server: Callable[[Flask], str], new_page: Callable[..., Page]
) -> None:
    base = live_server(app)
    browser = Browser(app, base, new_page)

    # The aanmelding: first refused (no function chosen), so the form comes back with every payload in its inputs.
    page = browser.as_("burgemeester")
    page.goto(f"{base}/aanmelden")
    fill_form(page, {name: value for name, value in AANMELDING.items() if name != "functie"})
    fill_text(page, AANMELDING_TEXT)
    page.locator("#versturen").click()
    page.wait_for_load_state()
    expect(page.locator(".foutoverzicht")).to_be_visible()
    forgiven(browser.problems["burgemeester"], 422)  # the refusal itself, on purpose
    browser.check("burgemeester", "the refused aanmelding")
    for name, value in AANMELDING_TEXT.items():
        assert page.locator(f"#{field_id(name)}").input_value() == value, name
    fill_field(page, "functie", AANMELDING["functie"])
    submit(page)
    flash = page.locator(".melding")
    expect(flash).to_contain_text("Uw aanmelding is ontvangen onder zaaknummer")
    match = re.search(r"zaaknummer (\S+?)\.", flash.inner_text())
    assert match
    reference = match.group(1)
    browser.check("burgemeester", "the new case", shows=["naam", "adres", "urgentie"])

    # contact_organisatie (CCV): saved as a draft first, so the form comes back with the payloads in it.
    ccv = browser.as_("ccv-adviseur-1")
    ccv.goto(base + open_task(app, reference, "contact_organisatie"))
    browser.check("ccv-adviseur-1", "the contact task with the aanmelding as context", shows=["naam", "adres"])
    fill_text(ccv, CONTACT)
    fill_form(ccv, {"datum_contact": "2026-10-01"})
    ccv.locator("#concept").click()
    ccv.wait_for_load_state()
    browser.check("ccv-adviseur-1", "the contact task as a draft")
    assert (
        ccv.locator(f"#{field_id('contactpersoon_organisatie')}").input_value() == CONTACT["contactpersoon_organisatie"]
    )
    submit(ccv)

    # input_organisatie (werkgever)
    werkgever = browser.as_("werkgever-gemeente")
    werkgever.goto(base + open_task(app, reference, "input_organisatie"))
    browser.check("werkgever-gemeente", "the input task", shows=["naam", "contactpersoon"], hides=["adres"])
    fill_text(werkgever, INPUT_ORGANISATIE)
    submit(werkgever)

    # intakeverslag (CCV), its report uploaded under a payload as file name
    ccv.goto(base + open_task(app, reference, "intakeverslag"))
    browser.check("ccv-adviseur-1", "the intake task", shows=["dreigingsbeeld", "incidenten", "maatregelen"])
    fill_text(ccv, INTAKE)
    upload: FilePayload = {"name": UPLOAD_NAME, "mimeType": "application/pdf", "buffer": PDF}
    ccv.locator(f"#{field_id('intakeverslag_document')}").set_input_files(files=upload)
    submit(ccv)

    # Every page that shows them, as every role that sees the case.
    ccv.goto(base + open_task(app, reference, "woningscan"))
    text = browser.check("ccv-adviseur-1", "the next task with every earlier step", shows=["intake", "contactpersoon"])
    assert "{{7*7}}" in text and ".pdf" in text  # the upload's name, as text
    for login, (shows, hides) in SEEN_BY.items():
        page = browser.as_(login)
        page.goto(f"{base}/zaken/{reference}")
        browser.check(login, "the case page, steps and timeline", shows=shows, hides=hides)
        if login != "auditor":
            page.goto(f"{base}/taken")
            browser.check(login, "the inbox")
        if login in ("ccv-adviseur-1", "auditor"):
            page.goto(f"{base}/zaken")
            browser.check(login, "the case list")
        page.goto(f"{base}/meldingen")
        browser.check(login, "the bell's list")
    assert len(browser.visited) >= 20, browser.visited
