"""Every route × every role: allowed → 200, outside the scope → 404, wrong role → 403 (design/architecture.md,
"Access and privacy"). The demo cases: the burgemeester's waits for the CCV (no adviser yet), the dijkgraaf's
for the BVA (adviser 1), the gedeputeerde's for the bestuurder (adviser 2, BVA has determined)."""

from __future__ import annotations

import pytest

from engine.demo import ACCOUNTS
from tests.websupport import Site

LOGINS = [login for login, _name, _org, _role in ACCOUNTS]
CASE_READERS = {
    "burgemeester": {"burgemeester", "werkgever-gemeente", "ccv-adviseur-1", "ccv-adviseur-2", "auditor"},
    "dijkgraaf": {"dijkgraaf", "werkgever-waterschap", "ccv-adviseur-1", "bva", "auditor"},
    "gedeputeerde": {"gedeputeerde", "werkgever-provincie", "ccv-adviseur-2", "bva", "auditor"},
}
LANE_PEOPLE = {login for login, _n, _o, role in ACCOUNTS if role.value in ("Bestuurder", "CCV", "Werkgever", "BVA")}
READERS = LANE_PEOPLE | {"auditor"}
# The open task of each demo case and who may complete it.
OPEN_TASK = {
    "burgemeester": ("contact_organisatie", {"ccv-adviseur-1", "ccv-adviseur-2"}),
    "dijkgraaf": ("vaststellen_advies", {"bva"}),
    "gedeputeerde": ("maatregelen_aanvaarden", {"gedeputeerde"}),
}


def expected_for_case_page(login: str, case_of: str) -> int:
    if login not in READERS:
        return 403
    return 200 if login in CASE_READERS[case_of] else 404


@pytest.mark.parametrize("login", LOGINS)
def test_inbox(site: Site, login: str) -> None:
    response = site.client(login).get("/taken")
    assert response.status_code == (200 if login in LANE_PEOPLE else 403)


@pytest.mark.parametrize("login", LOGINS)
def test_case_list(site: Site, login: str) -> None:
    response = site.client(login).get("/zaken")
    assert response.status_code == (200 if login in READERS else 403)
    if response.status_code == 200:
        for case_of, reference in site.cases.items():
            assert (reference in response.text) == (login in CASE_READERS[case_of]), (login, case_of)


@pytest.mark.parametrize("login", LOGINS)
def test_aanmelden_only_for_bestuurders(site: Site, login: str) -> None:
    response = site.client(login).get("/aanmelden")
    assert response.status_code == (200 if login in ("burgemeester", "gedeputeerde", "dijkgraaf") else 403)


@pytest.mark.parametrize("login", LOGINS)
def test_processes_page_only_for_process_owners_and_beheerders(site: Site, login: str) -> None:
    response = site.client(login).get("/processen")
    assert response.status_code == (200 if login in ("procesbeheerder", "beheerder") else 403)


@pytest.mark.parametrize("case_of", sorted(CASE_READERS))
@pytest.mark.parametrize("login", LOGINS)
def test_case_page_and_diagram(site: Site, login: str, case_of: str) -> None:
    reference = site.cases[case_of]
    client = site.client(login)
    expected = expected_for_case_page(login, case_of)
    assert client.get(f"/zaken/{reference}").status_code == expected
    assert client.get(f"/zaken/{reference}/diagram/regeling.bpmn").status_code == expected


@pytest.mark.parametrize("case_of", sorted(OPEN_TASK))
@pytest.mark.parametrize("login", LOGINS)
def test_task_page(site: Site, login: str, case_of: str) -> None:
    reference = site.cases[case_of]
    bpmn_id, doers = OPEN_TASK[case_of]
    task = site.open_task(reference, bpmn_id)
    response = site.client(login).get(f"/zaken/{reference}/taken/{task.task_guid}")
    if login not in LANE_PEOPLE:
        assert response.status_code == 403
    elif login not in CASE_READERS[case_of]:
        assert response.status_code == 404
    else:
        assert response.status_code == (200 if login in doers else 403)


