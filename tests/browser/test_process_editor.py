"""The procesbeheerder's process editor in real Chromium: the bpmn-js modeler with our properties panel
(vendor/bpmn-modeler, built from tools/bpmn-build), checks shown on the diagram, the visual diff, deploying, and
the form editor — against the real app (web/models.py) on a copy of the seeded database.

Issue 5, "Done means": test_a_new_task_and_a_shorter_reminder_reach_new_cases_only and
test_a_task_without_form_and_a_timer_in_words_are_marked_and_not_deployed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import timedelta

from flask import Flask
from lxml import etree
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from engine import bundles
from engine.model import ProcessVersion
from tests.browser.editor import (
    business_object,
    insert_user_task_on_flow,
    open_editor,
    panel_field,
    problems,
    select_element,
    show_file,
    wait_for_model,
)
from tests.browser.support import PageProblems, screenshot, watch
from tests.browser.test_accessibility import assert_accessible
from tests.browser.walk import forgiven, log_in
from tests.processes.paths import PATHS, aanmelding, advisering_tot_concept
from tests.processes.steps import Advance, Complete, ExpectReady, Message
from tests.support import CaseDriver
from tests.websupport import PROJECT
from web.db import Database

OWNER = "procesbeheerder"
REMINDER = "bnd_sla_contact"  # "SLA contact": reminds the CCV to contact the organisation (advisering.bpmn)
REMINDER_NOTICE = "sla_contact_herinnering"
FIRST_FLOW = "f_adv_start__contact_organisatie"
FOREIGN = PROJECT / "tools" / "bpmn-build" / "fixtures" / "foreign-extensions.bpmn"


def database(app: Flask) -> Database:
    db: Database = app.extensions["regeling.db"]
    return db


def version_count(app: Flask) -> int:
    with database(app).reader() as session:
        return int(session.scalar(select(func.count()).select_from(ProcessVersion)) or 0)


def deploy_ten_day_reminder(app: Flask) -> int:
    """The starting point of the story: a version of the regeling whose contact reminder is "P10D"."""
    files = dict(bundles.read_bundle([PROJECT / "processes"]).files)
    files["advisering.bpmn"] = files["advisering.bpmn"].replace('"P2D" if urgent else "P14D"', '"P10D"', 1)
    assert '"P10D"' in files["advisering.bpmn"]
    with database(app).writer() as session, session.begin():
        (version,) = bundles.deploy(
            session, bundles.Bundle(files), actor=OWNER, comment="Herinnering na 10 dagen", at=app.config["CLOCK"]()
        )
        return version.version


def continue_path(
    driver: CaseDriver, reference: str, steps: Iterable[Complete | Message | Advance | ExpectReady]
) -> None:
    """The rest of a path (tests/processes/paths.py) on a case that has already started."""
    for step in steps:
        if isinstance(step, Complete):
            driver.complete(reference, step.task, step.role, step.data)
        elif isinstance(step, Message):
            driver.message(reference, step.name, step.role, step.payload)
        elif isinstance(step, Advance):
            driver.advance(step.by)
        else:
            assert sorted(t.bpmn_id for t in driver.open_tasks(reference)) == sorted(step.tasks)


def reminders(driver: CaseDriver, reference: str) -> int:
    """How many contact reminders the case has sent."""
    return [row.template for row in driver.outbox(reference)].count(REMINDER_NOTICE)


def logged_in_owner(app: Flask, base: str, new_page: Callable[..., Page]) -> tuple[Page, PageProblems]:
    page = new_page()
    seen = watch(page)
    log_in(page, base, OWNER, app)
    return page, seen


def test_the_editor_loads_every_file_of_the_draft_with_our_panel(
    app: Flask, live_server: Callable[[Flask], str], new_page: Callable[..., Page]
) -> None:
    base = live_server(app)
    page, seen = logged_in_owner(app, base, new_page)
    open_editor(page, base)
    tabs = page.locator(".editor-tab").all_inner_texts()
    assert "regeling.bpmn" in tabs and "in_aanmerking.dmn" in tabs
    select_element(page, "aanmelding")
    expect(panel_field(page, "regeling-form")).to_have_value("aanmelding.schema.json")
    expect(panel_field(page, "regeling-lane")).to_have_value("Lane_regeling_Bestuurder")
    expect(page.locator(".bjs-powered-by")).to_be_visible()  # bpmn.io licence: the watermark stays visible
    show_file(page, "in_aanmerking.dmn")
    expect(page.locator("#editor-tekstvak")).to_have_value(re.compile(r'<decision id="in_aanmerking"'))
    screenshot(page, "process-editor")
    seen.assert_clean()


def test_a_new_task_and_a_shorter_reminder_reach_new_cases_only(
    app: Flask, live_server: Callable[[Flask], str], new_page: Callable[..., Page]
) -> None:
    clock = app.config["CLOCK"]
    driver = CaseDriver(database(app).engine, clock, checks=False)
    before = deploy_ten_day_reminder(app)
    old_case = driver.start()
    driver.complete(old_case, "aanmelding", "Bestuurder", aanmelding(functie="gedeputeerde").data)
    assert [t.bpmn_id for t in driver.open_tasks(old_case)] == ["contact_organisatie"]

    base = live_server(app)
    page, seen = logged_in_owner(app, base, new_page)
    open_editor(page, base)
    show_file(page, "advisering.bpmn")

    # a user task in the CCV lane, bound to an existing form — named, placed and bound through the panel
    task = insert_user_task_on_flow(page, FIRST_FLOW)
    select_element(page, task)
    panel_field(page, "name").fill("Dossier voorbereiden")
    expect(panel_field(page, "regeling-lane")).to_have_value("Lane_advisering_CCV")
    panel_field(page, "regeling-lane").select_option(label="CCV")
    panel_field(page, "regeling-form").select_option("contact_organisatie.schema.json")
    panel_field(page, "documentation").fill("⚠️ proef: het CCV bereidt het dossier voor")
    wait_for_model(page, task, "bo.name === 'Dossier voorbereiden' && (bo.documentation || []).length === 1")
    assert business_object(page, task, "bo.extensionElements.values[0].properties[0].value") == (
        "contact_organisatie.schema.json"
    )

    # the reminder: P10D → P5D
    select_element(page, REMINDER)
    expect(panel_field(page, "regeling-timer-value")).to_have_value("P10D")
    panel_field(page, "regeling-timer-value").fill("P5D")
    wait_for_model(page, REMINDER, "bo.eventDefinitions[0].timeDuration.body === '\"P5D\"'")

    page.locator("#editor-controleren").click()
    expect(page.locator("#editor-status")).to_have_text("Gecontroleerd: geen problemen gevonden.")
    assert problems(page) == 0
    assert page.locator('.editor-tab[data-file="advisering.bpmn"]').get_attribute("class") == "editor-tab"

    # Vergelijken: both changes coloured on the diagrams and listed in words
    page.locator("#editor-vergelijken").click()
    diff = page.locator('.bpmn-diff[data-ready="1"]')
    expect(diff).to_have_count(1, timeout=15_000)
    panes = diff.locator(".bpmn-diff-canvas")
    old, new = panes.nth(0), panes.nth(1)
    expect(new.locator(f'[data-element-id="{task}"].diff-toegevoegd')).to_have_count(1)
    expect(old.locator(f'[data-element-id="{task}"]')).to_have_count(0)
    expect(old.locator(f'[data-element-id="{REMINDER}"].diff-gewijzigd')).to_have_count(1)
    expect(new.locator(f'[data-element-id="{REMINDER}"].diff-gewijzigd')).to_have_count(1)
    changes = page.locator("#wijzigingen").inner_text()
    assert task in changes or "Dossier voorbereiden" in changes, changes
    assert "P5D" in changes, changes
    screenshot(page, "process-diff")

    # In gebruik nemen, with the mandatory toelichting
    page.get_by_role("link", name="Bewerken").click()
    expect(page.locator("#editor")).to_have_attribute("data-ready", "1", timeout=20_000)
    page.locator("#toelichting").fill("CCV bereidt het dossier voor; herinnering na 5 dagen")
    page.locator("#in-gebruik-nemen-knop").click()
    expect(page.locator(".melding")).to_contain_text(f"Versie {before + 1} is in gebruik genomen")
    seen.assert_clean()

    # a new case gets the new task, then the new reminder; the old one keeps its version and finishes on it
    new_case = driver.start()
    driver.complete(new_case, "aanmelding", "Bestuurder", aanmelding(functie="gedeputeerde").data)
    assert [t.bpmn_id for t in driver.open_tasks(new_case)] == [task]
    contact = advisering_tot_concept()[0].data
    driver.complete(new_case, task, "CCV", contact)
    assert [t.bpmn_id for t in driver.open_tasks(new_case)] == ["contact_organisatie"]

    driver.advance(timedelta(days=5, hours=1))
    assert reminders(driver, new_case) == 1
    assert reminders(driver, old_case) == 0
    driver.advance(timedelta(days=5))
    assert reminders(driver, old_case) == 1

    path = next(p for p in PATHS if p.name == "bva_terug_pkvw_uitzondering_geen_maatregelen")
    continue_path(driver, old_case, path.steps[1:])
    with database(app).reader() as session:
        versions = dict(session.execute(select(ProcessVersion.id, ProcessVersion.version)).all())
    assert versions[driver.case(old_case).process_version_id] == before
    assert versions[driver.case(new_case).process_version_id] == before + 1
    assert driver.case(old_case).status != "active"


def test_a_task_without_form_and_a_timer_in_words_are_marked_and_not_deployed(
    app: Flask, live_server: Callable[[Flask], str], new_page: Callable[..., Page]
) -> None:
    versions_before = version_count(app)
    base = live_server(app)
    page, seen = logged_in_owner(app, base, new_page)
    open_editor(page, base)

    show_file(page, "regeling.bpmn")
    select_element(page, "aanmelding")
    panel_field(page, "regeling-form").select_option("")
    wait_for_model(
        page,
        "aanmelding",
        "!JSON.stringify(bo.extensionElements.values.map(v => v.properties || [])).includes('formJsonSchemaFilename')",
    )

    show_file(page, "advisering.bpmn")
    select_element(page, "bnd_sla_advies")
    expect(panel_field(page, "regeling-timer-value")).to_have_value("P8W")
    panel_field(page, "regeling-timer-value").fill("10 days")
    wait_for_model(page, "bnd_sla_advies", "bo.eventDefinitions[0].timeDuration.body === '\"10 days\"'")

    page.locator("#editor-opslaan").click()
    expect(page.locator("#editor-status")).to_have_text(
        "Opgeslagen, maar er zijn problemen: zie de lijst onder het diagram."
    )
    assert problems(page) >= 2
    timer = page.locator('#editor-canvas .djs-element.probleem-fout[data-element-id="bnd_sla_advies"]')
    expect(timer).to_have_count(1)
    expect(page.locator("#editor-canvas .probleem-overlay")).to_contain_text("10 days")
    expect(page.locator('.editor-tab[data-file="regeling.bpmn"] .editor-tab-teller')).to_have_text("1 probleem")

    # the problem of the other file: a click shows that file with the element selected and marked
    page.locator('.probleem-knop[data-bestand="regeling.bpmn"][data-element="aanmelding"]').click()
    expect(page.locator('.editor-tab[data-file="regeling.bpmn"]')).to_have_attribute("aria-selected", "true")
    expect(panel_field(page, "id")).to_have_value("aanmelding")
    expect(page.locator('#editor-canvas .djs-element.probleem-fout[data-element-id="aanmelding"]')).to_have_count(1)
    expect(page.locator("#editor-canvas .probleem-overlay")).to_contain_text("formulier")
    screenshot(page, "process-editor-problems")

    page.locator("#toelichting").fill("Probeer het toch")
    page.locator("#in-gebruik-nemen-knop").click()
    expect(page.locator("#weigering")).to_be_visible()
    assert version_count(app) == versions_before
    forgiven(seen, 422)
    seen.assert_clean()


def test_the_form_editor_shows_json_errors_with_their_place_previews_and_saves(
    app: Flask, live_server: Callable[[Flask], str], new_page: Callable[..., Page]
) -> None:
    base = live_server(app)
    page, seen = logged_in_owner(app, base, new_page)
    open_editor(page, base)
    page.get_by_role("link", name="contact_organisatie.schema.json").click()
    editor = page.locator("#formulier-editor")
    expect(editor).to_have_attribute("data-ready", "1")
    expect(editor).to_have_attribute("data-preview", "ok")
    preview = page.locator("#formulier-voorbeeld")
    expect(preview).to_contain_text("Contactpersoon organisatie")

    schema = page.locator("#schema")
    text = schema.input_value()
    schema.fill(text.replace('"type": "object",', '"type": "object"', 1))  # a comma less, on line 5
    expect(page.locator("#json-fout")).to_have_text(re.compile(r"^Geen geldige JSON op regel 6, kolom 3\.$"))
    expect(editor).to_have_attribute("data-preview", "json")
    page.locator("#formulier-opslaan").click()
    expect(page.locator("#formulier-status")).to_have_text("Niet opgeslagen: verbeter eerst de JSON.")

    schema.fill(
        text.replace('"title": "Contactpersoon organisatie"', '"title": "Contactpersoon bij de organisatie"', 1)
    )
    expect(page.locator("#json-fout")).to_have_text("")
    expect(preview).to_contain_text("Contactpersoon bij de organisatie")
    page.locator("#formulier-opslaan").click()
    expect(editor).to_have_attribute("data-saved", "1")
    expect(page.locator("#formulier-status")).to_have_text("Opgeslagen.")
    screenshot(page, "form-editor")

    page.reload()
    expect(page.locator("#schema")).to_have_value(re.compile("Contactpersoon bij de organisatie"))
    seen.assert_clean()


LAYOUT = "{http://www.omg.org/spec/BPMN/20100524/DI}BPMNDiagram"


def canonical(xml: str) -> tuple[list[tuple[str, tuple[tuple[str, str], ...], str]], set[tuple[str, str]]]:
    """The process model element by element (attributes and text; whitespace, prefixes and order aside), and
    which elements the layout draws. bpmn-js writes the layout in an order of its own and adds defaults such as
    isMarkerVisible, so the layout is compared by what it covers."""
    root = etree.fromstring(xml.encode(), etree.XMLParser(remove_blank_text=True, resolve_entities=False))
    layout = {element for element in root.iter() if isinstance(element.tag, str) and element.tag == LAYOUT}
    drawn = {element for diagram in layout for element in diagram.iter() if isinstance(element.tag, str)}
    model = sorted(
        (str(element.tag), tuple(sorted(element.attrib.items())), (element.text or "").strip())
        for element in root.iter()
        if isinstance(element.tag, str) and element not in drawn
    )
    covered = {(str(element.tag), str(element.get("bpmnElement"))) for element in drawn if element.get("bpmnElement")}
    return model, covered


def editor_xml(page: Page) -> str:
    xml: str = page.evaluate("window.regelingEditor.xml()")
    return xml


def test_diagrams_survive_a_load_save_round_trip_with_foreign_extensions(
    app: Flask, live_server: Callable[[Flask], str], new_page: Callable[..., Page]
) -> None:
    base = live_server(app)
    page, seen = logged_in_owner(app, base, new_page)
    open_editor(page, base)
    for name in ("regeling.bpmn", "behandeling.bpmn"):  # behandeling: loopDataInputRef names a data list
        show_file(page, name)
        assert canonical(editor_xml(page)) == canonical((PROJECT / "processes" / name).read_text(encoding="utf-8"))
    assert problems(page) == 0

    # SpiffArena and Camunda extensions we do not edit stay exactly as they were
    foreign = FOREIGN.read_text(encoding="utf-8")
    warnings = page.evaluate(
        "xml => window.regelingEditor.modeler.importXML(xml).then(r => r.warnings.length)", foreign
    )
    assert warnings == 0
    select_element(page, "task")
    panel_field(page, "regeling-form").select_option("woningscan.schema.json")
    wait_for_model(
        page,
        "task",
        "JSON.stringify(bo.extensionElements.values[0].properties.map(p => p.value)).includes('woningscan')",
    )
    expected = canonical(foreign.replace('value="aanmelding.schema.json"', 'value="woningscan.schema.json"'))
    assert canonical(editor_xml(page)) == expected
    seen.assert_clean()


def test_the_panel_edits_notify_decision_gateway_and_condition_without_xml(
    app: Flask, live_server: Callable[[Flask], str], new_page: Callable[..., Page]
) -> None:
    base = live_server(app)
    page, seen = logged_in_owner(app, base, new_page)
    open_editor(page, base)

    select_element(page, "notify_ccv_aanmelding")
    expect(panel_field(page, "regeling-operator")).to_have_value("notify")
    expect(panel_field(page, "regeling-notify-role")).to_have_value("CCV")
    expect(panel_field(page, "regeling-notify-template")).to_have_value("aanmelding_ontvangen")
    panel_field(page, "regeling-notify-role").select_option("BVA")
    panel_field(page, "regeling-notify-template").fill("urgente_aanmelding")
    wait_for_model(
        page,
        "notify_ccv_aanmelding",
        "bo.extensionElements.values[0].parameterList.parameters.map(p => p.value).join() === "
        "\"'BVA','urgente_aanmelding'\"",
    )

    select_element(page, "toets_in_aanmerking")
    decision = panel_field(page, "regeling-decision")
    expect(decision).to_have_value("in_aanmerking")
    assert "pkvw_toets" in " ".join(decision.locator("option").all_inner_texts())  # read from the DMN files

    select_element(page, "gw_acuut")
    expect(panel_field(page, "regeling-default-flow")).to_have_value("f_gw_acuut__urgent_normaal")
    select_element(page, "f_gw_acuut__urgent_markeren")
    condition = panel_field(page, "regeling-condition")
    expect(condition).to_have_value("acute_dreiging == True")
    condition.fill("acute_dreiging == True and urgent_gevraagd == True")
    wait_for_model(page, "f_gw_acuut__urgent_markeren", "bo.conditionExpression.body.includes('urgent_gevraagd')")

    # choosing the lane moves the task into it
    select_element(page, "aanmelding")
    panel_field(page, "regeling-lane").select_option(label="CCV")
    expect(panel_field(page, "regeling-lane")).to_have_value("Lane_regeling_CCV")

    saved = etree.fromstring(editor_xml(page).encode())
    ns = {
        "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
        "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
    }
    role = saved.find(".//bpmn:serviceTask[@id='notify_ccv_aanmelding']//spiffworkflow:parameter[@id='role']", ns)
    assert role is not None and role.get("value") == "'BVA'"
    ccv = saved.find(".//bpmn:lane[@name='CCV']", ns)
    assert ccv is not None and "aanmelding" in [ref.text for ref in ccv.findall("bpmn:flowNodeRef", ns)]

    # Vergelijken with unsaved changes stores them first
    page.locator("#editor-vergelijken").click()
    expect(page.locator("#wijzigingen")).to_contain_text("urgent_gevraagd")
    # a new recipient and template are a change of the notify task itself, in words and on both diagrams
    notify_line = page.locator("#wijzigingen li", has_text="(notify_ccv_aanmelding)")
    expect(notify_line).to_contain_text("role='BVA'")
    expect(notify_line).to_contain_text("template='urgente_aanmelding'")
    changed_notify = page.locator('.bpmn-diff[data-ready="1"] [data-element-id="notify_ccv_aanmelding"].diff-gewijzigd')
    expect(changed_notify).to_have_count(2, timeout=15_000)
    seen.assert_clean()


def test_editor_form_editor_and_diff_pass_axe(
    app: Flask, live_server: Callable[[Flask], str], new_page: Callable[..., Page]
) -> None:
    base = live_server(app)
    page, seen = logged_in_owner(app, base, new_page)
    open_editor(page, base)
    select_element(page, "aanmelding")
    panel_field(page, "regeling-form").select_option("")
    page.locator("#editor-controleren").click()
    expect(page.locator(".probleem-knop")).to_have_count(1)
    assert_accessible(page, "process-editor")

    page.locator("#editor-vergelijken").click()
    expect(page.locator('.bpmn-diff[data-ready="1"]')).to_have_count(1, timeout=15_000)
    assert_accessible(page, "process-diff")

    page.goto(base + "/processen/regeling/concept/formulieren/aanmelding.schema.json")
    expect(page.locator("#formulier-editor")).to_have_attribute("data-preview", "ok")
    assert_accessible(page, "form-editor")
    seen.assert_clean()
