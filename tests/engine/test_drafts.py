"""Drafts: the active version until the first save, files stored even with problems, refused when they are no
diagram or form at all; files from Camunda Modeler and SpiffArena import, validate, deploy and run."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from engine import bundles, drafts, lint
from engine.errors import NotFoundError
from engine.model import ProcessDraft, ProcessVersion
from tests.concurrency.racing import JOIN_TIMEOUT, race
from tests.conftest import _empty
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


@pytest.fixture
def postgres_driver(postgres_engine: Engine) -> Iterator[CaseDriver]:
    _empty(postgres_engine)
    driver = CaseDriver(postgres_engine, checks=False)
    driver.deploy(MINI)
    yield driver
    _empty(postgres_engine)


@pytest.mark.postgres
def test_two_drafts_created_at_the_same_moment_end_as_one(
    postgres_driver: CaseDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    driver = postgres_driver
    # Both creations have looked and found no draft before either inserts one: the unique key decides.
    both_looked = threading.Barrier(2, timeout=JOIN_TIMEOUT)
    active_version = bundles.active_version

    def after_both_looked(session: object, process_key: str) -> ProcessVersion:
        both_looked.wait()
        return active_version(session, process_key)  # type: ignore[arg-type]

    monkeypatch.setattr(bundles, "active_version", after_both_looked)

    def creator(actor: str) -> Callable[[Callable[[], None]], int]:
        def worker(go: Callable[[], None]) -> int:
            go()
            with driver.factory() as session, session.begin():
                return drafts.create(session, "mini", actor=actor, at=driver.clock()).id

        return worker

    first, second = race([creator("procesbeheerder"), creator("procesbeheerder-2")])
    assert isinstance(first, int) and first == second, (first, second)
    with driver.factory() as session:
        assert session.scalar(select(func.count()).select_from(ProcessDraft)) == 1


@pytest.mark.postgres
def test_two_saves_of_different_files_at_the_same_moment_keep_both(postgres_driver: CaseDriver) -> None:
    driver = postgres_driver
    with driver.factory() as session, session.begin():
        drafts.create(session, "mini", actor=OWNER, at=driver.clock())

    def saver(name: str) -> Callable[[Callable[[], None]], bool]:
        def worker(go: Callable[[], None]) -> bool:
            with driver.factory() as session, session.begin():
                drafts.current(session, "mini")  # the editor read the draft before saving
                go()
                text = '{"title": "Nieuw", "type": "object", "properties": {}}'
                return drafts.save_file(session, "mini", name, text, actor=OWNER, at=driver.clock()).stored

        return worker

    assert race([saver("forms/een.schema.json"), saver("forms/twee.schema.json")]) == [True, True]
    with driver.factory() as session:
        files = drafts.current(session, "mini").files
    assert {"forms/een.schema.json", "forms/twee.schema.json"} <= set(files)


def test_a_file_leaves_the_draft_unless_the_process_needs_it_to_start(driver: CaseDriver) -> None:
    with driver.factory() as session, session.begin():
        with pytest.raises(drafts.DraftRefusedError, match="mini.bpmn kan niet weg: het bevat het hoofdproces mini"):
            drafts.remove_file(session, "mini", "mini.bpmn", actor=OWNER, at=driver.clock())
        with pytest.raises(NotFoundError):
            drafts.remove_file(session, "mini", "forms/onbekend.schema.json", actor=OWNER, at=driver.clock())
        assert session.scalar(select(ProcessDraft)) is None  # a refusal stores no draft
        removed = drafts.remove_file(session, "mini", "forms/beoordeling.schema.json", actor=OWNER, at=driver.clock())
        assert removed.stored
        assert "forms/beoordeling.schema.json" not in drafts.current(session, "mini").files
        assert any(f.element == "beoordelen" for f in lint.errors(removed.findings))  # its task lost its form


def test_a_called_process_is_needed_too() -> None:
    bundle = bundles.read_bundle([ROOT / "processes"])
    needed = drafts.needed_files(bundle, "regeling")
    assert needed["regeling.bpmn"] == "het hoofdproces regeling"
    assert needed["advisering.bpmn"] == "het deelproces advisering"
    assert not any(name.endswith((".dmn", ".json")) for name in needed)


def test_deploy_checks_the_stored_draft_again_whatever_an_earlier_check_said(driver: CaseDriver) -> None:
    with driver.factory() as session, session.begin():
        text = drafts.current(session, "mini").text("mini.bpmn")
        renamed = text.replace('name="Beoordelen"', 'name="Beoordelen door CCV"')
        checked = drafts.save_file(session, "mini", "mini.bpmn", renamed, actor=OWNER, at=driver.clock())
        assert checked.stored and lint.errors(checked.findings) == []
        # changed after that check (another tab, an old client, a hand in the database): deploy looks again
        row = session.scalars(select(ProcessDraft)).one()
        row.files = {**row.files, "mini.bpmn": renamed.replace('"P10D"', '"10 days"')}
        session.flush()
        with pytest.raises(drafts.DraftRefusedError, match="1 fout") as refused:
            drafts.deploy(session, "mini", actor=OWNER, comment="Andere naam", at=driver.clock())
        assert [(f.file, f.element) for f in refused.value.findings] == [("mini.bpmn", "herinnering")]
        assert [v.version for v in drafts.versions(session, "mini")] == [1]


def test_a_refused_file_is_told_where_and_why_in_dutch() -> None:
    (xml,) = drafts.refusals("a.bpmn", "<a><b></a>")
    assert xml.message.startswith("XML is niet welgevormd: regel 1, kolom 11: eindtag </a>")
    (form,) = drafts.refusals("forms/x.schema.json", '{"a": }')
    assert form.message == "geen geldige JSON: regel 1, kolom 7: hier wordt een waarde verwacht"
