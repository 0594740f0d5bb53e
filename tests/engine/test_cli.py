"""The `regeling` command line (engine/cli.py) against a SQLite file named by DATABASE_URL."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text

from engine.cli import main
from engine.db import make_engine
from engine.model import ProcessVersion
from tests.processes.drive import drive_path
from tests.processes.paths import PATHS
from tests.processes.steps import Path as ProcessPath
from tests.support import ROOT, CaseDriver

# Form values the cases below are filled in with (tests/processes/paths.py); none may reach the terminal.
FORM_VALUES = ("Synthetischestraat", "bestuurder@voorbeeld.invalid", "0600000000", "Synthetische Bestuurder")
PROBLEM_LINE = re.compile(r"^[\w./-]+: [\w-]+: .+$")


@dataclasses.dataclass
class Cli:
    url: str
    capsys: pytest.CaptureFixture[str]

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main(list(argv))
        out, err = self.capsys.readouterr()
        return code, out, err


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("DATABASE_URL", url)
    return Cli(url, capsys)


@pytest.fixture
def engine(cli: Cli) -> Iterator[Engine]:
    """`regeling init` has run; the engine is the one CaseDriver and the tampering SQL below use."""
    code, _, err = cli("init")
    assert (code, err) == (0, "")
    engine = make_engine(cli.url)
    yield engine
    engine.dispose()


@pytest.fixture
def cases(engine: Engine) -> tuple[str, str]:
    """One case that ended (raadslid, two events) and one still active after four tasks (five events)."""
    # The state round trip after every step is the path tests' business; here only the CLI's output counts.
    driver = CaseDriver(engine, checks=False)
    ended = drive_path(driver, _path("niet_in_aanmerking_raadslid"))
    full = _path("in_natura_zonder_bezwaar_dan_aftreden")
    # aanmelding, ExpectReady, contact_organisatie, input_organisatie, intakeverslag
    active = drive_path(driver, dataclasses.replace(full, steps=full.steps[:5]))
    assert [t.bpmn_id for t in driver.open_tasks(active)] == ["woningscan"]
    assert len(driver.events(active)) == 5
    return ended, active


def _path(name: str) -> ProcessPath:
    return next(p for p in PATHS if p.name == name)


def _versions(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(ProcessVersion)) or 0)


def _copy_bundle(tmp_path: Path) -> Path:
    target = tmp_path / "bundle"
    shutil.copytree(ROOT / "processes", target / "processes")
    shutil.copytree(ROOT / "forms", target / "forms")
    return target / "processes"


def _tamper(engine: Engine, reference: str, sql: str) -> None:
    """Plain SQL behind the engine's back; ``sql`` names the case's id as ``:case``."""
    with engine.begin() as connection:
        case_id = connection.scalar(
            text('SELECT id FROM "case" WHERE reference = :reference'), {"reference": reference}
        )
        connection.execute(text(sql), {"case": case_id})


# -------------------------------------------------------------------------------------------- init


def test_init_migrates_and_deploys_the_processes(cli: Cli) -> None:
    code, out, err = cli("init")
    assert (code, err) == (0, "")
    assert re.search(r"^regeling versie 1 \([0-9a-f]{12}\) actief$", out, re.MULTILINE), out
    assert f"database: {cli.url}" in out


def test_describe_outlines_every_role_task_timer_and_message_of_the_deployed_regeling(cli: Cli) -> None:
    cli("init")
    code, out, err = cli("describe")
    assert (code, err) == (0, "")
    for line in (
        "regeling.bpmn — proces regeling",
        "  Bestuurder:",
        "    - Aanmelding indienen  [aanmelding, formulier aanmelding.schema.json]",
        "  BVA:",
        '  timer Sluiting na 12 maanden: "P12M"',
        "  bericht: Bezwaar ingediend",
    ):
        assert line in out.splitlines(), line


def test_a_second_init_deploys_no_second_version(cli: Cli, engine: Engine) -> None:
    with engine.connect() as connection:
        before = connection.execute(select(ProcessVersion.version, ProcessVersion.content_hash)).all()
    code, out, _ = cli("init")
    assert code == 0
    assert f"regeling versie 1 ({before[0].content_hash[:12]}) actief" in out.splitlines()
    with engine.connect() as connection:
        after = connection.execute(select(ProcessVersion.version, ProcessVersion.content_hash)).all()
    assert after == before and len(after) == 1


def test_processes_lists_the_version_with_hash_who_when_why_and_case_count(
    cli: Cli, engine: Engine, cases: tuple[str, str]
) -> None:
    with engine.connect() as connection:
        content_hash = connection.scalar(select(ProcessVersion.content_hash))
    assert content_hash
    code, out, err = cli("processes")
    assert (code, err) == (0, "")
    first, files = out.splitlines()[:2]
    assert re.fullmatch(
        rf"regeling v1 \[active\] {content_hash[:12]} door init op \d{{4}}-\d\d-\d\d \d\d:\d\d UTC"
        r" — regeling init: processes/",
        first,
    ), first
    assert "regeling.bpmn" in files and "formulieren: 24" in files
    assert files.endswith("zaken: 2")


def test_commands_on_a_database_that_was_never_initialised_say_so_without_a_traceback(cli: Cli) -> None:
    code, out, err = cli("cases")
    assert code == 1 and out == ""
    assert err.strip().startswith("fout: database ") and "regeling init" in err
    assert "Traceback" not in err


# ------------------------------------------------------------------------------------------ deploy


def test_deploying_a_changed_bundle_creates_version_2_and_redeploying_it_does_not(
    cli: Cli, engine: Engine, tmp_path: Path
) -> None:
    processes = _copy_bundle(tmp_path)
    diagram = processes / "advisering.bpmn"
    old = "<bpmn:documentation>Stap 2 — art. 2.9 lid 4a</bpmn:documentation>"
    assert old in diagram.read_text(encoding="utf-8")
    diagram.write_text(
        diagram.read_text(encoding="utf-8").replace(old, "<bpmn:documentation>Stap 2 — aangepast</bpmn:documentation>"),
        encoding="utf-8",
    )

    code, out, err = cli("deploy", str(processes), "--comment", "documentatie stap 2 aangepast")
    assert (code, err) == (0, "")
    assert re.fullmatch(r"regeling versie 2 \([0-9a-f]{12}\)\n", out), out
    assert _versions(engine) == 2

    code, out, _ = cli("deploy", str(processes), "--comment", "nog eens")
    assert code == 0 and "versie 2" in out
    assert _versions(engine) == 2

    _, listing, _ = cli("processes")
    assert "regeling v1 [active]" in listing
    assert re.search(
        r"^regeling v2 \[active\] [0-9a-f]{12} door cli op .* — documentatie stap 2 aangepast$", listing, re.M
    )
    assert "nog eens" not in listing


def test_deploying_an_invalid_bundle_prints_one_line_per_problem_and_stores_nothing(
    cli: Cli, engine: Engine, tmp_path: Path
) -> None:
    processes = _copy_bundle(tmp_path)
    (processes.parent / "forms" / "woningscan.schema.json").unlink()
    (processes.parent / "forms" / "intakeverslag.schema.json").write_text("{ geen json", encoding="utf-8")

    code, out, err = cli("deploy", str(processes), "--comment", "kapot")
    assert (code, out) == (1, "")
    lines = err.splitlines()
    assert lines and all(PROBLEM_LINE.match(line) for line in lines), lines
    assert any(line.startswith("advisering.bpmn: woningscan: form file") for line in lines), lines
    assert any(line.startswith("forms/intakeverslag.schema.json: -: invalid JSON") for line in lines), lines
    assert _versions(engine) == 1


# ---------------------------------------------------------------------------------------- validate


def test_validate_of_the_processes_finds_no_problems(cli: Cli) -> None:
    code, out, err = cli("validate", str(ROOT / "processes"))
    assert (code, err) == (0, "")
    assert out == "geldig: geen problemen gevonden\n"


def test_validate_of_an_invalid_bundle_prints_its_problems_and_exits_1(cli: Cli, tmp_path: Path) -> None:
    processes = _copy_bundle(tmp_path)
    (processes.parent / "forms" / "woningscan.schema.json").unlink()
    code, out, _ = cli("validate", str(processes))
    assert code == 1
    assert "advisering.bpmn: woningscan: formulier 'woningscan.schema.json' bestaat niet in forms/" in out.splitlines()


def test_validate_of_a_missing_path_exits_1_naming_the_path(cli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "bestaat-niet"
    code, out, err = cli("validate", str(missing))
    assert (code, out) == (1, "")
    assert err == f"{missing}: -: no such file or directory\n"


# ------------------------------------------------------------------------------------ cases / show


def test_cases_lists_every_reference_with_its_status(cli: Cli, cases: tuple[str, str]) -> None:
    ended, active = cases
    code, out, err = cli("cases")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert [line.split()[:2] for line in lines] == [[ended, "completed"], [active, "active"]]
    assert all(line.endswith("waterschap-voorbeeld") for line in lines)


def test_show_prints_status_open_tasks_and_history_without_form_data(cli: Cli, cases: tuple[str, str]) -> None:
    _, active = cases
    code, out, err = cli("show", active)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"{active}: active (versie 1)"
    assert [line for line in lines if line.startswith("  open: ")] == [
        "  open: woningscan — Woningscan en veiligheidsgesprek [CCV]"
    ]
    history = [line.split() for line in lines if re.match(r"^ +\d+ ", line)]
    assert [(h[0], h[2]) for h in history] == [
        ("1", "case_started"),
        ("2", "task_completed"),
        ("3", "task_completed"),
        ("4", "task_completed"),
        ("5", "task_completed"),
    ]
    assert [h[3] for h in history] == [
        "bestuurder-1",
        "bestuurder-1",
        "ccv-adviseur-1",
        "werkgever-1",
        "ccv-adviseur-1",
    ]
    for value in FORM_VALUES:
        assert value not in out


def test_show_of_an_ended_case_names_its_end_event(cli: Cli, cases: tuple[str, str]) -> None:
    ended, _ = cases
    code, out, _ = cli("show", ended)
    assert code == 0
    assert out.splitlines()[:2] == [f"{ended}: completed (versie 1)", "  geëindigd bij end_niet_in_aanmerking"]
    assert "open:" not in out


def test_show_json_is_valid_json_with_the_case_and_no_form_values(cli: Cli, cases: tuple[str, str]) -> None:
    _, active = cases
    code, out, err = cli("show", active, "--json")
    assert (code, err) == (0, "")
    report = json.loads(out)
    assert {"reference", "status", "open_tasks", "history"} <= set(report)
    assert (report["reference"], report["status"], report["end_event"]) == (active, "active", None)
    assert [t["bpmn_id"] for t in report["open_tasks"]] == ["woningscan"]
    assert [e["seq"] for e in report["history"]] == [1, 2, 3, 4, 5]
    assert [e["task"] for e in report["history"][1:]] == [
        "aanmelding",
        "contact_organisatie",
        "input_organisatie",
        "intakeverslag",
    ]
    for value in FORM_VALUES:
        assert value not in out
    assert "Dreigbrief" not in out and "Toegenomen intimidatie" not in out


def test_show_of_an_unknown_reference_exits_1_with_a_dutch_message(cli: Cli, engine: Engine) -> None:
    code, out, err = cli("show", "BV-2026-9999")
    assert (code, out) == (1, "")
    assert err == "fout: zaak BV-2026-9999 bestaat niet\n"
    assert "Traceback" not in err


# ------------------------------------------------------------------------------------------ verify


def test_verify_all_and_one_case_pass_on_untouched_cases(cli: Cli, cases: tuple[str, str]) -> None:
    ended, active = cases
    code, out, err = cli("verify")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"{ended}: ok (2 events)",
        f"{active}: ok (5 events)",
        "2 zaken gecontroleerd, 0 met een gebroken keten",
    ]
    code, out, _ = cli("verify", active)
    assert code == 0
    assert out.splitlines()[0] == f"{active}: ok (5 events)"


def test_verify_of_an_unknown_reference_exits_1_with_a_dutch_message(cli: Cli, engine: Engine) -> None:
    code, _, err = cli("verify", "BV-2026-9999")
    assert (code, err) == (1, "fout: zaak BV-2026-9999 bestaat niet\n")


@pytest.mark.parametrize(
    "update",
    [
        'UPDATE event SET payload = \'{"task": "contact_organisatie"}\' WHERE case_id = :case AND seq = 3',
        "UPDATE event SET actor = 'iemand-anders' WHERE case_id = :case AND seq = 3",
        "UPDATE event SET occurred_at = '2026-03-01 08:00:00.000000' WHERE case_id = :case AND seq = 3",
    ],
    ids=["payload", "actor", "occurred_at"],
)
def test_verify_names_the_edited_event(cli: Cli, engine: Engine, cases: tuple[str, str], update: str) -> None:
    ended, active = cases
    _tamper(engine, active, update)
    code, out, _ = cli("verify", active)
    assert code == 1
    broken, summary = out.splitlines()
    # the reason names what was edited: the content, or the form data it held (engine/history.py)
    assert broken.startswith(f"{active}: BROKEN at event 3: ") and broken.endswith("(edited)")
    assert summary == "1 zaken gecontroleerd, 1 met een gebroken keten"
    code, out, _ = cli("verify")
    assert code == 1
    assert f"{ended}: ok (2 events)" in out.splitlines()
    assert out.splitlines()[-1] == "2 zaken gecontroleerd, 1 met een gebroken keten"


def test_verify_names_the_gap_left_by_a_deleted_event(cli: Cli, engine: Engine, cases: tuple[str, str]) -> None:
    _, active = cases
    _tamper(engine, active, "DELETE FROM event WHERE case_id = :case AND seq = 3")
    code, out, _ = cli("verify", active)
    assert code == 1
    assert out.splitlines()[0] == (
        # named where the chain breaks: the deleted event's place (issue 6)
        f"{active}: BROKEN at event 3: sequence number 4 where 3 was expected (event missing or reordered)"
    )


def test_verify_notices_a_deleted_last_event(cli: Cli, engine: Engine, cases: tuple[str, str]) -> None:
    _, active = cases
    _tamper(engine, active, "DELETE FROM event WHERE case_id = :case AND seq = 5")
    code, out, _ = cli("verify", active)
    assert code == 1
    assert out.splitlines()[0] == f"{active}: BROKEN at event 5: events missing at the end of the chain"


def test_verify_notices_two_events_that_swapped_places(cli: Cli, engine: Engine, cases: tuple[str, str]) -> None:
    _, active = cases
    _tamper(engine, active, "UPDATE event SET seq = 1000 WHERE case_id = :case AND seq = 2")
    _tamper(engine, active, "UPDATE event SET seq = 2 WHERE case_id = :case AND seq = 3")
    _tamper(engine, active, "UPDATE event SET seq = 3 WHERE case_id = :case AND seq = 1000")
    code, out, _ = cli("verify", active)
    assert code == 1
    assert out.splitlines()[0] == f"{active}: BROKEN at event 2: prev_hash does not match the previous event"


# -------------------------------------------------------------------------------------------- usage


def test_regeling_without_arguments_prints_usage_and_exits_2(cli: Cli) -> None:
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2
    _, err = cli.capsys.readouterr()
    assert err.startswith("usage: regeling")
    assert "the following arguments are required: COMMAND" in err
