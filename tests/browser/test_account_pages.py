"""Mijn account and the beheerder's accounts page in real Chromium (with the CSP on): the re-authentication before a
password change (A7), the new-app page with its QR code, ending another session, and each page accessible."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from flask import Flask
from playwright.sync_api import Page, expect

from tests.browser.support import watch
from tests.browser.test_accessibility import assert_accessible, log_in
from tests.websupport import PASSWORD, totp_code


def test_mijn_account_asks_again_before_a_change(
    app: Flask, live_server: Callable[[Flask], str], new_page: Callable[..., Page]
) -> None:
    base = live_server(app)
    page, phone = new_page(), new_page()
    problems = watch(page)
    log_in(phone, base, "ccv-adviseur-1", app)
    log_in(page, base, "ccv-adviseur-1", app)
    page.locator("#mijn-account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mijn account")
    expect(page.locator("#sessies tbody tr")).to_have_count(2)
    assert_accessible(page, "mijn-account")

    page.locator("#app-koppelen").click()  # just logged in: no second confirmation needed yet
    expect(page.get_by_role("img", name="QR-code met de geheime sleutel")).to_be_visible()
    assert_accessible(page, "mijn-account-koppelen")

    app.config["CLOCK"].advance(timedelta(minutes=6))
    page.goto(f"{base}/mijn-account")
    page.locator("#wachtwoord-wijzigen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Bevestig dat u het bent")
    assert_accessible(page, "mijn-account-bevestigen")
    page.get_by_label("Wachtwoord").fill(PASSWORD)
    page.get_by_label("Code of herstelcode").fill(totp_code(app, "ccv-adviseur-1"))
    page.locator("#bevestigen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Wachtwoord wijzigen")
    assert_accessible(page, "mijn-account-wachtwoord")
    page.get_by_label("Nieuw wachtwoord", exact=True).fill("een-nieuw-lang-wachtwoord")
    page.get_by_label("Herhaal het nieuwe wachtwoord").fill("een-nieuw-lang-wachtwoord")
    page.locator("#wijzigen").click()
    expect(page.locator(".melding")).to_contain_text("Uw wachtwoord is gewijzigd")
    expect(page.locator("#sessies tbody tr")).to_have_count(1)  # the phone's session ended

    phone.reload()
    expect(phone).to_have_url(f"{base}/inloggen?next=/taken")
    problems.assert_clean()


def test_the_beheerder_disables_an_account_with_a_reason(
    app: Flask, live_server: Callable[[Flask], str], new_page: Callable[..., Page]
) -> None:
    base = live_server(app)
    page = new_page()
    problems = watch(page)
    log_in(page, base, "beheerder", app)
    page.get_by_role("link", name="Accounts").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Accounts")
    assert_accessible(page, "beheer-accounts")
    row = page.locator("#accounts tbody tr", has_text="werkgever-provincie")
    row.get_by_role("button", name="Uitschakelen (werkgever-provincie)").click()
    expect(page.locator("#accounts tbody tr", has_text="werkgever-provincie").locator(".veld-fout")).to_have_text(
        "Geef een reden op."
    )
    assert_accessible(page, "beheer-accounts-fout")
    row = page.locator("#accounts tbody tr", has_text="werkgever-provincie")
    row.get_by_label("Reden (werkgever-provincie)").fill("Uit dienst")
    row.get_by_role("button", name="Uitschakelen (werkgever-provincie)").click()
    expect(page.locator(".melding")).to_contain_text("uitgeschakeld")
    expect(page.locator("#accounts tbody tr", has_text="werkgever-provincie")).to_contain_text("Inschakelen")
    assert problems.page_errors == []
    assert [line for line in problems.failed_responses if " 422 POST " not in line] == []  # only the missing reason
