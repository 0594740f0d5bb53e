"""The access log (who saw which fields of which case, when) and the AVG inzage export built from the database."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from engine import accesslog, inzage
from engine.access import Actor, Role
from engine.accounts import create_account, ensure_organisation
from engine.errors import NotFoundError
from engine.model import Case, MailDelivery, Notification, Outbox
from tests.support import ACTORS, ORGANISATION, ROOT, START, CaseDriver

MINI = ROOT / "tests" / "fixtures" / "mini" / "processes"
VALID = {"naam": "Synthetische Naam", "posten": [{"bedrag": 600}, {"bedrag": 500}]}
AUDITOR = Actor("auditor-1", Role.AUDITOR, "bzk")


@pytest.fixture
def driver(sqlite_engine: Engine) -> CaseDriver:
    driver = CaseDriver(sqlite_engine)
    driver.deploy(MINI)
    return driver


def _case_id(driver: CaseDriver, reference: str) -> int:
    return driver.case(reference).id


def test_a_view_is_recorded_with_names_not_values(driver: CaseDriver) -> None:
    reference = driver.start(process_key="mini")
    driver.complete(reference, "aanvragen", "Bestuurder", VALID)
    case_id = _case_id(driver, reference)
    fields = accesslog.field_names([("aanvraag.schema.json", VALID), ("aanvraag", ["naam"])])
    assert fields == ["aanvraag/naam", "aanvraag/posten"]
    with driver.factory() as session, session.begin():
        accesslog.record_view(session, ACTORS["CCV"], case_id, accesslog.CASE_PAGE, fields, START)
        accesslog.record_view(
            session, AUDITOR, case_id, accesslog.task_view("beoordelen"), ["b", "a", "a"], START + timedelta(1)
        )
    with driver.factory() as session:
        views = accesslog.views_of_case(session, case_id)
        assert [(v.account_id, v.role, v.what, v.fields, v.at) for v in views] == [
            ("ccv-adviseur-1", "CCV", "zaakpagina", ["aanvraag/naam", "aanvraag/posten"], START),
            ("auditor-1", "Auditor", "taak:beoordelen", ["a", "b"], START + timedelta(1)),
        ]
        assert [v.what for v in accesslog.views_by_account(session, "auditor-1")] == ["taak:beoordelen"]
        assert accesslog.views_by_account(session, "nobody") == []
        assert "Synthetische Naam" not in json.dumps([v.fields for v in views])


def test_view_names() -> None:
    assert accesslog.document_view("pkvw_bewijs.schema.json", "certificaat") == "document:pkvw_bewijs/certificaat"
    assert accesslog.field_name("aanmelding.schema.json", "woonadres") == "aanmelding/woonadres"
    assert accesslog.task_view("woningscan") == "taak:woningscan"


def test_the_inzage_export_holds_everything_about_the_person_and_no_secrets(driver: CaseDriver) -> None:
    bestuurder = ACTORS["Bestuurder"]
    with driver.factory() as session, session.begin():
        ensure_organisation(session, ORGANISATION, "Waterschap Voorbeeld", "waterschap")
        session.flush()
        account = create_account(
            session,
            account_id=bestuurder.id,
            name="Synthetische Bestuurder",
            email="bestuurder@voorbeeld.invalid",
            organisation=ORGANISATION,
            roles=[Role.BESTUURDER],
            password_hash="$argon2id$geheim-hash",  # noqa: S106 - a marker the export must not contain
            at=START,
        )
        account.totp_secret = "GEHEIMTOTPSECRET"  # noqa: S105 - a marker the export must not contain
    reference = driver.start(process_key="mini")
    driver.complete(reference, "aanvragen", "Bestuurder", VALID)
    case_id = _case_id(driver, reference)
    with driver.factory() as session, session.begin():
        accesslog.record_view(session, ACTORS["CCV"], case_id, accesslog.CASE_PAGE, ["aanvraag/naam"], START)
        accesslog.record_view(session, bestuurder, case_id, accesslog.CASE_PAGE, ["aanvraag/naam"], START)
        outbox = Outbox(
            case_id=case_id,
            idempotency_key="k",
            recipient_role="Bestuurder",
            template="aanmelding_bevestigd",
            next_attempt_at=START,
            created_at=START,
        )
        session.add(outbox)
        session.flush()
        session.add(
            Notification(outbox_id=outbox.id, account_id=bestuurder.id, case_id=case_id, template="t", created_at=START)
        )
        session.add(
            MailDelivery(
                outbox_id=outbox.id,
                case_id=case_id,
                account_id=bestuurder.id,
                idempotency_key="k:1",
                template="aanmelding_bevestigd",
                status="sent",
                next_attempt_at=START,
                message_id="<m@x>",
                sent_at=START,
                created_at=START,
            )
        )
    with driver.factory() as session:
        export = inzage.build_export(session, bestuurder.id, START)
        text = json.dumps(export)
        assert "geheim-hash" not in text and "GEHEIMTOTPSECRET" not in text and "<m@x>" not in text
        assert export["account"]["id"] == bestuurder.id
        assert export["account"]["tweestapsverificatie_actief"] is False
        [case] = export["zaken"]
        assert case["zaaknummer"] == reference
        [step] = [s for s in case["stappen"] if s["soort"] == "stap"]
        assert step["gegevens"] == VALID and step["stap"] == "aanvragen"
        assert case["tijdlijn"][0]["wat"] == "Zaak gestart"
        assert [(v["door"], v["wat"]) for v in case["inzages"]] == [
            ("ccv-adviseur-1", "zaakpagina"),
            (bestuurder.id, "zaakpagina"),
        ]
        assert export["meldingen"] == [
            {"zaak": reference, "sjabloon": "t", "aangemaakt_op": START.isoformat(), "gelezen_op": None}
        ]
        assert [(m["zaak"], m["status"], m["sjabloon"]) for m in export["e_mails"]] == [
            (reference, "sent", "aanmelding_bevestigd")
        ]
        assert [v["zaak"] for v in export["eigen_inzages"]] == [reference]
        assert inzage.exported_fields(export, reference) == ["aanvraag/naam", "aanvraag/posten"]
        assert isinstance(session.get(Case, case_id), Case)


def test_the_export_of_an_unknown_account_is_not_found(driver: CaseDriver) -> None:
    with driver.factory() as session, pytest.raises(NotFoundError):
        inzage.build_export(session, "bestaat-niet", START)
