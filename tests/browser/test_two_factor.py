"""Two-factor login in real Chromium: enrol from the page (QR code and the secret as text), keep the recovery
codes, log out, log in again with a code from the "app" (computed from the secret read off the page)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from engine import cache, totp
from engine.clock import FrozenClock
from engine.model import Account
from tests.browser.support import screenshot, watch
from tests.browser.test_accessibility import assert_accessible
from tests.websupport import PASSWORD, START, build_seeded_database, make_app


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("two-factor") / "seeded.db"
    build_seeded_database(path)
    return path


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START.replace(hour=15))


@pytest.fixture
def app(seeded: Path, tmp_path: Path, clock: FrozenClock) -> Iterator[Flask]:
    shutil.copyfile(seeded, tmp_path / "site.db")
    cache.clear()
    flask_app = make_app(f"sqlite:///{tmp_path / 'site.db'}", clock)
    # as the demo of `make run`: this account has no second factor yet
    with flask_app.extensions["regeling.db"].writer() as session, session.begin():
        account = session.get(Account, "gedeputeerde")
        assert account is not None
        account.totp_secret = account.totp_enabled_at = None
    yield flask_app
    flask_app.extensions["regeling.db"].engine.dispose()
    cache.clear()


def _password(page: Page, base: str) -> None:
    page.goto(f"{base}/inloggen")
    page.get_by_label("Gebruikersnaam").fill("gedeputeerde")
    page.get_by_label("Wachtwoord").fill(PASSWORD)
    page.locator("#inloggen").click()


def test_enrol_log_in_with_a_code_and_log_out(
    app: Flask, clock: FrozenClock, live_server: Callable[[Flask], str], new_page: Callable[..., Page]
) -> None:
    base = live_server(app)
    page = new_page()
    problems = watch(page)

    _password(page, base)
    expect(page).to_have_url(f"{base}/inloggen/koppelen")
    expect(page.get_by_role("heading", level=1)).to_have_text("Tweestapsverificatie instellen")
    qr = page.get_by_role("img", name="QR-code met de geheime sleutel")
    expect(qr).to_be_visible()
    assert (qr.bounding_box() or {}).get("width", 0) > 100
    secret = page.locator("#totp-sleutel").inner_text().replace(" ", "")
    assert re.fullmatch(r"[A-Z2-7]{32}", secret), secret
    assert_accessible(page, "koppelen")
    screenshot(page, "tweestaps-koppelen")

    page.get_by_label("Code uit de app").fill(totp.code_at(secret, clock()))
    page.locator("#bevestigen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Uw herstelcodes")
    codes = page.locator("#herstelcodes li")
    expect(codes).to_have_count(10)
    recovery = codes.first.inner_text().strip()
    page.locator("#verder").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mijn taken")  # the start page of a bestuurder
    expect(page.locator("#uitloggen")).to_be_visible()

    page.locator("#uitloggen").click()
    expect(page.locator(".melding")).to_have_text("U bent uitgelogd.")
    page.goto(f"{base}/taken")
    expect(page).to_have_url(re.compile(r"/inloggen\?next="))

    # again, half a minute later: password, then the app's code
    clock.advance(timedelta(seconds=30))
    _password(page, base)
    expect(page).to_have_url(f"{base}/inloggen/code")
    expect(page.get_by_label("Code of herstelcode")).to_be_focused()
    assert_accessible(page, "code")
    page.get_by_label("Code of herstelcode").fill(totp.code_at(secret, clock()))
    page.locator("#bevestigen").click()
    expect(page.locator("#uitloggen")).to_be_visible()
    page.get_by_role("link", name="Mijn taken").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mijn taken")
    page.locator("#uitloggen").click()
    expect(page.locator(".melding")).to_have_text("U bent uitgelogd.")

    # and once with a recovery code instead of the phone
    _password(page, base)
    page.get_by_label("Code of herstelcode").fill(recovery)
    page.locator("#bevestigen").click()
    expect(page.locator("#uitloggen")).to_be_visible()
    page.locator("#uitloggen").click()
    problems.assert_clean()
