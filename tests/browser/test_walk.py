"""Whole cases of the regeling walked through the web UI in real Chromium, each role in a session of its own.

The paths come from tests/processes/paths.py; tests/browser/walk.py turns every step into clicks and typing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from engine import cache
from engine.clock import FrozenClock
from engine.history import payload_of
from engine.model import Event
from tests.browser.support import screenshot, watch
from tests.browser.walk import GEMEENTE, PROVINCIE, Walk, field_id, fill_form, forgiven, log_in, submit
from tests.processes.paths import MAATREGELEN, PATHS
from tests.processes.steps import Complete
from tests.websupport import START, Site, build_seeded_database, copy_database, make_app

IN_NATURA = next(path for path in PATHS if path.name == "in_natura_zonder_bezwaar_dan_aftreden")
# The path whose BVA step grants a PKVW exception (vaststellen(uitzondering="verleend")).
PKVW_UITZONDERING = next(
    path
    for path in PATHS
    if any(
        isinstance(step, Complete)
        and step.task == "vaststellen_advies"
        and step.data.get("pkvw_uitzondering") == "verleend"
        for step in path.steps
    )
)


@pytest.fixture(scope="module")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("walk-template") / "seeded.db"
    return path, build_seeded_database(path)


@pytest.fixture
def site(seeded_template: tuple[Path, dict[str, str]], tmp_path: Path) -> Iterator[Site]:
    template, cases = seeded_template
    clock = FrozenClock(START.replace(hour=15))
    # The walk moves the clock by days between steps (timers); the people stay logged in meanwhile.
    app = make_app(
        copy_database(template, tmp_path / "site.db"),
        clock,
        SESSION_IDLE_TIMEOUT=400 * 86400,
        SESSION_ABSOLUTE_TIMEOUT=400 * 86400,
    )
    cache.clear()
    yield Site(app, clock, cases)
    app.extensions["regeling.db"].engine.dispose()
    cache.clear()


@pytest.fixture
def base(site: Site, live_server: Callable[[Flask], str]) -> str:
    return live_server(site.app)


def contains(actual: Any, expected: Any) -> bool:
    """``expected`` is a sub-structure of ``actual`` (as in tests/processes/test_paths.py)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and contains(actual[k], v) for k, v in expected.items())
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(contains(a, e) for a, e in zip(actual, expected, strict=True))
        )
    return bool(actual == expected)


def finish(walk: Walk, end_event: str, expect_data: dict[str, Any], shot: str) -> None:
    """The case page says Afgerond and shows its diagram; the engine agrees, with the path's data."""
    page = walk.open_case("Bestuurder")
    expect(page.locator("#zaakstatus")).to_have_text("Afgerond")
    expect(page.locator("#open-kop + p")).to_have_text("Geen openstaande taken.")
    diagrams = page.locator(".case-diagram")
    expect(diagrams.first).to_be_attached()
    for diagram in diagrams.all():
        expect(diagram).to_have_attribute("data-ready", "1")
        assert diagram.get_attribute("data-error") is None
    screenshot(page, shot)

    case, data = walk.case()
    assert (case.status, case.end_event) == ("completed", end_event)
    for key, value in expect_data.items():
        assert contains(data.get(key), value), f"{key}: {data.get(key)!r} does not contain {value!r}"
    walk.assert_clean()