@pytest.mark.parametrize("login", LOGINS)
def test_task_actions_outside_scope_change_nothing(site: Site, login: str) -> None:
    """Claiming someone else's task: 403/404 unless in the lane and scope; nothing changes on refusal."""
    from tests.websupport import post

    reference = site.cases["burgemeester"]
    task = site.open_task(reference, "contact_organisatie")
    response = post(site.client(login), f"/zaken/{reference}/taken/{task.task_guid}/oppakken")
    after = site.open_task(reference, "contact_organisatie")
    if login in ("ccv-adviseur-1", "ccv-adviseur-2"):
        assert response.status_code == 302
        assert after.assignee == login
    else:
        assert response.status_code in (403, 404)
        assert after.assignee is None


def test_unknown_case_and_task_are_404(site: Site) -> None:
    client = site.client("ccv-adviseur-1")
    assert client.get("/zaken/BV-2099-9999").status_code == 404
    reference = site.cases["burgemeester"]
    assert client.get(f"/zaken/{reference}/taken/00000000-0000-0000-0000-000000000000").status_code == 404
    assert client.get(f"/zaken/{reference}/diagram/nergens.bpmn").status_code == 404
    assert client.get(f"/zaken/{reference}/documenten/onbekend").status_code == 404


def test_anonymous_is_sent_to_login(site: Site) -> None:
    client = site.client()
    for url in ("/", "/taken", "/zaken", "/aanmelden", f"/zaken/{site.cases['burgemeester']}"):
        response = client.get(url)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/inloggen")


def _unchanged(site: Site) -> dict[str, str]:
    return {reference: site.case(reference).last_hash for reference in site.cases.values()}


@pytest.mark.parametrize("case_of", sorted(OPEN_TASK))
@pytest.mark.parametrize("login", LOGINS)
def test_task_submission(site: Site, login: str, case_of: str) -> None:
    """POSTing the task form: only the lane's people in scope get past access (their empty form is then
    refused as invalid, 422); everyone else gets 403/404, and no case changes."""
    from tests.websupport import post

    reference = site.cases[case_of]
    bpmn_id, doers = OPEN_TASK[case_of]
    task = site.open_task(reference, bpmn_id)
    before = _unchanged(site)
    lock = str(site.case(reference).lock_version)
    response = post(site.client(login), f"/zaken/{reference}/taken/{task.task_guid}", {"lock_version": lock})
    if login in doers:
        assert response.status_code == 422
    elif login not in LANE_PEOPLE:
        assert response.status_code == 403
    elif login not in CASE_READERS[case_of]:
        assert response.status_code == 404
    else:
        assert response.status_code == 403
    assert _unchanged(site) == before


@pytest.mark.parametrize("login", LOGINS)
def test_aanmelding_post_only_for_bestuurders(site: Site, login: str) -> None:
    from tests.websupport import post

    before = _unchanged(site)
    response = post(site.client(login), "/aanmelden", {"naam": "x"})
    assert response.status_code == (422 if login in ("burgemeester", "gedeputeerde", "dijkgraaf") else 403)
    assert _unchanged(site) == before


@pytest.mark.parametrize("login", LOGINS)
def test_message_post_only_for_senders_in_scope(site: Site, login: str) -> None:
    """aftreden may be sent by the Werkgever and the Bestuurder of the case (x-senders)."""
    from tests.websupport import post

    reference = site.cases["burgemeester"]
    before = _unchanged(site)
    response = post(site.client(login), f"/zaken/{reference}/berichten/aftreden", {"_actie": "versturen"})
    if login not in LANE_PEOPLE:
        assert response.status_code == 403
    elif login not in CASE_READERS["burgemeester"]:
        assert response.status_code == 404
    elif login in ("burgemeester", "werkgever-gemeente"):
        assert response.status_code == 422  # allowed, but the empty form is refused
    else:
        assert response.status_code == 403
    assert _unchanged(site) == before


@pytest.mark.parametrize("login", LOGINS)
def test_notifications_page_for_everyone_logged_in(site: Site, login: str) -> None:
    assert site.client(login).get("/meldingen").status_code == 200
    assert site.client().get("/meldingen").status_code == 302


@pytest.mark.parametrize("login", LOGINS)
def test_failures_page_and_retry_only_for_the_beheerder(site: Site, login: str) -> None:
    from tests.websupport import post

    assert site.client(login).get("/beheer/storingen").status_code == (200 if login == "beheerder" else 403)
    response = post(site.client(login), "/beheer/storingen/1/opnieuw", {"reden": "test"})
    assert response.status_code == (404 if login == "beheerder" else 403)  # there is no failed e-mail 1
