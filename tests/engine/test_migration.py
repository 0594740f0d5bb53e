"""Issue 5's scenario at engine level, on the mini process: a draft adds a user task in the CCV lane and changes the
reminder timer from P10D to P5D; the checks pass, the diff shows both, it is deployed with a comment; a new case gets
the new task and timer, a case started before keeps its version and finishes on it. Then moving a waiting case to
the new version (recorded, replayable) and refusing one that would wait elsewhere."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from engine import bundles, commands, diff, drafts, lint, migration, repair, replay, verdicts
from engine.access import Actor, Role
from engine.bundles import Bundle
from engine.errors import InvalidTransitionError, PermissionDeniedError, ProcessError
from engine.history import payload_of, verify_case
from engine.model import Case, Event, ProcessVersion
from engine.runtime import UserTaskView
from tests.support import ROOT, CaseDriver

MINI = ROOT / "tests" / "fixtures" / "mini" / "processes"
OWNER = Actor("procesbeheerder", Role.PROCESBEHEERDER)
AANVRAAG = {"naam": "Synthetische Aanvrager", "posten": [{"bedrag": 500}]}
NACONTROLE = """    <bpmn:userTask id="nacontrole" name="Nacontrole">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formJsonSchemaFilename" value="beoordeling.schema.json" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f_nacontrole" sourceRef="nacontrole" targetRef="end_klaar" />
"""


def edited(text: str) -> str:
    """The mini process with a Nacontrole step after Beoordelen in the CCV lane and the reminder at P5D."""
    text = text.replace('"P10D"', '"P5D"')
    text = text.replace(
        "<bpmn:flowNodeRef>end_klaar</bpmn:flowNodeRef>",
        "<bpmn:flowNodeRef>end_klaar</bpmn:flowNodeRef>\n        <bpmn:flowNodeRef>nacontrole</bpmn:flowNodeRef>",
    )
    text = text.replace(
        '<bpmn:sequenceFlow id="f5" sourceRef="beoordelen" targetRef="end_klaar" />',
        '<bpmn:sequenceFlow id="f5" sourceRef="beoordelen" targetRef="nacontrole" />',
    )
    return text.replace("  </bpmn:process>", NACONTROLE + "  </bpmn:process>")


def deploy_edited(driver: CaseDriver) -> ProcessVersion:
    with driver.factory() as session, session.begin():
        draft = drafts.current(session, "mini")
        result = drafts.save_file(
            session, "mini", "mini.bpmn", edited(draft.text("mini.bpmn")), actor=OWNER.id, at=driver.clock()
        )
        assert result.stored and lint.errors(result.findings) == []
        return drafts.deploy(
            session, "mini", actor=OWNER.id, comment="Nacontrole en snellere herinnering", at=driver.clock()
        )


def open_ids(driver: CaseDriver, reference: str) -> list[str]:
    return sorted(task.bpmn_id for task in driver.open_tasks(reference))


def replays(driver: CaseDriver, reference: str) -> bool:
    """The auditor's checks pass: re-execution from the first event, and the hash chain."""
    last = driver.events(reference)[-1]
    with driver.factory() as session:
        case = session.scalar(select(Case).where(Case.reference == reference))
        assert case is not None
        result = replay.replay_from_start(session, case)
        chain = verify_case(session, case)
        # the auditor's point-in-time view re-executes across the migration too
        assert replay.state_as_of(session, case, last.seq).state_hash() == last.state_hash
    assert result.ok, result.reason
    assert chain.ok, str(chain)
    return True


@pytest.fixture
def driver(db_engine: Engine) -> CaseDriver:
    verdicts.clear()  # the same case id and history recur across databases; a test judges afresh
    driver = CaseDriver(db_engine)
    driver.deploy(MINI)
    return driver


def test_the_draft_passes_the_checks_and_the_diff_shows_the_new_task_and_the_timer(driver: CaseDriver) -> None:
    old = bundles.read_bundle([MINI])
    new = Bundle({**old.files, "mini.bpmn": edited(old.files["mini.bpmn"])})
    assert lint.lint_bundle(new) == []
    (mini, *forms) = diff.diff_bundles(old, new)
    assert all(d.status == "gelijk" for d in forms)
    assert mini.added == ["nacontrole", "f_nacontrole"]
    assert sorted(mini.changed) == ["f5", "herinnering", "lane_c"]
    assert mini.removed == []
    assert "Toegevoegd: gebruikerstaak 'Nacontrole' (nacontrole) in lane CCV" in mini.changes
    timer_line = next(line for line in mini.changes if "(herinnering)" in line)
    assert '"P10D"' in timer_line and '"P5D"' in timer_line


