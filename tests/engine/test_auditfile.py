"""The audit file of a case: JSON a machine can check without the database, PDF a person can read; both carry
the final hash."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from engine import audit, auditfile, commands, history, inzage, pointintime, repair, retention
from engine.access import Actor, Role
from engine.clock import FrozenClock
from tests.auditsupport import DEMO_ACTORS, DETERMINATION_VALUE, FINISHED_PATH, finish_a_case, seed_demo_people
from tests.processes.steps import Complete
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
        case = commands.find_case(session, reference)
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
        case = commands.find_case(session, reference)
        data = auditfile.audit_json(session, case, audit.verify(session, case), START)
    assert _recompute(data, reference) == set(range(1, case.event_count + 1))


def _recompute(data: dict[str, Any], reference: str) -> set[int]:
    """Recompute the chain as the file's rule says; returns the events whose form-data digest was checked too
    (not those that say their form data was erased or withheld)."""
    prev, checked = data["chain"]["genesis"], set()
    for event in data["events"]:
        payload = event["payload"]
        parts = {key: payload[key] for key in history.SEALED_PARTS if key in payload}
        if not event.get("erased") and not event.get("withheld"):
            assert event["payload_hash"] == (hashlib.sha256(_canonical(parts)).hexdigest() if parts else None)
            checked.add(event["seq"])
        body = {key: event[key] for key in ("seq", "type", "actor", "actor_role", "occurred_at", "payload_hash")}
        body |= {"case": reference, "state_hash": event["state_hash"], "prev_hash": prev}
        body["payload"] = {key: value for key, value in payload.items() if key not in parts}
        digest = hashlib.sha256(prev.encode() + _canonical(body)).hexdigest()
        assert digest == event["hash"], event["seq"]
        prev = digest
    assert prev == data["final_hash"]
    return checked


def _canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def test_the_pdf_names_the_final_hash_and_draws_the_diagrams(finished: tuple[sessionmaker[Session], str]) -> None:
    factory, reference = finished
    with factory() as session:
        case = commands.find_case(session, reference)
        pdf = auditfile.audit_pdf(session, case, audit.verify(session, case), START)
    assert pdf.startswith(b"%PDF")
    assert len(pdf) > 5_000
    assert case.last_hash.encode() in pdf  # in the document's metadata, readable without a font
    text = _pdf_text(pdf)
    assert f"eindhash {case.last_hash}" in text  # and in every page's footer
    assert "Diagram regeling" in text and "Diagram advisering" in text
    assert "Tijdlijn" in text


def test_the_layout_comes_from_the_bpmn_di() -> None:
    text = (ROOT / "processes" / "regeling.bpmn").read_text(encoding="utf-8")
    layout = auditfile.diagram_layout(text, "regeling")
    assert layout is not None
    shapes = {shape.element: shape for shape in layout.shapes}
    assert shapes["aanmelding"].kind == "userTask" and shapes["aanmelding"].w > 0
    assert shapes["start"].kind == "startEvent"
    assert any(edge.element == "f_start__aanmelding" and len(edge.points) >= 2 for edge in layout.edges)
    assert auditfile.diagram_layout(text, "no_such_process") is None
    assert auditfile.pdf_text("‘Zoë’ — ⚠️ ≥ €") == "‘Zoë’ — ⚠️ ≥ €"  # the embedded font draws them as written
    assert auditfile.pdf_text("a 中 b") == "a ? b"  # what it cannot draw is marked, not dropped


def test_unicode_survives_into_the_pdf_text(finished: tuple[sessionmaker[Session], str]) -> None:
    factory, reference = finished
    with factory() as session:
        case = commands.find_case(session, reference)
        case.process_version.comment = "Let op ⚠️ na overleg met Zoë: bedrag ≥ € 1.000"
        pdf = auditfile.audit_pdf(session, case, audit.verify(session, case), START)
        session.rollback()
    text = _pdf_text(pdf)
    assert "Let op ⚠️ na overleg met Zoë: bedrag ≥ € 1.000" in text
    assert "Geverifieerd (hashketen en opnieuw uitvoeren" in text


def _pdf_text(pdf: bytes) -> str:
    """The text the PDF shows, read back the way a reader does: the shown glyph ids of each ``Tj`` string through
    a font's ToUnicode map. (Every map is tried on every string: enough for a test, no object resolution.)"""
    maps = [
        {int(glyph, 16): chr(int(code, 16)) for glyph, code in re.findall(rb"<([0-9A-F]{4})> <([0-9A-F]{4,8})>", block)}
        for block in re.findall(rb"beginbfchar(.*?)endbfchar", pdf, re.S)
    ]
    shown = [_unescape(raw) for raw in re.findall(rb"\(((?:\\.|[^\\)])*)\) ?Tj", pdf, re.S)]
    lines = []
    for raw in shown:
        codes = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw) - 1, 2)]
        for glyphs in maps:
            if all(code in glyphs for code in codes):
                lines.append("".join(glyphs[code] for code in codes))
    return "\n".join(lines)


