"""The task page through the Flask test client: completing, validation, drafts, claims, concurrent submits,
uploads and escaping. Each refused request leaves the case exactly as it was."""

from __future__ import annotations

import io
from typing import Any

import lxml.html
from flask.testing import FlaskClient

from tests.websupport import PASSWORD, Site, csrf_of, lock_version_of, log_in, post, totp_code

CONTACT = {
    "contactpersoon_organisatie": "Secretaris-directeur",
    "datum_contact": "2026-11-03",
    "datum_gesprek_organisatie": "2026-11-10",
}
PDF = b"%PDF-1.4\n% synthetic test document\n%%EOF\n"


def _task_url(site: Site, case_of: str, bpmn_id: str) -> str:
    reference = site.cases[case_of]
    return f"/zaken/{reference}/taken/{site.open_task(reference, bpmn_id).task_guid}"


def _submit(client: FlaskClient, url: str, fields: dict[str, Any], action: str = "versturen", **kwargs: Any) -> Any:
    lock = lock_version_of(client.get(url).text)
    return post(client, url, {**fields, "lock_version": lock, "_actie": action}, **kwargs)


def test_completing_a_task_moves_the_case_and_assigns_the_adviser(site: Site) -> None:
    reference = site.cases["burgemeester"]
    client = site.client("ccv-adviseur-1")
    response = _submit(client, _task_url(site, "burgemeester", "contact_organisatie"), CONTACT)
    assert response.status_code == 302 and response.headers["Location"] == "/taken"
    assert "is afgerond" in client.get("/taken").text
    assert site.case(reference).ccv_adviser == "ccv-adviseur-1"
    assert site.open_task(reference, "input_organisatie").lane == "Werkgever"
    # The other adviser no longer sees the case the first one took on.
    assert site.client("ccv-adviseur-2").get(f"/zaken/{reference}").status_code == 404


def test_missing_field_is_named_in_dutch_and_typed_values_are_kept(site: Site) -> None:
    reference = site.cases["burgemeester"]
    before = site.case(reference)
    client = site.client("ccv-adviseur-1")
    response = _submit(client, _task_url(site, "burgemeester", "contact_organisatie"), {"datum_contact": "2026-11-03"})
    assert response.status_code == 422
    page = lxml.html.fromstring(response.text)
    field = page.get_element_by_id("veld-contactpersoon_organisatie")
    assert field.get("aria-invalid") == "true"
    assert "verplicht" in response.text.lower()
    assert page.get_element_by_id("veld-datum_contact").get("value") == "2026-11-03"
    after = site.case(reference)
    assert (after.lock_version, after.last_hash) == (before.lock_version, before.last_hash)


def test_a_wrongly_typed_number_is_refused_with_the_field_named(site: Site) -> None:
    reference = site.cases["dijkgraaf"]
    before = site.case(reference)
    client = site.client("bva")
    url = _task_url(site, "dijkgraaf", "vaststellen_advies")
    response = _submit(client, url, {"besluit_bva": "vaststellen", "vaststellingsdatum": "geen datum"})
    assert response.status_code == 422
    assert 'aria-invalid="true"' in response.text
    assert site.case(reference).last_hash == before.last_hash


def test_post_without_csrf_token_is_refused_and_changes_nothing(site: Site) -> None:
    reference = site.cases["burgemeester"]
    before = site.case(reference)
    client = site.client("ccv-adviseur-1")
    url = _task_url(site, "burgemeester", "contact_organisatie")
    lock = lock_version_of(client.get(url).text)
    response = client.post(url, data={**CONTACT, "lock_version": lock, "_actie": "versturen"})
    assert response.status_code == 400
    assert "verlopen of ongeldig" in response.text
    bad = client.post(url, data={**CONTACT, "lock_version": lock, "csrf_token": "vervalst"})
    assert bad.status_code == 400
    assert site.case(reference).last_hash == before.last_hash
    # Button-only actions too: claiming, logging out.
    claim = client.post(f"{url}/oppakken")
    assert claim.status_code == 400 and site.open_task(reference, "contact_organisatie").assignee is None
    assert client.post("/uitloggen").status_code == 400
    assert client.get("/taken").status_code == 200  # still logged in


