"""Login security (scenarios A1–A6, X5, D5 of reliability-scenarios.md): two factors, server-side sessions,
timeouts on the injected clock, throttling and lockout, cookie flags and a refused unsafe production start."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from engine import accounts, totp
from engine.clock import FrozenClock
from engine.model import Account, RecoveryCode, WebSession
from tests.websupport import PASSWORD, START, Site, csrf_of, log_in, make_app, post, totp_code
from web import create_app
from web.config import ConfigurationError

COOKIE = "regeling_sessie"
LOCKED = "Te veel mislukte pogingen"


def _password_step(client: FlaskClient, login: str, password: str = PASSWORD) -> Any:
    return post(client, "/inloggen", {"gebruikersnaam": login, "wachtwoord": password})


def _alert(html: str) -> str:
    match = re.search(r'role="alert">(.*?)</div>', html, re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1))).strip() if match else ""


def _cookie(client: FlaskClient, name: str = COOKIE) -> str | None:
    cookie = client.get_cookie(name)
    return cookie.value if cookie is not None else None


def _account(site: Site, login: str) -> Account:
    with site.app.extensions["regeling.db"].reader() as session:
        account = session.get(Account, login)
        assert account is not None
        return account


def _unenrol(site: Site, login: str) -> None:
    with site.app.extensions["regeling.db"].writer() as session, session.begin():
        account = session.get(Account, login)
        assert account is not None
        account.totp_secret = account.totp_enabled_at = account.totp_last_step = None


# -- TOTP itself ----------------------------------------------------------------------------------------------

RFC_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # base32 of "12345678901234567890" (RFC 6238 appendix B)


@pytest.mark.parametrize(
    ("seconds", "code"),
    [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1111111111, "14050471"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
        (20000000000, "65353130"),
    ],
)
def test_totp_matches_the_rfc_6238_test_vectors(seconds: int, code: str) -> None:
    moment = datetime.fromtimestamp(seconds, UTC)
    assert totp.hotp(totp._key(RFC_SECRET), totp.step_at(moment), digits=8) == code
    assert totp.code_at(RFC_SECRET, moment) == code[-6:]


def test_totp_accepts_one_step_either_side_and_never_the_same_step_twice() -> None:
    now = datetime(2026, 11, 2, 15, 0, 10, tzinfo=UTC)
    step = totp.step_at(now)
    for offset in (-1, 0, 1):
        code = totp.code_at(RFC_SECRET, now + timedelta(seconds=30 * offset))
        assert totp.verify(RFC_SECRET, code, now, None) == step + offset
    assert totp.verify(RFC_SECRET, totp.code_at(RFC_SECRET, now - timedelta(seconds=60)), now, None) is None
    assert totp.verify(RFC_SECRET, totp.code_at(RFC_SECRET, now), now, step) is None  # replay
    assert totp.verify(RFC_SECRET, totp.code_at(RFC_SECRET, now - timedelta(seconds=30)), now, step) is None
    assert totp.verify(RFC_SECRET, "12345", now, None) is None
    assert totp.verify(RFC_SECRET, "abcdef", now, None) is None


# -- two factors ----------------------------------------------------------------------------------------------


def test_the_password_alone_reaches_no_page_with_case_data(site: Site) -> None:
    client = site.client()
    reference = site.cases["burgemeester"]
    first = _password_step(client, "burgemeester")
    assert first.status_code == 302 and first.headers["Location"] == "/inloggen/code"
    for url in ("/", "/taken", "/zaken", f"/zaken/{reference}", "/aanmelden", "/meldingen", "/wachtwoord"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"] == "/inloggen/code", url
        assert reference not in response.text
    assert post(client, "/rol", {"rol": "Bestuurder"}).status_code == 302
    assert "Code invoeren" in client.get("/inloggen/code").text


def test_wrong_old_and_reused_codes_are_refused(site: Site) -> None:
    client = site.client()
    _password_step(client, "burgemeester")
    now = site.clock()
    secret = _account(site, "burgemeester").totp_secret
    assert secret
    wrong = post(client, "/inloggen/code", {"code": "000000" if totp.code_at(secret, now) != "000000" else "111111"})
    assert wrong.status_code == 401 and "onjuist" in _alert(wrong.text)
    old = totp.code_at(secret, now - timedelta(seconds=90))
    assert post(client, "/inloggen/code", {"code": old}).status_code == 401
    code = totp.code_at(secret, now)
    assert post(client, "/inloggen/code", {"code": code}).headers["Location"] == "/"
    assert client.get("/taken").status_code == 200
    post(client, "/uitloggen")
    # the same code again (someone who watched it being typed): refused, also in a fresh browser
    other = site.client()
    _password_step(other, "burgemeester")
    assert post(other, "/inloggen/code", {"code": code}).status_code == 401
    # the code of the next step (within the accepted window) is fine
    assert post(other, "/inloggen/code", {"code": totp.code_at(secret, now + timedelta(seconds=30))}).status_code == 302


def test_enrolment_shows_the_secret_as_qr_and_text_then_recovery_codes_once(site: Site) -> None:
    _unenrol(site, "burgemeester")
    client = site.client()
    assert _password_step(client, "burgemeester").headers["Location"] == "/inloggen/koppelen"
    assert client.get("/inloggen/code").headers["Location"] == "/inloggen/koppelen"
    page = client.get("/inloggen/koppelen")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "<svg" in page.text and "<script" not in page.text
    match = re.search(r'id="totp-sleutel">([A-Z2-7 ]+)<', page.text)
    assert match
    secret = match.group(1).replace(" ", "")
    assert client.get("/inloggen/koppelen").text.count(match.group(1)) == 1  # the same secret on a reload
    assert client.get("/taken").headers["Location"] == "/inloggen/code"  # not in yet
    assert post(client, "/inloggen/koppelen", {"code": "12345"}).status_code == 401
    done = post(client, "/inloggen/koppelen", {"code": totp.code_at(secret, site.clock())})
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", done.text)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert client.get("/taken").status_code == 200
    with site.session() as session:
        stored = [
            row.code_hash
            for row in session.scalars(select(RecoveryCode).where(RecoveryCode.account_id == "burgemeester"))
        ]
    assert len(stored) == 10 and not any(code.replace("-", "") in hash_ for code in codes for hash_ in stored)
    account = _account(site, "burgemeester")
    assert account.totp_enabled_at is not None and account.totp_secret == secret
    post(client, "/uitloggen")

    # a recovery code stands in for the app's code, once
    for attempt, expected in ((codes[3], 302), (codes[3].upper().replace("-", " "), 401), (codes[4], 302)):
        other = site.client()
        _password_step(other, "burgemeester")
        assert post(other, "/inloggen/code", {"code": attempt}).status_code == expected, attempt


def test_demo_accounts_without_totp_must_enrol_before_anything_else(site: Site) -> None:
    _unenrol(site, "auditor")
    client = site.client()
    _password_step(client, "auditor")
    assert client.get("/zaken").headers["Location"] == "/inloggen/code"
    assert client.get("/inloggen/code").headers["Location"] == "/inloggen/koppelen"
    # the enrolment page cannot be used by an enrolled account to replace its secret
    enrolled = site.client()
    _password_step(enrolled, "burgemeester")
    assert enrolled.get("/inloggen/koppelen").headers["Location"] == "/inloggen/code"


# -- server-side sessions -------------------------------------------------------------------------------------


def test_the_session_token_is_renewed_at_the_password_and_at_the_second_factor(site: Site) -> None:
    client = site.client()
    planted = secrets.token_urlsafe(32)
    client.set_cookie(COOKIE, planted)
    client.get("/inloggen")
    _password_step(client, "burgemeester")
    after_password = _cookie(client)
    assert after_password and after_password != planted
    post(client, "/inloggen/code", {"code": totp_code(site.app, "burgemeester")})
    after_code = _cookie(client)
    assert after_code and after_code not in (planted, after_password)
    assert client.get("/taken").status_code == 200
    # the half-way token is void now
    stale = site.client()
    stale.set_cookie(COOKIE, after_password)
    assert stale.get("/inloggen/code").headers["Location"] == "/inloggen"
    # the row is keyed by the token's hash, never the token
    with site.session() as session:
        ids = list(session.scalars(select(WebSession.id)))
    assert after_code not in ids and len(ids) == 2


def test_the_old_cookie_no_longer_works_after_logout(site: Site) -> None:
    client = site.client("burgemeester")
    token = _cookie(client)
    assert token and client.get("/taken").status_code == 200
    assert post(client, "/uitloggen").status_code == 302
    assert _cookie(client) is None
    replay = site.client()
    replay.set_cookie(COOKIE, token)
    response = replay.get("/taken")
    assert response.status_code == 302 and response.headers["Location"].startswith("/inloggen")
    assert post(replay, "/uitloggen").status_code in (302, 400)


def test_a_disabled_account_loses_its_open_session_on_the_next_request(site: Site) -> None:
    client = site.client("ccv-adviseur-1")
    assert client.get("/taken").status_code == 200
    with site.app.extensions["regeling.db"].writer() as session, session.begin():
        accounts.disable_account(session, "ccv-adviseur-1", site.clock())
    assert client.get("/taken").headers["Location"].startswith("/inloggen")
    assert log_in(site.client(), "ccv-adviseur-1").status_code == 401


def test_setting_sessions_valid_from_ends_every_session(site: Site) -> None:
    client = site.client("bva")
    site.clock.advance(timedelta(seconds=5))
    with site.app.extensions["regeling.db"].writer() as session, session.begin():
        account = session.get(Account, "bva")
        assert account is not None
        account.sessions_valid_from = site.clock()
    assert client.get("/taken").headers["Location"].startswith("/inloggen")
    assert log_in(site.client(), "bva").status_code == 302  # a new login is fine


# Changing the password (A7: after re-authenticating) is tested in tests/web/test_account.py.


def test_idle_timeout_on_the_injected_clock(site: Site) -> None:
    client = site.client("burgemeester")
    for _ in range(3):
        site.clock.advance(timedelta(minutes=29))
        assert client.get("/taken").status_code == 200  # each visit counts as activity
    site.clock.advance(timedelta(minutes=31))
    assert client.get("/taken").headers["Location"].startswith("/inloggen")
    assert log_in(client, "burgemeester").status_code == 302


def test_absolute_timeout_on_the_injected_clock(site: Site) -> None:
    client = site.client("burgemeester")
    for _ in range(24):  # 12 hours of steady use
        site.clock.advance(timedelta(minutes=30))
        assert client.get("/taken").status_code == 200
    site.clock.advance(timedelta(minutes=1))
    assert client.get("/taken").headers["Location"].startswith("/inloggen")


def test_a_half_done_login_expires_quickly(site: Site) -> None:
    client = site.client()
    _password_step(client, "burgemeester")
    site.clock.advance(timedelta(minutes=11))
    assert client.get("/inloggen/code").headers["Location"] == "/inloggen"


def test_timeouts_are_configurable(site: Site) -> None:
    site.app.config["SESSION_IDLE_TIMEOUT"] = 60
    client = site.client("burgemeester")
    site.clock.advance(timedelta(seconds=61))
    assert client.get("/taken").status_code == 302


def test_csrf_token_belongs_to_the_session(site: Site) -> None:
    client = site.client("burgemeester")
    anonymous = site.client()
    other = site.client("burgemeester")
    assert csrf_of(client) != csrf_of(other) != csrf_of(anonymous)
    refused = client.post("/uitloggen", data={"csrf_token": csrf_of(other)})
    assert refused.status_code == 400
    assert client.get("/taken").status_code == 200


# -- throttling and lockout -----------------------------------------------------------------------------------


def _from(client: FlaskClient, address: str) -> FlaskClient:
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_five_failures_lock_an_account_and_an_unknown_name_alike(site: Site) -> None:
    messages = {}
    for name, address in (("burgemeester", "10.0.0.1"), ("niemand-bekend", "10.0.0.2")):
        client = _from(site.client(), address)
        answers = [_password_step(client, name, "fout-wachtwoord") for _ in range(5)]
        assert all(answer.status_code == 401 for answer in answers)
        assert all("onjuist" in _alert(answer.text) for answer in answers[:4])
        assert LOCKED in _alert(answers[4].text)
        # locked: even the right password gets the same answer, and the password is not looked at
        right = _password_step(client, name)
        assert right.status_code == 401
        messages[name] = _alert(right.text)
        assert _cookie(client) is None
    assert messages["burgemeester"] == messages["niemand-bekend"]
    assert LOCKED in messages["burgemeester"]
    assert _account(site, "burgemeester").locked_until is not None
    site.clock.advance(timedelta(minutes=15, seconds=1))
    assert log_in(_from(site.client(), "10.0.0.1"), "burgemeester").status_code == 302
    assert "onjuist" in _alert(_password_step(_from(site.client(), "10.0.0.2"), "niemand-bekend").text)


def test_second_factor_failures_count_towards_the_lockout(site: Site) -> None:
    client = _from(site.client(), "10.0.1.1")
    _password_step(client, "gedeputeerde", "fout")
    _password_step(client, "gedeputeerde", "fout")
    _password_step(client, "gedeputeerde")
    for _ in range(2):
        assert post(client, "/inloggen/code", {"code": "abc"}).status_code == 401
    last = post(client, "/inloggen/code", {"code": "abc"})
    assert last.status_code == 401 and LOCKED in _alert(last.text)
    assert _cookie(client) is None  # the half-way session ended
    again = _password_step(_from(site.client(), "10.0.1.2"), "gedeputeerde")
    assert again.status_code == 401 and LOCKED in _alert(again.text)


def test_a_source_with_twenty_failures_gets_429(site: Site) -> None:
    client = _from(site.client(), "10.0.2.1")
    for number in range(20):
        assert _password_step(client, f"naam-{number}", "fout").status_code == 401
    throttled = _password_step(client, "burgemeester")
    assert throttled.status_code == 429
    assert "Te veel pogingen" in throttled.text and "Retry-After" in throttled.headers
    assert _cookie(client) is None
    # another address is not affected, and the window slides
    assert log_in(_from(site.client(), "10.0.2.2"), "burgemeester").status_code == 302
    site.clock.advance(timedelta(minutes=16))
    assert log_in(client, "burgemeester").status_code == 302


def test_behind_a_proxy_the_forwarded_address_is_throttled_and_only_then(site: Site) -> None:
    """REGELING_PROXY_COUNT=1 (one TLS proxy): one forwarded address with 20 failures is throttled, another
    behind the same proxy is not. Without it X-Forwarded-For is not believed: changing it evades nothing."""
    proxied = make_app(site.app.config["DATABASE_URL"], site.clock, PROXY_COUNT=1)

    def via_proxy(address: str, app: Flask) -> FlaskClient:
        client = _from(app.test_client(), "172.18.0.5")  # the proxy's own address, the same for everyone
        client.environ_base["HTTP_X_FORWARDED_FOR"] = address
        return client

    try:
        attacker = via_proxy("198.51.100.7", proxied)
        for number in range(20):
            assert _password_step(attacker, f"naam-{number}", "fout").status_code == 401
        assert _password_step(attacker, "burgemeester").status_code == 429
        assert log_in(via_proxy("203.0.113.9", proxied), "burgemeester").status_code == 302
    finally:
        proxied.extensions["regeling.db"].engine.dispose()  # its own pool: closed now, not by the collector

    direct = site.app  # PROXY_COUNT 0: the header is anyone's to write
    for number in range(20):
        assert _password_step(via_proxy(f"198.51.100.{number}", direct), f"naam-{number}", "fout").status_code == 401
    assert _password_step(via_proxy("198.51.100.99", direct), "burgemeester").status_code == 429


@pytest.mark.parametrize("count", ["-1", "6", "true", '"1"'])
def test_a_proxy_count_that_is_not_a_small_whole_number_is_refused(count: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGELING_PROXY_COUNT", count)
    with pytest.raises(ConfigurationError, match="PROXY_COUNT must be a whole number from 0 to 5"):
        create_app({"SECRET_KEY": "test-secret-key-not-for-production", "DATABASE_URL": "sqlite://"})


def test_failures_are_logged_without_the_password_or_typed_name(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    client = site.client()
    _password_step(client, "burgemeester", "geheim-wachtwoord-123")
    _password_step(client, "typfout-naam", "ander-geheim-456")
    text = caplog.text
    assert "inloggen mislukt" in text and "account=burgemeester" in text
    for secret in ("geheim-wachtwoord-123", "ander-geheim-456", "typfout-naam"):
        assert secret not in text


# -- cookies, headers, production start -----------------------------------------------------------------------

PRODUCTION_KEY = "k" * 16 + secrets.token_urlsafe(32)


@pytest.fixture
def production(site: Site) -> Iterator[Flask]:
    app = make_app(site.app.config["DATABASE_URL"], site.clock, PRODUCTION=True, SECRET_KEY=PRODUCTION_KEY)
    yield app
    app.extensions["regeling.db"].engine.dispose()


def _set_cookie_lines(response: Any, name: str) -> list[str]:
    headers = response.headers.getlist("Set-Cookie")
    return [line for line in headers if line.startswith(name + "=")]


def test_production_cookies_are_host_prefixed_and_secure_with_hsts(production: Flask) -> None:
    client = production.test_client()  # the test client keeps Secure cookies over http too
    page = client.get("/inloggen")
    assert page.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    first = post(client, "/inloggen", {"gebruikersnaam": "burgemeester", "wachtwoord": PASSWORD})
    (line,) = _set_cookie_lines(first, "__Host-regeling_sessie")
    for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert flag in line
    assert "Domain" not in line and "Expires" not in line
    for line in first.headers.getlist("Set-Cookie"):
        assert line.startswith("__Host-")
        assert "Secure" in line and "HttpOnly" in line
    done = post(client, "/inloggen/code", {"code": totp_code(production, "burgemeester")})
    assert done.status_code == 302
    assert client.get("/taken").status_code == 200


def test_development_cookies_are_httponly_samesite_without_secure(site: Site) -> None:
    client = site.client()
    first = _password_step(client, "burgemeester")
    (line,) = _set_cookie_lines(first, COOKIE)
    assert "HttpOnly" in line and "SameSite=Lax" in line and "Secure" not in line
    assert "Strict-Transport-Security" not in first.headers


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"SECRET_KEY": ""},
        {"SECRET_KEY": "test-secret-key-not-for-production"},
        {"SECRET_KEY": "vervang-mij-door-een-lange-willekeurige-sleutel"},
        {"SECRET_KEY": "te-kort"},
        {"SECRET_KEY": PRODUCTION_KEY, "DEBUG": True},
    ],
)
def test_production_refuses_to_start_with_a_default_key_or_debug(config: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        create_app({"DATABASE_URL": "sqlite://", "PRODUCTION": True, "CLOCK": FrozenClock(START), **config})


def test_production_starts_with_a_proper_key() -> None:
    app = create_app({"DATABASE_URL": "sqlite://", "PRODUCTION": 1, "SECRET_KEY": PRODUCTION_KEY})
    assert app.config["AUTH_COOKIE_NAME"] == "__Host-regeling_sessie" and app.config["SESSION_COOKIE_SECURE"]


def test_the_totp_secret_is_stored_encrypted(site: Site) -> None:
    """Whoever reads the database directly cannot make anyone's codes (scenario D1)."""
    from sqlalchemy import text

    with site.session() as session:
        raw = session.execute(text("SELECT totp_secret FROM account WHERE id = 'burgemeester'")).scalar_one()
    secret = _account(site, "burgemeester").totp_secret
    assert secret and raw.startswith("enc:v1:") and secret not in raw
    assert log_in(site.client(), "burgemeester").status_code == 302
