"""The auditor's engine side: search over all cases, the unified timeline, the case at any event, verification."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from engine import audit, bundles, commands, history, migration, pointintime, repair, retention
from engine.access import Actor, Role
from engine.clock import FrozenClock
from engine.model import Case, Event, Outbox
from tests.auditsupport import (
    DEMO_ACTORS,
    DETERMINATION_VALUE,
    FINISHED_PATH,
    LATER_VALUE,
    finish_a_case,
    seed_demo_people,
)
from tests.processes.steps import Complete
from tests.support import ROOT, START, CaseDriver

PROCESBEHEERDER = Actor("procesbeheerder", Role.PROCESBEHEERDER, "bzk")
BEHEERDER = Actor("beheerder", Role.BEHEERDER, "bzk")


@pytest.fixture
def finished(db_engine: Engine) -> tuple[sessionmaker[Session], str]:
    factory = sessionmaker(db_engine, expire_on_commit=False)
    with factory() as session, session.begin():
        seed_demo_people(session)
    reference = finish_a_case(db_engine, FrozenClock(START), deploy=True)
    pointintime.clear()
    return factory, reference


def _case(session: Session, reference: str) -> Case:
    return commands.find_case(session, reference)


def _determination(session: Session, case: Case) -> int:
    events = session.scalars(select(Event).where(Event.case_id == case.id).order_by(Event.seq))
    return max(e.seq for e in events if e.type == "task_completed" and e.actor_role == Role.BVA.value)


def test_search_filters_by_reference_organisation_status_period_and_version(
    finished: tuple[sessionmaker[Session], str],
) -> None:
    factory, reference = finished
    with factory() as session:
        case = _case(session, reference)
        everything = audit.search(session, audit.AuditFilter())
        assert [row.reference for row in everything.rows] == [reference]
        row = everything.rows[0]
        assert (row.status, row.organisation, row.process_key) == ("completed", "Provincie Voorbeeldland", "regeling")
        matching = [
            audit.AuditFilter(reference=reference[:7].lower()),
            audit.AuditFilter(organisation="provincie-voorbeeldland"),
            audit.AuditFilter(status="completed"),
            audit.AuditFilter(since=START.date(), until=START.date()),
            audit.AuditFilter(version_id=case.process_version_id),
        ]
        for wanted in matching:
            assert audit.search(session, wanted).total == 1, wanted
        missing = [
            audit.AuditFilter(reference="BV-1999"),
            audit.AuditFilter(organisation="gemeente-voorbeeldstad"),
            audit.AuditFilter(status="active"),
            audit.AuditFilter(since=START.date() + timedelta(days=1)),
            audit.AuditFilter(until=START.date() - timedelta(days=1)),
            audit.AuditFilter(version_id=case.process_version_id + 1),
        ]
        for wanted in missing:
            assert audit.search(session, wanted).total == 0, wanted
        assert ("provincie-voorbeeldland", "Provincie Voorbeeldland") in audit.organisations(session)
        assert audit.versions(session) == [(case.process_version_id, "regeling versie 1")]


def test_the_timeline_holds_every_event_the_deployment_and_each_notification(
    finished: tuple[sessionmaker[Session], str],
) -> None:
    factory, reference = finished
    with factory() as session:
        case = _case(session, reference)
        entries = audit.timeline(session, case)
        outbox = session.scalars(select(Outbox).where(Outbox.case_id == case.id)).all()
    assert [e.seq for e in entries if e.seq is not None] == list(range(1, case.event_count + 1))
    assert entries[0].kind == "deployment" and "regeling versie 1" in entries[0].detail
    notifications = [e for e in entries if e.kind == "notification"]
    assert len(notifications) == len(outbox) > 0
    started = next(e for e in entries if e.kind == "case_started")
    assert started.what == "Zaak gestart" and started.by.name == "Gijs Gedeputeerde"
    assert started.by.organisation == "Provincie Voorbeeldland" and started.by.role == "Bestuurder"
    determination = [e for e in entries if e.kind == "task_completed" and e.by.role == "BVA"][-1]
    assert determination.detail and determination.data["besluit_bva"] == "vaststellen"
    assert any("Dienst ‘melding’" in note for e in entries for note in e.notes)
    assert all(e.at.tzinfo is not None for e in entries)
    assert [e.at for e in entries] == sorted(e.at for e in entries)


def test_the_case_at_the_bva_determination(finished: tuple[sessionmaker[Session], str]) -> None:
    factory, reference = finished
    with factory() as session:
        case = _case(session, reference)
        seq = _determination(session, case)
        moment = audit.moment(session, case, seq)
    assert moment.problem == ""
    assert moment.entry.by.role == "BVA" and moment.acting_role == "BVA"
    assert "vaststellen_advies" in moment.markers["done"]
    assert "maatregelen_aanvaarden" in moment.markers["active"]
    assert "maatregelen_aanvaarden" not in moment.markers["done"]
    assert moment.diagrams[0] == "regeling" and "advisering" in moment.diagrams
    texts = repr([step.data for step in moment.steps])
    assert DETERMINATION_VALUE in texts
    assert LATER_VALUE not in texts


def test_what_the_acting_role_could_not_see_is_marked(finished: tuple[sessionmaker[Session], str]) -> None:
    factory, reference = finished
    with factory() as session:
        case = _case(session, reference)
        events = session.scalars(select(Event).where(Event.case_id == case.id).order_by(Event.seq)).all()
        werkgever = next(e.seq for e in events if e.actor_role == "Werkgever")
        moment = audit.moment(session, case, werkgever)
    aanmelding = next(step for step in moment.steps if step.form == "aanmelding.schema.json")
    assert "woonadres" in aanmelding.data  # the auditor sees it ...
    assert "woonadres" in aanmelding.hidden_from_actor  # ... the werkgever could not
    assert "functie" not in aanmelding.hidden_from_actor


def test_scrubbing_from_snapshots_gives_what_a_replay_from_the_start_gives(
    finished: tuple[sessionmaker[Session], str],
) -> None:
    factory, reference = finished
    with factory() as session:
        case = _case(session, reference)
        forward = [audit.moment(session, case, seq).markers for seq in range(1, case.event_count + 1)]
        backward = {}
        for seq in reversed(range(1, case.event_count + 1)):
            pointintime.clear()
            backward[seq] = audit.moment(session, case, seq).markers
    assert forward == [backward[seq] for seq in range(1, case.event_count + 1)]
    assert forward[-1]["active"] == [] and forward[-1]["waiting"] == []


def test_a_moment_outside_the_history_is_clamped(finished: tuple[sessionmaker[Session], str]) -> None:
    factory, reference = finished
    with factory() as session:
        case = _case(session, reference)
        assert audit.moment(session, case, 0).seq == 1
        assert audit.moment(session, case, 10_000).seq == case.event_count


def test_verification_passes_and_names_an_edited_event(finished: tuple[sessionmaker[Session], str]) -> None:
    factory, reference = finished
    with factory() as session:
        result = audit.verify(session, _case(session, reference))
    assert result.ok and result.findings == []
    with factory() as session, session.begin():
        case = _case(session, reference)
        session.execute(update(Event).where(Event.case_id == case.id, Event.seq == 2).values(actor_role="Auditor"))
    with factory() as session:
        case = _case(session, reference)
        result = audit.verify(session, case)
        assert not result.ok
        assert result.chain.broken_at == 2
        assert "gebeurtenis 2" in result.findings[0]
        assert history.verify_case(session, case).broken_at == 2


def test_an_erased_case_still_verifies_and_says_why_it_cannot_be_replayed(
    finished: tuple[sessionmaker[Session], str],
) -> None:
    factory, reference = finished
    with factory() as session, session.begin():
        retention.erase_case(session, reference, rule="completed=P7Y", reason="bewaartermijn", now=START)
    with factory() as session:
        case = _case(session, reference)
        result = audit.verify(session, case)
        moment = audit.moment(session, case, _determination(session, case))
        entries = audit.timeline(session, case)
    assert result.ok and result.erased and result.findings == []
    assert "gewist" in moment.problem
    assert "vaststellen_advies" in moment.markers["done"]  # the history still says what was done
    assert DETERMINATION_VALUE not in repr(moment.steps)
    erasure = entries[-1] if entries[-1].kind == "erasure" else next(e for e in entries if e.kind == "erasure")
    assert erasure.what == "Persoonsgegevens gewist"
    assert any("gewist uit gebeurtenissen" in note for note in erasure.notes)


def test_a_migrated_case_is_shown_on_the_version_of_each_moment(sqlite_engine: Engine) -> None:
    factory = sessionmaker(sqlite_engine, expire_on_commit=False)
    with factory() as session, session.begin():
        seed_demo_people(session)
    clock = FrozenClock(START)
    driver = CaseDriver(sqlite_engine, clock, checks=False)
    driver.deploy(ROOT / "processes")
    reference = driver.start(DEMO_ACTORS["Bestuurder"])
    first, second = FINISHED_PATH.steps[0], FINISHED_PATH.steps[1]
    assert isinstance(first, Complete) and isinstance(second, Complete)
    driver.complete(reference, first.task, first.role, first.data, actor=DEMO_ACTORS[first.role])
    files = dict(bundles.read_bundle([ROOT / "processes"]).files)
    files["regeling.bpmn"] += "\n<!-- versie 2 -->\n"
    with factory() as session, session.begin():
        (target,) = bundles.deploy(session, bundles.Bundle(files), actor="test", comment="v2", at=START)
        migration.migrate(session, PROCESBEHEERDER, reference, target, reason="nieuwe versie", at=START)
    driver.complete(reference, second.task, second.role, second.data, actor=DEMO_ACTORS[second.role])
    pointintime.clear()
    with factory() as session:
        case = _case(session, reference)
        assert audit.verify(session, case).ok
        moments = [audit.moment(session, case, seq) for seq in range(1, case.event_count + 1)]
        entries = audit.timeline(session, case)
    assert [m.problem for m in moments] == [""] * len(moments)
    assert second.task in moments[-2].markers["active"] and second.task in moments[-1].markers["done"]
    migrated = next(e for e in entries if e.kind == "case_migrated")
    assert migrated.detail == "van versie 1 naar versie 2" and "Reden: nieuwe versie" in migrated.notes
    assert any(e.kind == "deployment" and "versie 2" in e.detail for e in entries)


def test_what_was_cancelled_before_a_migration_stays_cancelled_after_it(sqlite_engine: Engine) -> None:
    factory = sessionmaker(sqlite_engine, expire_on_commit=False)
    with factory() as session, session.begin():
        seed_demo_people(session)
    driver = CaseDriver(sqlite_engine, FrozenClock(START), checks=False)
    driver.deploy(ROOT / "processes")
    reference = driver.start(DEMO_ACTORS["Bestuurder"])
    steps = [s for s in FINISHED_PATH.steps[:3] if isinstance(s, Complete)]
    for step in steps[:2]:  # the contact with the organisation ends its deadline timer: bnd_sla_contact cancelled
        driver.complete(reference, step.task, step.role, step.data, actor=DEMO_ACTORS[step.role])
    files = dict(bundles.read_bundle([ROOT / "processes"]).files)
    files["regeling.bpmn"] += "\n<!-- versie 2 -->\n"
    with factory() as session, session.begin():
        (target,) = bundles.deploy(session, bundles.Bundle(files), actor="test", comment="v2", at=START)
        migration.migrate(session, PROCESBEHEERDER, reference, target, reason="nieuwe versie", at=START)
    driver.complete(reference, steps[2].task, steps[2].role, steps[2].data, actor=DEMO_ACTORS[steps[2].role])
    pointintime.clear()
    with factory() as session:
        case = _case(session, reference)
        moments = {seq: audit.moment(session, case, seq) for seq in range(3, case.event_count + 1)}
    assert [m.entry.kind for m in moments.values()] == ["task_completed", "case_migrated", "task_completed"]
    for found in moments.values():
        assert found.problem == "" and "bnd_sla_contact" in found.markers["cancelled"], found.seq


def test_a_corrected_step_shows_its_new_data_from_the_repair_on(sqlite_engine: Engine) -> None:
    factory = sessionmaker(sqlite_engine, expire_on_commit=False)
    with factory() as session, session.begin():
        seed_demo_people(session)
    driver = CaseDriver(sqlite_engine, FrozenClock(START), checks=False)
    driver.deploy(ROOT / "processes")
    reference = driver.start(DEMO_ACTORS["Bestuurder"])
    first = FINISHED_PATH.steps[0]
    assert isinstance(first, Complete)
    driver.complete(reference, first.task, first.role, first.data, actor=DEMO_ACTORS[first.role])
    with factory() as session, session.begin():
        case = _case(session, reference)
        (step,) = [s for s in repair.correctable_steps(session, case) if s.bpmn_id == first.task]
        corrected = {**first.data, "datum_benoeming": "2024-04-01"}
        repair.correct_task_data(
            session,
            BEHEERDER,
            reference,
            step.task_guid,
            corrected,
            reason="typefout in de datum",
            lock_version=case.lock_version,
        )
    with factory() as session:
        case = _case(session, reference)
        assert audit.verify(session, case).ok
        before, after = audit.moment(session, case, case.event_count - 1), audit.moment(session, case, case.event_count)
        entries = audit.timeline(session, case)
    assert before.problem == after.problem == ""
    assert before.steps[-1].data["datum_benoeming"] == "2024-03-01"
    assert after.steps[-1].data["datum_benoeming"] == "2024-04-01"
    fixed = next(e for e in entries if e.kind == "repair")
    assert fixed.what == "Hersteld door beheer" and "Reden: typefout in de datum" in fixed.notes
