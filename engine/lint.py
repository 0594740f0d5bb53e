""" "Controleren": every check of `regeling validate` plus bpmnlint-style rules, in Dutch, each naming its file
and element, so the editor can mark the element on the diagram.

A finding is a ``fout`` (the draft cannot be deployed) or a ``waarschuwing`` (it can, but look again).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from lxml import etree

from engine import check_details, reasons
from engine.access import LANE_ROLES
from engine.bundles import BPMN_NS, Bundle, parse_xml
from engine.errors import EngineError, Problem
from engine.validation import validate_bundle

Severity = Literal["fout", "waarschuwing"]
ERROR: Severity = "fout"
WARNING: Severity = "waarschuwing"


@dataclass(frozen=True)
class Finding:
    """One problem of a draft: the file, the element id ('' for the file as a whole), a Dutch message."""

    file: str
    element: str
    message: str
    severity: Severity = ERROR

    def as_json(self) -> dict[str, str]:
        return {"bestand": self.file, "element": self.element, "melding": self.message, "ernst": self.severity}

    def __str__(self) -> str:
        return f"{self.file}: {self.element or '-'}: {self.message} ({self.severity})"


def errors(findings: Iterable[Finding]) -> list[Finding]:
    return [finding for finding in findings if finding.severity == ERROR]


def lint_bundle(bundle: Bundle) -> list[Finding]:
    """Every finding of the bundle: the validation (translated) first, then the lint rules per diagram."""
    findings = [translate(problem) for problem in validate_bundle(bundle)]
    for name, text in sorted(bundle.diagram_files.items()):
        root = parse_xml(text)
        if name.endswith(".bpmn") and root is not None:
            findings += lint_diagram(name, root)
    return list(dict.fromkeys(findings))


# -- the lint rules -----------------------------------------------------------------------------------------------

FLOW_NODES = frozenset(
    {
        "startEvent",
        "endEvent",
        "intermediateCatchEvent",
        "intermediateThrowEvent",
        "boundaryEvent",
        "task",
        "userTask",
        "manualTask",
        "serviceTask",
        "scriptTask",
        "businessRuleTask",
        "sendTask",
        "receiveTask",
        "callActivity",
        "subProcess",
        "exclusiveGateway",
        "inclusiveGateway",
        "parallelGateway",
        "eventBasedGateway",
    }
)
CHOICE_GATEWAYS = frozenset({"exclusiveGateway", "inclusiveGateway"})
LABELS = {
    "startEvent": "startgebeurtenis",
    "endEvent": "eindgebeurtenis",
    "boundaryEvent": "grensgebeurtenis",
    "userTask": "gebruikerstaak",
    "exclusiveGateway": "keuze (gateway)",
    "inclusiveGateway": "inclusieve gateway",
    "parallelGateway": "parallelle gateway",
    "subProcess": "subproces",
    "serviceTask": "servicetaak",
    "scriptTask": "scripttaak",
    "businessRuleTask": "beslistaak",
    "callActivity": "aanroep",
    "task": "taak",
    "manualTask": "handmatige taak",
    "sendTask": "verzendtaak",
    "receiveTask": "ontvangsttaak",
    "intermediateCatchEvent": "tussengebeurtenis",
    "intermediateThrowEvent": "tussengebeurtenis",
    "eventBasedGateway": "gebeurtenisgateway",
    "sequenceFlow": "stroom",
    "lane": "lane",
    "process": "proces",
    "decision": "beslissing",
    "rule": "regel",
}


def _bpmn(tag: str) -> str:
    return f"{{{BPMN_NS}}}{tag}"


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


def _label(kind: str) -> str:
    return LABELS.get(kind, "element")


@dataclass
class _Scope:
    """The flow nodes and sequence flows directly inside one process or subprocess."""

    nodes: dict[str, etree._Element]
    flows: list[etree._Element]


def _scopes(root: etree._Element) -> Iterator[_Scope]:
    for container in (*root.iter(_bpmn("process")), *root.iter(_bpmn("subProcess"))):
        nodes = {
            str(child.get("id", "")): child
            for child in container
            if isinstance(child.tag, str) and _local(child) in FLOW_NODES
        }
        flows = [child for child in container if isinstance(child.tag, str) and _local(child) == "sequenceFlow"]
        yield _Scope(nodes, flows)


def lint_diagram(name: str, root: etree._Element) -> list[Finding]:
    findings: list[Finding] = []
    for scope in _scopes(root):
        findings += _flow_findings(name, scope)
        findings += _gateway_findings(name, scope)
    findings += _reachability_findings(name, root)
    findings += _lane_findings(name, root)
    findings += _naming_findings(name, root)
    return findings


def _flow_findings(name: str, scope: _Scope) -> list[Finding]:
    findings = []
    incoming: dict[str, int] = dict.fromkeys(scope.nodes, 0)
    outgoing: dict[str, int] = dict.fromkeys(scope.nodes, 0)
    for flow in scope.flows:
        source, target = flow.get("sourceRef", ""), flow.get("targetRef", "")
        flow_id = str(flow.get("id", ""))
        for end, ref in (("bron", source), ("doel", target)):
            if ref not in scope.nodes:
                findings.append(Finding(name, flow_id, f"stroom verwijst naar een {end} {ref!r} die hier niet bestaat"))
        if source in outgoing:
            outgoing[source] += 1
        if target in incoming:
            incoming[target] += 1
    for node_id, node in scope.nodes.items():
        findings += _dangling(name, node_id, node, incoming[node_id], outgoing[node_id])
    return findings


def _dangling(name: str, node_id: str, node: etree._Element, incoming: int, outgoing: int) -> list[Finding]:
    kind = _local(node)
    label = _label(kind)
    if kind == "subProcess" and node.get("triggeredByEvent") == "true":
        return []  # an event subprocess starts from its own start event, without flows
    needs_in = kind not in ("startEvent", "boundaryEvent")
    needs_out = kind != "endEvent"
    findings = []
    if needs_in and incoming == 0:
        findings.append(Finding(name, node_id, f"{label} heeft geen inkomende stroom: hij wordt nooit bereikt"))
    if needs_out and outgoing == 0:
        findings.append(Finding(name, node_id, f"{label} heeft geen uitgaande stroom: het proces loopt hier vast"))
    if kind == "startEvent" and incoming:
        findings.append(Finding(name, node_id, "startgebeurtenis mag geen inkomende stroom hebben"))
    if kind == "endEvent" and outgoing:
        findings.append(Finding(name, node_id, "eindgebeurtenis mag geen uitgaande stroom hebben"))
    return findings


def _gateway_findings(name: str, scope: _Scope) -> list[Finding]:
    findings = []
    for node_id, node in scope.nodes.items():
        if _local(node) not in CHOICE_GATEWAYS:
            continue
        leaving = [flow for flow in scope.flows if flow.get("sourceRef") == node_id]
        if len(leaving) < 2 or node.get("default"):
            continue
        unconditioned = [str(f.get("id", "")) for f in leaving if not _condition(f)]
        if unconditioned:
            findings.append(
                Finding(
                    name,
                    node_id,
                    "keuze zonder standaardpad, en niet elke uitgaande stroom heeft een voorwaarde "
                    f"({', '.join(unconditioned)}): geef een standaardpad of een voorwaarde op elke stroom",
                )
            )
    for flow in scope.flows:
        if _condition(flow) is not None and not _condition(flow):
            findings.append(Finding(name, str(flow.get("id", "")), "voorwaarde van de stroom is leeg"))
    return findings


def _condition(flow: etree._Element) -> str | None:
    """The condition's text ('' if empty), or None if the flow has none."""
    element = flow.find(_bpmn("conditionExpression"))
    return None if element is None else (element.text or "").strip()


