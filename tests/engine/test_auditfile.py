"""The audit file of a case: JSON a machine can check without the database, PDF a person can read; both carry
the final hash."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from engine import audit, auditfile, history, pointintime
from engine.clock import FrozenClock
from tests.auditsupport import DETERMINATION_VALUE, finish_a_case, seed_demo_people
from tests.support import ROOT, START


@pytest.fixture
def finished(sqlite_engine: Engine) -> tuple[sessionmaker[Session], str]:
    factory = sessionmaker(sqlite_engine, expire_on_commit=False)
    with factory() as session, session.begin():
        seed_demo_people(session)
    reference = finish_a_case(sqlite_engine, FrozenClock(START), deploy=True)
    pointintime.clear()
    return factory, reference


def test_the_json_file_carries_the_chain_and_a_verified_result(finished: tuple[sessionmaker[Session], str]) -> None:
    factory, reference = finished
    with factory() as session:
        case = audit.find_case(session, reference)
        data = auditfile.audit_json(session, case, audit.verify(session, case), START + timedelta(days=1))
    text = json.dumps(data)  # it is JSON all the way down
    data = json.loads(text)
    assert data["final_hash"] == case.last_hash
    assert data["process_version"]["content_hash"] == case.process_version.content_hash
    assert data["verification"]["result"] == "Geverifieerd"
    assert data["verification"]["chain"]["ok"] and data["verification"]["replay"]["ok"]
    events = data["events"]
    assert [e["seq"] for e in events] == list(range(1, case.event_count + 1))
    assert events[0]["prev_hash"] == data["chain"]["genesis"] == history.GENESIS_HASH
    for before, after in zip(events, events[1:], strict=False):
        assert after["prev_hash"] == before["hash"]
    assert events[-1]["hash"] == data["final_hash"]
    assert DETERMINATION_VALUE in text


def test_the_json_chain_recomputes_without_the_database(finished: tuple[sessionmaker[Session], str]) -> None:
    """What a third party does with the file: recompute every hash from the rule the file states. (Follows
    engine/history.py; if the hashed body changes there, this test says the file's rule must change too.)"""
    factory, reference = finished
    with factory() as session:
        case = audit.find_case(session, reference)
        data = auditfile.audit_json(session, case, audit.verify(session, case), START)
    prev = data["chain"]["genesis"]
    for event in data["events"]:
        payload = event["payload"]
        parts = {key: payload[key] for key in history.SEALED_PARTS if key in payload}
        assert event["payload_hash"] == (hashlib.sha256(_canonical(parts)).hexdigest() if parts else None)
        body = {key: event[key] for key in ("seq", "type", "actor", "actor_role", "occurred_at", "payload_hash")}
        body |= {"case": reference, "state_hash": event["state_hash"], "prev_hash": prev}
        body["payload"] = {key: value for key, value in payload.items() if key not in parts}
        digest = hashlib.sha256(prev.encode() + _canonical(body)).hexdigest()
        assert digest == event["hash"], event["seq"]
        prev = digest
    assert prev == data["final_hash"]


def _canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def test_the_pdf_names_the_final_hash_and_draws_the_diagrams(finished: tuple[sessionmaker[Session], str]) -> None:
    factory, reference = finished
    with factory() as session:
        case = audit.find_case(session, reference)
        pdf = auditfile.audit_pdf(session, case, audit.verify(session, case), START)
    assert pdf.startswith(b"%PDF")
    assert len(pdf) > 5_000
    assert case.last_hash.encode() in pdf
    assert b"Diagram regeling" in pdf and b"Diagram advisering" in pdf
    assert b"Tijdlijn" in pdf


def test_the_layout_comes_from_the_bpmn_di() -> None:
    text = (ROOT / "processes" / "regeling.bpmn").read_text(encoding="utf-8")
    layout = auditfile.diagram_layout(text, "regeling")
    assert layout is not None
    shapes = {shape.element: shape for shape in layout.shapes}
    assert shapes["aanmelding"].kind == "userTask" and shapes["aanmelding"].w > 0
    assert shapes["start"].kind == "startEvent"
    assert any(edge.element == "f_start__aanmelding" and len(edge.points) >= 2 for edge in layout.edges)
    assert auditfile.diagram_layout(text, "no_such_process") is None
    assert auditfile.pdf_text("‘a’ — b ⚠️") == "'a' - b ??"
