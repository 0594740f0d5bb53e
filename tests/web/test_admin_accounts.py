"""The beheerder's accounts page: the list (no case data), and disabling, enabling, ending sessions, resetting the
second factor and unlocking — each with a mandatory reason, recorded in admin_action (scenario A5, ASVS 7.4.2/7.4.5).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select

from engine.model import Account, AdminAction, RecoveryCode
from tests.websupport import PASSWORD, Site, log_in, post

REASON = "Melding van de organisatie: laptop gestolen"


def _act(beheerder: FlaskClient, account: str, action: str, reason: str = REASON) -> Any:
    return post(beheerder, "/beheer/accounts", {"account": account, "actie": action, "reden": reason})


def _recorded(site: Site) -> list[tuple[str, str, str, str]]:
    with site.session() as session:
        rows = session.scalars(select(AdminAction).order_by(AdminAction.id))
        return [(row.actor, row.action, row.target, row.reason) for row in rows]


def _account(site: Site, login: str) -> Account:
    with site.session() as session:
        account = session.get(Account, login)
        assert account is not None
        return account


def _logged_out(client: FlaskClient) -> bool:
    response = client.get("/meldingen")
    return response.status_code == 302 and response.headers["Location"].startswith("/inloggen")


def _row(html: str, login: str) -> str:
    for row in re.findall(r"<tr>(.*?)</tr>", html, re.S):
        if f"<td>{login}</td>" in row:
            return re.sub(r"\s+", " ", row)
    raise AssertionError(f"no row for {login}")


def test_the_list_shows_every_account_and_no_case_data(site: Site) -> None:
    site.client("dijkgraaf")  # a login, for "laatst ingelogd"
    page = site.client("beheerder").get("/beheer/accounts")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    for login in ("burgemeester", "ccv-adviseur-1", "auditor", "beheerder"):
        assert f"<td>{login}</td>" in page.text
    row = _row(page.text, "dijkgraaf")
    assert "Waterschap Voorbeelddelta" in row and "Bestuurder" in row and "ingesteld" in row
    assert "2 nov 2026 16:00" in row  # the frozen clock (15:00 UTC) in Amsterdam time
    assert "—" in _row(page.text, "gedeputeerde")  # never logged in
    assert "BV-2026" not in page.text and "@voorbeeld.invalid" not in page.text
    # no button to disable or reset oneself
    own = _row(page.text, "beheerder")
    assert 'value="uitschakelen"' not in own and 'value="tweede_factor_herstellen"' not in own


def test_disabling_ends_every_session_at_once_and_enabling_lets_in_again(site: Site) -> None:
    phone, laptop = site.client("ccv-adviseur-1"), site.client("ccv-adviseur-1")
    beheerder = site.client("beheerder")
    done = _act(beheerder, "ccv-adviseur-1", "uitschakelen")
    assert done.status_code == 302 and "uitgeschakeld" in beheerder.get("/beheer/accounts").text
    assert _logged_out(phone) and _logged_out(laptop)
    assert log_in(site.client(), "ccv-adviseur-1").status_code == 401
    assert "<td>nee</td>" in _row(beheerder.get("/beheer/accounts").text, "ccv-adviseur-1")
    assert _act(beheerder, "ccv-adviseur-1", "inschakelen", "Terug van verlof").status_code == 302
    assert log_in(site.client(), "ccv-adviseur-1").status_code == 302
    assert _logged_out(phone)  # old sessions stay void
    assert _recorded(site) == [
        ("beheerder", "account_uitgeschakeld", "account:ccv-adviseur-1", REASON),
        ("beheerder", "account_ingeschakeld", "account:ccv-adviseur-1", "Terug van verlof"),
    ]


def test_every_action_needs_a_reason(site: Site) -> None:
    target = site.client("bva")
    beheerder = site.client("beheerder")
    for action in ("uitschakelen", "inschakelen", "sessies_beeindigen", "tweede_factor_herstellen", "ontgrendelen"):
        refused = _act(beheerder, "bva", action, "   ")
        assert refused.status_code == 422, action
        assert "Geef een reden op." in _row(refused.text, "bva")
    assert _act(beheerder, "bva", "uitschakelen", "x" * 1001).status_code == 422
    assert target.get("/taken").status_code == 200 and _recorded(site) == []


def test_the_beheerder_cannot_disable_or_reset_themselves(site: Site) -> None:
    beheerder = site.client("beheerder")
    for action in ("uitschakelen", "tweede_factor_herstellen"):
        refused = _act(beheerder, "beheerder", action)
        assert refused.status_code == 422 and "eigen account" in refused.text
    assert _account(site, "beheerder").active and _account(site, "beheerder").totp_enabled_at is not None
    assert beheerder.get("/beheer/accounts").status_code == 200 and _recorded(site) == []


def test_unknown_accounts_and_actions_are_404(site: Site) -> None:
    beheerder = site.client("beheerder")
    assert _act(beheerder, "niemand", "uitschakelen").status_code == 404
    assert _act(beheerder, "bva", "verwijderen").status_code == 404
    assert _recorded(site) == []


def test_ending_all_sessions_of_an_account(site: Site) -> None:
    first, second = site.client("werkgever-provincie"), site.client("werkgever-provincie")
    site.clock.advance(timedelta(seconds=1))
    assert _act(site.client("beheerder"), "werkgever-provincie", "sessies_beeindigen").status_code == 302
    assert _logged_out(first) and _logged_out(second)
    assert log_in(site.client(), "werkgever-provincie").status_code == 302  # the account itself still works


def test_resetting_the_second_factor_forces_a_new_enrolment(site: Site) -> None:
    target = site.client("gedeputeerde")
    assert _act(site.client("beheerder"), "gedeputeerde", "tweede_factor_herstellen").status_code == 302
    assert _logged_out(target)
    account = _account(site, "gedeputeerde")
    assert account.totp_secret is None and account.totp_enabled_at is None
    with site.session() as session:
        left = session.scalar(
            select(func.count()).select_from(RecoveryCode).where(RecoveryCode.account_id == "gedeputeerde")
        )
    assert left == 0
    again = site.client()
    first = post(again, "/inloggen", {"gebruikersnaam": "gedeputeerde", "wachtwoord": PASSWORD})
    assert first.headers["Location"] == "/inloggen/koppelen"
    assert again.get("/taken").headers["Location"] == "/inloggen/code"  # nothing until enrolled


def test_unlocking_a_locked_account(site: Site) -> None:
    attacker = site.client()
    for _ in range(5):
        post(attacker, "/inloggen", {"gebruikersnaam": "werkgever-waterschap", "wachtwoord": "fout"})
    assert log_in(site.client(), "werkgever-waterschap").status_code == 401
    beheerder = site.client("beheerder")
    row = _row(beheerder.get("/beheer/accounts").text, "werkgever-waterschap")
    assert 'value="ontgrendelen"' in row
    assert (
        _act(beheerder, "werkgever-waterschap", "ontgrendelen", "Gebeld, identiteit gecontroleerd").status_code == 302
    )
    assert log_in(site.client(), "werkgever-waterschap").status_code == 302
    assert 'value="ontgrendelen"' not in _row(beheerder.get("/beheer/accounts").text, "werkgever-waterschap")


def test_other_roles_cannot_manage_accounts(site: Site) -> None:
    for login in ("auditor", "procesbeheerder", "burgemeester"):
        client = site.client(login)
        assert client.get("/beheer/accounts").status_code == 403
        assert _act(client, "bva", "uitschakelen").status_code == 403
    assert _account(site, "bva").active and _recorded(site) == []
