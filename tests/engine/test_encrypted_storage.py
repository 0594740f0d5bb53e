"""Encryption at rest through the engine, on SQLite and PostgreSQL: what the tables hold when read with
plain SQL, restore and replay from encrypted rows, `regeling verify`, and `regeling rotate-key`."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select, text, update

from engine import cache, commands, crypto, queries, rotation
from engine.access import Actor, Role
from engine.cli import main
from engine.db import make_session_factory
from engine.documents import load_draft, save_draft, store_document
from engine.history import payload_of, verify_case
from engine.model import Case, Document, Event, HumanTask
from tests.processes.drive import drive_path
from tests.processes.paths import MAATREGELEN, PATHS
from tests.processes.steps import Complete
from tests.support import ACTORS, ROOT, START, CaseDriver

KEY_1 = base64.b64encode(bytes(range(32))).decode()
KEY_2 = base64.b64encode(bytes(range(200, 232))).decode()
PDF = b"%PDF-1.4\nWoningscan Synthetischestraat 1, 9999 ZZ Nergenshuizen\n%%EOF\n"
DRAFT = {"woonadres": "Synthetischestraat 1, 9999 ZZ Nergenshuizen", "toelichting": "Dreigbrief op huisadres"}
# The synthetic case data (tests/processes/paths.py) that must never be readable in the tables.
SECRETS = (
    "Synthetischestraat",
    "Synthetische Bestuurder",
    "bestuurder@voorbeeld.invalid",
    "0600000000",
    "Dreigbrief",
    *(measure["omschrijving"] for measure in MAATREGELEN),
)
TABLES = ("case", "event", "document", "task_draft")
AUDITOR = Actor("auditor", Role.AUDITOR, "bzk")


@pytest.fixture(autouse=True)
def first_key(monkeypatch: pytest.MonkeyPatch, db_engine: Engine) -> Iterator[None]:
    monkeypatch.setenv(crypto.ENV_KEYS, f"k1:{KEY_1}")
    monkeypatch.setenv("DATABASE_URL", db_engine.url.render_as_string(hide_password=False))
    crypto.use_keyring(None)
    cache.clear()
    yield
    crypto.use_keyring(None)
    cache.clear()


def _raw_rows(engine: Engine) -> dict[str, list[str]]:
    """Every row of the encrypted tables as plain SQL returns it, each value as text."""
    found: dict[str, list[str]] = {}
    with engine.connect() as connection:
        for table in TABLES:
            rows = connection.execute(text(f'SELECT * FROM "{table}"'))  # noqa: S608 - fixed names
            found[table] = [json.dumps([_as_text(value) for value in row], ensure_ascii=False) for row in rows]
    return found


def _as_text(value: Any) -> str:
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode("latin-1")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _assert_no_plaintext(engine: Engine) -> None:
    rows = _raw_rows(engine)
    assert all(rows[table] for table in TABLES), "every table holds rows: not an empty comparison"
    for table, texts in rows.items():
        for row in texts:
            for secret in SECRETS:
                assert secret not in row, f"{secret!r} readable in {table}"


def _key_ids(engine: Engine) -> set[str]:
    """The key ids of every encrypted value in the tables."""
    ids: set[str] = set()
    with engine.connect() as connection:
        ids.update(
            crypto.key_id(state) or "plain" for state in connection.execute(text('SELECT state FROM "case"')).scalars()
        )
        for stored in connection.execute(text("SELECT payload FROM event")).scalars():
            payload = json.loads(stored) if isinstance(stored, str) else stored
            ids.update(crypto.key_id(payload[part]) or "plain" for part in ("data", "payload") if part in payload)
        ids.update(
            crypto.key_id(bytes(c)) or "plain"
            for c in connection.execute(text("SELECT content FROM document")).scalars()
        )
        for stored in connection.execute(text('SELECT "values" FROM task_draft')).scalars():
            # SQLite hands back the JSON text, PostgreSQL the decoded value.
            values = json.loads(stored) if isinstance(stored, str) and stored.startswith('"') else stored
            ids.add(crypto.key_id(values) or "plain")
    return ids


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(list(argv))
    return code, capsys.readouterr().out


def _everything_reads(engine: Engine, ended: str, running: str) -> None:
    """Restores, completed steps, documents and drafts all give back the plaintext."""
    cache.clear()
    factory = make_session_factory(engine)
    with factory() as session:
        for reference in (ended, running):
            case = commands.find_case(session, reference)
            workflow = commands.load_workflow(session, case)
            assert (
                workflow.state_hash()
                == session.scalars(
                    select(Event.state_hash).where(Event.case_id == case.id, Event.seq == case.event_count)
                ).one()
            )
            assert verify_case(session, case).ok
        case = commands.find_case(session, running)
        steps = queries.completed_steps(session, AUDITOR, case)
        assert steps[0].data["woonadres"].startswith("Synthetischestraat")
        document = session.scalars(select(Document).where(Document.case_id == case.id)).one()
        assert document.content == PDF
        task = session.scalars(select(HumanTask).where(HumanTask.case_id == case.id, HumanTask.state == "open")).first()
        assert task is not None
        draft = load_draft(session, task, "bestuurder-1")
        assert draft is not None and draft.values == DRAFT


def test_the_tables_hold_ciphertext_only_and_everything_reads_verifies_and_rotates(
    db_engine: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A whole path (every step restored from the database before the next: CaseDriver's round trip),
    # and a case in progress with an uploaded document and a draft.
    driver = CaseDriver(db_engine)
    driver.deploy(ROOT / "processes")
    path = next(p for p in PATHS if p.name == "in_natura_zonder_bezwaar_dan_aftreden")
    ended = drive_path(driver, path)
    running = driver.start()
    first, *later = [step for step in path.steps if isinstance(step, Complete)][:3]
    driver.complete(running, first.task, first.role, first.data)
    factory = make_session_factory(db_engine)
    with factory() as session, session.begin():
        case = commands.find_case(session, running)
        store_document(
            session,
            case,
            form="woningscan",
            field="rapport",
            filename="scan.pdf",
            content=PDF,
            uploaded_by="ccv-adviseur-1",
            at=START,
        )
        task = session.scalars(select(HumanTask).where(HumanTask.case_id == case.id, HumanTask.state == "open")).first()
        assert task is not None
        save_draft(session, task, "bestuurder-1", DRAFT, START)

    _assert_no_plaintext(db_engine)
    assert _key_ids(db_engine) == {"k1"}
    with factory() as session:
        # What the timeline and the diagram need stays readable; the form data is an envelope.
        for event in session.scalars(select(Event)):
            assert isinstance(event.payload["completed"], list) and isinstance(event.payload["opened"], list)
            for part in ("data", "payload"):
                assert part not in event.payload or str(event.payload[part]).startswith("enc:v1:k1:")
        assert {e.type for e in session.scalars(select(Event))} >= {
            "case_started",
            "task_completed",
            "message_delivered",
        }
    _everything_reads(db_engine, ended, running)
    code, out = _cli(capsys, "verify")
    assert code == 0 and "2 zaken gecontroleerd, 0 met een gebroken keten" in out

    # Rotation: a new key first, the old one still in the ring; then the old one goes.
    monkeypatch.setenv(crypto.ENV_KEYS, f"k2:{KEY_2},k1:{KEY_1}")
    code, out = _cli(capsys, "rotate-key")
    assert code == 0 and "actieve sleutel: k2" in out
    assert "case: 2 rijen gelezen, 2 opnieuw versleuteld" in out
    assert "document: 1 rijen gelezen, 1 opnieuw versleuteld" in out
    assert "task_draft: 1 rijen gelezen, 1 opnieuw versleuteld" in out
    code, out = _cli(capsys, "rotate-key")  # nothing left to do: a second run (or a resumed one) skips it all
    assert code == 0 and "klaar: 0 waarden opnieuw versleuteld met sleutel k2" in out
    monkeypatch.setenv(crypto.ENV_KEYS, f"k2:{KEY_2}")
    assert _key_ids(db_engine) == {"k2"}
    _assert_no_plaintext(db_engine)
    _everything_reads(db_engine, ended, running)
    code, out = _cli(capsys, "verify")
    assert code == 0 and "0 met een gebroken keten" in out

    # The case goes on under the new key, restored from the database.
    cache.clear()
    before = len(driver.events(running))
    for step in later:
        driver.complete(running, step.task, step.role, step.data)
    assert len(driver.events(running)) == before + len(later)
    _assert_no_plaintext(db_engine)


def test_a_ciphertext_moved_to_another_case_does_not_decrypt(db_engine: Engine) -> None:
    driver = CaseDriver(db_engine, checks=False)
    driver.deploy(ROOT / "processes")
    first, second = driver.start(), driver.start(ACTORS["Bestuurder"])  # two cases of one bestuurder
    factory = make_session_factory(db_engine)
    with factory() as session, session.begin():
        cases = [commands.find_case(session, reference) for reference in (first, second)]
        session.execute(update(Case).where(Case.id == cases[1].id).values(state=cases[0].state))
    cache.clear()
    with factory() as session:
        case = commands.find_case(session, second)
        with pytest.raises(crypto.DecryptionError):
            commands.load_workflow(session, case)
    # An event payload copied from one event to another breaks verification, naming the event.
    with factory() as session, session.begin():
        case = commands.find_case(session, first)
        started = session.scalars(select(Event).where(Event.case_id == cases[1].id)).one()
        copied = session.scalars(select(Event).where(Event.case_id == case.id)).one().payload
        session.execute(update(Event).where(Event.id == started.id).values(payload=copied))
    with factory() as session:
        result = verify_case(session, commands.find_case(session, second))
        assert result.broken_at == 1 and "does not decrypt" in result.reason
        with pytest.raises(crypto.DecryptionError):
            payload_of(session.scalars(select(Event).where(Event.case_id == cases[1].id)).one())


class _StoppedError(Exception):
    pass


def test_an_interrupted_rotation_is_resumed_by_running_it_again(
    db_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    driver = CaseDriver(db_engine, checks=False)
    driver.deploy(ROOT / "processes")
    path = next(p for p in PATHS if p.name == "in_natura_zonder_bezwaar_dan_aftreden")
    reference = drive_path(driver, path)
    monkeypatch.setenv(crypto.ENV_KEYS, f"k2:{KEY_2},k1:{KEY_1}")
    factory = make_session_factory(db_engine)

    def stop_in_the_events(count: rotation.Count) -> None:
        if count.table == "event" and count.scanned >= 5:
            raise _StoppedError

    with factory() as session, pytest.raises(_StoppedError):
        rotation.rotate(session, batch=2, on_batch=stop_in_the_events)
    assert _key_ids(db_engine) == {"k1", "k2"}  # the batches before the stop are committed
    with factory() as session:
        counts = {count.table: count for count in rotation.rotate(session, batch=2)}
    assert counts["case"].rewritten == 0 and 0 < counts["event"].rewritten < counts["event"].scanned
    monkeypatch.setenv(crypto.ENV_KEYS, f"k2:{KEY_2}")
    assert _key_ids(db_engine) == {"k2"}
    cache.clear()
    with factory() as session:
        case = commands.find_case(session, reference)
        assert verify_case(session, case).ok
        commands.load_workflow(session, case)