_ESCAPES = {ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t", ord("b"): b"\b", ord("f"): b"\f"}


def _unescape(raw: bytes) -> bytes:
    out, i = bytearray(), 0
    while i < len(raw):
        if raw[i] == ord("\\") and i + 1 < len(raw):
            following = raw[i + 1]
            octal = re.match(rb"[0-7]{1,3}", raw[i + 1 : i + 4])
            if octal:
                out.append(int(octal.group(), 8) & 0xFF)
                i += 1 + len(octal.group())
                continue
            out += _ESCAPES.get(following, bytes([following]))
            i += 2
        else:
            out.append(raw[i])
            i += 1
    return bytes(out)


# -- repairs and erasure in the audit file and in an inzageverzoek -------------------------------------------

BEHEERDER = Actor("beheerder", Role.BEHEERDER, "bzk")
CORRECTED_DATE = "2024-04-01"
CORRECTION_REASON = "typefout in de datum van benoeming"


@pytest.fixture
def repaired(finished: tuple[sessionmaker[Session], str]) -> tuple[sessionmaker[Session], str]:
    """The finished case with the aanmelding's date corrected by a beheerder."""
    factory, reference = finished
    first = FINISHED_PATH.steps[0]
    assert isinstance(first, Complete)
    with factory() as session, session.begin():
        case = commands.find_case(session, reference)
        (step,) = [s for s in repair.correctable_steps(session, case) if s.bpmn_id == first.task]
        repair.correct_task_data(
            session,
            BEHEERDER,
            reference,
            step.task_guid,
            {**first.data, "datum_benoeming": CORRECTED_DATE},
            reason=CORRECTION_REASON,
            lock_version=case.lock_version,
        )
    pointintime.clear()
    return factory, reference


def _audit_file(factory: sessionmaker[Session], reference: str) -> dict[str, Any]:
    with factory() as session:
        case = commands.find_case(session, reference)
        return auditfile.audit_json(session, case, audit.verify(session, case), START)


def _inzage_case(factory: sessionmaker[Session], reference: str) -> dict[str, Any]:
    with factory() as session:
        export = inzage.build_export(session, DEMO_ACTORS["Bestuurder"].id, START)
    return next(case for case in export["zaken"] if case["zaaknummer"] == reference)


def test_a_correction_shows_before_after_and_reason(repaired: tuple[sessionmaker[Session], str]) -> None:
    factory, reference = repaired
    data = _audit_file(factory, reference)
    fixed = data["events"][-1]
    assert fixed["type"] == "repair" and fixed["actor_role"] == "Beheerder"
    assert fixed["payload"]["before"]["datum_benoeming"] == "2024-03-01"
    assert fixed["payload"]["after"]["datum_benoeming"] == CORRECTED_DATE
    assert fixed["payload"]["reason"] == CORRECTION_REASON
    assert data["verification"]["result"] == "Geverifieerd"
    assert fixed["seq"] in _recompute(data, reference)  # before, after and reason are all there: digest checks

    step = next(s for s in _inzage_case(factory, reference)["stappen"] if s["soort"] == "correctie")
    assert step["voor"]["datum_benoeming"] == "2024-03-01" and step["na"]["datum_benoeming"] == CORRECTED_DATE
    assert step["reden"] == CORRECTION_REASON and step["door"] == "beheerder" and step["stap"] == "aanmelding"
    assert "aanmelding/datum_benoeming" in inzage.exported_fields(
        {"zaken": [_inzage_case(factory, reference)]}, reference
    )


def test_a_move_back_shows_the_open_steps_not_the_workflow(repaired: tuple[sessionmaker[Session], str]) -> None:
    factory, reference = repaired
    last = [s for s in FINISHED_PATH.steps if isinstance(s, Complete)][-1]
    with factory() as session, session.begin():
        case = commands.find_case(session, reference)
        (step,) = [s for s in repair.movable_steps(session, case) if s.bpmn_id == last.task]
        repair.move_back(
            session,
            BEHEERDER,
            reference,
            step.task_guid,
            reason="verkeerd gekozen, opnieuw",
            lock_version=case.lock_version,
        )
    data = _audit_file(factory, reference)
    moved = data["events"][-1]
    assert moved["payload"]["kind"] == "move_back" and "state" not in moved["payload"]
    assert moved["withheld"] == ["state"]
    assert last.task in moved["payload"]["after"]["open"]
    assert moved["seq"] not in _recompute(data, reference)  # the chain holds; the digest needs the state

    step = next(s for s in _inzage_case(factory, reference)["stappen"] if s["soort"] == "teruggezet")
    assert step["open_na"] == moved["payload"]["after"]["open"] and step["reden"] == "verkeerd gekozen, opnieuw"
    assert "state" not in step


def test_an_erasure_says_what_went_and_keeps_no_value(repaired: tuple[sessionmaker[Session], str]) -> None:
    factory, reference = repaired
    with factory() as session, session.begin():
        retention.erase_case(session, reference, rule="completed=P7Y", reason="bewaartermijn verstreken", now=START)
    data = _audit_file(factory, reference)
    text = json.dumps(data, ensure_ascii=False)
    for value in (DETERMINATION_VALUE, CORRECTED_DATE, CORRECTION_REASON):
        assert value not in text
    erasure = data["events"][-1]
    assert erasure["type"] == "erasure" and erasure["payload"]["rule"] == "completed=P7Y"
    emptied = erasure["payload"][history.ERASED_EVENTS]
    flagged = [e["seq"] for e in data["events"] if e.get("erased")]
    assert flagged == emptied and data["events"][-2]["seq"] in flagged  # the correction went too
    assert all(data["events"][seq - 1]["erased_by"] == erasure["seq"] for seq in flagged)
    assert all(data["events"][seq - 1]["payload_hash"] for seq in flagged)  # the digests stay
    assert data["verification"]["result"] == "Geverifieerd" and data["verification"]["replay"]["erased"]
    _recompute(data, reference)

    case = _inzage_case(factory, reference)
    text = json.dumps(case, ensure_ascii=False)
    for value in (DETERMINATION_VALUE, CORRECTED_DATE, CORRECTION_REASON):
        assert value not in text
    assert all(step["gewist"] for step in case["stappen"])
    (erased,) = case["wissingen"]
    assert erased["gewiste_gebeurtenissen"] == emptied and erased["regel"] == "completed=P7Y"
    assert erased["aantallen"]["events"] == len(emptied)
    assert [entry["wat"] for entry in case["tijdlijn"]][-2:] == ["Hersteld door beheer", "Persoonsgegevens gewist"]
