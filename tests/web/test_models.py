"""The procesbeheerder's "Processen" area through HTTP: the draft's file API and its checks, hostile uploads,
compare, deploy with a comment, moving a case, the proefrit, the form preview and export — and nobody else in."""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from engine import diff
from engine.demo import ACCOUNTS
from engine.model import Case, Event, ProcessDraft, ProcessVersion
from tests.websupport import Site, csrf_of, post

BASE = "/processen/regeling"
OWNER = "procesbeheerder"
OTHERS = [login for login, _name, _org, role in ACCOUNTS if role.value != "Procesbeheerder"]

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"><bpmn:process id="p">&lol3;</bpmn:process>
</bpmn:definitions>"""
EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"><bpmn:process id="p">&xxe;</bpmn:process>
</bpmn:definitions>"""


def post_json(client: FlaskClient, url: str, body: Any) -> Any:
    """A fetch() as the editor sends it: JSON with the CSRF token in the X-CSRF-Token header."""
    return client.post(url, json=body, headers={"X-CSRF-Token": csrf_of(client)})


def upload_raw(client: FlaskClient, filename: str, content: bytes) -> Any:
    """A multipart upload built by hand: the test client would spool a large one to a file it never closes."""
    boundary = "grens"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{csrf_of(client)}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="bestand"; filename="{filename}"\r\n\r\n'
    )
    body = head.encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return client.post(f"{BASE}/concept/bestanden", data=body, content_type=f"multipart/form-data; boundary={boundary}")


def draft_text(client: FlaskClient, name: str = "regeling.bpmn") -> str:
    response = client.get(f"{BASE}/concept/bestanden/{name}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    return response.get_data(as_text=True)


def versions(site: Site) -> int:
    with site.session() as session:
        return int(session.scalar(select(func.count()).select_from(ProcessVersion)) or 0)


def without_form(text: str) -> str:
    """The regeling with the form of its first user task taken away."""
    return re.sub(r'<spiffworkflow:property name="formJsonSchemaFilename" value="[^"]+" */>', "", text, count=1)


@pytest.mark.parametrize("login", OTHERS)
def test_nobody_but_the_procesbeheerder_reaches_a_process(site: Site, login: str) -> None:
    client = site.client(login)
    assert client.get(BASE).status_code == 403
    assert client.get(f"{BASE}/concept/bestanden/regeling.bpmn").status_code == 403
    assert post_json(client, f"{BASE}/concept/bestanden/regeling.bpmn", {"text": "x"}).status_code == 403
    assert client.get(f"{BASE}/versies/1/export.zip").status_code == 403


def test_the_list_shows_versions_and_the_beheerder_may_read_it(site: Site) -> None:
    for login in (OWNER, "beheerder"):
        page = site.client(login).get("/processen")
        assert page.status_code == 200
        assert "regeling" in page.text and "Lopende zaken" in page.text
    assert site.client(OWNER).get("/").headers["Location"] == "/processen"


def test_the_csrf_token_is_on_every_page_for_fetch_and_a_json_post_needs_it(site: Site) -> None:
    client = site.client(OWNER)
    page = client.get(BASE)
    assert f'<meta name="csrf-token" content="{csrf_of(client)}">' in page.text
    refused = client.post(f"{BASE}/concept/controleren", json={})
    assert refused.status_code == 400


def test_a_saved_file_is_stored_and_checked_and_problems_name_file_and_element(site: Site) -> None:
    client = site.client(OWNER)
    text = draft_text(client)
    ok = post_json(client, f"{BASE}/concept/bestanden/regeling.bpmn", {"text": text})
    assert ok.status_code == 200 and ok.json == {"opgeslagen": True, "problemen": []}

    broken = without_form(text)
    saved = post_json(client, f"{BASE}/concept/bestanden/regeling.bpmn", {"text": broken})
    assert saved.status_code == 200 and saved.json["opgeslagen"] is True  # a draft may be incomplete
    (problem,) = saved.json["problemen"]
    assert problem == {
        "bestand": "regeling.bpmn",
        "element": "aanmelding",
        "melding": "gebruikerstaak heeft geen formulier",
        "ernst": "fout",
    }
    assert draft_text(client) == broken
    assert post_json(client, f"{BASE}/concept/controleren", {}).json["problemen"] == [problem]


def test_a_timer_of_ten_days_in_words_is_an_error_on_its_element(site: Site) -> None:
    client = site.client(OWNER)
    text = draft_text(client, "advisering.bpmn").replace('"P8W"', '"10 days"', 1)
    saved = post_json(client, f"{BASE}/concept/bestanden/advisering.bpmn", {"text": text})
    (problem,) = saved.json["problemen"]
    assert problem["element"] and problem["ernst"] == "fout"
    assert problem["melding"].startswith("timer: '10 days' is geen ISO 8601-duur")


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("regeling.bpmn", BILLION_LAUGHS, "DOCTYPE"),
        ("regeling.bpmn", EXTERNAL_ENTITY, "DOCTYPE"),
        ("regeling.bpmn", "<bpmn:definitions", "welgevormd"),
        ("regeling.bpmn", "<html/>", "geen BPMN 2.0-bestand"),
        ("../../etc/passwd.bpmn", "<x/>", "bestandsnaam"),
        ("forms/x.schema.json", "[1]", "JSON-object"),
    ],
)
def test_files_that_are_no_diagram_or_form_are_refused_and_nothing_is_stored(
    site: Site, name: str, text: str, reason: str
) -> None:
    client = site.client(OWNER)
    refused = post_json(client, f"{BASE}/concept/bestanden/{name}", {"text": text})
    assert refused.status_code in (400, 404)
    if refused.status_code == 400:
        assert refused.json["opgeslagen"] is False
        assert reason in refused.json["problemen"][0]["melding"]
    with site.session() as session:
        assert session.scalar(select(ProcessDraft)) is None


