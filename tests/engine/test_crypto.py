"""engine/crypto.py: envelopes, AAD binding, tampering, the key ring from the environment, rotation,
and plaintext stored before encryption existed."""

from __future__ import annotations

import base64
import json
import multiprocessing
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text, update

from engine import cache, commands, crypto, replay, rotation
from engine.db import make_session_factory
from engine.documents import load_draft, save_draft, store_document
from engine.history import payload_of, verify_case
from engine.model import Case, Document, Event, HumanTask, TaskDraft
from tests.processes.paths import aanmelding
from tests.support import ROOT, START, CaseDriver

KEY_A = base64.b64encode(bytes(range(32))).decode()
KEY_B = base64.b64encode(bytes(range(100, 132))).decode()
AAD = b"case.state|case:1"


@pytest.fixture(autouse=True)
def ring_a(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(crypto.ENV_KEYS, f"a:{KEY_A}")
    monkeypatch.delenv(crypto.ENV_PRODUCTION, raising=False)
    crypto.use_keyring(None)
    yield
    crypto.use_keyring(None)
    cache.clear()


def test_round_trip_binary_and_text() -> None:
    secret = b"Synthetischestraat 1"
    envelope = crypto.encrypt(secret, aad=AAD)
    assert envelope.startswith(crypto.MAGIC) and secret not in envelope
    assert crypto.decrypt(envelope, aad=AAD) == secret
    text_form = crypto.encrypt_text(secret, aad=AAD)
    assert text_form.startswith("enc:v1:a:") and "Synthetische" not in text_form
    assert crypto.decrypt_text(text_form, aad=AAD) == secret
    assert crypto.key_id(envelope) == crypto.key_id(text_form) == "a"
    # A fresh nonce each time: the same plaintext never gives the same ciphertext.
    assert crypto.encrypt_text(secret, aad=AAD) != text_form


def test_json_round_trip_keeps_the_value() -> None:
    value = {"woonadres": "Synthetischestraat 1", "maatregelen": [{"omschrijving": "Alarm", "kosten": 3500}]}
    sealed = crypto.seal_json(value, aad=AAD)
    assert isinstance(sealed, str) and crypto.open_json(sealed, aad=AAD) == value


def test_the_wrong_aad_does_not_decrypt() -> None:
    envelope = crypto.encrypt(b"dreigbrief", aad=crypto.case_state_aad(1))
    with pytest.raises(crypto.DecryptionError, match="does not authenticate"):
        crypto.decrypt(envelope, aad=crypto.case_state_aad(2))
    sealed = crypto.seal_json({"x": 1}, aad=crypto.event_payload_aad(1, 3, "data"))
    with pytest.raises(crypto.DecryptionError):
        crypto.open_json(sealed, aad=crypto.event_payload_aad(1, 4, "data"))
    with pytest.raises(crypto.DecryptionError):
        crypto.open_json(sealed, aad=crypto.event_payload_aad(1, 3, "payload"))


def test_tampered_ciphertext_does_not_decrypt() -> None:
    envelope = bytearray(crypto.encrypt(b"Synthetischestraat 1", aad=AAD))
    envelope[-5] ^= 0x01
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(bytes(envelope), aad=AAD)
    text_form = crypto.encrypt_text(b"Synthetischestraat 1", aad=AAD)
    body = bytearray(base64.b64decode(text_form.rsplit(":", 1)[1]))
    body[0] ^= 0x01  # the nonce
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt_text("enc:v1:a:" + base64.b64encode(bytes(body)).decode(), aad=AAD)
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt_text(text_form[:-12], aad=AAD)  # truncated
    with pytest.raises(crypto.DecryptionError, match="base64"):
        crypto.decrypt_text("enc:v1:a:not base64!", aad=AAD)


def test_a_changed_key_id_does_not_decrypt_even_when_the_ring_has_that_key(monkeypatch: pytest.MonkeyPatch) -> None:
    text_form = crypto.encrypt_text(b"geheim", aad=AAD)
    monkeypatch.setenv(crypto.ENV_KEYS, f"b:{KEY_A},a:{KEY_A}")  # the same key under a second id
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt_text(text_form.replace("enc:v1:a:", "enc:v1:b:"), aad=AAD)


def test_an_unknown_key_id_fails_with_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    text_form = crypto.encrypt_text(b"geheim", aad=AAD)
    envelope = crypto.encrypt(b"geheim", aad=AAD)
    monkeypatch.setenv(crypto.ENV_KEYS, f"b:{KEY_B}")
    with pytest.raises(crypto.UnknownKeyError, match=r"key 'a', which is not in the key ring \(b\)"):
        crypto.decrypt_text(text_form, aad=AAD)
    with pytest.raises(crypto.UnknownKeyError, match="'a'"):
        crypto.decrypt(envelope, aad=AAD)


def test_rotation_new_key_first_old_key_still_decrypts(monkeypatch: pytest.MonkeyPatch) -> None:
    old = crypto.encrypt_text(b"oud", aad=AAD)
    monkeypatch.setenv(crypto.ENV_KEYS, f"b:{KEY_B},a:{KEY_A}")
    assert crypto.keyring().active == "b"
    new = crypto.encrypt_text(b"nieuw", aad=AAD)
    assert crypto.key_id(new) == "b" and crypto.decrypt_text(old, aad=AAD) == b"oud"
    assert crypto.needs_rotation(old) and not crypto.needs_rotation(new)
    assert crypto.needs_rotation({"plaintext": True}) and crypto.needs_rotation(b"%PDF-1.4")
    monkeypatch.setenv(crypto.ENV_KEYS, f"b:{KEY_B}")
    assert crypto.decrypt_text(new, aad=AAD) == b"nieuw"


def test_plaintext_from_before_encryption_is_read_as_it_is() -> None:
    assert crypto.open_text('{"tasks": {}}', aad=AAD) == '{"tasks": {}}'
    assert crypto.open_json({"naam": "Synthetische Bestuurder"}, aad=AAD) == {"naam": "Synthetische Bestuurder"}
    assert crypto.open_bytes(b"%PDF-1.4 ...", aad=AAD) == b"%PDF-1.4 ..."
    assert crypto.open_text("", aad=AAD) == ""


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("", "holds no key"),
        ("zonder-dubbele-punt", "id:base64key"),
        (f"a:{KEY_A},a:{KEY_B}", "occurs twice"),
        ("a:" + base64.b64encode(b"kort").decode(), "32 bytes"),
        (f"met spatie:{KEY_A}", "key id"),
    ],
)
def test_a_malformed_key_ring_is_refused(spec: str, problem: str) -> None:
    with pytest.raises(crypto.KeyConfigError, match=problem):
        crypto.KeyRing.parse(spec)


