"""Aanmelding, the case page per role (what each role may see of it), messages, errors and headers."""

from __future__ import annotations

import json
import re

import lxml.html
import pytest
from sqlalchemy import func, select

from engine.model import Case
from tests.websupport import Site, form_fields, post

AANMELDING = {
    "naam": "Synthetische Wethouder",
    "functie": "wethouder",
    "ambtsstatus": "in_ambt",
    "organisatie_type": "gemeente",
    "organisatie_naam": "Gemeente Voorbeeldstad",
    "datum_benoeming": "2026-03-01",
    "woonadres": "Synthetischestraat 2, 9999 ZZ Nergenshuizen",
    "ontheffing_woonplaatsvereiste": False,
    "acute_dreiging": False,
    "toestemming_contact_organisatie": True,
    "toestemming_delen_advies": True,
}


def _case_count(site: Site) -> int:
    with site.session() as session:
        return int(session.scalar(select(func.count()).select_from(Case)) or 0)


def test_aanmelding_starts_a_case_with_a_reference(site: Site) -> None:
    client = site.client("burgemeester")
    form = client.get("/aanmelden").text
    assert 'value="Bea Burgemeester"' in form  # prefilled from the account
    response = post(client, "/aanmelden", {**form_fields(AANMELDING), "_actie": "versturen"})
    assert response.status_code == 302
    reference = response.headers["Location"].rsplit("/", 1)[-1]
    assert re.fullmatch(r"BV-2026-\d{4}", reference)
    page = client.get(response.headers["Location"]).text
    assert f"zaaknummer {reference}" in page
    case = site.case(reference)
    assert case.bestuurder == "burgemeester" and case.organisation == "gemeente-voorbeeldstad"
    assert site.open_task(reference).bpmn_id == "contact_organisatie"
    assert reference in site.client("ccv-adviseur-2").get("/taken").text


def test_refused_aanmelding_leaves_no_case_and_keeps_the_input(site: Site) -> None:
    before = _case_count(site)
    fields = form_fields({**AANMELDING, "datum_benoeming": "31-02-2026"})
    del fields["woonadres"]
    response = post(site.client("burgemeester"), "/aanmelden", {**fields, "_actie": "versturen"})
    assert response.status_code == 422
    page = lxml.html.fromstring(response.text)
    assert page.get_element_by_id("veld-woonadres").get("aria-invalid") == "true"
    assert page.get_element_by_id("veld-datum_benoeming").get("aria-invalid") == "true"
    assert page.get_element_by_id("veld-naam").get("value") == "Synthetische Wethouder"
    assert _case_count(site) == before


def test_acute_threat_marks_the_case_urgent(site: Site) -> None:
    client = site.client("dijkgraaf")
    fields = form_fields({**AANMELDING, "acute_dreiging": True, "urgentie_reden": "Synthetische dreiging"})
    response = post(client, "/aanmelden", {**fields, "_actie": "versturen"})
    reference = response.headers["Location"].rsplit("/", 1)[-1]
    assert site.case(reference).urgent
    assert "urgent" in site.client("ccv-adviseur-1").get("/taken?filter=urgent").text


def test_case_page_shows_status_diagram_timeline_documents_and_deadlines(site: Site) -> None:
    reference = site.cases["burgemeester"]
    page = site.client("ccv-adviseur-1").get(f"/zaken/{reference}").text
    html = lxml.html.fromstring(page)
    assert html.get_element_by_id("zaakstatus").text_content().startswith("Lopend")
    containers = html.find_class("case-diagram")
    assert [c.get("data-bpmn-url") for c in containers][0] == f"/zaken/{reference}/diagram/regeling.bpmn"
    markers = json.loads(html.get_element_by_id("markers-advisering").text)
    assert markers["active"] == ["contact_organisatie"] and "bnd_sla_contact" in markers["waiting"]
    assert "aanmelding" in markers["done"]
    assert "Zaak gestart" in page and "Bea Burgemeester" in page
    assert "Contact opnemen met de organisatie" in page and "Termijnen" in page