def test_in_natura_zonder_bezwaar_dan_aftreden(site: Site, base: str, new_page: Callable[..., Page]) -> None:
    walk = Walk(base, site.app, site.clock, new_page, GEMEENTE)

    def conceptadvies_with_an_empty_field(page: Page) -> None:
        """Send the conceptadvies once with a required field of the second measure left empty."""
        wanted = page.locator(f"#{field_id('maatregelen/1/omschrijving')}")
        typed = wanted.input_value()
        wanted.fill("")
        page.locator("#versturen").click()
        error = page.locator(f"#{field_id('maatregelen/1/omschrijving')}-fout")
        expect(error).to_be_visible()
        expect(error).to_contain_text("verplicht")  # Dutch, next to the field
        expect(page.locator(".foutoverzicht")).to_contain_text("Omschrijving")
        # the rows were added with "Rij toevoegen" (the page then opened at the new row); Versturen opens at the top
        expect(page.locator(".foutoverzicht")).to_be_in_viewport()
        expect(page.locator(".foutoverzicht")).to_be_focused()
        assert "#" not in page.url
        expect(wanted).to_have_attribute("aria-invalid", "true")
        # everything else typed is still there, in every row
        expect(page.locator(f"#{field_id('maatregelen/3/omschrijving')}")).to_have_value("Training veilig reizen")
        expect(page.locator(f"#{field_id('maatregelen/0/geschatte_kosten')}")).to_have_value("3.500")
        expect(page.locator('input[name="maatregelen/2/domein"][value="digitaal"]')).to_be_checked()
        expect(page.locator(f"#{field_id('conceptadvies_toelichting')}")).to_have_value(
            "Vier maatregelen over drie domeinen."
        )
        screenshot(page, "walk-taak-met-fouten")
        walk.forgive("CCV", 422)
        wanted.fill(typed)

    def keuze_opens_with_the_advised_measures(page: Page) -> None:
        for index, maatregel in enumerate(MAATREGELEN):
            omschrijving = page.locator(f"#{field_id(f'maatregelen_keuze/{index}/omschrijving')}")
            expect(omschrijving).to_have_value(str(maatregel["omschrijving"]))
        expect(page.locator(f"#{field_id(f'maatregelen_keuze/{len(MAATREGELEN)}')}")).to_have_count(0)

    walk.before_submit["conceptadvies"] = conceptadvies_with_an_empty_field
    walk.on_open["maatregelen_aanvaarden"] = keuze_opens_with_the_advised_measures
    walk.run(IN_NATURA)
    finish(walk, IN_NATURA.end_event, IN_NATURA.expect_data, "walk-zaak-afgerond")


def test_pkvw_uitzondering(site: Site, base: str, new_page: Callable[..., Page]) -> None:
    walk = Walk(base, site.app, site.clock, new_page, PROVINCIE)
    shots: list[str] = []

    def inbox(page: Page) -> None:
        expect(page.locator("table.taken")).to_contain_text(walk.reference)
        shots.append(str(screenshot(page, "walk-inbox")))

    def woningscan_refused_keeps_the_upload(page: Page) -> None:
        """A refused form keeps the file chosen with it: sent again, it needs no second upload."""
        wanted = page.locator(f"#{field_id('bevindingen_woning')}")
        typed = wanted.input_value()
        wanted.fill("")
        page.locator("#versturen").click()
        expect(page.locator(f"#{field_id('bevindingen_woning')}-fout")).to_be_visible()
        expect(page.locator(f"#{field_id('woningscan_rapport')}-huidig")).to_have_text(
            "Huidig bestand: woningscan_rapport.pdf"
        )
        expect(page.locator(f"#{field_id('pkvw_kostenraming')}")).to_have_value("1.450")
        expect(page.locator('input[name="pkvw_status"][value="niet_conform"]')).to_be_checked()
        walk.forgive("CCV", 422)
        wanted.fill(typed)

    walk.in_inbox["vaststellen_advies"] = inbox
    walk.claim.add("vaststellen_advies")
    walk.before_submit["woningscan"] = woningscan_refused_keeps_the_upload
    walk.run(PKVW_UITZONDERING)
    assert shots
    finish(walk, PKVW_UITZONDERING.end_event, PKVW_UITZONDERING.expect_data, "walk-zaak-pkvw-uitzondering")
    documents = walk.open_case("Bestuurder").locator("ul.documenten li")
    expect(documents.filter(has_text="woningscan_rapport.pdf")).to_have_count(1)
    walk.assert_clean()


