"""Accessibility in real Chromium: axe-core's WCAG 2.1 A/AA rules on every kind of page, for the roles that
see them; keyboard use of the main controls; and no sideways scrolling of the page on a phone."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page

from tests.browser.support import screenshot
from tests.websupport import PASSWORD, totp_code

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PHONE = {"width": 375, "height": 740}


def log_in(page: Page, base: str, login: str, app: Flask) -> None:
    page.goto(f"{base}/inloggen")
    page.fill("#gebruikersnaam", login)
    page.fill("#wachtwoord", PASSWORD)
    page.click("#inloggen")
    page.wait_for_url(f"{base}/inloggen/code")
    page.fill("#code", totp_code(app, login))
    page.click("#bevestigen")
    page.wait_for_url(lambda url: "/inloggen" not in url)


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Serious and critical WCAG 2.1 A/AA violations axe-core finds on the page as it stands."""
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        WCAG_TAGS,
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def assert_accessible(page: Page, name: str) -> None:
    violations = axe_violations(page)
    if violations:
        screenshot(page, f"a11y-{name}")
    assert not violations, f"{name}: " + json.dumps(violations, indent=1)


def first_task_link(page: Page) -> str:
    href = page.locator("table.taken tbody a").first.get_attribute("href")
    assert href
    return href


def test_pages_of_every_role_pass_axe(
    app: Flask, live_server: Callable[[Flask], str], new_page: Callable[..., Page], seeded: tuple[Path, dict[str, str]]
) -> None:
    base = live_server(app)
    cases = seeded[1]
    anonymous = new_page()
    anonymous.goto(f"{base}/inloggen")
    assert_accessible(anonymous, "inloggen")

    bestuurder = new_page()
    log_in(bestuurder, base, "gedeputeerde", app)
    for path, name in (("/taken", "inbox-bestuurder"), ("/aanmelden", "aanmelden"), ("/zaken", "zaken")):
        bestuurder.goto(base + path)
        assert_accessible(bestuurder, name)
    bestuurder.goto(base + "/taken")
    bestuurder.goto(base + first_task_link(bestuurder))  # maatregelen aanvaarden: a repeatable group
    assert_accessible(bestuurder, "taak-groep")
    bestuurder.goto(f"{base}/zaken/{cases['gedeputeerde']}")
    bestuurder.wait_for_selector(".case-diagram[data-ready='1']")
    assert_accessible(bestuurder, "zaak")

    ccv = new_page()
    log_in(ccv, base, "ccv-adviseur-1", app)
    ccv.goto(base + "/taken")
    assert_accessible(ccv, "inbox-ccv")
    ccv.goto(base + first_task_link(ccv))
    ccv.click("#versturen")  # empty required fields: the page with errors
    ccv.wait_for_selector(".foutoverzicht")
    assert_accessible(ccv, "taak-met-fouten")

    bva = new_page()
    log_in(bva, base, "bva", app)
    bva.goto(base + "/taken")
    bva.goto(base + first_task_link(bva))  # vaststellen: an upload field
    assert_accessible(bva, "taak-upload")

    owner = new_page()
    log_in(owner, base, "procesbeheerder", app)
    owner.goto(base + "/processen")
    assert_accessible(owner, "processen")
    for path, name in (
        ("/processen/regeling", "proces"),
        ("/processen/regeling/concept/vergelijken", "vergelijken"),
        ("/processen/regeling/concept/proefrit", "proefrit"),
    ):
        owner.goto(base + path)
        assert_accessible(owner, name)
    owner.goto(base + "/bestaat-niet")
    assert_accessible(owner, "fout-404")
    owner.goto(base + "/meldingen")
    assert_accessible(owner, "meldingen")

    beheerder = new_page()
    log_in(beheerder, base, "beheerder", app)
    beheerder.goto(base + "/beheer/storingen")
    assert_accessible(beheerder, "storingen")


def test_login_and_a_task_by_keyboard_only(
    app: Flask, live_server: Callable[[Flask], str], new_page: Callable[..., Page]
) -> None:
    base = live_server(app)
    page = new_page()
    page.goto(f"{base}/inloggen")
    page.keyboard.press("Tab")  # the skip link comes first
    assert page.evaluate("document.activeElement.className") == "skiplink"
    page.focus("#gebruikersnaam")
    page.keyboard.type("ccv-adviseur-1")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/inloggen/code")
    page.wait_for_selector("#code:focus")  # the second step opens with the code field focused
    page.keyboard.type(totp_code(app, "ccv-adviseur-1"))
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/taken")
    link = page.locator("table.taken tbody a").first
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("form.formulier")
    page.focus("#veld-contactpersoon_organisatie")
    page.keyboard.type("Secretaris-directeur")
    page.keyboard.press("Enter")  # Enter in a field sends the form (and presses no row's remove button)
    page.wait_for_selector(".foutoverzicht")
    # The error summary links to the field that needs attention.
    page.locator(".foutoverzicht a").first.focus()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "veld-datum_contact"


@pytest.mark.parametrize("login", ["gedeputeerde", "ccv-adviseur-1"])
def test_no_sideways_scrolling_on_a_phone(
    app: Flask,
    live_server: Callable[[Flask], str],
    new_page: Callable[..., Page],
    seeded: tuple[Path, dict[str, str]],
    login: str,
) -> None:
    base = live_server(app)
    page = new_page(viewport=PHONE)
    log_in(page, base, login, app)
    urls = ["/taken", f"/zaken/{seeded[1]['gedeputeerde' if login == 'gedeputeerde' else 'burgemeester']}"]
    page.goto(base + "/taken")
    urls.append(first_task_link(page))
    for url in urls:
        page.goto(base + url)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        if overflow > 0:
            screenshot(page, f"telefoon-{login}")
        assert overflow <= 0, f"{url} scrolls sideways by {overflow}px on a phone"
    screenshot(page, f"telefoon-taak-{login}")
