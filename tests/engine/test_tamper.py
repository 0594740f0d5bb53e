"""`regeling verify` names the event that was edited, deleted or moved: every column of every event row
is tried (issue 6), on a finished case with every kind of event, and on one whose data was erased."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session

from engine import cache, commands, crypto
from engine.cli import main
from engine.db import alembic_config, make_engine, migrate
from engine.history import GENESIS_HASH, SEALED_PARTS, Verification, canonical_json, payload_of, verify_case
from engine.model import Case, Event
from engine.retention import erase_case
from tests.processes.drive import _apply, drive_path
from tests.processes.paths import PATHS
from tests.support import ROOT, CaseDriver
from tests.websupport import copy_database

PATH = next(p for p in PATHS if p.name == "in_natura_zonder_bezwaar_dan_aftreden")


@dataclass(frozen=True)
class Recorded:
    database: Path
    references: tuple[str, str]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorded]:
    """Two finished cases on one database, made once; each test works on a copy."""
    database = tmp_path_factory.mktemp("tamper") / "template.db"
    engine = make_engine(f"sqlite:///{database}")
    migrate(engine)
    driver = CaseDriver(engine, checks=False)
    driver.deploy(ROOT / "processes")
    references = (drive_path(driver, PATH), drive_path(driver, PATH))
    engine.dispose()
    yield Recorded(database, references)


@pytest.fixture
def engine(recorded: Recorded, tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(copy_database(recorded.database, tmp_path / "case.db"))
    yield engine
    engine.dispose()


def _case(session: Session, reference: str) -> Case:
    case = session.scalar(select(Case).where(Case.reference == reference))
    assert case is not None
    return case


def _rows(session: Session, case: Case) -> list[Event]:
    return list(session.scalars(select(Event).where(Event.case_id == case.id).order_by(Event.seq)))


def _verify(session: Session, reference: str) -> Verification:
    session.expire_all()
    return verify_case(session, _case(session, reference))


def _sealed_part(row: Event) -> str | None:
    return next((key for key in SEALED_PARTS if key in row.payload), None)


def _reseal_edited(row: Event) -> dict[str, Any]:
    # What someone holding the key could do: decrypt, change a value, encrypt again under the right AAD.
    part = _sealed_part(row)
    assert part is not None
    value = payload_of(row)[part]
    edited = {**value, "toegevoegd": "x"} if isinstance(value, dict) else {"vervangen": value}
    aad = crypto.event_payload_aad(row.case_id, row.seq, part)
    return {**row.payload, part: crypto.seal_json(edited, aad=aad)}


# (column, how to change it) -> the new value, or None when this row has nothing of the kind to change
EDITS: dict[str, Callable[[Event], Any]] = {
    "type": lambda row: "task_claimed" if row.type != "task_claimed" else "task_unclaimed",
    "actor": lambda row: row.actor + "-x",
    "actor_role": lambda row: "Auditor",
    "occurred_at": lambda row: row.occurred_at + timedelta(seconds=1),
    "payload (readable part)": lambda row: {**row.payload, "completed": ["iets_anders"]},
    "payload (form data, ciphertext)": lambda row: (
        {**row.payload, _sealed_part(row): "enc:v1:x:AAAA"} if _sealed_part(row) else None
    ),
    "payload (form data, re-encrypted)": lambda row: _reseal_edited(row) if _sealed_part(row) else None,
    "payload (form data removed)": lambda row: (
        {k: v for k, v in row.payload.items() if k not in SEALED_PARTS} if _sealed_part(row) else None
    ),
    "payload_hash": lambda row: "f" * 64,
    "state_hash": lambda row: "e" * 64,
    "prev_hash": lambda row: "d" * 64,
    "hash": lambda row: "c" * 64,
}
COLUMN_OF = {name: name.split(" ")[0] for name in EDITS}


@pytest.mark.parametrize("edit", list(EDITS))
def test_editing_any_column_of_any_event_fails_verification_at_that_event(
    engine: Engine, recorded: Recorded, edit: str
) -> None:
    reference = recorded.references[0]
    with Session(engine) as session:
        case = _case(session, reference)
        assert _verify(session, reference).ok
        tried = 0
        for row in _rows(session, case):
            value = EDITS[edit](row)
            if value is None:
                continue
            with session.begin_nested() as attempt:
                session.execute(update(Event).where(Event.id == row.id).values({COLUMN_OF[edit]: value}))
                result = _verify(session, reference)
                assert (result.broken_at, edit) == (row.seq, edit), result.reason
                attempt.rollback()
            tried += 1
        assert tried >= len(_rows(session, case)) // 2


def test_deleting_any_event_fails_verification_at_that_event(engine: Engine, recorded: Recorded) -> None:
    reference = recorded.references[0]
    with Session(engine) as session:
        for row_id, seq in [(row.id, row.seq) for row in _rows(session, _case(session, reference))]:
            with session.begin_nested() as attempt:
                session.execute(delete(Event).where(Event.id == row_id))
                assert _verify(session, reference).broken_at == seq
                attempt.rollback()


def test_swapping_any_two_neighbouring_events_fails_verification_at_the_first(
    engine: Engine, recorded: Recorded
) -> None:
    reference = recorded.references[0]
    with Session(engine) as session:
        rows = [(row.id, row.seq) for row in _rows(session, _case(session, reference))]
        for (first, first_seq), (second, second_seq) in zip(rows, rows[1:], strict=False):
            with session.begin_nested() as attempt:
                for row_id, seq in ((first, -1), (second, first_seq), (first, second_seq)):
                    session.execute(update(Event).where(Event.id == row_id).values(seq=seq))
                assert _verify(session, reference).broken_at == first_seq
                attempt.rollback()


def test_moving_an_event_to_another_case_fails_verification_at_that_event(engine: Engine, recorded: Recorded) -> None:
    reference, other = recorded.references
    with Session(engine) as session:
        other_id = _case(session, other).id
        for row_id, seq in [(row.id, row.seq) for row in _rows(session, _case(session, reference))]:
            with session.begin_nested() as attempt:
                moved = {"case_id": other_id, "seq": seq + 10_000}
                session.execute(update(Event).where(Event.id == row_id).values(moved))
                assert _verify(session, reference).broken_at == seq
                attempt.rollback()


def test_an_erased_case_still_verifies_and_each_edit_of_it_is_found(engine: Engine, recorded: Recorded) -> None:
    reference = recorded.references[0]
    with Session(engine) as session, session.begin():
        case = _case(session, reference)
        erase_case(session, reference, rule="completed=P7Y", reason="test", now=case.updated_at + timedelta(days=1))
    with Session(engine) as session:
        assert _verify(session, reference).ok
        for row in _rows(session, _case(session, reference)):
            for edit in ("actor", "payload_hash", "occurred_at"):
                with session.begin_nested() as attempt:
                    session.execute(update(Event).where(Event.id == row.id).values({edit: EDITS[edit](row)}))
                    assert _verify(session, reference).broken_at == row.seq, (edit, row.seq)
                    attempt.rollback()


def test_an_erasure_event_that_names_more_events_is_found(engine: Engine, recorded: Recorded) -> None:
    reference = recorded.references[0]
    with Session(engine) as session, session.begin():
        case = _case(session, reference)
        erase_case(session, reference, rule="completed=P7Y", reason="test", now=case.updated_at + timedelta(days=1))
    with Session(engine) as session, session.begin():
        last = _rows(session, _case(session, reference))[-1]
        payload = json.loads(json.dumps(last.payload))
        payload["erased_events"].append(last.seq - 1)
        session.execute(update(Event).where(Event.id == last.id).values(payload=payload))
        assert _verify(session, reference).broken_at == last.seq


def test_verify_on_the_command_line_names_the_edited_event(
    engine: Engine, recorded: Recorded, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    reference = recorded.references[0]
    assert main(["verify"]) == 0
    with Session(engine) as session, session.begin():
        row_id, seq = next((row.id, row.seq) for row in _rows(session, _case(session, reference)) if row.seq == 5)
        session.execute(update(Event).where(Event.id == row_id).values(actor="iemand-anders"))
    assert main(["verify", reference]) == 1
    assert f"BROKEN at event {seq}" in capsys.readouterr().out


# -- the 0009 migration: chains hashed over the whole plaintext become chains over the form data's digest -----------


def _legacy_hash(reference: str, row: Any, payload: dict[str, Any], prev: str) -> str:
    # The hash before revision 0009: the whole plaintext payload in the body, no payload_hash.
    body = {
        "case": reference,
        "seq": row.seq,
        "type": row.type,
        "actor": row.actor,
        "actor_role": row.actor_role,
        "occurred_at": row.occurred_at.isoformat(),
        "payload": payload,
        "state_hash": row.state_hash,
        "prev_hash": prev,
    }
    return hashlib.sha256(prev.encode() + canonical_json(body)).hexdigest()


def _as_before_0009(engine: Engine) -> None:
    """Back to revision 0008 with every chain hashed the old way (and each running case's snapshot at its last
    event, as the old chain's seeds made it)."""
    events: list[tuple[int, str, str]] = []
    heads: list[tuple[int, str]] = []
    with Session(engine) as session:
        for case in session.scalars(select(Case)):
            prev = GENESIS_HASH
            for row in _rows(session, case):
                new = _legacy_hash(case.reference, row, payload_of(row), prev)
                events.append((row.id, prev, new))
                prev = new
            heads.append((case.id, prev))
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0008")
        for event_id, prev, new in events:
            connection.execute(update(Event).where(Event.id == event_id).values(prev_hash=prev, hash=new))
        for case_id, head in heads:
            connection.execute(update(Case).where(Case.id == case_id).values(last_hash=head))


def test_the_0009_migration_rehashes_old_chains_and_running_cases_go_on(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/old.db")
    migrate(engine)
    driver = CaseDriver(engine)
    driver.deploy(ROOT / "processes")
    finished = drive_path(driver, PATH)
    running = driver.start()
    for step in PATH.steps[:5]:
        _apply(driver, running, step)
    with driver.factory() as session, session.begin():
        case = commands.find_case(session, running)
        workflow = commands.load_workflow(session, case)
        state = crypto.seal_text(workflow.to_state(case.event_count), aad=crypto.case_state_aad(case.id))
        session.execute(update(Case).where(Case.id == case.id).values(state=state))
    _as_before_0009(engine)
    cache.clear()

    migrate(engine)

    with Session(engine) as session:
        assert _verify(session, finished).ok and _verify(session, running).ok
    _apply(driver, running, PATH.steps[5])  # restored from the re-made snapshot, round trip checked
    with Session(engine) as session:
        assert _verify(session, running).ok
    engine.dispose()