def test_deploy_needs_a_comment_and_no_errors(driver: CaseDriver) -> None:
    with driver.factory() as session, session.begin():
        with pytest.raises(drafts.DraftRefusedError, match="niets in gebruik te nemen"):
            drafts.deploy(session, "mini", actor=OWNER.id, comment="niets", at=driver.clock())
        text = drafts.current(session, "mini").text("mini.bpmn")
        broken = text.replace('"P2D" if urgent else "P10D"', '"10 days"')
        result = drafts.save_file(session, "mini", "mini.bpmn", broken, actor=OWNER.id, at=driver.clock())
        assert result.stored
        (finding,) = lint.errors(result.findings)
        assert (finding.file, finding.element) == ("mini.bpmn", "herinnering")
        with pytest.raises(drafts.DraftRefusedError, match="toelichting is verplicht"):
            drafts.deploy(session, "mini", actor=OWNER.id, comment=" ", at=driver.clock())
        with pytest.raises(drafts.DraftRefusedError, match="1 fout") as refused:
            drafts.deploy(session, "mini", actor=OWNER.id, comment="Tien dagen", at=driver.clock())
        assert refused.value.findings == [finding]
        assert [v.version for v in drafts.versions(session, "mini")] == [1]


def test_a_new_case_gets_the_new_task_and_timer_and_an_older_case_finishes_on_its_version(driver: CaseDriver) -> None:
    old_case = driver.start(process_key="mini")
    driver.complete(old_case, "aanvragen", "Bestuurder", AANVRAAG)
    version = deploy_edited(driver)
    assert (version.version, version.comment, version.deployed_by) == (
        2,
        "Nacontrole en snellere herinnering",
        OWNER.id,
    )

    new_case = driver.start(process_key="mini")
    driver.complete(new_case, "aanvragen", "Bestuurder", AANVRAAG)
    assert driver.advance(timedelta(days=5, hours=1)) == [new_case]  # P5D: only the new case's reminder
    assert "sla_contact_herinnering" in [row.template for row in driver.outbox(new_case)]
    assert driver.advance(timedelta(days=5)) == [old_case]  # P10D for the case started before
    driver.complete(new_case, "beoordelen", "CCV", {"akkoord": True})
    assert open_ids(driver, new_case) == ["nacontrole"]
    driver.complete(new_case, "nacontrole", "CCV", {"akkoord": True})
    driver.complete(old_case, "beoordelen", "CCV", {"akkoord": True})

    for reference, number in ((old_case, 1), (new_case, 2)):
        case = driver.case(reference)
        assert case.status == "completed"
        opened = [bpmn_id for event in driver.events(reference) for bpmn_id, _lane in event.payload["opened"]]
        assert ("nacontrole" in opened) == (number == 2)
        with driver.factory() as session:
            assert session.get(ProcessVersion, case.process_version_id).version == number  # type: ignore[union-attr]
        assert replays(driver, reference)


def test_a_waiting_case_moves_to_the_new_version_on_record_and_replays(driver: CaseDriver) -> None:
    reference = driver.start(process_key="mini")
    driver.complete(reference, "aanvragen", "Bestuurder", AANVRAAG)
    version = deploy_edited(driver)
    with driver.factory() as session:
        (affected,) = diff.affected_cases(session, "mini", Bundle(version.files), below=2)
    assert (affected.reference, affected.version, affected.waiting, affected.can_move) == (
        reference,
        1,
        ["Beoordelen"],
        True,
    )
    with driver.factory() as session, session.begin():
        with pytest.raises(PermissionDeniedError):
            migration.migrate(session, Actor("ccv-1", Role.CCV), reference, version, reason="x", at=driver.clock())
        migration.migrate(session, OWNER, reference, version, reason="Nacontrole ook hier", at=driver.clock())
    driver.check_round_trip(reference)
    (last,) = driver.events(reference)[-1:]
    assert last.type == "case_migrated" and last.actor == OWNER.id
    assert {k: payload_of(last)[k] for k in ("from_version", "to_version", "reason")} == {
        "from_version": 1,
        "to_version": 2,
        "reason": "Nacontrole ook hier",
    }
    assert replays(driver, reference)

    assert driver.advance(timedelta(days=5, hours=1)) == [reference]  # the new version's timer now
    driver.complete(reference, "beoordelen", "CCV", {"akkoord": True})
    assert open_ids(driver, reference) == ["nacontrole"]
    driver.complete(reference, "nacontrole", "CCV", {"akkoord": True})
    assert driver.case(reference).status == "completed"
    assert replays(driver, reference)

    with driver.factory() as session, session.begin():
        with pytest.raises(InvalidTransitionError, match="afgerond|geen nieuwere"):
            migration.migrate(session, OWNER, reference, version, reason="nog eens", at=driver.clock())