@pytest.mark.parametrize("hostile", [BILLION_LAUGHS, EXTERNAL_ENTITY])
def test_hostile_uploads_are_refused_with_a_clear_message(site: Site, hostile: str) -> None:
    client = site.client(OWNER)
    data = {"bestand": (io.BytesIO(hostile.encode()), "regeling.bpmn")}
    response = post(client, f"{BASE}/concept/bestanden", data, content_type="multipart/form-data")
    assert response.status_code == 302
    page = client.get(BASE).text
    assert "Bestand geweigerd: DOCTYPE- en ENTITY-declaraties zijn niet toegestaan" in page
    assert "root:" not in page and "lollol" not in page
    with site.session() as session:
        assert session.scalar(select(ProcessDraft)) is None


def test_a_fifty_megabyte_upload_is_refused_before_it_is_read(site: Site) -> None:
    client = site.client(OWNER)
    response = upload_raw(client, "groot.bpmn", b"x" * (50 * 1024 * 1024))
    assert response.status_code == 413
    assert "te groot" in response.text
    with site.session() as session:
        assert session.scalar(select(ProcessDraft)) is None


def test_a_file_just_over_the_limit_is_refused_by_the_draft(site: Site) -> None:
    client = site.client(OWNER)
    upload_raw(client, "groot.bpmn", b"<a>" + b"x" * 2_000_000 + b"</a>")
    assert "Bestand geweigerd: bestand is groter dan 2 MB" in client.get(BASE).text