def test_aanmelding_with_errors_keeps_what_was_typed(site: Site, base: str, new_page: Callable[..., Page]) -> None:
    page = new_page()
    problems = watch(page)
    log_in(page, base, "dijkgraaf", site.app)
    page.get_by_role("link", name="Aanmelden").click()
    # filled in, except the address (required) and one of the two consents (must be given)
    fill_form(
        page,
        {
            "functie": "dijkgraaf",
            "ambtsstatus": "in_ambt",
            "telefoon_prive": "06 12345678",
            "datum_benoeming": "2025-01-15",
            "acute_dreiging": False,
            "toestemming_contact_organisatie": True,
        },
    )
    page.locator("#versturen").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Er is een probleem")
    expect(summary).to_be_focused()  # keyboard and screen reader users start at the list of problems
    for path in ("woonadres", "toestemming_delen_advies"):
        error = page.locator(f"#{field_id(path)}-fout")
        expect(error).to_be_visible()
        expect(page.locator(f"#{field_id(path)}")).to_have_attribute("aria-invalid", "true")
        expect(summary.locator(f'a[href="#{field_id(path)}"]')).to_be_visible()
    expect(page.locator(f"#{field_id('woonadres')}-fout")).to_contain_text("verplicht")
    # what was typed and chosen is still there
    expect(page.locator(f"#{field_id('naam')}")).to_have_value("Dirk Dijkgraaf")
    expect(page.locator(f"#{field_id('functie')}")).to_have_value("dijkgraaf")
    expect(page.locator(f"#{field_id('telefoon_prive')}")).to_have_value("06 12345678")
    expect(page.locator(f"#{field_id('datum_benoeming')}")).to_have_value("2025-01-15")
    expect(page.locator('input[name="acute_dreiging"][value="nee"]')).to_be_checked()
    expect(page.locator(f"#{field_id('toestemming_contact_organisatie')}")).to_be_checked()
    screenshot(page, "walk-aanmelding-met-fouten")

    # the link in the summary takes the keyboard to the field
    summary.locator(f'a[href="#{field_id("woonadres")}"]').click()
    expect(page.locator(f"#{field_id('woonadres')}")).to_be_focused()
    forgiven(problems, 422)
    problems.assert_clean()


def test_two_advisers_submit_the_same_task(site: Site, base: str, new_page: Callable[..., Page]) -> None:
    """Both CCV advisers open the same task; the first to send wins, the second is told who did it."""
    reference = site.cases["burgemeester"]  # the demo case waiting for the CCV to contact the organisation
    task = site.open_task(reference, "contact_organisatie")
    url = f"{base}/zaken/{reference}/taken/{task.task_guid}"
    carla, cor = new_page(), new_page()
    problems = {"carla": watch(carla), "cor": watch(cor)}
    log_in(carla, base, "ccv-adviseur-1", site.app)
    log_in(cor, base, "ccv-adviseur-2", site.app)
    for page in (carla, cor):
        page.goto(url)
        expect(page.get_by_role("heading", level=1)).to_have_text(task.name)
    fill_form(carla, {"contactpersoon_organisatie": "Secretaris (Carla)", "datum_contact": "2026-11-02"})
    fill_form(cor, {"contactpersoon_organisatie": "Griffier (Cor)", "datum_contact": "2026-11-03"})

    submit(carla)
    expect(carla.locator(".melding")).to_have_text(f"‘{task.name}’ is afgerond.")

    cor.locator("#versturen").click()
    notice = cor.get_by_role("alert")
    expect(notice).to_contain_text("al afgehandeld door Carla CCV-adviseur")
    expect(notice).to_contain_text("Wat u invulde is niet verwerkt.")
    screenshot(cor, "walk-al-afgehandeld")
    # the same from the link in a stale inbox; the case (now Carla's) has left Cor's inbox
    cor.goto(url)
    expect(cor.get_by_role("alert")).to_contain_text("al afgehandeld door Carla CCV-adviseur")
    expect(cor.get_by_role("alert")).not_to_contain_text("Wat u invulde")  # Cor sent nothing this time
    cor.get_by_role("link", name="Naar mijn taken").click()
    expect(cor.locator("main")).not_to_contain_text(reference)

    # nothing lost: Carla's data is in the case, Cor's is not
    carla.goto(f"{base}/zaken/{reference}")
    steps = carla.locator("ol.stappen")
    steps.get_by_text(task.name).click()
    expect(steps).to_contain_text("Secretaris (Carla)")
    expect(steps).not_to_contain_text("Griffier (Cor)")
    with site.session() as session:
        completions = session.scalars(select(Event).where(Event.type == "task_completed").order_by(Event.seq)).all()
        done = [event for event in completions if event.payload["task_guid"] == task.task_guid]
    assert [(event.actor, payload_of(event)["data"]) for event in done] == [
        ("ccv-adviseur-1", {"contactpersoon_organisatie": "Secretaris (Carla)", "datum_contact": "2026-11-02"})
    ]
    assert site.case(reference).ccv_adviser == "ccv-adviseur-1"

    problems["carla"].assert_clean()
    forgiven(problems["cor"], 409)
    problems["cor"].assert_clean()
