"""Issue 6, "Done means": in real Chromium the auditor logs in (password and TOTP), finds a finished case, scrubs
to the BVA's determination and sees the diagram and the data as of that moment, verifies ("Geverifieerd"),
downloads both audit files (the JSON parses and names the final hash; the PDF is a PDF carrying it), and the
access log shows the visit."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from engine import accesslog, pointintime
from engine.model import Case, Event
from tests.auditsupport import DETERMINATION_VALUE, LATER_VALUE, finish_a_case
from tests.browser.support import screenshot, watch
from tests.browser.test_accessibility import assert_accessible
from tests.browser.walk import log_in
from web.db import Database


def _case_and_determination(database: Database, reference: str) -> tuple[Case, int]:
    with database.reader() as session:
        case = session.scalar(select(Case).where(Case.reference == reference))
        assert case is not None
        events = session.scalars(select(Event).where(Event.case_id == case.id)).all()
        seq = max(e.seq for e in events if e.type == "task_completed" and e.actor_role == "BVA")
        return case, seq


def test_the_auditor_replays_verifies_and_exports_a_finished_case(
    app: Flask, live_server: Callable[[Flask], str], new_page: Callable[..., Page], tmp_path: Path
) -> None:
    database: Database = app.extensions["regeling.db"]
    reference = finish_a_case(database.engine, app.config["CLOCK"])
    pointintime.clear()
    case, determination = _case_and_determination(database, reference)
    base = live_server(app)
    page = new_page(accept_downloads=True)
    problems = watch(page)

    log_in(page, base, "auditor", app)
    page.goto(base + "/")
    expect(page).to_have_url(base + "/audit")
    assert_accessible(page, "audit-zoeken")
    page.get_by_label("Zaaknummer").fill(reference)
    page.get_by_label("Status").select_option("completed")
    page.get_by_role("button", name="Zoeken").click()
    page.get_by_role("link", name=reference).click()
    expect(page.locator("#moment")).to_have_attribute("data-stap", str(case.event_count))

    # Scrub: the slider loads the case right after the determination (audit-replay.js submits on change).
    page.locator("#stap").fill(str(determination))
    expect(page.locator("#moment")).to_have_attribute("data-stap", str(determination))
    expect(page.locator("#stap-nummer")).to_have_text(f"{determination} van {case.event_count}")
    expect(page.locator("#moment")).to_contain_text("Bram BVA")
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-bpmn-url]')].every(d => d.dataset.ready || d.dataset.error)"
    )
    assert page.locator("[data-bpmn-url][data-error]").count() == 0
    expect(page.locator('.djs-element.done[data-element-id="vaststellen_advies"]')).to_have_count(1)
    expect(page.locator('.djs-element.active[data-element-id="maatregelen_aanvaarden"]')).to_have_count(1)
    data = page.locator("#gegevens")
    expect(data).to_contain_text(DETERMINATION_VALUE)
    expect(data).not_to_contain_text(LATER_VALUE)
    screenshot(page, "audit-moment")
    assert_accessible(page, "audit-moment")

    # One step back and forth with the plain links: the page works the same without the slider.
    page.locator("#stap-vorige").click()
    expect(page.locator("#moment")).to_have_attribute("data-stap", str(determination - 1))
    page.locator("#stap-volgende").click()
    expect(page.locator("#moment")).to_have_attribute("data-stap", str(determination))

    with page.expect_download() as json_download:
        page.locator("#export-json").click()
    exported = json.loads(Path(json_download.value.path()).read_text(encoding="utf-8"))
    assert exported["final_hash"] == case.last_hash
    assert exported["events"][-1]["hash"] == case.last_hash
    with page.expect_download() as pdf_download:
        page.locator("#export-pdf").click()
    pdf = Path(pdf_download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    assert case.last_hash.encode() in pdf

    page.locator("#verifieren").click()
    expect(page.locator("#verificatie")).to_contain_text("Geverifieerd")
    expect(page.locator("#verificatie")).not_to_contain_text("Niet geverifieerd")
    assert_accessible(page, "audit-verificatie")
    problems.assert_clean()

    with database.reader() as session:
        seen = [(view.account_id, view.role, view.what) for view in accesslog.views_of_case(session, case.id)]
    assert ("auditor", "Auditor", "audit:zaakpagina") in seen
    assert seen.count(("auditor", "Auditor", "audit:zaakpagina")) == 4  # the last event, scrubbed, back, forth
    assert ("auditor", "Auditor", "audit:export-json") in seen
    assert ("auditor", "Auditor", "audit:export-pdf") in seen
    assert ("auditor", "Auditor", "audit:verificatie") in seen
