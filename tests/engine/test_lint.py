""" "Controleren": the bpmnlint-style rules and the validation, in Dutch, each naming its file and element."""

from __future__ import annotations

import pytest

from engine import bundles, lint
from engine.bundles import Bundle
from tests.support import ROOT

MINI = ROOT / "tests" / "fixtures" / "mini" / "processes"


def mini_with(old: str, new: str) -> Bundle:
    base = bundles.read_bundle([MINI])
    text = base.files["mini.bpmn"]
    assert old in text, old
    return Bundle({**base.files, "mini.bpmn": text.replace(old, new, 1)})


def findings(bundle: Bundle) -> set[tuple[str, str, str]]:
    return {(f.element, f.message, f.severity) for f in lint.lint_bundle(bundle)}


def test_the_regeling_and_the_mini_process_pass() -> None:
    assert lint.lint_bundle(bundles.read_bundle([ROOT / "processes"])) == []
    assert lint.lint_bundle(bundles.read_bundle([MINI])) == []


@pytest.mark.parametrize(
    ("old", "new", "element", "message"),
    [
        (  # a flow removed: the node after it is never reached, the node before it goes nowhere
            '<bpmn:sequenceFlow id="f4" sourceRef="meld_ccv" targetRef="beoordelen" />',
            "",
            "meld_ccv",
            "servicetaak heeft geen uitgaande stroom",
        ),
        (
            '<bpmn:sequenceFlow id="f4" sourceRef="meld_ccv" targetRef="beoordelen" />',
            "",
            "beoordelen",
            "gebruikerstaak is vanaf geen startgebeurtenis bereikbaar",
        ),
        (
            '<bpmn:exclusiveGateway id="gw" default="f_nee">',
            '<bpmn:exclusiveGateway id="gw">',
            "gw",
            "keuze zonder standaardpad",
        ),
        (
            '<bpmn:lane id="lane_c" name="CCV">',
            '<bpmn:lane id="lane_c" name="Secretariaat">',
            "lane_c",
            "lane 'Secretariaat' hoort bij geen rol",
        ),
        (
            '<spiffworkflow:property name="formJsonSchemaFilename" value="beoordeling.schema.json" />',
            "",
            "beoordelen",
            "gebruikerstaak heeft geen formulier",
        ),
        ('"P2D" if urgent else "P10D"', '"10 days"', "herinnering", "timer: '10 days' is geen ISO 8601-duur"),
        ('"P2D" if urgent else "P10D"', "P10D", "herinnering", 'timer: ISO-tekst moet tussen aanhalingstekens: "P10D"'),
        ('targetRef="end_klaar" />', 'targetRef="nergens" />', "f5", "stroom verwijst naar een doel 'nergens'"),
    ],
)
def test_each_rule_names_the_element_in_dutch(old: str, new: str, element: str, message: str) -> None:
    found = [f for f in lint.lint_bundle(mini_with(old, new)) if f.element == element]
    assert any(f.message.startswith(message) and f.severity == "fout" for f in found), found
    assert all(f.file == "mini.bpmn" for f in found)


def test_complete_conditions_need_no_default_and_a_nameless_task_is_only_a_warning() -> None:
    conditioned = mini_with(
        '<bpmn:sequenceFlow id="f_nee" sourceRef="gw" targetRef="end_afgewezen" />',
        '<bpmn:sequenceFlow id="f_nee" sourceRef="gw" targetRef="end_afgewezen">'
        "<bpmn:conditionExpression>totaal == 0</bpmn:conditionExpression></bpmn:sequenceFlow>",
    )
    no_default = Bundle(
        {**conditioned.files, "mini.bpmn": conditioned.files["mini.bpmn"].replace(' default="f_nee"', "")}
    )
    assert lint.lint_bundle(no_default) == []
    nameless = mini_with('<bpmn:userTask id="beoordelen" name="Beoordelen">', '<bpmn:userTask id="beoordelen">')
    (warning,) = lint.lint_bundle(nameless)
    assert (warning.element, warning.severity) == ("beoordelen", "waarschuwing")
    assert lint.errors([warning]) == []
    assert warning.as_json()["ernst"] == "waarschuwing"


def test_a_file_that_is_not_xml_is_one_finding_for_the_file() -> None:
    broken = Bundle({**bundles.read_bundle([MINI]).files, "mini.bpmn": "<bpmn:definitions"})
    (finding,) = lint.lint_bundle(broken)
    assert (finding.file, finding.element) == ("mini.bpmn", "")
    assert finding.message.startswith("XML is niet welgevormd")
