"""`regeling validate`: every problem of a bundle as (file, element id, reason), before anything runs."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator

from lxml import etree

from engine import isotime, mail, runtime, sandbox
from engine.access import LANE_ROLES
from engine.bundles import BPMN_NS, Bundle, message_form_name, parse_xml
from engine.errors import Problem
from engine.forms import form_definition_problems

SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
DMN_NAMESPACES = (
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
)
TIMER_KINDS: dict[str, isotime.TimerKind] = {"timeDuration": "duration", "timeDate": "date", "timeCycle": "cycle"}
REQUIRED_NOTIFY_PARAMETERS = ("role", "template")


def _bpmn(tag: str) -> str:
    return f"{{{BPMN_NS}}}{tag}"


def _spiff(tag: str) -> str:
    return f"{{{SPIFF_NS}}}{tag}"


def validate_bundle(bundle: Bundle) -> list[Problem]:
    """All problems of the bundle; empty means it may be deployed."""
    problems = _xml_problems(bundle)
    if problems:
        return problems
    problems += runtime.spiff_problems(bundle.diagram_files)
    problems += _form_problems(bundle)
    process_ids, decision_ids = _declared_ids(bundle)
    for name, text in sorted(bundle.diagram_files.items()):
        if name.endswith(".bpmn"):
            root = parse_xml(text)
            if root is not None:  # None was reported by _xml_problems already
                problems += _diagram_problems(name, root, bundle, process_ids, decision_ids)
    return _unique(problems)


def _unique(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


def _xml_problems(bundle: Bundle) -> list[Problem]:
    problems = []
    for name, text in sorted(bundle.diagram_files.items()):
        if "<!DOCTYPE" in text or "<!ENTITY" in text:
            problems.append(Problem(name, "", "DOCTYPE/ENTITY declarations are not allowed"))
        elif parse_xml(text) is None:
            problems.append(Problem(name, "", xml_syntax_error(text)))
    return problems


_LXML_POSITION = re.compile(r", line \d+, column \d+$")


def xml_syntax_error(text: str) -> str:
    """Where and why ``text`` is not well-formed XML (for a file parse_xml refused)."""
    try:
        etree.fromstring(text.encode("utf-8"), etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as error:
        line, column = error.position
        # lxml ends its message with the position, which we give first, and may add a line of the file after it.
        lines = (error.msg or "").strip().splitlines()
        description = _LXML_POSITION.sub("", lines[0]) if lines else ""
        return f"XML is not well-formed: line {line}, column {column}: {description}"
    return "XML is not well-formed"


def _form_problems(bundle: Bundle) -> list[Problem]:
    problems = []
    for name, text in sorted(bundle.form_files.items()):
        try:
            schema = json.loads(text)
        except json.JSONDecodeError as error:
            problems.append(
                Problem(f"forms/{name}", "", f"invalid JSON: line {error.lineno}, column {error.colno}: {error.msg}")
            )
            continue
        problems += [Problem(f"forms/{name}", "", reason) for reason in form_definition_problems(name, schema)]
    return problems


def _declared_ids(bundle: Bundle) -> tuple[set[str], set[str]]:
    processes: set[str] = set()
    decisions: set[str] = set()
    for name, text in bundle.diagram_files.items():
        root = parse_xml(text)
        if root is None:
            continue
        if name.endswith(".bpmn"):
            processes.update(p.get("id", "") for p in root.iter(_bpmn("process")))
        else:
            for ns in DMN_NAMESPACES:
                decisions.update(d.get("id", "") for d in root.iter(f"{{{ns}}}decision"))
    return processes, decisions


def _diagram_problems(
    name: str, root: etree._Element, bundle: Bundle, process_ids: set[str], decision_ids: set[str]
) -> list[Problem]:
    lanes = _lane_of_nodes(root)
    problems: list[Problem] = []
    for element in root.iter(_bpmn("userTask")):
        problems += _user_task_problems(name, element, lanes, bundle)
    for element in root.iter(_bpmn("serviceTask")):
        problems += _service_task_problems(name, element)
    for element in root.iter(_bpmn("callActivity")):
        target = element.get("calledElement", "")
        if target not in process_ids:
            problems.append(Problem(name, _id(element), f"call activity calls unknown process {target!r}"))
    for element in root.iter(_bpmn("businessRuleTask")):
        decision = _text(element.find(f".//{_spiff('calledDecisionId')}"))
        if decision not in decision_ids:
            problems.append(Problem(name, _id(element), f"business rule task uses unknown DMN {decision!r}"))
    problems += _code_problems(name, root)
    problems += _message_problems(name, root, bundle)
    return problems


def _message_problems(name: str, root: etree._Element, bundle: Bundle) -> list[Problem]:
    problems = []
    for message in root.iter(_bpmn("message")):
        form_name = message_form_name(message.get("name", ""))
        text = bundle.form_files.get(form_name)
        if text is None:
            problems.append(Problem(name, _id(message), f"message has no payload schema forms/{form_name}"))
            continue
        try:
            senders = json.loads(text).get("x-senders")
        except (json.JSONDecodeError, AttributeError):
            continue  # reported by _form_problems
        if not isinstance(senders, list) or not senders or not set(senders) <= LANE_ROLES:
            problems.append(Problem(name, _id(message), f"forms/{form_name} must list x-senders among the lane roles"))
    return problems


def _lane_of_nodes(root: etree._Element) -> dict[str, str]:
    lanes: dict[str, str] = {}
    for lane in root.iter(_bpmn("lane")):
        for ref in lane.iter(_bpmn("flowNodeRef")):
            lanes[_text(ref)] = lane.get("name", "")
    return lanes


SUBJECT_PATH = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")


def _user_task_problems(name: str, element: etree._Element, lanes: dict[str, str], bundle: Bundle) -> list[Problem]:
    problems = []
    element_id = _id(element)
    lane = lanes.get(element_id)
    if lane is None:
        problems.append(Problem(name, element_id, "user task is not in a lane"))
    elif lane not in LANE_ROLES:
        problems.append(Problem(name, element_id, f"lane {lane!r} is not a role ({', '.join(sorted(LANE_ROLES))})"))
    form = _property(element, "formJsonSchemaFilename")
    if not form:
        problems.append(Problem(name, element_id, "user task has no formJsonSchemaFilename"))
    elif form not in bundle.form_files:
        problems.append(Problem(name, element_id, f"form file {form!r} not found in forms/"))
    subject = _property(element, runtime.SUBJECT_PROPERTY)
    if subject and not SUBJECT_PATH.fullmatch(subject):
        problems.append(
            Problem(
                name, element_id, f"property {runtime.SUBJECT_PROPERTY!r} must be a data path like a.b, not {subject!r}"
            )
        )
    return problems


def _service_task_problems(name: str, element: etree._Element) -> list[Problem]:
    operator = element.find(f".//{_spiff('serviceTaskOperator')}")
    if operator is None:
        return [Problem(name, _id(element), "service task has no operator")]
    operator_id = operator.get("id", "")
    if operator_id not in runtime.KNOWN_OPERATORS:
        return [Problem(name, _id(element), f"unknown service operator {operator_id!r}")]
    parameters = {p.get("id", ""): p.get("value", "") for p in operator.iter(_spiff("parameter"))}
    problems = [
        Problem(name, _id(element), f"operator {operator_id!r} needs parameter {missing!r}")
        for missing in REQUIRED_NOTIFY_PARAMETERS
        if missing not in parameters
    ]
    template = _literal(parameters.get("template", ""))
    if template is not None and template not in mail.known_templates():
        problems.append(Problem(name, _id(element), f"no e-mail template {template!r} in engine/mail_templates"))
    return problems


def _literal(expression: str) -> str | None:
    """The text a parameter expression always gives ('aanmelding_ontvangen'), or None if it is computed."""
    try:
        value = ast.literal_eval(expression)
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, str) else None


def _code_problems(name: str, root: etree._Element) -> list[Problem]:
    problems = []
    for element_id, kind, source in _code_of(root):
        if kind == "timer" and _expression_syntax_error(source) is not None:
            continue  # the timer check below says where its expression breaks; once is enough
        reason = _refusal(source, "exec" if kind == "script" else "eval")
        if reason:
            problems.append(Problem(name, element_id, f"{kind} refused: {reason}"))
    for element_id, timer_kind, source in _timers_of(root):
        problems += [
            Problem(name, element_id, f"timer: {_timer_reason(reason, source)}")
            for reason in isotime.timer_expression_problems(timer_kind, source)
        ]
    return problems


def _refusal(source: str, mode: sandbox.Mode) -> str | None:
    try:
        return sandbox.check_source(source, mode)
    except SyntaxError as error:
        # Python's compiler refuses some code its parser accepts ('return' outside a function); the sandbox
        # lets that through as a SyntaxError.
        return f"line {error.lineno}: {error.msg}"


def _expression_syntax_error(source: str) -> SyntaxError | None:
    try:
        ast.parse(source.strip(), mode="eval")
    except SyntaxError as error:
        return error
    return None


def _timer_reason(reason: str, source: str) -> str:
    """isotime's reason; for a syntax error, which part of the expression is wrong."""
    error = _expression_syntax_error(source)
    if error is None or not reason.startswith("timer expression is not valid Python"):
        return reason
    text = source.strip()
    line_text = (error.text or text).rstrip("\n")
    if not error.offset or error.offset > len(line_text):
        return f"timer expression is not valid Python at the end: {error.msg}"
    line = f"line {error.lineno}, " if "\n" in text else ""
    start = error.offset - 1
    end = error.end_offset - 1 if error.end_offset and error.end_offset > error.offset else start + 1
    fragment = line_text[start:end][:40]
    return f"timer expression is not valid Python at {line}column {error.offset} ({fragment!r}): {error.msg}"