def test_a_case_that_would_wait_elsewhere_stays_and_says_why(driver: CaseDriver) -> None:
    reference = driver.start(process_key="mini")
    driver.complete(reference, "aanvragen", "Bestuurder", AANVRAAG)
    old = bundles.read_bundle([MINI])
    renamed = Bundle({**old.files, "mini.bpmn": old.files["mini.bpmn"].replace("beoordelen", "beoordelen_nieuw")})
    with driver.factory() as session:
        (affected,) = diff.affected_cases(session, "mini", renamed)
    assert not affected.can_move
    assert affected.reason == "de zaak wacht nu op beoordelen, in de nieuwe versie op beoordelen_nieuw"
    with driver.factory() as session:
        events_before = session.scalars(select(Event.seq).join(Case).where(Case.reference == reference)).all()
    assert len(events_before) == len(driver.events(reference))


def test_a_draft_equal_to_an_earlier_version_is_not_deployed_again(driver: CaseDriver) -> None:
    deploy_edited(driver)
    with driver.factory() as session, session.begin():
        original = (MINI / "mini.bpmn").read_text()
        assert drafts.save_file(session, "mini", "mini.bpmn", original, actor=OWNER.id, at=driver.clock()).stored
        with pytest.raises(drafts.DraftRefusedError, match="gelijk aan versie 1"):
            drafts.deploy(session, "mini", actor=OWNER.id, comment="terug", at=driver.clock())


def affected_on(driver: CaseDriver, bundle: Bundle) -> diff.AffectedCase:
    with driver.factory() as session:
        (affected,) = diff.affected_cases(session, "mini", bundle)
    return affected


def test_a_step_that_does_not_apply_is_named_in_dutch(driver: CaseDriver) -> None:
    reference = driver.start(process_key="mini")
    driver.complete(reference, "aanvragen", "Bestuurder", AANVRAAG)
    assert driver.advance(timedelta(days=11)) == [reference]  # the P10D reminder
    old = bundles.read_bundle([MINI])
    later = Bundle({**old.files, "mini.bpmn": old.files["mini.bpmn"].replace('"P10D"', '"P20D"')})
    affected = affected_on(driver, later)
    assert not affected.can_move
    assert affected.reason == (
        "gebeurtenis 3 (verstreken termijnen) past niet op de nieuwe versie: er verstrijken andere termijnen"
    )


def test_an_unknown_failure_is_a_general_dutch_sentence_and_its_detail_goes_to_the_log_masked(
    driver: CaseDriver, caplog: pytest.LogCaptureFixture
) -> None:
    reference = driver.start(process_key="mini")
    driver.complete(reference, "aanvragen", "Bestuurder", AANVRAAG)
    old = bundles.read_bundle([MINI])
    # int() of the applicant's name fails, and its message quotes the name
    failing = old.files["mini.bpmn"].replace("urgent = totaal &gt; 1000", "urgent = int(naam)")
    with caplog.at_level(logging.WARNING, logger="engine.reasons"):
        affected = affected_on(driver, Bundle({**old.files, "mini.bpmn": failing}))
    assert not affected.can_move
    assert affected.reason == (
        "gebeurtenis 2 (een afgeronde taak) past niet op de nieuwe versie: "
        "een script, voorwaarde of stap geeft daar een fout"
    )
    (record,) = [r for r in caplog.records if r.name == "engine.reasons"]
    assert "event 2 (task_completed)" in record.getMessage() and "ValueError" in record.getMessage()
    assert "Synthetische" not in caplog.text


