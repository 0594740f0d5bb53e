"""Steps that run once per measure say which measure they are about (the ``onderwerp`` property), so the
inbox can tell two parallel "Maatregel bestellen" tasks apart."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from engine import crypto, queries, rotation
from tests.processes.paths import MAATREGELEN, PATHS
from tests.processes.steps import Complete, ExpectReady
from tests.support import ACTORS, ROOT, START, CaseDriver


def test_parallel_tasks_of_measures_carry_their_measure(sqlite_engine: Engine) -> None:
    driver = CaseDriver(sqlite_engine, checks=False)
    driver.deploy(ROOT / "processes")
    path = next(p for p in PATHS if p.name == "in_natura_zonder_bezwaar_dan_aftreden")
    reference = driver.start()
    for step in path.steps:
        if isinstance(step, ExpectReady) and step.tasks[:1] == ("maatregel_bestellen",):
            break
        if isinstance(step, Complete):
            driver.complete(reference, step.task, step.role, step.data)
    subjects = sorted(task.subject or "" for task in driver.open_tasks(reference))
    assert subjects == sorted(m["omschrijving"] for m in MAATREGELEN[:2])
    assert all(t.subject is None for t in driver.open_tasks(reference) if t.bpmn_id != "maatregel_bestellen")


def test_the_subject_is_encrypted_at_rest_and_read_back_in_the_inbox(sqlite_engine: Engine) -> None:
    """D1: a measure's description is case data (sensitivity S): the column holds an envelope bound to
    its case and task, the inbox and the task row read the plaintext."""
    driver = CaseDriver(sqlite_engine, checks=False)
    driver.deploy(ROOT / "processes")
    path = next(p for p in PATHS if p.name == "in_natura_zonder_bezwaar_dan_aftreden")
    reference = driver.start()
    for step in path.steps:
        if isinstance(step, ExpectReady) and step.tasks[:1] == ("maatregel_bestellen",):
            break
        if isinstance(step, Complete):
            driver.complete(reference, step.task, step.role, step.data)
    measures = sorted(str(m["omschrijving"]) for m in MAATREGELEN[:2])
    with sqlite_engine.connect() as connection:
        raw = connection.execute(
            text("SELECT case_id, task_guid, subject FROM human_task WHERE bpmn_id = 'maatregel_bestellen' ORDER BY id")
        ).all()
    assert len(raw) == 2 and all(crypto.is_encrypted_text(row.subject) for row in raw)
    assert not any(measure in row.subject for row in raw for measure in measures)
    assert sorted(crypto.open_text(row.subject, aad=crypto.subject_aad(row.case_id, row.task_guid)) for row in raw) == (
        measures
    )
    # Copied to the other task, the envelope does not open: its AAD names the case and the task.
    with pytest.raises(crypto.DecryptionError):
        crypto.open_text(raw[1].subject, aad=crypto.subject_aad(raw[0].case_id, raw[0].task_guid))
    lane = driver.open_task(reference, "maatregel_bestellen").lane
    actor = next(actor for actor in ACTORS.values() if actor.role.value == lane)
    with Session(sqlite_engine) as session:
        rows = queries.inbox(session, actor, queries.InboxFilter(step="maatregel_bestellen"), START).rows
    assert sorted(row.subject or "" for row in rows) == measures


def test_rotate_key_re_encrypts_the_subjects(sqlite_engine: Engine) -> None:
    driver = CaseDriver(sqlite_engine, checks=False)
    driver.deploy(ROOT / "processes")
    path = next(p for p in PATHS if p.name == "in_natura_zonder_bezwaar_dan_aftreden")
    reference = driver.start()
    for step in path.steps:
        if isinstance(step, ExpectReady) and step.tasks[:1] == ("maatregel_bestellen",):
            break
        if isinstance(step, Complete):
            driver.complete(reference, step.task, step.role, step.data)
    old = crypto.keyring()
    crypto.use_keyring(crypto.KeyRing(active="nieuw", keys={"nieuw": bytes(range(32)), **old.keys}))
    try:
        with Session(sqlite_engine) as session:
            counts = {count.table: count for count in rotation.rotate(session)}
        assert counts["human_task"].rewritten == 2
        with sqlite_engine.connect() as connection:
            raw = connection.execute(text("SELECT subject FROM human_task WHERE subject IS NOT NULL")).scalars().all()
        assert {crypto.key_id(value) for value in raw} == {"nieuw"}
        subjects = sorted(task.subject or "" for task in driver.open_tasks(reference) if task.subject)
        assert subjects == sorted(str(m["omschrijving"]) for m in MAATREGELEN[:2])
    finally:
        crypto.use_keyring(None)
