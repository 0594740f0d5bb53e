"""The audit area through the test client: auditor only, every case searchable, the case at any event without
JavaScript, verification, both exports, and every view and export in the access log."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select, update

from engine import accesslog, pointintime, retention
from engine.model import Event
from tests.auditsupport import DETERMINATION_VALUE, LATER_VALUE, finish_a_case
from tests.websupport import Site


@pytest.fixture
def finished(site: Site) -> str:
    reference = finish_a_case(site.app.extensions["regeling.db"].engine, site.clock)
    pointintime.clear()
    return reference


def _views(site: Site, reference: str) -> list[str]:
    case = site.case(reference)
    with site.session() as session:
        return [view.what for view in accesslog.views_of_case(session, case.id)]


def _determination(site: Site, reference: str) -> int:
    case = site.case(reference)
    with site.session() as session:
        events = session.scalars(select(Event).where(Event.case_id == case.id)).all()
        return max(e.seq for e in events if e.type == "task_completed" and e.actor_role == "BVA")


def test_the_auditor_lands_on_the_search_of_all_cases(site: Site) -> None:
    client = site.client("auditor")
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"] == "/audit"
    page = client.get("/audit").get_data(as_text=True)
    for reference in site.cases.values():
        assert reference in page
    assert 'id="nav-audit"' in page
    filtered = client.get("/audit?status=completed").get_data(as_text=True)
    assert not any(reference in filtered for reference in site.cases.values())
    by_organisation = client.get("/audit?organisatie=waterschap-voorbeelddelta").get_data(as_text=True)
    assert site.cases["dijkgraaf"] in by_organisation and site.cases["burgemeester"] not in by_organisation
    odd = client.get("/audit?van=gisteren&versie=x&pagina=-3&tot=2026-13-45")
    assert odd.status_code == 200


@pytest.mark.parametrize("login", ["burgemeester", "ccv-adviseur-1", "werkgever-gemeente", "bva", "beheerder"])
def test_only_the_auditor_may_enter(site: Site, login: str) -> None:
    client = site.client(login)
    reference = site.cases["burgemeester"]
    for url in ("/audit", f"/audit/zaken/{reference}", f"/audit/zaken/{reference}/auditdossier.json"):
        assert client.get(url).status_code == 403, url
    assert _views(site, reference) == []


def test_an_unknown_case_is_404(site: Site) -> None:
    client = site.client("auditor")
    assert client.get("/audit/zaken/BV-1999-0001").status_code == 404
    assert client.get("/audit/zaken/BV-1999-0001/auditdossier.pdf").status_code == 404


def test_the_case_at_the_bva_determination_without_javascript(site: Site, finished: str) -> None:
    client = site.client("auditor")
    seq = _determination(site, finished)
    page = client.get(f"/audit/zaken/{finished}?stap={seq}").get_data(as_text=True)
    assert f'data-stap="{seq}"' in page
    markers = json.loads(re.search(r'id="markers-moment">(.*?)</script>', page, re.S).group(1))  # type: ignore[union-attr]
    assert "vaststellen_advies" in markers["done"] and "maatregelen_aanvaarden" in markers["active"]
    assert DETERMINATION_VALUE in page
    assert "door Bram BVA" in page and "(BVA, Ministerie van BZK (BVA))" in page
    # The later step's data is absent from the moment's data (the timeline further down lists every step).
    data = page.split('id="gegevens"', 1)[1].split('id="tijdlijn-kop"', 1)[0]
    assert LATER_VALUE not in data
    # Previous and next are plain links to the neighbouring events.
    assert f"stap={seq - 1}#tijdreis" in page and f"stap={seq + 1}#tijdreis" in page
    assert _views(site, finished) == ["audit:zaakpagina"]


def test_what_the_acting_role_could_not_see_is_shown_apart(site: Site, finished: str) -> None:
    case = site.case(finished)
    with site.session() as session:
        events = session.scalars(select(Event).where(Event.case_id == case.id).order_by(Event.seq)).all()
        werkgever = next(e.seq for e in events if e.actor_role == "Werkgever")
    page = site.client("auditor").get(f"/audit/zaken/{finished}?stap={werkgever}").get_data(as_text=True)
    assert "Niet zichtbaar voor Werkgever" in page


def test_the_timeline_is_one_list_in_utc(site: Site, finished: str) -> None:
    page = site.client("auditor").get(f"/audit/zaken/{finished}").get_data(as_text=True)
    timeline = page.split('id="tijdlijn"', 1)[1]
    for text in ("Procesversie uitgerold", "Zaak gestart", "Stap afgerond", "Melding", "Dienst ‘melding’", " UTC"):
        assert text in timeline, text
    notifications = re.findall(r'<li class="soort-notification".*?</li>\s*(?=<li class="soort-|</ol>)', timeline, re.S)
    assert notifications and not any("@" in line for line in notifications)  # roles and templates, no addresses


def test_verification_says_geverifieerd_or_names_the_event(site: Site, finished: str) -> None:
    client = site.client("auditor")
    page = client.get(f"/audit/zaken/{finished}/verificatie").get_data(as_text=True)
    assert "Geverifieerd" in page and "Niet geverifieerd" not in page
    case = site.case(finished)
    database = site.app.extensions["regeling.db"]
    with database.writer() as session, session.begin():
        session.execute(update(Event).where(Event.case_id == case.id, Event.seq == 3).values(actor="iemand-anders"))
    pointintime.clear()
    page = client.get(f"/audit/zaken/{finished}/verificatie").get_data(as_text=True)
    assert "Niet geverifieerd" in page and "gebeurtenis 3" in page
    assert _views(site, finished) == ["audit:verificatie", "audit:verificatie"]


def test_both_exports_carry_the_final_hash_and_are_logged(site: Site, finished: str) -> None:
    client = site.client("auditor")
    case = site.case(finished)
    response = client.get(f"/audit/zaken/{finished}/auditdossier.json")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.get_data(as_text=True))
    assert data["final_hash"] == case.last_hash and data["verification"]["result"] == "Geverifieerd"
    pdf = client.get(f"/audit/zaken/{finished}/auditdossier.pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert case.last_hash.encode() in pdf.data
    assert _views(site, finished) == ["audit:export-json", "audit:export-pdf"]
    with site.session() as session:
        views = accesslog.views_of_case(session, case.id)
    assert "aanmelding/woonadres" in views[0].fields  # which fields left the server, never their values


def test_an_open_case_shows_its_open_step_as_active(site: Site) -> None:
    reference = site.cases["burgemeester"]
    page = site.client("auditor").get(f"/audit/zaken/{reference}").get_data(as_text=True)
    markers = json.loads(re.search(r'id="markers-moment">(.*?)</script>', page, re.S).group(1))  # type: ignore[union-attr]
    assert site.open_task(reference).bpmn_id in markers["active"]


def test_an_erased_case_verifies_and_its_moments_say_why_they_are_not_replayed(site: Site, finished: str) -> None:
    database = site.app.extensions["regeling.db"]
    with database.writer() as session, session.begin():
        retention.erase_case(session, finished, rule="completed=P7Y", reason="bewaartermijn", now=site.clock())
    pointintime.clear()
    client = site.client("auditor")
    page = client.get(f"/audit/zaken/{finished}/verificatie").get_data(as_text=True)
    assert "Geverifieerd" in page and "Niet geverifieerd" not in page and "gegevens gewist" in page
    moment = client.get(f"/audit/zaken/{finished}?stap=abc").get_data(as_text=True)
    assert 'id="tijdreis-probleem"' in moment and DETERMINATION_VALUE not in moment
    assert "Persoonsgegevens gewist" in moment


def test_a_moment_that_cannot_be_re_run_says_why_in_dutch_and_logs_the_detail(
    site: Site, finished: str, caplog: pytest.LogCaptureFixture
) -> None:
    database = site.app.extensions["regeling.db"]
    case = site.case(finished)
    with database.writer() as session, session.begin():
        session.execute(update(Event).where(Event.case_id == case.id, Event.seq == 1).values(state_hash="0" * 64))
    pointintime.clear()
    with caplog.at_level("WARNING", logger="engine.audit"):
        page = site.client("auditor").get(f"/audit/zaken/{finished}?stap=3").get_data(as_text=True)
    assert 'id="tijdreis-probleem"' in page
    assert "laat zich hier niet opnieuw uitvoeren" in page
    assert "does not reach" not in page and "recorded state" not in page
    assert any(finished in r.getMessage() and "does not reach" in r.getMessage() for r in caplog.records)
    assert DETERMINATION_VALUE not in caplog.text