def test_the_ring_never_shows_its_keys() -> None:
    ring = crypto.KeyRing.parse(f"a:{KEY_A},b:{KEY_B}")
    assert (ring.active, list(ring.keys)) == ("a", ["a", "b"])
    assert KEY_A not in repr(ring) and KEY_B not in repr(ring)


def test_production_refuses_to_run_without_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(crypto.ENV_KEYS)
    monkeypatch.setenv(crypto.ENV_PRODUCTION, "1")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(crypto.KeyConfigError, match="REGELING_ENCRYPTION_KEYS is not set"):
        crypto.check_environment()
    with pytest.raises(crypto.KeyConfigError):
        crypto.keyring()
    from engine.db import make_engine

    with pytest.raises(crypto.KeyConfigError):
        make_engine(f"sqlite:///{tmp_path}/x.db")
    assert not (tmp_path / "var").exists()  # no development key was made either
    monkeypatch.setenv(crypto.ENV_KEYS, f"a:{KEY_A}")
    crypto.check_environment()


def test_the_development_key_is_made_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "var" / "encryption_key"
    ring = crypto.local_keyring(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert crypto.local_keyring(path).keys == ring.keys and ring.active.startswith("local-")


def _development_key_at_once(path: Path, barrier: Any, results: Any) -> None:
    barrier.wait()
    try:
        results.put(crypto.local_keyring(path).active)
    except Exception as error:  # noqa: BLE001 (reported to the test, which names it)
        results.put(f"fout: {type(error).__name__}")


def test_processes_starting_at_once_agree_on_one_development_key(tmp_path: Path) -> None:
    """The web processes and workers of a local trial start together and each makes the key on first use: one
    key must come out, and no process may read a half-written file."""
    context = multiprocessing.get_context("fork")
    for attempt in range(10):
        path = tmp_path / f"var{attempt}" / "encryption_key"
        barrier, results = context.Barrier(6), context.Queue()
        starting = [context.Process(target=_development_key_at_once, args=(path, barrier, results)) for _ in range(6)]
        for process in starting:
            process.start()
        keys = [results.get(timeout=30) for _ in starting]
        for process in starting:
            process.join(timeout=30)
        assert len(set(keys)) == 1 and not keys[0].startswith("fout"), keys
        assert list(path.parent.iterdir()) == [path]  # nothing left half-way


def test_generate_key_gives_a_usable_entry() -> None:
    ring = crypto.KeyRing.parse(f"nieuw:{crypto.generate_key()}")
    assert len(ring.keys["nieuw"]) == 32


# ------------------------------------------------------------------------ rows stored before encryption


def test_plaintext_rows_from_an_older_database_read_verify_and_get_encrypted(sqlite_engine: Engine) -> None:
    driver = CaseDriver(sqlite_engine, checks=False)
    driver.deploy(ROOT / "processes")
    reference = driver.start()
    step = aanmelding()
    driver.complete(reference, step.task, step.role, step.data)
    factory = make_session_factory(sqlite_engine)
    with factory() as session, session.begin():
        case = commands.find_case(session, reference)
        task = session.scalars(select(HumanTask).where(HumanTask.case_id == case.id)).first()
        assert task is not None
        store_document(
            session,
            case,
            form="f",
            field="v",
            filename="a.pdf",
            content=b"%PDF-1.4 Synthetischestraat",
            uploaded_by="x",
            at=START,
        )
        save_draft(session, task, "bestuurder-1", {"woonadres": "Synthetischestraat 1"}, START)
    # Make every encrypted value plaintext again, as an older database holds it.
    with factory() as session, session.begin():
        case = commands.find_case(session, reference)
        session.execute(update(Case).where(Case.id == case.id).values(state=replay.stored_state(case)))
        for event in session.scalars(select(Event).where(Event.case_id == case.id)).all():
            session.execute(update(Event).where(Event.id == event.id).values(payload=payload_of(event)))
        document = session.scalars(select(Document)).one()
        session.execute(update(Document).values(sealed_content=document.content))
        draft = session.scalars(select(TaskDraft)).one()
        session.execute(update(TaskDraft).values(sealed_values=draft.values))
    with sqlite_engine.connect() as connection:
        assert b"Synthetischestraat" in connection.execute(text("SELECT content FROM document")).scalar_one()
        assert connection.execute(text('SELECT state FROM "case"')).scalar_one().startswith("{")
        assert "Synthetischestraat" in str(
            connection.execute(text("SELECT payload FROM event WHERE seq = 2")).scalar_one()
        )
    cache.clear()
    with factory() as session:
        case = commands.find_case(session, reference)
        assert verify_case(session, case).ok
        assert commands.load_workflow(session, case).data["woonadres"].startswith("Synthetischestraat")
        assert session.scalars(select(Document)).one().content == b"%PDF-1.4 Synthetischestraat"
        task = session.get(HumanTask, session.scalars(select(TaskDraft.human_task_id)).one())
        assert task is not None
        draft = load_draft(session, task, "bestuurder-1")
        assert draft is not None and draft.values == {"woonadres": "Synthetischestraat 1"}
    with factory() as session:
        counts = {count.table: count for count in rotation.rotate(session)}
    assert counts["case"].rewritten == 1 and counts["event"].rewritten == 2
    assert counts["document"].rewritten == counts["task_draft"].rewritten == 1
    with sqlite_engine.connect() as connection:
        for table in ("case", "event", "document", "task_draft"):
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):  # noqa: S608 - fixed names
                assert "Synthetischestraat" not in json.dumps([str(value) for value in row])
    cache.clear()
    with factory() as session:
        case = commands.find_case(session, reference)
        assert verify_case(session, case).ok
        assert commands.load_workflow(session, case).data["woonadres"].startswith("Synthetischestraat")
