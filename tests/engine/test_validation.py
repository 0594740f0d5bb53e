"""`regeling validate`: each kind of broken diagram is reported as file, element id and reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine import bundles, runtime
from engine.cli import main
from engine.clock import system_clock
from engine.errors import ProcessError
from engine.validation import validate_bundle
from tests.support import ROOT

MINI = ROOT / "tests" / "fixtures" / "mini"
SCRIPT = "totaal = sum([m.get('bedrag', 0) for m in posten])"


def broken(tmp_path: Path, old: str, new: str, file: str = "processes/mini.bpmn") -> Path:
    shutil.copytree(MINI, tmp_path / "mini")
    target = tmp_path / "mini" / file
    text = target.read_text()
    assert old in text, f"fixture does not contain {old!r}"
    target.write_text(text.replace(old, new))
    return tmp_path / "mini" / "processes"


def problems_of(path: Path) -> list[tuple[str, str, str]]:
    return [(p.file, p.element, p.message) for p in validate_bundle(bundles.read_bundle([path]))]


def test_the_fixture_is_valid() -> None:
    assert problems_of(MINI / "processes") == []


def test_the_regeling_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(ROOT / "processes")]) == 0


DANGEROUS = {
    "import": "import os\ntotaal = 1",
    "open": "totaal = len(open('/etc/passwd').read())",
    "dunder": "totaal = ().__class__.__base__.__subclasses__()",
}


@pytest.mark.parametrize("script", DANGEROUS.values(), ids=DANGEROUS.keys())
def test_a_dangerous_script_is_refused_at_validation(tmp_path: Path, script: str) -> None:
    found = problems_of(broken(tmp_path, SCRIPT, script))
    assert [(f, e) for f, e, _ in found] == [("mini.bpmn", "bereken")]
    assert "script refused" in found[0][2]


@pytest.mark.parametrize("script", DANGEROUS.values(), ids=DANGEROUS.keys())
def test_a_dangerous_script_is_refused_at_run_time(tmp_path: Path, script: str) -> None:
    # compile_process skips our validation on purpose: this is a diagram that slipped past it.
    bundle = bundles.read_bundle([broken(tmp_path, SCRIPT, script)])
    process = runtime.compile_process(bundle.diagram_files, "mini")
    workflow = runtime.Workflow.start(process, {}, system_clock, seed="test")
    guid = workflow.ready_user_tasks()[0].guid
    with pytest.raises(ProcessError) as raised:
        workflow.complete(guid, {"naam": "x", "posten": []}, system_clock, seed="test:1")
    assert raised.value.element == "bereken"


CASES = [
    ("xml", "<bpmn:startEvent", "<bpmn:startEvent<", "mini.bpmn", "", "not well-formed"),
    ("xsd", '<bpmn:startEvent id="start">', '<bpmn:startEvent id="start" bogus="1">', "mini.bpmn", "", "bogus"),
    (
        "operator",
        'serviceTaskOperator id="notify" resultVariable="melding_ccv"',
        'serviceTaskOperator id="mail" resultVariable="melding_ccv"',
        "mini.bpmn",
        "meld_ccv",
        "unknown service operator 'mail'",
    ),
    (
        "form",
        'value="beoordeling.schema.json"',
        'value="bestaat-niet.schema.json"',
        "mini.bpmn",
        "beoordelen",
        "form file 'bestaat-niet.schema.json' not found",
    ),
    (
        "lane",
        "<bpmn:flowNodeRef>aanvragen</bpmn:flowNodeRef>",
        "",
        "mini.bpmn",
        "aanvragen",
        "user task is not in a lane",
    ),
    (
        "timer",
        '"P2D" if urgent else "P10D"',
        '"P2D" if urgent else "tien dagen"',
        "mini.bpmn",
        "herinnering",
        "tien dagen",
    ),
    ("timer-unquoted", '"P2D" if urgent else "P10D"', "P10D", "mini.bpmn", "herinnering", "quoted"),
    ("condition", "totaal &gt; 0", "__import__('os')", "mini.bpmn", "f_ja", "condition refused"),
    (
        "call",
        '<bpmn:scriptTask id="bereken" name="Bereken">',
        '<bpmn:callActivity id="extra" calledElement="nergens"><bpmn:incoming>fx</bpmn:incoming></bpmn:callActivity>'
        '<bpmn:scriptTask id="bereken" name="Bereken">',
        "mini.bpmn",
        "extra",
        "unknown process 'nergens'",
    ),
    (
        "dmn",
        '<bpmn:scriptTask id="bereken" name="Bereken">',
        '<bpmn:businessRuleTask id="regel"><bpmn:extensionElements><spiffworkflow:calledDecisionId>'
        "geen_tabel</spiffworkflow:calledDecisionId></bpmn:extensionElements></bpmn:businessRuleTask>"
        '<bpmn:scriptTask id="bereken" name="Bereken">',
        "mini.bpmn",
        "regel",
        "unknown DMN 'geen_tabel'",
    ),
    (
        "mail-template",
        "'aanmelding_ontvangen'",
        "'bestaat_niet'",
        "mini.bpmn",
        "meld_ccv",
        "no e-mail template 'bestaat_niet'",
    ),
    (
        "subject",
        '<spiffworkflow:property name="formJsonSchemaFilename" value="beoordeling.schema.json" />',
        '<spiffworkflow:property name="formJsonSchemaFilename" value="beoordeling.schema.json" />'
        '<spiffworkflow:property name="onderwerp" value="maatregel[0]" />',
        "mini.bpmn",
        "beoordelen",
        "property 'onderwerp' must be a data path",
    ),
    (
        "entity",
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]>',
        "mini.bpmn",
        "",
        "DOCTYPE",
    ),
]


@pytest.mark.parametrize(("old", "new", "file", "element", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_kind_of_problem_is_named(
    tmp_path: Path, old: str, new: str, file: str, element: str, reason: str
) -> None:
    found = problems_of(broken(tmp_path, old, new))
    assert any(f == file and e == element and reason in m for f, e, m in found), found


def test_a_message_without_a_payload_schema_is_refused(tmp_path: Path) -> None:
    path = broken(
        tmp_path, '"x-senders": ["Bestuurder"],', '"x-senders": ["Iedereen"],', "forms/bericht_intrekken.schema.json"
    )
    assert problems_of(path) == [
        ("mini.bpmn", "msg_intrekken", "forms/bericht_intrekken.schema.json must list x-senders among the lane roles")
    ]
    (path.parent / "forms" / "bericht_intrekken.schema.json").unlink()
    assert problems_of(path) == [
        ("mini.bpmn", "msg_intrekken", "message has no payload schema forms/bericht_intrekken.schema.json")
    ]


def test_a_form_without_sensitivity_classes_is_refused(tmp_path: Path) -> None:
    path = broken(tmp_path, '"x-sensitivity": "I"}\n  }', '"x-s": "I"}\n  }', "forms/beoordeling.schema.json")
    found = problems_of(path)
    assert [(f, e) for f, e, _ in found] == [("forms/beoordeling.schema.json", "")]


def test_validate_prints_one_line_per_problem_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = broken(
        tmp_path,
        'serviceTaskOperator id="notify" resultVariable="melding_ccv"',
        'serviceTaskOperator id="mail" resultVariable="melding_ccv"',
    )
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert out == ["mini.bpmn: meld_ccv: onbekende operator 'mail'"]


@pytest.mark.parametrize(
    ("old", "new", "line"),
    [
        (
            "</bpmn:userTask>",
            "</bpmn:userTsk>",
            "mini.bpmn: -: XML is niet welgevormd: regel 37, kolom 20: eindtag </userTsk> sluit de begintag "
            "<userTask> van regel 28 niet af",
        ),
        (
            '"P2D" if urgent else "P10D"',
            "10 days",
            "mini.bpmn: herinnering: timer: geen geldige expressie: bij 'days' (kolom 4): ongeldige opbouw",
        ),
        (SCRIPT, "import os", "mini.bpmn: bereken: script geweigerd: regel 1: import is niet toegestaan"),
    ],
    ids=["xml", "timer", "script"],
)
def test_validate_prints_the_dutch_reason_as_file_element_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, line: str
) -> None:
    assert main(["validate", str(broken(tmp_path, old, new))]) == 1
    assert capsys.readouterr().out.splitlines() == [line]


def test_the_position_of_an_xml_error_is_in_the_engine_message_too(tmp_path: Path) -> None:
    (problem,) = problems_of(broken(tmp_path, "</bpmn:userTask>", "</bpmn:userTsk>"))
    assert problem[2] == (
        "XML is not well-formed: line 37, column 20: Opening and ending tag mismatch: userTask line 28 and userTsk"
    )
