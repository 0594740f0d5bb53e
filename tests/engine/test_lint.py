""" "Controleren": the bpmnlint-style rules and the validation, in Dutch, each naming its file and element."""

from __future__ import annotations

import re

import pytest

from engine import bundles, check_details, lint
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


# -- the technical detail in Dutch too: lxml, Python's parser, the sandbox, the BPMN schema --------------------------

SCRIPT = "totaal = sum([m.get('bedrag', 0) for m in posten])"
TIMER = '"P2D" if urgent else "P10D"'
ENGLISH = re.compile(r"\b(is not|not allowed|invalid|expected|line|column|syntax|Element|attribute)\b")


def only_finding(bundle: Bundle) -> lint.Finding:
    (finding,) = lint.lint_bundle(bundle)
    assert not ENGLISH.search(finding.message), finding.message
    return finding


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "</bpmn:userTask>",
            "</bpmn:userTsk>",
            "XML is niet welgevormd: regel 37, kolom 20: eindtag </userTsk> sluit de begintag <userTask> van regel 28 "
            "niet af",
        ),
        (
            "<bpmn:startEvent",
            "<bpmn:startEvent<",
            "XML is niet welgevormd: regel 27, kolom 21: hier hoort een attribuut of het einde van de tag "
            "('>' of '/>')",
        ),
        (
            'id="start">',
            'id="start" name="a & b">',
            "XML is niet welgevormd: regel 27, kolom 42: een los '&'-teken: schrijf &amp;",
        ),
        (
            'id="start">',
            'id="start" id="begin">',
            "XML is niet welgevormd: regel 27, kolom 43: attribuut id staat twee keer in hetzelfde element",
        ),
        (
            "</bpmn:definitions>",
            "",
            "XML is niet welgevormd: regel 100, kolom 1: het bestand houdt op terwijl <definitions> van regel 2 nog "
            "open is",
        ),
    ],
    ids=["tag-mismatch", "attribute", "ampersand", "twice", "unfinished"],
)
def test_an_xml_syntax_error_gives_its_position_and_a_dutch_description(old: str, new: str, message: str) -> None:
    finding = only_finding(mini_with(old, new))
    assert (finding.file, finding.element, finding.message) == ("mini.bpmn", "", message)


def test_an_unknown_xml_or_python_message_becomes_a_general_dutch_sentence() -> None:
    assert check_details.xml_syntax("Something odd happened, line 3, column 4") == check_details.XML_UNKNOWN
    assert check_details.python_syntax("a brand new complaint") == check_details.PYTHON_UNKNOWN
    assert check_details.refusal("line 4: Walrus statements are frowned upon") == (
        f"regel 4: {check_details.REFUSAL_UNKNOWN}"
    )


@pytest.mark.parametrize(
    ("timer", "message"),
    [
        ('"P2D" if urgent else', "timer: geen geldige expressie: aan het eind ontbreekt iets (ongeldige opbouw)"),
        ("10 days", "timer: geen geldige expressie: bij 'days' (kolom 4): ongeldige opbouw"),
        ('("P2D"', "timer: geen geldige expressie: bij '(' (kolom 1): '(' wordt nergens gesloten"),
        ('"P2D" if urgent', "timer: geen geldige expressie: bij '\"P2D\" if urgent' (kolom 1): "
         "na 'if' ontbreekt 'else'"),
        ('"P2D" if urgent else "P10D)', "timer: geen geldige expressie: bij '\"' (kolom 22): tekst zonder afsluitend "
         "aanhalingsteken"),
        ("3", "timer: waarde 3 is geen tekst"),
        ("dagen * 2", "timer: expressie 'dagen * 2' is niet te controleren; gebruik een ISO-tekst tussen "
         "aanhalingstekens, een keuze tussen zulke teksten, of een veld uit de zaakgegevens"),
        ('"P1W2D"', "timer: duur 'P1W2D' combineert weken met jaren, maanden of dagen"),
    ],
)  # fmt: skip
def test_a_timer_expression_error_says_in_dutch_which_part_is_wrong_once(timer: str, message: str) -> None:
    finding = only_finding(mini_with(TIMER, timer))
    assert (finding.element, finding.message) == ("herinnering", message)


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("import os\ntotaal = 1", "regel 1: import is niet toegestaan"),
        ("totaal = 1\nfrom os import path", "regel 2: import is niet toegestaan"),
        ("totaal = ().__class__", "regel 1: attribuut '__class__': namen die met '_' beginnen zijn afgeschermd"),
        ("_totaal = 1", "regel 1: naam '_totaal': namen die met '_' beginnen zijn afgeschermd"),
        ("totaal = __name__", "regel 1: naam '__name__': namen die met '_' beginnen zijn afgeschermd"),
        ("totaal = posten.gi_frame", "regel 1: 'gi_frame' is een afgeschermde naam"),
        ("exec('totaal = 1')", "regel 1: 'exec' is niet toegestaan"),
        ("totaal = eval('1')", "regel 1: 'eval' is niet toegestaan"),
        ("totaal = getattr(posten, 'x')", "regel 1: 'getattr' is niet toegestaan"),
        ("totaal = '{}'.format(1)", "regel 1: '.format' is niet toegestaan; gebruik een f-string"),
        ("totaal = 1 +", "regel 1: syntaxfout: ongeldige opbouw"),
        ("totaal = 1\nif totaal\n    x = 2", "regel 2: syntaxfout: ':' ontbreekt"),
        ("return 1", "regel 1: syntaxfout: 'return' mag alleen in een functie staan"),
        ("totaal: int = 1", "regel 1: deze opdracht (AnnAssign) is niet toegestaan"),
    ],
)
def test_a_refused_script_says_why_in_dutch_with_its_line(script: str, message: str) -> None:
    finding = only_finding(mini_with(SCRIPT, script))
    assert (finding.element, finding.message) == ("bereken", f"script geweigerd: {message}")


def test_a_refused_condition_says_why_in_dutch() -> None:
    finding = only_finding(mini_with("totaal &gt; 0", "totaal.__class__"))
    assert (finding.element, finding.message) == (
        "f_ja",
        "voorwaarde geweigerd: regel 1: attribuut '__class__': namen die met '_' beginnen zijn afgeschermd",
    )


def test_a_schema_error_names_the_element_and_the_attribute_in_dutch() -> None:
    finding = only_finding(mini_with('<bpmn:startEvent id="start">', '<bpmn:startEvent id="start" bogus="1">'))
    assert finding.message == "element <startEvent>: attribuut bogus is hier niet toegestaan (regel 27)"


def test_a_json_syntax_error_gives_its_position_in_dutch() -> None:
    base = bundles.read_bundle([MINI])
    broken = Bundle({**base.files, "forms/aanvraag.schema.json": '{\n  "title": "Aanvraag",\n}'})
    finding = only_finding(broken)
    assert (finding.file, finding.message) == (
        "forms/aanvraag.schema.json",
        "ongeldige JSON: regel 3, kolom 1: een veldnaam moet tussen dubbele aanhalingstekens",
    )
