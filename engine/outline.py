"""A readable outline of a deployed process: per diagram its lanes, user tasks, timers, messages and ends."""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from engine.bundles import BPMN_NS, Bundle, parse_xml
from engine.validation import SPIFF_NS, TIMER_KINDS

_TIMER_TAGS = {f"{{{BPMN_NS}}}{tag}" for tag in TIMER_KINDS}


def _bpmn(tag: str) -> str:
    return f"{{{BPMN_NS}}}{tag}"


def outline(bundle: Bundle) -> Iterator[str]:
    for name, text in sorted(bundle.diagram_files.items()):
        root = parse_xml(text)
        if root is None or not name.endswith(".bpmn"):
            continue
        for process in root.iter(_bpmn("process")):
            yield f"{name} — proces {process.get('id')}"
            yield from _lanes(process)
            yield from _events(process)


def _lanes(process: etree._Element) -> Iterator[str]:
    nodes = {e.get("id"): e for e in process}
    for lane in process.iter(_bpmn("lane")):
        tasks = [nodes[ref.text] for ref in lane.iter(_bpmn("flowNodeRef")) if ref.text in nodes]
        user_tasks = [t for t in tasks if t.tag == _bpmn("userTask")]
        if not user_tasks:
            continue
        yield f"  {lane.get('name')}:"
        for task in user_tasks:
            yield f"    - {task.get('name') or task.get('id')}  [{task.get('id')}, formulier {_form(task)}]"


def _form(task: etree._Element) -> str:
    for prop in task.iter(f"{{{SPIFF_NS}}}property"):
        if prop.get("name") == "formJsonSchemaFilename":
            return str(prop.get("value"))
    return "-"


def _events(process: etree._Element) -> Iterator[str]:
    for element in process.iter():
        if element.tag in _TIMER_TAGS:
            yield f"  timer {_label(_event_of(element))}: {(element.text or '').strip()}"
    for element in process.iter(_bpmn("messageEventDefinition")):
        yield f"  bericht: {_label(_event_of(element))}"
    for element in process.iter(_bpmn("endEvent")):
        yield f"  einde: {_label(element)}"


def _event_of(element: etree._Element) -> etree._Element:
    """The event a (timer or message) definition belongs to."""
    node: etree._Element | None = element
    while node is not None and not str(node.tag).endswith("Event"):
        node = node.getparent()
    return node if node is not None else element


def _label(element: etree._Element) -> str:
    return str(element.get("name") or element.get("id"))