def _reachability_findings(name: str, root: etree._Element) -> list[Finding]:
    """Every user task must be reachable from a start event (following flows, boundary events and subprocesses)."""
    successors: dict[str, list[str]] = {}
    starts: list[str] = []
    for flow in root.iter(_bpmn("sequenceFlow")):
        successors.setdefault(str(flow.get("sourceRef", "")), []).append(str(flow.get("targetRef", "")))
    for boundary in root.iter(_bpmn("boundaryEvent")):
        successors.setdefault(str(boundary.get("attachedToRef", "")), []).append(str(boundary.get("id", "")))
    for process in root.iter(_bpmn("process")):
        starts += [str(s.get("id", "")) for s in process if isinstance(s.tag, str) and _local(s) == "startEvent"]
    for sub in root.iter(_bpmn("subProcess")):
        inner = [str(s.get("id", "")) for s in sub if isinstance(s.tag, str) and _local(s) == "startEvent"]
        if sub.get("triggeredByEvent") == "true":
            starts += inner  # an event subprocess can start whenever its parent runs
        else:
            successors.setdefault(str(sub.get("id", "")), []).extend(inner)
    reached = _reach(starts, successors.get)
    return [
        Finding(name, task_id, "gebruikerstaak is vanaf geen startgebeurtenis bereikbaar")
        for task in root.iter(_bpmn("userTask"))
        if (task_id := str(task.get("id", ""))) not in reached
    ]