def test_deploy_needs_a_comment_refuses_errors_and_then_deploys(site: Site) -> None:
    client = site.client(OWNER)
    before = versions(site)
    text = draft_text(client)
    post_json(client, f"{BASE}/concept/bestanden/regeling.bpmn", {"text": without_form(text)})
    no_comment = post(client, f"{BASE}/concept/in-gebruik-nemen", {"toelichting": "  "})
    assert no_comment.status_code == 422 and "toelichting is verplicht" in no_comment.text
    with_errors = post(client, f"{BASE}/concept/in-gebruik-nemen", {"toelichting": "Nieuwe stap"})
    assert with_errors.status_code == 422
    assert "1 fout(en)" in with_errors.text and "<code>aanmelding</code>" in with_errors.text
    assert versions(site) == before

    changed = text.replace('name="Aanmelding indienen"', 'name="Aanmelding doen"', 1)
    assert changed != text
    post_json(client, f"{BASE}/concept/bestanden/regeling.bpmn", {"text": changed})
    compare = client.get(f"{BASE}/concept/vergelijken")
    assert compare.status_code == 200
    island = re.search(r'<script type="application/json" id="diff-1">(.*?)</script>', compare.text)
    assert island is not None
    assert json.loads(island.group(1)) == {"toegevoegd": [], "verwijderd": [], "gewijzigd": ["aanmelding"]}
    assert (
        'data-diff="diff-1"' in compare.text
        and 'data-old-url="/processen/regeling/versies/1/bestanden/regeling.bpmn"' in compare.text
    )
    assert "naam Aanmelding indienen → Aanmelding doen" in compare.text

    deployed = post(client, f"{BASE}/concept/in-gebruik-nemen", {"toelichting": "Andere naam voor de aanmelding"})
    assert deployed.status_code == 302
    assert versions(site) == before + 1
    page = client.get(BASE).text
    assert "Versie 2 is in gebruik genomen" in page and "Andere naam voor de aanmelding" in page
    with site.session() as session:
        assert session.scalar(select(ProcessDraft)) is None


def test_the_process_page_shows_running_cases_without_case_data_and_moves_one(site: Site) -> None:
    client = site.client(OWNER)
    text = draft_text(client)
    post_json(
        client,
        f"{BASE}/concept/bestanden/regeling.bpmn",
        {"text": text.replace("<bpmn:documentation>", "<bpmn:documentation>Nieuw. ", 1)},
    )
    assert post(client, f"{BASE}/concept/in-gebruik-nemen", {"toelichting": "Documentatie"}).status_code == 302
    page = client.get(BASE).text
    reference = site.cases["burgemeester"]
    assert reference in page and "ja: kan over" in page
    for secret in ("Demostraat", "Synthetische", "woonadres"):
        assert secret not in page
    missing = post(client, f"{BASE}/versies/1/zaken/{reference}/migreren", {"toelichting": ""})
    assert missing.status_code == 422
    moved = post(client, f"{BASE}/versies/1/zaken/{reference}/migreren", {"toelichting": "Tekst aangepast"})
    assert moved.status_code == 302
    assert site.case(reference).process_version_id != 1
    with site.session() as session:
        last = session.scalars(
            select(Event).join(Case).where(Case.reference == reference).order_by(Event.seq.desc())
        ).first()
        assert last is not None and last.type == "case_migrated" and last.actor == OWNER
        assert last.payload["from_version"] == 1 and last.payload["to_version"] == 2
    again = post(client, f"{BASE}/versies/1/zaken/{reference}/migreren", {"toelichting": "nog eens"})
    assert again.status_code == 409


def test_the_proefrit_runs_the_draft_without_cases_or_mail(site: Site) -> None:
    client = site.client(OWNER)
    page = client.get(f"{BASE}/concept/proefrit")
    assert page.status_code == 200 and 'name="voorbeeld-aanmelding"' in page.text
    with site.session() as session:
        cases_before = session.scalar(select(func.count()).select_from(Case))
    result = post(client, f"{BASE}/concept/proefrit", {})
    assert result.status_code == 200
    assert "Aanmelding indienen&#39; afgerond" in result.text and "(niet verstuurd)" in result.text
    markers = re.search(r'<script type="application/json" id="proefrit-markers">(.*?)</script>', result.text)
    assert markers is not None and "aanmelding" in json.loads(markers.group(1))["done"]
    with site.session() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == cases_before
    bad = post(client, f"{BASE}/concept/proefrit", {"voorbeeld-aanmelding": "{"})
    assert bad.status_code == 422 and "geen geldige JSON" in bad.text