def test_draft_is_kept_and_shown_again(site: Site) -> None:
    reference = site.cases["burgemeester"]
    before = site.case(reference)
    client = site.client("ccv-adviseur-1")
    url = _task_url(site, "burgemeester", "contact_organisatie")
    response = _submit(client, url, {"contactpersoon_organisatie": "Half ingevuld"}, action="concept")
    assert response.status_code == 302
    page = client.get(url).text
    assert "Concept opgeslagen" in page
    assert (
        lxml.html.fromstring(page).get_element_by_id("veld-contactpersoon_organisatie").get("value") == "Half ingevuld"
    )
    assert site.case(reference).last_hash == before.last_hash  # a draft is not case data
    # Another adviser does not see this adviser's draft.
    other = site.client("ccv-adviseur-2").get(url).text
    assert "Half ingevuld" not in other


def test_second_submission_of_the_same_task_says_who_did_it(site: Site) -> None:
    url = _task_url(site, "burgemeester", "contact_organisatie")
    first, second = site.client("ccv-adviseur-1"), site.client("ccv-adviseur-2")
    lock = lock_version_of(first.get(url).text)
    assert lock == lock_version_of(second.get(url).text)
    assert post(first, url, {**CONTACT, "lock_version": lock, "_actie": "versturen"}).status_code == 302
    late = post(second, url, {**CONTACT, "contactpersoon_organisatie": "Ander", "lock_version": lock})
    assert late.status_code == 409
    assert "al afgehandeld door Carla CCV-adviseur" in late.text
    events = site.client("auditor").get(f"/zaken/{site.cases['burgemeester']}").text
    assert "Secretaris-directeur" in events and "Ander" not in events


def test_same_person_in_two_tabs_gets_the_done_message(site: Site) -> None:
    url = _task_url(site, "burgemeester", "contact_organisatie")
    client = site.client("ccv-adviseur-1")
    lock = lock_version_of(client.get(url).text)
    assert post(client, url, {**CONTACT, "lock_version": lock}).status_code == 302
    again = post(client, url, {**CONTACT, "lock_version": lock})
    assert again.status_code == 409
    assert "al afgehandeld door Carla CCV-adviseur" in again.text


def test_stale_form_keeps_what_was_typed(site: Site) -> None:
    """The case moved on (another task of it completed) since the form was opened: 409, values kept."""
    reference = site.cases["burgemeester"]
    url = _task_url(site, "burgemeester", "contact_organisatie")
    client = site.client("ccv-adviseur-1")
    assert post(client, f"{url}/oppakken").status_code == 302  # a claim does not make open forms stale
    lock = lock_version_of(client.get(url).text)
    stale = post(client, url, {**CONTACT, "lock_version": str(int(lock) - 1)})
    assert stale.status_code == 409
    assert "gewijzigd sinds u dit formulier opende" in stale.text
    assert 'value="Secretaris-directeur"' in stale.text
    assert site.open_task(reference, "contact_organisatie").state == "open"


def test_claim_and_unclaim(site: Site) -> None:
    reference = site.cases["burgemeester"]
    url = _task_url(site, "burgemeester", "contact_organisatie")
    one, two = site.client("ccv-adviseur-1"), site.client("ccv-adviseur-2")
    assert post(one, f"{url}/oppakken").status_code == 302
    assert site.open_task(reference).assignee == "ccv-adviseur-1"
    assert "opgepakt door Carla CCV-adviseur" in two.get(url).text or two.get(url).status_code == 404
    # Claiming the case made it adviser 1's: adviser 2 no longer sees it at all.
    assert two.get(url).status_code == 404
    assert post(one, f"{url}/teruggeven").status_code == 302
    assert site.open_task(reference).assignee is None
    mine = one.get("/taken?filter=mijn").text
    assert reference not in mine


def test_task_claimed_by_a_colleague_cannot_be_completed(site: Site) -> None:
    """Two people in one lane and scope: the werkgever's lane of the burgemeester's case has one person, so
    use the claim by adviser 1 on a case still visible to both, then adviser 2 submits."""
    reference = site.cases["burgemeester"]
    url = _task_url(site, "burgemeester", "contact_organisatie")
    two = site.client("ccv-adviseur-2")
    lock = lock_version_of(two.get(url).text)
    assert post(site.client("ccv-adviseur-1"), f"{url}/oppakken").status_code == 302
    refused = post(two, url, {**CONTACT, "lock_version": lock})
    assert refused.status_code in (403, 404)
    assert site.open_task(reference).state == "open"


