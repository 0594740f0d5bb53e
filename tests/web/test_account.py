"""Mijn account (scenario A7 of reliability-scenarios.md): the password, the authenticator app and the recovery
codes change only after a fresh re-authentication (password + code, within 5 minutes); each change ends the other
sessions and is recorded; one's own sessions are listed and can be ended. Recovery codes do not depend on
SECRET_KEY."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from engine import accounts, totp
from engine.model import Account, AdminAction, LoginAttempt, RecoveryCode, WebSession
from tests.websupport import PASSWORD, Site, log_in, make_app, post, totp_code

CONFIRM = "Bevestig dat u het bent"
NEW_PASSWORD = "een-nieuw-lang-wachtwoord"


def _confirm(client: FlaskClient, login: str, goal: str, code: str | None = None, password: str = PASSWORD) -> Any:
    code = code if code is not None else totp_code(client.application, login)
    return post(client, "/mijn-account/bevestigen", {"doel": goal, "wachtwoord": password, "code": code})


def _actions(site: Site, login: str) -> list[tuple[str, str, str]]:
    with site.session() as session:
        rows = session.scalars(select(AdminAction).where(AdminAction.actor == login).order_by(AdminAction.id))
        return [(row.action, row.target, row.reason) for row in rows]


def _account(site: Site, login: str) -> Account:
    with site.session() as session:
        account = session.get(Account, login)
        assert account is not None
        return account


def _logged_out(client: FlaskClient) -> bool:
    response = client.get("/taken")
    return response.status_code == 302 and response.headers["Location"].startswith("/inloggen")


def test_the_page_shows_the_account_and_where_it_is_logged_in(site: Site) -> None:
    laptop, phone = site.client("dijkgraaf"), site.client("dijkgraaf")
    assert 'id="mijn-account"' in laptop.get("/taken").text
    page = laptop.get("/mijn-account")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "Waterschap Voorbeelddelta" in page.text and "dit apparaat" in page.text
    assert page.text.count("<tr>") == 1 + 2  # header and two sessions
    with site.session() as session:
        ids = list(session.scalars(select(WebSession.id)))
    assert not any(session_id in page.text for session_id in ids)  # shown by a handle, never the key
    assert phone.get("/taken").status_code == 200


def test_a_password_change_needs_a_fresh_confirmation_and_ends_the_other_sessions(site: Site) -> None:
    phone, laptop = site.client("dijkgraaf"), site.client("dijkgraaf")
    site.clock.advance(timedelta(minutes=6))  # the login is no longer fresh
    asked = laptop.get("/mijn-account/wachtwoord")
    assert asked.status_code == 200 and CONFIRM in asked.text and "nieuw_wachtwoord" not in asked.text
    fields = {"nieuw_wachtwoord": NEW_PASSWORD, "herhaal_wachtwoord": NEW_PASSWORD}
    unconfirmed = post(laptop, "/mijn-account/wachtwoord", fields)
    assert unconfirmed.status_code == 401 and CONFIRM in unconfirmed.text
    assert _confirm(laptop, "dijkgraaf", "wachtwoord", password="fout").status_code == 401
    assert _confirm(laptop, "dijkgraaf", "wachtwoord", code="").status_code == 422
    before = laptop.get_cookie("regeling_sessie")
    confirmed = _confirm(laptop, "dijkgraaf", "wachtwoord")
    assert confirmed.status_code == 302 and confirmed.headers["Location"] == "/mijn-account/wachtwoord"
    after = laptop.get_cookie("regeling_sessie")
    assert before is not None and after is not None and before.value != after.value  # a new session
    short = post(laptop, "/mijn-account/wachtwoord", {"nieuw_wachtwoord": "kort", "herhaal_wachtwoord": "kort"})
    assert short.status_code == 422 and "minstens 12 tekens" in short.text
    same = post(laptop, "/mijn-account/wachtwoord", {"nieuw_wachtwoord": PASSWORD, "herhaal_wachtwoord": PASSWORD})
    assert same.status_code == 422 and "ander wachtwoord" in same.text
    differ = post(laptop, "/mijn-account/wachtwoord", {**fields, "herhaal_wachtwoord": NEW_PASSWORD + "x"})
    assert differ.status_code == 422 and "niet gelijk" in differ.text
    assert phone.get("/taken").status_code == 200
    done = post(laptop, "/mijn-account/wachtwoord", fields)
    assert done.status_code == 302 and done.headers["Location"] == "/mijn-account"
    assert laptop.get("/taken").status_code == 200  # the one that changed it stays in
    assert _logged_out(phone)
    assert log_in(site.client(), "dijkgraaf").status_code == 401
    assert log_in(site.client(), "dijkgraaf", NEW_PASSWORD).status_code == 302
    assert ("wachtwoord_gewijzigd", "account:dijkgraaf", "zelf, via Mijn account") in _actions(site, "dijkgraaf")
    assert not any(NEW_PASSWORD in str(action) for action in _actions(site, "dijkgraaf"))


def test_the_old_password_address_leads_to_mijn_account(site: Site) -> None:
    client = site.client("bva")
    assert client.get("/wachtwoord").headers["Location"] == "/mijn-account/wachtwoord"
    assert client.post("/wachtwoord", data={}).status_code in (400, 405)


def test_a_confirmation_lasts_five_minutes(site: Site) -> None:
    client = site.client("bva")
    assert "nieuw_wachtwoord" in client.get("/mijn-account/wachtwoord").text  # just logged in: fresh
    site.clock.advance(timedelta(minutes=5, seconds=1))
    assert CONFIRM in client.get("/mijn-account/wachtwoord").text
    assert CONFIRM in client.get("/mijn-account/herstelcodes").text
    assert CONFIRM in client.get("/mijn-account/koppelen").text
    assert client.get("/mijn-account").status_code == 200  # the overview itself asks nothing
    site.clock.advance(timedelta(seconds=30))
    assert _confirm(client, "bva", "herstelcodes").headers["Location"] == "/mijn-account/herstelcodes"
    page = client.get("/mijn-account/herstelcodes").text
    assert 'id="nieuwe-herstelcodes"' in page and CONFIRM not in page


def test_the_goal_of_a_confirmation_is_a_name_never_a_url(site: Site) -> None:
    client = site.client("bva")
    site.clock.advance(timedelta(minutes=6))
    response = _confirm(client, "bva", "https://aanvaller.invalid/")
    assert response.status_code == 302 and response.headers["Location"] == "/mijn-account/wachtwoord"


def test_failed_confirmations_count_towards_the_lockout(site: Site) -> None:
    client, other = site.client("gedeputeerde"), site.client("gedeputeerde")
    site.clock.advance(timedelta(minutes=6))
    for _ in range(4):
        assert _confirm(client, "gedeputeerde", "wachtwoord", password="fout-wachtwoord").status_code == 401
    last = _confirm(client, "gedeputeerde", "wachtwoord", password="fout-wachtwoord")
    assert last.status_code == 401 and "Te veel mislukte pogingen" in last.text
    assert _logged_out(client) and _logged_out(other)  # someone at an unlocked screen: every session ends
    assert log_in(site.client(), "gedeputeerde").status_code == 401


def test_linking_a_new_app_replaces_the_old_one(site: Site) -> None:
    laptop, phone = site.client("burgemeester"), site.client("burgemeester")
    old_secret = _account(site, "burgemeester").totp_secret or ""
    assert old_secret
    page = laptop.get("/mijn-account/koppelen")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store" and "<svg" in page.text
    match = re.search(r'id="totp-sleutel">([A-Z2-7 ]+)<', page.text)
    assert match
    secret: str = match.group(1).replace(" ", "")
    assert secret != old_secret and match.group(1) in laptop.get("/mijn-account/koppelen").text  # same on reload
    assert "herkoppelen" not in str(_account(site, "burgemeester").sealed_totp_secret)
    # the phone's session never saw this secret: its own attempt gets a QR code of its own
    assert post(phone, "/mijn-account/koppelen", {"code": totp.code_at(secret, site.clock())}).status_code == 422
    wrong = post(laptop, "/mijn-account/koppelen", {"code": totp.code_at(old_secret, site.clock())})
    assert wrong.status_code == 422 and "onjuist" in wrong.text
    done = post(laptop, "/mijn-account/koppelen", {"code": totp.code_at(secret, site.clock())})
    assert done.status_code == 302 and done.headers["Location"] == "/mijn-account"
    assert _account(site, "burgemeester").totp_secret == secret
    assert laptop.get("/taken").status_code == 200 and _logged_out(phone)
    assert ("tweede_factor_gekoppeld", "account:burgemeester", "zelf, via Mijn account") in _actions(
        site, "burgemeester"
    )
    # the next login takes the new app's code, not the old one's
    site.clock.advance(timedelta(seconds=30))
    old_app = site.client()
    post(old_app, "/inloggen", {"gebruikersnaam": "burgemeester", "wachtwoord": PASSWORD})
    assert post(old_app, "/inloggen/code", {"code": totp.code_at(old_secret, site.clock())}).status_code == 401
    assert post(old_app, "/inloggen/code", {"code": totp.code_at(secret, site.clock())}).status_code == 302


def test_new_recovery_codes_are_shown_once_and_replace_the_old(site: Site) -> None:
    with site.app.extensions["regeling.db"].writer() as session, session.begin():
        old_codes = accounts.new_recovery_codes(session, "werkgever-gemeente")
    client, other = site.client("werkgever-gemeente"), site.client("werkgever-gemeente")
    page = client.get("/mijn-account/herstelcodes")
    assert "nog 10 ongebruikte" in page.text
    shown = post(client, "/mijn-account/herstelcodes")
    assert shown.status_code == 200 and shown.headers["Cache-Control"] == "no-store"
    codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", shown.text)
    assert len(set(codes)) == 10 and not set(codes) & set(old_codes)
    assert _logged_out(other) and client.get("/taken").status_code == 200
    with site.session() as session:
        stored = list(
            session.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.account_id == "werkgever-gemeente"))
        )
    assert len(stored) == 10 and all(value.startswith("sha256$") for value in stored)
    for attempt, expected in ((old_codes[0], 401), (codes[0], 302)):
        fresh = site.client()
        post(fresh, "/inloggen", {"gebruikersnaam": "werkgever-gemeente", "wachtwoord": PASSWORD})
        assert post(fresh, "/inloggen/code", {"code": attempt}).status_code == expected
    assert ("herstelcodes_vervangen", "account:werkgever-gemeente", "zelf, via Mijn account") in _actions(
        site, "werkgever-gemeente"
    )


def test_recovery_codes_keep_working_when_the_secret_key_changes(site: Site) -> None:
    with site.app.extensions["regeling.db"].writer() as session, session.begin():
        codes = accounts.new_recovery_codes(session, "auditor")
        # one code stored as before salted hashes existed: keyed with the old SECRET_KEY
        legacy = "abcd-efgh-jkmn-pqrs"
        old_key = str(site.app.config["SECRET_KEY"]).encode()
        session.add(
            RecoveryCode(
                account_id="auditor", code_hash=accounts.keyed_hash(old_key, "herstelcode", "abcdefghjkmnpqrs")
            )
        )
    rotated = make_app(
        str(site.app.config["DATABASE_URL"]), site.clock, SECRET_KEY="een-andere-geheime-sleutel-" + "x" * 20
    )
    try:
        for app, code, expected in ((rotated, codes[0], 302), (rotated, legacy, 401), (site.app, legacy, 302)):
            client = app.test_client()
            post(client, "/inloggen", {"gebruikersnaam": "auditor", "wachtwoord": PASSWORD})
            assert post(client, "/inloggen/code", {"code": code}).status_code == expected, (code, expected)
    finally:
        rotated.extensions["regeling.db"].engine.dispose()


def test_recovery_hashes_are_salted_per_code() -> None:
    first, second = accounts.recovery_hash("abcd-efgh"), accounts.recovery_hash("abcd-efgh")
    assert first != second
    pepper = b"niet-gebruikt"
    for stored in (first, second):
        assert accounts.recovery_matches(stored, "ABCD EFGH", pepper)
        assert not accounts.recovery_matches(stored, "abcd-efgj", pepper)
    assert not accounts.recovery_matches("sha256$zz$00", "abcd-efgh", pepper)


def test_ending_one_other_session_or_all_others(site: Site) -> None:
    here, phone, tablet = (site.client("ccv-adviseur-2") for _ in range(3))
    page = here.get("/mijn-account").text
    handles = re.findall(r'name="sessie" value="([0-9a-f]{16})"', page)
    assert len(handles) == 2 and "alle" in page
    phone_handle = _handle_of(site, phone)
    assert phone_handle in handles
    ended = post(here, "/mijn-account/sessies", {"sessie": phone_handle})
    assert ended.status_code == 302 and _logged_out(phone) and tablet.get("/taken").status_code == 200
    again = post(here, "/mijn-account/sessies", {"sessie": phone_handle})
    assert "al beëindigd" in here.get(again.headers["Location"]).text
    # one's own session is not ended by its handle (that is logging out)
    post(here, "/mijn-account/sessies", {"sessie": _handle_of(site, here)})
    assert here.get("/taken").status_code == 200
    post(here, "/mijn-account/sessies", {"sessie": "alle"})
    assert _logged_out(tablet) and here.get("/taken").status_code == 200
    assert [action for action, _target, _reason in _actions(site, "ccv-adviseur-2")] == [
        "sessie_beeindigd",
        "andere_sessies_beeindigd",
    ]


def _handle_of(site: Site, client: FlaskClient) -> str:
    from engine import sessions

    cookie = client.get_cookie("regeling_sessie")
    assert cookie is not None
    return sessions.public_id(sessions.token_hash(cookie.value))


def test_a_successful_confirmation_counts_as_a_login(site: Site) -> None:
    client = site.client("bva")
    site.clock.advance(timedelta(minutes=10))
    _confirm(client, "bva", "wachtwoord")
    with site.session() as session:
        last = session.scalar(
            select(LoginAttempt.at)
            .where(LoginAttempt.account_id == "bva", LoginAttempt.success.is_(True))
            .order_by(LoginAttempt.at.desc())
        )
    assert last == site.clock()