def test_werkgever_never_receives_the_woningscan_or_threat_information(site: Site) -> None:
    reference = site.cases["dijkgraaf"]
    ccv = site.client("ccv-adviseur-1").get(f"/zaken/{reference}").text
    werkgever = site.client("werkgever-waterschap").get(f"/zaken/{reference}").text
    bestuurder = site.client("dijkgraaf").get(f"/zaken/{reference}").text
    for secret in ("Demo-huishouden", "Demo: achterom onverlicht.", "Demo: verhoogd risico.", "woningscan_rapport.pdf"):
        assert secret in ccv
        assert secret not in werkgever
    assert "Demostraat 1" in ccv and "Demostraat 1" not in werkgever  # the home address
    assert "Demo: alarmsysteem" in werkgever  # the measures themselves it does receive
    assert "Demo: verhoogd risico." not in bestuurder  # the CCV's intake report
    assert "Demo-huishouden" in bestuurder


def test_werkgever_task_page_context_is_filtered_too(site: Site) -> None:
    reference = site.cases["gedeputeerde"]
    aanvaarden = site.client("gedeputeerde").get(f"/zaken/{reference}/taken/{site.open_task(reference).task_guid}")
    assert "Demo-huishouden" in aanvaarden.text
    werkgever = site.client("werkgever-provincie")
    for doc in site.documents(reference):
        expected = 200 if doc.field == "beveiligingsadvies_document" else 404
        assert werkgever.get(f"/zaken/{reference}/documenten/{doc.id}").status_code == expected, doc.field


def test_message_aftreden_by_the_werkgever(site: Site) -> None:
    reference = site.cases["burgemeester"]
    client = site.client("werkgever-gemeente")
    case_page = client.get(f"/zaken/{reference}").text
    assert f"/zaken/{reference}/berichten/aftreden" in case_page
    assert "heradvies_aangevraagd" not in case_page  # not a sender of that message
    assert site.client("ccv-adviseur-1").get(f"/zaken/{reference}/berichten/aftreden").status_code == 403
    refused = post(client, f"/zaken/{reference}/berichten/aftreden", {"_actie": "versturen"})
    assert refused.status_code == 422
    response = post(client, f"/zaken/{reference}/berichten/aftreden", {"datum_einde_ambt": "2027-01-31"})
    assert response.status_code == 302
    assert site.open_task(reference).bpmn_id == "afbouw_na_aftreden"


def test_error_pages_are_generic_with_a_reference(site: Site) -> None:
    def explode() -> str:
        raise RuntimeError("SELECT woonadres FROM secret WHERE naam='Synthetische Bestuurder'")

    site.app.add_url_rule("/kapot", "kapot", explode)
    response = site.client("burgemeester").get("/kapot")
    assert response.status_code == 500
    assert "Er ging iets mis" in response.text and "referentie" in response.text
    for leak in ("SELECT", "Traceback", "RuntimeError", "Synthetische"):
        assert leak not in response.text


def test_security_headers_on_pages(site: Site) -> None:
    response = site.client("burgemeester").get("/taken")
    headers = response.headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/taken", "/zaken", "/aanmelden", "/inloggen"])
def test_pages_have_no_inline_script(site: Site, path: str) -> None:
    page = site.client("burgemeester").get(path).text
    for script in lxml.html.fromstring(page).iter("script"):
        assert script.get("src") or script.get("type") == "application/json"


def test_a_large_inbox_counts_up_to_the_cap_and_pages_on(site: Site) -> None:
    from bench.inbox import add_cases
    from engine.queries import COUNT_CAP

    add_cases(site.app.config["DATABASE_URL"], COUNT_CAP + 20)
    client = site.client("ccv-adviseur-2")
    first = client.get("/taken").text
    assert f"meer dan {COUNT_CAP} taken" in first
    last_known = COUNT_CAP // 50
    page = client.get(f"/taken?pagina={last_known + 1}")
    assert page.status_code == 200 and "BV-2025-" in page.text
