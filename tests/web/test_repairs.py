"""The beheerder's repair pages (issue 6): per case the completed steps; a correction shows only that step's form
and needs a reason; moving back needs one too; each view is in the access log and each repair is one event."""

from __future__ import annotations

from sqlalchemy import select

from engine import repair, replay
from engine.history import REPAIR, payload_of, verify_case
from engine.model import AccessLog, Case, Event
from tests.websupport import Site, form_fields, post

REASON = "De bestuurder meldde een typefout in de functie."


def _events(site: Site, reference: str) -> list[Event]:
    with site.session() as session:
        case = site.case(reference)
        return list(session.scalars(select(Event).where(Event.case_id == case.id).order_by(Event.seq)))


def _views(site: Site, reference: str) -> list[tuple[str, str, list[str]]]:
    with site.session() as session:
        case = site.case(reference)
        rows = session.scalars(select(AccessLog).where(AccessLog.case_id == case.id).order_by(AccessLog.id))
        return [(row.account_id, row.what, list(row.fields)) for row in rows]


def _step_seq(site: Site, reference: str, bpmn_id: str) -> int:
    with site.session() as session:
        case = session.scalar(select(Case).where(Case.reference == reference))
        assert case is not None
        return next(s.seq for s in repair.completed_steps(session, case) if s.bpmn_id == bpmn_id)


def _recorded(site: Site, reference: str, seq: int) -> dict[str, object]:
    with site.session() as session:
        case = session.scalar(select(Case).where(Case.reference == reference))
        assert case is not None
        done = next(s for s in repair.completed_steps(session, case) if s.seq == seq)
        return repair.recorded_data(session, case, done.task_guid)


def _assert_history_holds(site: Site, reference: str) -> None:
    with site.session() as session:
        case = session.scalar(select(Case).where(Case.reference == reference))
        assert case is not None
        assert verify_case(session, case).ok
        assert replay.replay_from_start(session, case).ok


def test_the_case_page_lists_completed_steps_and_is_logged(site: Site) -> None:
    reference = site.cases["dijkgraaf"]
    client = site.client("beheerder")
    assert client.get("/beheer/herstel?zaak=" + reference.lower()).headers["Location"].endswith(reference)
    page = client.get(f"/beheer/herstel/{reference}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for name in ("Conceptadvies", "Gegevens corrigeren", "Terugzetten"):
        assert name.lower() in html.lower()
    assert ("beheerder", "herstel", []) in _views(site, reference)
    assert client.get("/beheer/herstel/BV-2099-9999").status_code == 404


def test_the_step_page_shows_only_that_steps_form_and_logs_its_fields(site: Site) -> None:
    reference = site.cases["dijkgraaf"]
    seq = _step_seq(site, reference, "intakeverslag")
    html = site.client("beheerder").get(f"/beheer/herstel/{reference}/stappen/{seq}").get_data(as_text=True)
    assert 'name="intakeverslag_samenvatting"' in html
    assert 'name="woonadres"' not in html and 'name="bevindingen_woning"' not in html  # other steps' fields
    account, what, fields = _views(site, reference)[-1]
    assert (account, what) == ("beheerder", "herstel:intakeverslag")
    assert fields and all(field.startswith("intakeverslag/") for field in fields)


def test_a_correction_needs_a_reason_and_then_is_one_repair_event(site: Site) -> None:
    reference = site.cases["dijkgraaf"]
    seq = _step_seq(site, reference, "intakeverslag")
    url = f"/beheer/herstel/{reference}/stappen/{seq}"
    client = site.client("beheerder")
    data = {**form_fields(_recorded(site, reference, seq)), "intakeverslag_samenvatting": "Gecorrigeerd verslag."}
    lock_version = str(site.case(reference).lock_version)
    count = len(_events(site, reference))
    refused = post(client, url, {**data, "lock_version": lock_version, "reden": "kort"})
    assert refused.status_code == 422 and "minstens" in refused.get_data(as_text=True)
    assert len(_events(site, reference)) == count
    done = post(client, url, {**data, "lock_version": lock_version, "reden": REASON})
    assert done.status_code == 302, done.get_data(as_text=True)[:2000]
    event = _events(site, reference)[-1]
    payload = payload_of(event)
    assert (event.type, event.actor, payload["reason"]) == (REPAIR, "beheerder", REASON)
    assert payload["after"]["intakeverslag_samenvatting"] == "Gecorrigeerd verslag."
    _assert_history_holds(site, reference)


def test_moving_back_opens_the_step_again(site: Site) -> None:
    reference = site.cases["dijkgraaf"]  # the advice is drafted: the BVA has it
    seq = _step_seq(site, reference, "conceptadvies")
    url = f"/beheer/herstel/{reference}/stappen/{seq}/terugzetten"
    client = site.client("beheerder")
    lock_version = str(site.case(reference).lock_version)
    assert post(client, url, {"lock_version": lock_version, "reden": ""}).status_code == 422
    assert post(client, url, {"lock_version": lock_version, "reden": REASON}).status_code == 302
    assert site.open_task(reference).bpmn_id == "conceptadvies"
    event = _events(site, reference)[-1]
    assert (event.type, payload_of(event)["kind"]) == (REPAIR, replay.MOVE_BACK)
    _assert_history_holds(site, reference)