def _reach(starts: list[str], successors: Callable[[str], list[str] | None]) -> set[str]:
    seen = set(starts)
    queue = deque(starts)
    while queue:
        for following in successors(queue.popleft()) or []:
            if following not in seen:
                seen.add(following)
                queue.append(following)
    return seen


def _lane_findings(name: str, root: etree._Element) -> list[Finding]:
    roles = ", ".join(sorted(LANE_ROLES))
    findings = []
    for lane in root.iter(_bpmn("lane")):
        if lane.find(_bpmn("childLaneSet")) is not None:
            continue  # a lane split into lanes: the inner lanes carry the roles
        lane_name = (lane.get("name") or "").strip()
        if lane_name not in LANE_ROLES:
            shown = repr(lane_name) if lane_name else "zonder naam"
            findings.append(Finding(name, str(lane.get("id", "")), f"lane {shown} hoort bij geen rol ({roles})"))
    return findings


def _naming_findings(name: str, root: etree._Element) -> list[Finding]:
    return [
        Finding(name, str(task.get("id", "")), "gebruikerstaak heeft geen naam: de inbox toont dan het id", WARNING)
        for task in root.iter(_bpmn("userTask"))
        if not (task.get("name") or "").strip()
    ]


# -- validation problems in Dutch ---------------------------------------------------------------------------------

Replacement = str | Callable[[re.Match[str]], str]


def _xml_syntax(found: re.Match[str]) -> str:
    line, column, detail = found.groups()
    return f"XML is niet welgevormd: regel {line}, kolom {column}: {check_details.xml_syntax(detail)}"


def _timer_syntax(found: re.Match[str]) -> str:
    line, column, fragment, detail = found.group("line"), found.group("column"), found.group("fragment"), found["msg"]
    where = f"regel {line}, kolom {column}" if line else f"kolom {column}"
    return f"timer: geen geldige expressie: bij {fragment} ({where}): {check_details.python_syntax(detail)}"


def _timer_syntax_at_end(found: re.Match[str]) -> str:
    return f"timer: geen geldige expressie: aan het eind ontbreekt iets ({check_details.python_syntax(found[1])})"


def _refused(found: re.Match[str]) -> str:
    kind = {"script": "script", "condition": "voorwaarde", "parameter": "parameter", "timer": "timer"}[found[1]]
    return f"{kind} geweigerd: {check_details.refusal(found[2])}"