def test_a_repaired_case_is_not_moved_and_says_why_in_dutch(driver: CaseDriver) -> None:
    reference = driver.start(process_key="mini")
    driver.complete(reference, "aanvragen", "Bestuurder", AANVRAAG)
    with driver.factory() as session:
        case = commands.find_case(session, reference)
        (done,) = [s for s in repair.completed_steps(session, case) if s.bpmn_id == "aanvragen"]
    with driver.factory() as session, session.begin():
        case = commands.find_case(session, reference)
        repair.move_back(
            session,
            Actor("beheerder", Role.BEHEERDER),
            reference,
            done.task_guid,
            reason="Aanvraag opnieuw laten indienen",
            lock_version=case.lock_version,
            clock=driver.clock,
        )
    version = deploy_edited(driver)
    with driver.factory() as session:
        (affected,) = diff.affected_cases(session, "mini", Bundle(version.files), below=2)
    reason = "de zaak is hersteld door beheer; zo'n herstel is niet op een andere versie over te doen"
    assert (affected.can_move, affected.reason) == (False, reason)
    with driver.factory() as session, session.begin():
        with pytest.raises(InvalidTransitionError, match="hersteld door beheer"):
            migration.migrate(session, OWNER, reference, version, reason="toch", at=driver.clock())
    assert driver.case(reference).process_version_id == 1


