"""The access log of every page with a case's sensitive data (fail closed), and the DPO's AVG inzage export."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from typing import Any

import pytest
from sqlalchemy import func, select

from engine import accesslog
from engine.model import AccessLog, AdminAction
from tests.websupport import Site, post


def _views(site: Site, reference: str) -> list[AccessLog]:
    with site.session() as session:
        return accesslog.views_of_case(session, site.case(reference).id)


def _count(site: Site) -> int:
    with site.session() as session:
        return int(session.scalar(select(func.count()).select_from(AccessLog)) or 0)


def test_the_case_page_is_logged_with_the_fields_this_role_saw(site: Site) -> None:
    reference = site.cases["gedeputeerde"]
    assert site.client("ccv-adviseur-2").get(f"/zaken/{reference}").status_code == 200
    assert site.client("werkgever-provincie").get(f"/zaken/{reference}").status_code == 200
    ccv, werkgever = _views(site, reference)
    assert (ccv.account_id, ccv.role, ccv.what) == ("ccv-adviseur-2", "CCV", "zaakpagina")
    assert ccv.at == site.clock()
    assert "aanmelding/woonadres" in ccv.fields
    assert (werkgever.account_id, werkgever.role) == ("werkgever-provincie", "Werkgever")
    assert "aanmelding/woonadres" not in werkgever.fields and "aanmelding/naam" in werkgever.fields
    assert not any(field.startswith("woningscan/") for field in werkgever.fields)
    assert all("/" in field and "Demostraat" not in field for field in ccv.fields)  # names, never values


def test_the_task_page_and_a_document_are_logged(site: Site) -> None:
    reference = site.cases["gedeputeerde"]
    task = site.open_task(reference)
    client = site.client("gedeputeerde")
    assert client.get(f"/zaken/{reference}/taken/{task.task_guid}").status_code == 200
    [doc] = [d for d in site.documents(reference) if d.field == "beveiligingsadvies_document"]
    assert client.get(f"/zaken/{reference}/documenten/{doc.id}").status_code == 200
    task_view, document_view = _views(site, reference)
    assert task_view.what == f"taak:{task.bpmn_id}" and task_view.account_id == "gedeputeerde"
    assert any(field.startswith("aanmelding/") for field in task_view.fields)
    assert document_view.what == "document:vaststelling/beveiligingsadvies_document"
    assert document_view.fields == ["vaststelling/beveiligingsadvies_document"]


def test_a_refused_document_and_other_pages_are_not_logged(site: Site) -> None:
    reference = site.cases["gedeputeerde"]
    client = site.client("werkgever-provincie")
    for doc in site.documents(reference):
        if doc.field != "beveiligingsadvies_document":
            assert client.get(f"/zaken/{reference}/documenten/{doc.id}").status_code == 404
    assert client.get("/zaken").status_code == 200
    assert _views(site, reference) == []


@pytest.mark.parametrize("page", ["case", "task", "document"])
def test_no_page_is_shown_when_the_view_cannot_be_logged(
    site: Site, monkeypatch: pytest.MonkeyPatch, page: str
) -> None:
    reference = site.cases["gedeputeerde"]
    task = site.open_task(reference)
    [doc] = [d for d in site.documents(reference) if d.field == "beveiligingsadvies_document"]
    url = {
        "case": f"/zaken/{reference}",
        "task": f"/zaken/{reference}/taken/{task.task_guid}",
        "document": f"/zaken/{reference}/documenten/{doc.id}",
    }[page]
    client = site.client("gedeputeerde")

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("the access log is unavailable")

    monkeypatch.setattr(accesslog, "record_view", broken)
    response = client.get(url)
    assert response.status_code == 500
    assert "Er ging iets mis" in response.text
    assert "Demostraat" not in response.text and "Demo-huishouden" not in response.text
    assert "attachment" not in response.headers.get("Content-Disposition", "")
    assert _count(site) == 0


def test_only_the_auditor_opens_the_inzage_page(site: Site) -> None:
    page = site.client("auditor").get("/privacy/inzage?account=gedeputeerde")
    assert page.status_code == 200
    assert site.cases["gedeputeerde"] in page.text and "Download gegevens (JSON)" in page.text
    assert 'href="/privacy/inzage"' in page.text  # the menu link
    assert site.client("auditor").get("/privacy/inzage?account=bestaat-niet").status_code == 404
    for login in ("gedeputeerde", "ccv-adviseur-1", "beheerder", "bva"):
        client = site.client(login)
        assert client.get("/privacy/inzage").status_code == 403, login
        assert post(client, "/privacy/inzage/export", {"account": "gedeputeerde"}).status_code == 403, login
        assert 'href="/privacy/inzage"' not in client.get("/meldingen").text


def test_the_json_export_is_complete_without_secrets_and_is_logged(site: Site) -> None:
    reference = site.cases["gedeputeerde"]
    site.client("ccv-adviseur-2").get(f"/zaken/{reference}")  # a view the export must report
    client = site.client("auditor")
    response = post(
        client, "/privacy/inzage/export", {"account": "gedeputeerde", "formaat": "json", "kenmerk": "AVG-7"}
    )
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith('attachment; filename="inzage-gedeputeerde-')
    assert response.headers["Cache-Control"] == "no-store"
    export = json.loads(response.data)
    assert "password" not in response.text and "argon2" not in response.text and "totp_secret" not in response.text
    assert export["account"]["id"] == "gedeputeerde"
    [case] = export["zaken"]
    assert case["zaaknummer"] == reference
    aanmelding = next(step for step in case["stappen"] if step["formulier"] == "aanmelding.schema.json")
    assert aanmelding["gegevens"]["woonadres"].startswith("Demostraat")
    assert {doc["veld"] for doc in case["documenten"]} >= {"beveiligingsadvies_document"}
    assert all(len(doc["sha256"]) == 64 and doc["grootte"] > 0 for doc in case["documenten"])
    assert [(view["door"], view["wat"]) for view in case["inzages"]] == [("ccv-adviseur-2", "zaakpagina")]
    assert case["tijdlijn"] and isinstance(export["meldingen"], list) and isinstance(export["e_mails"], list)
    views = _views(site, reference)
    assert [(v.account_id, v.role, v.what) for v in views][-1] == ("auditor", "Auditor", "inzage-export")
    assert "aanmelding/woonadres" in views[-1].fields
    with site.session() as session:
        action = session.scalars(select(AdminAction).where(AdminAction.action == "inzage_export")).one()
        assert (action.actor, action.target) == ("auditor", "account:gedeputeerde")
        assert "AVG-7" in action.reason


def test_the_zip_export_holds_the_json_and_the_documents(site: Site) -> None:
    reference = site.cases["gedeputeerde"]
    response = post(site.client("auditor"), "/privacy/inzage/export", {"account": "gedeputeerde", "formaat": "zip"})
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert response.headers["Cache-Control"] == "no-store"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    names = archive.namelist()
    assert "inzage.json" in names
    documents = site.documents(reference)
    assert len([name for name in names if name.startswith(f"documenten/{reference}/")]) == len(documents)
    for doc in documents:
        [name] = [n for n in names if n.startswith(f"documenten/{reference}/{doc.id}-")]
        assert hashlib.sha256(archive.read(name)).hexdigest() == doc.sha256


def test_an_export_of_an_unknown_account_or_format_is_refused(site: Site) -> None:
    client = site.client("auditor")
    assert post(client, "/privacy/inzage/export", {"account": "bestaat-niet"}).status_code == 404
    assert post(client, "/privacy/inzage/export", {"account": "gedeputeerde", "formaat": "xml"}).status_code == 400
    assert _count(site) == 0