_TRANSLATIONS: list[tuple[re.Pattern[str], Replacement]] = [
    (re.compile(r"user task is not in a lane$"), "gebruikerstaak ligt in geen lane"),
    (re.compile(r"lane (.+) is not a role \((.*)\)$"), r"lane \1 hoort bij geen rol (\2)"),
    (re.compile(r"user task has no formJsonSchemaFilename$"), "gebruikerstaak heeft geen formulier"),
    (re.compile(r"form file (.+) not found in forms/$"), r"formulier \1 bestaat niet in forms/"),
    (re.compile(r"call activity calls unknown process (.+)$"), r"aanroep van onbekend proces \1"),
    (re.compile(r"business rule task uses unknown DMN (.+)$"), r"beslistaak gebruikt onbekende beslistabel \1"),
    (re.compile(r"service task has no operator$"), "servicetaak heeft geen operator (zoals notify)"),
    (re.compile(r"unknown service operator (.+)$"), r"onbekende operator \1"),
    (re.compile(r"operator (.+) needs parameter (.+)$"), r"operator \1 mist parameter \2"),
    (re.compile(r"no e-mail template (.+) in engine/mail_templates$"), r"e-mailsjabloon \1 bestaat niet"),
    (re.compile(r"message has no payload schema (.+)$"), r"bericht heeft geen schema \1"),
    (re.compile(r"(.+) must list x-senders among the lane roles$"), r"\1 moet x-senders noemen (lane-rollen)"),
    (
        re.compile(r"DOCTYPE/ENTITY declarations are not allowed$"),
        "DOCTYPE- en ENTITY-declaraties zijn niet toegestaan",
    ),
    (re.compile(r"XML is not well-formed: line (\d+), column (\d+): (.*)$", re.DOTALL), _xml_syntax),
    (re.compile(r"XML is not well-formed.*$", re.DOTALL), "XML is niet welgevormd"),
    (
        re.compile(r"invalid JSON: line (\d+), column (\d+): (.*)$"),
        lambda found: f"ongeldige JSON: regel {found[1]}, kolom {found[2]}: {check_details.json_syntax(found[3])}",
    ),
    (
        re.compile(r"timer: '(.*)' is not an ISO 8601 duration.*$"),
        r"timer: '\1' is geen ISO 8601-duur zoals P14D, P3M of PT1H",
    ),
    (re.compile(r"timer: ISO text must be quoted: (.*)$"), r"timer: ISO-tekst moet tussen aanhalingstekens: \1"),
    (re.compile(r"timer: timer expression is empty$"), "timer: geen waarde ingevuld"),
    (
        re.compile(
            r"timer: timer expression is not valid Python at (?:line (?P<line>\d+), )?column (?P<column>\d+) "
            r"\((?P<fragment>.*)\): (?P<msg>.*)$"
        ),
        _timer_syntax,
    ),
    (re.compile(r"timer: timer expression is not valid Python at the end: (.*)$"), _timer_syntax_at_end),
    (
        re.compile(r"timer: timer expression is not valid Python \((.*)\)$"),
        lambda found: f"timer: geen geldige expressie: {check_details.python_syntax(found[1])}",
    ),
    (re.compile(r"timer: timer value (.*) is not a string$"), r"timer: waarde \1 is geen tekst"),
    (
        re.compile(r"timer: timer expression (.*) cannot be checked; .*$"),
        r"timer: expressie \1 is niet te controleren; gebruik een ISO-tekst tussen aanhalingstekens, "
        r"een keuze tussen zulke teksten, of een veld uit de zaakgegevens",
    ),
    (re.compile(r"timer: negative duration (.*) is not allowed$"), r"timer: negatieve duur \1 is niet toegestaan"),
    (
        re.compile(r"timer: duration (.*) has a 'T' but no hours, minutes or seconds$"),
        r"timer: duur \1 heeft een T maar geen uren, minuten of seconden",
    ),
    (
        re.compile(r"timer: duration (.*): only seconds may have a fraction$"),
        r"timer: duur \1: alleen seconden mogen een breuk hebben",
    ),
    (re.compile(r"timer: duration (.*) has no parts; .*$"), r"timer: duur \1 is leeg; schrijf bijvoorbeeld P14D"),
    (
        re.compile(r"timer: duration (.*) mixes weeks with years, months or days$"),
        r"timer: duur \1 combineert weken met jaren, maanden of dagen",
    ),
    (
        re.compile(r"timer: (.*) is not an ISO 8601 date-time such as (.*)$"),
        r"timer: \1 is geen ISO 8601-tijdstip zoals \2",
    ),
    (
        re.compile(r"timer: (?:date-time (.*) has no time zone|a date-time needs a time zone).*$"),
        r"timer: tijdstip \1 heeft geen tijdzone; voeg Z of bijvoorbeeld +01:00 toe",
    ),
    (re.compile(r"timer: cycle (.*) must start with Rn/ or R/$"), r"timer: herhaling \1 moet met Rn/ of R/ beginnen"),
    (re.compile(r"timer: cycle (.*) repeats zero times$"), r"timer: herhaling \1 herhaalt nul keer"),
    (
        re.compile(r"timer: cycle (.*) must look like (.*)$"),
        r"timer: herhaling \1 moet eruitzien als R3/PT1H of R3/2026-01-01T09:00:00Z/P1D",
    ),
    (
        re.compile(r"timer: cycle (.*): Rn/<duration>/<end> is not supported; .*$"),
        r"timer: herhaling \1: Rn/<duur>/<einde> kan niet; gebruik Rn/<begin>/<duur>",
    ),
    (re.compile(r"not a valid JSON Schema at '(.*)': .*$"), r"geen geldig JSON Schema bij '\1'"),
    (re.compile(r"property '(.*)' is not a schema object$"), r"veld '\1' is geen schema-object"),
    (re.compile(r"property '(.*)' has no title$"), r"veld '\1' heeft geen titel"),
    (re.compile(r"property '(.*)' has no x-sensitivity$"), r"veld '\1' heeft geen x-sensitivity"),
    (
        re.compile(r"property '(.*)' has x-sensitivity (.*), not one of (.*)$"),
        r"veld '\1' heeft x-sensitivity \2; kies uit \3",
    ),
    (
        re.compile(r"property '(.*)' has x-prefill (.*), not the name of a case data field$"),
        r"veld '\1' heeft x-prefill \2: geen veld van de zaakgegevens",
    ),
    (re.compile(r"property '(.*)' may not be called (.*)$"), r"veld '\1' mag niet \2 heten"),
    (re.compile(r"object '(.*)' needs additionalProperties: false$"), r"object '\1' mist additionalProperties: false"),
    (re.compile(r"the form needs additionalProperties: false$"), "het formulier mist additionalProperties: false"),
    (re.compile(r"object '(.*)' requires (.*), which is not a property$"), r"object '\1' vereist \2, dat geen veld is"),
    (re.compile(r"the form requires (.*), which is not a property$"), r"het formulier vereist \1, dat geen veld is"),
    (re.compile(r"\$schema must be (.*)$"), r"$schema moet \1 zijn"),
    (re.compile(r"the form must have type: object$"), "het formulier moet type: object hebben"),
    (re.compile(r"the form has no title$"), "het formulier heeft geen titel"),
    (
        re.compile(r"field name (.*) is reserved for scripts .*$"),
        r"veldnaam \1 is gereserveerd voor scripts (een ingebouwde naam of begint met '_')",
    ),
    (re.compile(r"the form must be a JSON object$"), "het formulier moet een JSON-object zijn"),
    (re.compile(r"(script|condition|parameter|timer) refused: (.*)$", re.DOTALL), _refused),
]


UNTRANSLATED = "zo is het niet uit te voeren; de technische melding staat in het logboek van de beheerder"


def in_dutch(problem: Problem) -> str | None:
    """The Dutch message of a validation problem, or None if there is no translation."""
    for pattern, replacement in _TRANSLATIONS:
        found = pattern.match(problem.message)
        if found is not None:
            return found.expand(replacement) if isinstance(replacement, str) else replacement(found)
    return check_details.schema(problem.message)


def translate(problem: Problem) -> Finding:
    """A validation problem as a Dutch finding; one without a translation gets a general Dutch sentence (the
    detail goes to the log: the element is named, so the procesbeheerder knows where to look)."""
    message = in_dutch(problem)
    if message is None:
        error = EngineError(problem.message)
        message = reasons.in_dutch(error, context=f"check of {problem.file}", unknown=UNTRANSLATED)
    return Finding(problem.file, problem.element, message)


def problem_line(problem: Problem) -> str:
    """``regeling validate``'s line for a problem: file: element: reason, the reason in Dutch where it has a
    translation (else as the engine words it: the command line is for the people who run the server)."""
    return f"{problem.file}: {problem.element or '-'}: {in_dutch(problem) or problem.message}"