def test_verdicts_are_remembered_per_case_history_and_target_and_the_list_is_capped(
    driver: CaseDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = driver.start(process_key="mini"), driver.start(process_key="mini")
    judged: list[str] = []
    assess = migration.assess

    def counting(session: object, case: Case, target: object) -> migration.Assessment:
        judged.append(case.reference)
        return assess(session, case, target)  # type: ignore[arg-type]

    monkeypatch.setattr(migration, "assess", counting)
    monkeypatch.setattr(diff, "MAX_CASES", 1)
    verdicts.clear()
    old = bundles.read_bundle([MINI])
    target = Bundle({**old.files, "mini.bpmn": edited(old.files["mini.bpmn"])})

    def affected(bundle: Bundle) -> list[str]:
        with driver.factory() as session:
            assert diff.running_count(session, "mini") == 2
            return [c.reference for c in diff.affected_cases(session, "mini", bundle)]

    assert affected(target) == [first] and judged == [first]  # the oldest only
    assert affected(target) == [first] and judged == [first]  # remembered
    driver.complete(first, "aanvragen", "Bestuurder", AANVRAAG)  # a new event: a new history
    assert affected(target) == [first] and judged == [first, first]
    assert affected(old) == [first] and judged == [first, first, first]  # another target
    assert verdicts.size() == 3
    assert second not in judged


# -- which recorded step is which in the new version: by BPMN id, never by guid alone --------------------------------


def _rename_aanvragen(text: str) -> str:
    """The first step under another id: same place in the flow, so its guid is the recorded one."""
    return (
        text.replace('id="aanvragen"', 'id="indienen"')
        .replace(">aanvragen<", ">indienen<")
        .replace('Ref="aanvragen"', 'Ref="indienen"')
    )


def _replace_aanvragen(text: str) -> str:
    """The first step replaced by another step with its own name and form, in the same place."""
    return _rename_aanvragen(text).replace('name="Aanvragen"', 'name="Melden"')


INSERTED_TEMPLATE = """    <bpmn:{kind} id="{id}" name="{name}">{extensions}
      <bpmn:incoming>f4</bpmn:incoming><bpmn:outgoing>f4b</bpmn:outgoing>{script}
    </bpmn:{kind}>
    <bpmn:sequenceFlow id="f4b" sourceRef="{id}" targetRef="beoordelen" />
"""
USER_TASK_FORM = """
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formJsonSchemaFilename" value="beoordeling.schema.json" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>"""
SCRIPT = "\n      <bpmn:script>voorbereid = True</bpmn:script>"


def inserted_before_beoordelen(text: str, kind: str, element_id: str, *, extensions: str = "", script: str = "") -> str:
    """The mini process with one more step between Meld CCV and Beoordelen, in the CCV lane."""
    text = text.replace(
        '<bpmn:sequenceFlow id="f4" sourceRef="meld_ccv" targetRef="beoordelen" />',
        f'<bpmn:sequenceFlow id="f4" sourceRef="meld_ccv" targetRef="{element_id}" />',
    )
    text = text.replace(
        "<bpmn:incoming>f4</bpmn:incoming><bpmn:outgoing>f5</bpmn:outgoing>",
        "<bpmn:incoming>f4b</bpmn:incoming><bpmn:outgoing>f5</bpmn:outgoing>",
    )
    text = text.replace(
        "<bpmn:flowNodeRef>end_klaar</bpmn:flowNodeRef>",
        f"<bpmn:flowNodeRef>end_klaar</bpmn:flowNodeRef>\n        <bpmn:flowNodeRef>{element_id}</bpmn:flowNodeRef>",
    )
    step = INSERTED_TEMPLATE.format(
        kind=kind, id=element_id, name=element_id.capitalize(), extensions=extensions, script=script
    )
    return text.replace("  </bpmn:process>", step + "  </bpmn:process>")


def mini_changed(change: Callable[[str], str]) -> Bundle:
    old = bundles.read_bundle([MINI])
    bundle = Bundle({**old.files, "mini.bpmn": change(old.files["mini.bpmn"])})
    assert lint.errors(lint.lint_bundle(bundle)) == []
    return bundle


@pytest.mark.parametrize("change", [_rename_aanvragen, _replace_aanvragen], ids=["renamed", "replaced"])
def test_a_completed_step_renamed_or_replaced_keeps_the_case_and_names_the_step(
    driver: CaseDriver, change: Callable[[str], str]
) -> None:
    reference = driver.start(process_key="mini")
    driver.complete(reference, "aanvragen", "Bestuurder", AANVRAAG)
    affected = affected_on(driver, mini_changed(change))
    assert not affected.can_move
    assert affected.reason == (
        "gebeurtenis 2 (een afgeronde taak) past niet op de nieuwe versie: "
        "stap aanvragen staat er niet klaar (hernoemd, vervangen of op een andere plek?)"
    )


def test_a_user_task_inserted_before_the_waiting_step_keeps_the_case_where_it_waits(driver: CaseDriver) -> None:
    reference = driver.start(process_key="mini")
    driver.complete(reference, "aanvragen", "Bestuurder", AANVRAAG)
    affected = affected_on(
        driver,
        mini_changed(
            lambda text: inserted_before_beoordelen(text, "userTask", "voorcontrole", extensions=USER_TASK_FORM)
        ),
    )
    assert not affected.can_move
    assert affected.reason == "de zaak wacht nu op beoordelen, in de nieuwe versie op voorcontrole"


def test_a_script_inserted_before_the_waiting_step_moves_the_case_and_it_replays(driver: CaseDriver) -> None:
    reference = driver.start(process_key="mini")
    driver.complete(reference, "aanvragen", "Bestuurder", AANVRAAG)
    with driver.factory() as session, session.begin():
        drafts.current(session, "mini")
        text = inserted_before_beoordelen((MINI / "mini.bpmn").read_text(), "scriptTask", "voorbereiden", script=SCRIPT)
        assert drafts.save_file(session, "mini", "mini.bpmn", text, actor=OWNER.id, at=driver.clock()).stored
        version = drafts.deploy(session, "mini", actor=OWNER.id, comment="Voorbereiden", at=driver.clock())
    assert affected_on(driver, Bundle(version.files)).can_move
    with driver.factory() as session, session.begin():
        migration.migrate(session, OWNER, reference, version, reason="Voorbereiden ook hier", at=driver.clock())
    assert replays(driver, reference)
    driver.complete(reference, "beoordelen", "CCV", {"akkoord": True})
    assert driver.case(reference).status == "completed"
    assert replays(driver, reference)


def _view(guid: str, bpmn_id: str) -> UserTaskView:
    return UserTaskView(guid, bpmn_id, bpmn_id, "CCV", None, None, None, None)


class _Ready:
    def __init__(self, *views: UserTaskView) -> None:
        self.views = list(views)

    def ready_user_tasks(self) -> list[UserTaskView]:
        return self.views


def test_the_guid_only_chooses_among_instances_of_the_recorded_step() -> None:
    same = replay._same_task
    recorded = {"task": "advies", "task_guid": "g2"}
    several = _Ready(_view("g1", "advies"), _view("g2", "advies"), _view("g3", "besluit"))
    assert same(several, recorded) == "g2"  # type: ignore[arg-type]
    assert same(_Ready(_view("g9", "advies")), recorded) == "g9"  # type: ignore[arg-type]
    with pytest.raises(ProcessError, match="'advies' is ready 2 times"):
        same(_Ready(_view("g1", "advies"), _view("g3", "advies")), recorded)  # type: ignore[arg-type]
    with pytest.raises(ProcessError, match="'advies' is not ready"):
        same(_Ready(_view("g2", "besluit")), recorded)  # type: ignore[arg-type]  # the recorded guid, another step
