"""Drafts: the active version until the first save, files stored even with problems, refused when they are no
diagram or form at all; files from Camunda Modeler and SpiffArena import, validate, deploy and run."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from engine import drafts, lint
from engine.errors import NotFoundError
from engine.model import ProcessDraft
from tests.support import ROOT, CaseDriver

MINI = ROOT / "tests" / "fixtures" / "mini" / "processes"
IMPORTS = ROOT / "tests" / "fixtures" / "import"
OWNER = "procesbeheerder"


@pytest.fixture
def driver(sqlite_engine: Engine) -> CaseDriver:
    driver = CaseDriver(sqlite_engine)
    driver.deploy(MINI)
    return driver


def test_until_a_save_the_draft_is_the_active_version(driver: CaseDriver) -> None:
    with driver.factory() as session, session.begin():
        draft = drafts.current(session, "mini")
        assert (draft.stored, draft.base_version) == (False, 1)
        assert draft.text("mini.bpmn") == (MINI / "mini.bpmn").read_text()
        with pytest.raises(NotFoundError):
            draft.text("andere.bpmn")
        with pytest.raises(NotFoundError):
            drafts.current(session, "onbekend")
        first = drafts.create(session, "mini", actor=OWNER, at=driver.clock())
        assert drafts.create(session, "mini", actor="iemand", at=driver.clock()) is first
        assert drafts.current(session, "mini").stored


def test_a_saved_file_is_kept_with_its_problems_and_a_refused_one_is_not(driver: CaseDriver) -> None:
    with driver.factory() as session, session.begin():
        text = drafts.current(session, "mini").text("mini.bpmn")
        half_done = text.replace('name="CCV"', 'name="Onbekend"')
        saved = drafts.save_file(session, "mini", "mini.bpmn", half_done, actor=OWNER, at=driver.clock())
        assert saved.stored and lint.errors(saved.findings)
        refused = drafts.save_file(session, "mini", "mini.bpmn", "<!DOCTYPE x><x/>", actor=OWNER, at=driver.clock())
        assert not refused.stored
        assert drafts.current(session, "mini").text("mini.bpmn") == half_done
        form = drafts.save_file(
            session, "mini", "forms/nieuw.schema.json", '{"type": "object"}', actor=OWNER, at=driver.clock()
        )
        assert form.stored
        assert any(f.file == "forms/nieuw.schema.json" for f in form.findings)  # a form must declare more than that


@pytest.mark.parametrize("fixture", ["camunda_modeler.bpmn", "spiffarena.bpmn"])
def test_a_diagram_from_camunda_modeler_or_spiffarena_imports_validates_deploys_and_runs(
    driver: CaseDriver, fixture: str
) -> None:
    with driver.factory() as session, session.begin():
        content = (IMPORTS / fixture).read_bytes()
        result = drafts.import_file(
            session, "mini", f"C:\\Users\\x\\{fixture}", content, actor=OWNER, at=driver.clock()
        )
        assert result.stored and result.findings == []
        # it declares the mini process, so it replaces mini.bpmn (the uploader's path and file name dropped)
        assert result.name == "mini.bpmn"
        assert drafts.current(session, "mini").text("mini.bpmn") == content.decode()
        elsewhere = drafts.import_file(session, "mini", "ander.bpmn", b"<x/>", actor=OWNER, at=driver.clock())
        assert not elsewhere.stored
        drafts.deploy(session, "mini", actor=OWNER, comment=f"import {fixture}", at=driver.clock())
    reference = driver.start(process_key="mini")
    driver.complete(reference, "aanvragen", "Bestuurder", {"naam": "Synthetisch", "posten": [{"bedrag": 10}]})
    assert [t.bpmn_id for t in driver.open_tasks(reference)] == ["beoordelen"]
    driver.advance(timedelta(days=11))  # the P10D reminder fires and ends its own branch
    driver.complete(reference, "beoordelen", "CCV", {"akkoord": True})
    assert driver.case(reference).status == "completed"


def test_uploads_that_are_not_text_or_too_large_are_refused(driver: CaseDriver, tmp_path: Path) -> None:
    with driver.factory() as session, session.begin():
        binary = drafts.import_file(session, "mini", "x.bpmn", b"\xff\xfe\x00", actor=OWNER, at=driver.clock())
        assert not binary.stored and "UTF-8" in binary.findings[0].message
        large = drafts.import_file(session, "mini", "x.bpmn", b"x" * 2_000_001, actor=OWNER, at=driver.clock())
        assert not large.stored and "groter dan 2 MB" in large.findings[0].message
        other = drafts.import_file(session, "mini", "x.exe", b"MZ", actor=OWNER, at=driver.clock())
        assert not other.stored and "bestandsnaam" in other.findings[0].message
        assert session.scalar(select(ProcessDraft)) is None