def test_html_in_text_fields_is_shown_escaped(site: Site) -> None:
    reference = site.cases["burgemeester"]
    attack = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    client = site.client("ccv-adviseur-1")
    url = _task_url(site, "burgemeester", "contact_organisatie")
    assert _submit(client, url, {**CONTACT, "contactpersoon_organisatie": attack}).status_code == 302
    for login in ("ccv-adviseur-1", "auditor", "werkgever-gemeente"):
        page = site.client(login).get(f"/zaken/{reference}").text
        assert attack not in page
        assert "&lt;script&gt;" in page
    werkgever_task = site.client("werkgever-gemeente").get(_task_url(site, "burgemeester", "input_organisatie")).text
    assert attack not in werkgever_task and "&lt;script&gt;" in werkgever_task


def test_upload_is_stored_with_the_case_and_downloaded_as_attachment(site: Site) -> None:
    reference = site.cases["burgemeester"]
    client = site.client("ccv-adviseur-1")
    assert _submit(client, _task_url(site, "burgemeester", "contact_organisatie"), CONTACT).status_code == 302
    werkgever = site.client("werkgever-gemeente")
    fields = {
        "lokaal_dreigingsbeeld": "Synthetisch",
        "bekende_incidenten": "Geen",
        "eigen_maatregelen_organisatie": "-",
    }
    assert _submit(werkgever, _task_url(site, "burgemeester", "input_organisatie"), fields).status_code == 302
    url = _task_url(site, "burgemeester", "intakeverslag")
    response = _submit(
        client,
        url,
        {
            "intakeverslag_samenvatting": "Synthetische samenvatting",
            "intakeverslag_document": (io.BytesIO(PDF), "../../verslag.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.text
    [doc] = [d for d in site.documents(reference) if d.field == "intakeverslag_document"]
    assert doc.filename == "verslag.pdf" and doc.content_type == "application/pdf"
    download = client.get(f"/zaken/{reference}/documenten/{doc.id}")
    assert download.status_code == 200 and download.data == PDF
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    # The intake report is threat information: neither the werkgever nor the bestuurder receives it.
    assert werkgever.get(f"/zaken/{reference}/documenten/{doc.id}").status_code == 404
    assert site.client("burgemeester").get(f"/zaken/{reference}/documenten/{doc.id}").status_code == 404
    assert "verslag.pdf" not in werkgever.get(f"/zaken/{reference}").text


def test_upload_of_the_wrong_kind_is_refused_and_typed_text_kept(site: Site) -> None:
    reference = site.cases["dijkgraaf"]
    before = site.case(reference)
    client = site.client("bva")
    url = _task_url(site, "dijkgraaf", "vaststellen_advies")
    response = _submit(
        client,
        url,
        {
            "besluit_bva": "vaststellen",
            "vaststellingsdatum": "2026-11-05",
            "toelichting_bva": "Synthetische toelichting",
            "beveiligingsadvies_document": (io.BytesIO(b"MZ\x90\x00 not a pdf"), "advies.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "niet aanvaard" in response.text
    assert "Synthetische toelichting" in response.text
    assert site.case(reference).last_hash == before.last_hash
    assert not [d for d in site.documents(reference) if d.filename == "advies.pdf"]


def test_a_document_id_of_another_case_cannot_be_attached(site: Site) -> None:
    other_doc = next(d for d in site.documents(site.cases["gedeputeerde"]) if d.field == "beveiligingsadvies_document")
    reference = site.cases["dijkgraaf"]
    before = site.case(reference)
    response = _submit(
        site.client("bva"),
        _task_url(site, "dijkgraaf", "vaststellen_advies"),
        {"besluit_bva": "vaststellen", "vaststellingsdatum": "2026-11-05", "beveiligingsadvies_document": other_doc.id},
    )
    assert response.status_code == 422
    assert "hoort niet bij deze zaak" in response.text
    assert site.case(reference).last_hash == before.last_hash


def test_repeatable_group_rows_are_added_and_removed_without_javascript(site: Site) -> None:
    reference = site.cases["gedeputeerde"]
    before = site.case(reference)
    client = site.client("gedeputeerde")
    url = _task_url(site, "gedeputeerde", "maatregelen_aanvaarden")
    rows = {"maatregelen_keuze/0/omschrijving": "Eerste", "maatregelen_keuze/0/aanvaard": "ja"}
    added = _submit(client, url, rows, action="rij_toevoegen:maatregelen_keuze")
    assert added.status_code == 200
    page = lxml.html.fromstring(added.text)
    assert page.get_element_by_id("veld-maatregelen_keuze-0-omschrijving").value == "Eerste"
    assert page.get_element_by_id("veld-maatregelen_keuze-1-omschrijving") is not None
    removed = _submit(client, url, rows, action="rij_verwijderen:maatregelen_keuze/0")
    assert removed.status_code == 200
    assert ">Eerste<" not in removed.text
    assert site.case(reference).last_hash == before.last_hash


def test_login_wrong_password_and_logout(site: Site) -> None:
    client = site.client()
    wrong = log_in(client, "burgemeester", "fout")
    assert wrong.status_code == 401 and "onjuist" in wrong.text
    unknown = log_in(client, "niemand", PASSWORD)
    assert unknown.status_code == 401 and unknown.text.count("onjuist") == wrong.text.count("onjuist")
    assert log_in(client, "burgemeester").status_code == 302
    cookie = client.get_cookie("regeling_sessie")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    assert post(client, "/uitloggen").status_code == 302
    assert client.get("/taken").status_code == 302


def test_login_renews_the_session(site: Site) -> None:
    client = site.client()
    client.get("/inloggen")
    with client.session_transaction() as session:
        session["geplant"] = "door aanvaller"
        planted = session["csrf"]
    log_in(client, "burgemeester")
    with client.session_transaction() as session:
        assert "geplant" not in session
    assert csrf_of(client) != planted  # the logged-in session's token (tests/web/test_login_security.py: more)


def test_login_next_only_goes_to_this_site(site: Site) -> None:
    client = site.client()
    token_page = client.get("/inloggen?next=https://evil.example/")
    assert "evil.example" not in token_page.text
    post(client, "/inloggen", {"gebruikersnaam": "burgemeester", "wachtwoord": PASSWORD, "next": "//evil.example"})
    response = post(client, "/inloggen/code", {"code": totp_code(site.app, "burgemeester")})  # the second step
    assert response.headers["Location"] == "/"


def test_form_opens_prefilled_from_the_case(site: Site) -> None:
    """maatregelen_keuze starts with one row per advised measure (x-prefill: maatregelen)."""
    url = _task_url(site, "gedeputeerde", "maatregelen_aanvaarden")
    page = lxml.html.fromstring(site.client("gedeputeerde").get(url).text)
    assert page.get_element_by_id("veld-maatregelen_keuze-0-omschrijving").value == "Demo: alarmsysteem"
    assert page.get_element_by_id("veld-maatregelen_keuze-1-omschrijving").value == "Demo: online vindbaarheid beperken"


def test_claims_are_history_a_restore_passes_by(site: Site) -> None:
    """A claim and an unclaim are events that leave the workflow as it was: a case restored from the
    database after them (snapshot + re-run of later events) continues normally and its chain verifies."""
    from engine import cache
    from engine.history import verify_case
    from engine.queries import timeline

    reference = site.cases["burgemeester"]
    url = _task_url(site, "burgemeester", "contact_organisatie")
    client = site.client("ccv-adviseur-1")
    assert post(client, f"{url}/oppakken").status_code == 302
    assert post(client, f"{url}/teruggeven").status_code == 302
    assert post(client, f"{url}/oppakken").status_code == 302
    cache.clear()
    assert _submit(client, url, CONTACT).status_code == 302
    cache.clear()
    werkgever = site.client("werkgever-gemeente")
    fields = {
        "lokaal_dreigingsbeeld": "Synthetisch",
        "bekende_incidenten": "Geen",
        "eigen_maatregelen_organisatie": "-",
    }
    assert _submit(werkgever, _task_url(site, "burgemeester", "input_organisatie"), fields).status_code == 302
    with site.session() as session:
        case = site.case(reference)
        assert verify_case(session, case).ok
    with site.session() as session:
        types = [entry.what for entry in timeline(session, case)]
    assert types.count("Taak opgepakt") == 2 and types.count("Taak teruggegeven") == 1