def test_the_form_preview_renders_the_schema_or_says_what_is_wrong(site: Site) -> None:
    client = site.client(OWNER)
    schema = draft_text(client, "forms/contact_organisatie.schema.json")
    url = f"{BASE}/concept/formulieren/contact_organisatie.schema.json/voorbeeld"
    shown = post_json(client, url, {"text": schema})
    assert shown.status_code == 200 and "Contactpersoon organisatie" in shown.json["html"]
    assert "<fieldset disabled" in shown.json["html"]
    broken = post_json(client, url, {"text": '{"type": '})
    assert broken.status_code == 400 and "regel 1" in broken.json["problemen"][0]["melding"]


def test_export_is_a_zip_of_the_versions_files(site: Site) -> None:
    client = site.client(OWNER)
    response = client.get(f"{BASE}/versies/1/export.zip")
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(response.data)).namelist()
    assert "processes/regeling.bpmn" in names and "forms/aanmelding.schema.json" in names
    assert client.get(f"{BASE}/versies/9/export.zip").status_code == 404
    assert client.get(f"{BASE}/versies/1/bestanden/regeling.bpmn").headers["Content-Type"].startswith("application/xml")


def test_a_file_is_removed_from_the_draft_after_confirming_but_not_one_the_process_needs(site: Site) -> None:
    client = site.client(OWNER)
    url = f"{BASE}/concept/bestand-verwijderen"
    page = client.get(BASE).text
    assert "Kan niet weg: bevat het hoofdproces regeling." in page
    assert 'name="bestand" value="forms/besluit_herzien.schema.json"' in page

    unconfirmed = post(client, url, {"bestand": "forms/besluit_herzien.schema.json"})
    assert unconfirmed.status_code == 302
    assert "vink eerst aan dat het weg mag" in client.get(BASE).text
    for needed, reason in (("regeling.bpmn", "hoofdproces regeling"), ("advisering.bpmn", "deelproces advisering")):
        refused = post(client, url, {"bestand": needed, "bevestigd": "ja"})
        assert refused.status_code == 302
        assert f"Bestand niet verwijderd: {needed} kan niet weg: het bevat het {reason}" in client.get(BASE).text
    with site.session() as session:
        assert session.scalar(select(ProcessDraft)) is None
    assert post(client, url, {"bestand": "forms/geen.schema.json", "bevestigd": "ja"}).status_code == 404

    removed = post(client, url, {"bestand": "forms/besluit_herzien.schema.json", "bevestigd": "ja"})
    assert removed.status_code == 302
    assert "Bestand forms/besluit_herzien.schema.json is uit het concept verwijderd" in client.get(BASE).text
    assert client.get(f"{BASE}/concept/bestanden/forms/besluit_herzien.schema.json").status_code == 404
    assert client.get(f"{BASE}/concept/bestanden/regeling.bpmn").status_code == 200


def test_a_capped_list_of_running_cases_says_how_many_more_there_are(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(diff, "MAX_CASES", 1)
    client = site.client(OWNER)
    text = draft_text(client)
    post_json(
        client,
        f"{BASE}/concept/bestanden/regeling.bpmn",
        {"text": text.replace("<bpmn:documentation>", "<bpmn:documentation>Nieuw. ", 1)},
    )
    compare = client.get(f"{BASE}/concept/vergelijken").text
    assert compare.count("ja: kan over") == 1
    assert "En nog 2 zaken: de lijst toont de 1 oudste." in compare
    assert post(client, f"{BASE}/concept/in-gebruik-nemen", {"toelichting": "Documentatie"}).status_code == 302
    assert "En nog 2 zaken" in client.get(BASE).text