def _code_of(root: etree._Element) -> Iterator[tuple[str, str, str]]:
    """Every piece of Python in a diagram: (element id, kind, source)."""
    for element in root.iter(_bpmn("scriptTask")):
        yield _id(element), "script", _text(element.find(_bpmn("script")))
    for tag in ("preScript", "postScript"):
        for element in root.iter(_spiff(tag)):
            yield _id(_owner(element)), "script", _text(element)
    for element in root.iter(_bpmn("conditionExpression")):
        yield _id(_owner(element)), "condition", _text(element)
    for element_id, _kind, source in _timers_of(root):
        yield element_id, "timer", source
    for element in root.iter(_spiff("parameter")):
        yield _id(_owner(element)), "parameter", element.get("value", "")


def _timers_of(root: etree._Element) -> Iterator[tuple[str, isotime.TimerKind, str]]:
    for tag, kind in TIMER_KINDS.items():
        for element in root.iter(_bpmn(tag)):
            yield _id(_owner(element)), kind, _text(element)


def _owner(element: etree._Element) -> etree._Element:
    """The nearest ancestor that has an id: the flow node or sequence flow the code belongs to."""
    node: etree._Element | None = element
    while node is not None and (node.get("id") is None or str(node.tag).endswith("EventDefinition")):
        node = node.getparent()
    return node if node is not None else element


def _property(element: etree._Element, name: str) -> str:
    for prop in element.iter(_spiff("property")):
        if prop.get("name") == name:
            return str(prop.get("value", ""))
    return ""


def _id(element: etree._Element) -> str:
    return str(element.get("id", ""))


def _text(element: etree._Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""
