""" "Vergelijken": what a draft changes against a version, element by element (ids added, removed, changed per
diagram, for the visual diff), in words, and which running cases it concerns and whether each could move.

Only the process semantics count: the layout (BPMN DI / DMN DI) and the incoming/outgoing lists a modeler keeps
on every node (the flows say the same) are left out, so moving a shape or reconnecting a flow does not mark the
nodes around it. The affected-cases list carries no case data: reference, version, the names of the steps it
waits at, and whether it can move.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from lxml import etree
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from engine import migration, runtime, verdicts
from engine.bundles import BPMN_NS, Bundle, parse_xml
from engine.errors import BundleInvalidError
from engine.lint import LABELS
from engine.model import Case, HumanTask, ProcessVersion
from engine.validation import DMN_NAMESPACES, SPIFF_NS

Status = Literal["toegevoegd", "verwijderd", "gewijzigd", "gelijk"]
SEMANTIC_NAMESPACES = frozenset({BPMN_NS, *DMN_NAMESPACES})
# Children that repeat what the flows already say.
_REDUNDANT = frozenset({f"{{{BPMN_NS}}}incoming", f"{{{BPMN_NS}}}outgoing"})
MAX_CASES = 50  # each is rebuilt on the target to judge it: the page stays quick

Signature = tuple[object, ...]
Reader = Callable[[etree._Element], str]


@dataclass(frozen=True)
class FileDiff:
    name: str
    status: Status
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)  # in words

    @property
    def is_diagram(self) -> bool:
        return self.name.endswith((".bpmn", ".dmn"))

    def as_json(self) -> dict[str, list[str]]:
        return {"toegevoegd": self.added, "verwijderd": self.removed, "gewijzigd": self.changed}


def diff_bundles(old: Bundle, new: Bundle) -> list[FileDiff]:
    """Per file of either bundle (diagrams first), what changed from ``old`` to ``new``."""
    names = sorted(set(old.files) | set(new.files), key=lambda n: (n.startswith("forms/"), n))
    return [_diff_file(name, old.files.get(name), new.files.get(name)) for name in names]


def _diff_file(name: str, old: str | None, new: str | None) -> FileDiff:
    if old is None:
        return FileDiff(name, "toegevoegd", changes=[f"Bestand {name} toegevoegd"])
    if new is None:
        return FileDiff(name, "verwijderd", changes=[f"Bestand {name} verwijderd"])
    if old == new:
        return FileDiff(name, "gelijk")
    if not name.endswith((".bpmn", ".dmn")):
        return FileDiff(name, "gewijzigd", changes=[f"Formulier {name} gewijzigd"])
    old_root, new_root = parse_xml(old), parse_xml(new)
    if old_root is None or new_root is None:
        return FileDiff(name, "gewijzigd", changes=[f"Bestand {name} gewijzigd (niet te lezen als XML)"])
    return _diff_diagram(name, old_root, new_root)


def _diff_diagram(name: str, old_root: etree._Element, new_root: etree._Element) -> FileDiff:
    old_elements, new_elements = _elements(old_root), _elements(new_root)
    added = [i for i in new_elements if i not in old_elements]
    removed = [i for i in old_elements if i not in new_elements]
    changed = [
        i for i in new_elements if i in old_elements and _signature(old_elements[i]) != _signature(new_elements[i])
    ]
    words = [f"Toegevoegd: {_describe(new_elements[i])}" for i in added]
    words += [f"Verwijderd: {_describe(old_elements[i])}" for i in removed]
    words += [f"Gewijzigd: {_describe(new_elements[i])}{_details(old_elements[i], new_elements[i])}" for i in changed]
    status: Status = "gewijzigd" if added or removed or changed else "gelijk"
    return FileDiff(name, status, added, removed, changed, words)


def _elements(root: etree._Element) -> dict[str, etree._Element]:
    """Every element with an id in the process model (not the layout), in document order."""
    found: dict[str, etree._Element] = {}
    for element in root.iter():
        if not isinstance(element.tag, str) or element.get("id") is None:
            continue
        if etree.QName(element).namespace in SEMANTIC_NAMESPACES and element is not root and not _is_part(element):
            found.setdefault(str(element.get("id")), element)
    return found


def _is_part(element: etree._Element) -> bool:
    """An element with an id of its own that is drawn as part of its parent: a timer or message definition
    belongs to its event (a changed timer is a changed event on the diagram), and an extension element
    (``spiffworkflow:serviceTaskOperator id="notify"``, its parameters, anything outside BPMN and DMN) belongs
    to the flow element that carries it (a changed recipient is a changed notify task)."""
    name = etree.QName(element)
    return name.namespace not in SEMANTIC_NAMESPACES or name.localname.endswith("EventDefinition")


def _signature(element: etree._Element) -> Signature:
    """The element's own content: tag, attributes, text, and children without an id of their own."""
    children = tuple(
        _signature(child)
        for child in element
        if isinstance(child.tag, str) and (child.get("id") is None or _is_part(child)) and child.tag not in _REDUNDANT
    )
    return (element.tag, tuple(sorted(element.attrib.items())), (element.text or "").strip(), children)


# -- in words -----------------------------------------------------------------------------------------------------


def _describe(element: etree._Element) -> str:
    kind = etree.QName(element).localname
    label = LABELS.get(kind, kind)
    name = element.get("name")
    shown = f"{label} '{name}' ({element.get('id')})" if name else f"{label} {element.get('id')}"
    lane = _lane_name(element)
    return f"{shown} in lane {lane}" if lane else shown


def _lane_name(element: etree._Element) -> str | None:
    element_id = element.get("id")
    for ref in element.getroottree().iter(f"{{{BPMN_NS}}}flowNodeRef"):
        if (ref.text or "").strip() == element_id:
            lane = ref.getparent()
            return lane.get("name") if lane is not None else None
    return None


def _details(old: etree._Element, new: etree._Element) -> str:
    parts = []
    for label, read in _ASPECTS:
        before, after = read(old), read(new)
        if before != after:
            parts.append(f"{label} {before or '(geen)'} → {after or '(geen)'}")
    return f": {'; '.join(parts)}" if parts else ""


def _text_of(tags: tuple[str, ...]) -> Reader:
    def read(element: etree._Element) -> str:
        for node in element.iter(*tags):
            return (node.text or "").strip()
        return ""

    return read


def _property(name: str) -> Reader:
    def read(element: etree._Element) -> str:
        for node in element.iter(f"{{{SPIFF_NS}}}property"):
            if node.get("name") == name:
                return str(node.get("value", ""))
        return ""

    return read


def _operator(element: etree._Element) -> str:
    for node in element.iter(f"{{{SPIFF_NS}}}serviceTaskOperator"):
        return str(node.get("id", ""))
    return ""


def _parameters(element: etree._Element) -> str:
    return ", ".join(f"{p.get('id')}={p.get('value')}" for p in element.iter(f"{{{SPIFF_NS}}}parameter"))


_TIMER_TAGS = tuple(f"{{{BPMN_NS}}}{t}" for t in ("timeDuration", "timeDate", "timeCycle"))
_ASPECTS: list[tuple[str, Reader]] = [
    ("naam", lambda e: str(e.get("name", ""))),
    ("timer", _text_of(_TIMER_TAGS)),
    ("formulier", _property("formJsonSchemaFilename")),
    ("voorwaarde", _text_of((f"{{{BPMN_NS}}}conditionExpression",))),
    ("standaardpad", lambda e: str(e.get("default", ""))),
    ("van", lambda e: str(e.get("sourceRef", ""))),
    ("naar", lambda e: str(e.get("targetRef", ""))),
    ("beslistabel", _text_of((f"{{{SPIFF_NS}}}calledDecisionId",))),
    ("operator", _operator),
    ("parameters", _parameters),
    ("documentatie", _text_of((f"{{{BPMN_NS}}}documentation",))),
]


# -- running cases ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AffectedCase:
    """A running case as the procesbeheerder may see it: no data, only where it stands and if it can move."""

    reference: str
    version: int
    waiting: list[str]
    can_move: bool
    reason: str


def affected_cases(
    session: Session, process_key: str, target: Bundle, *, below: int | None = None
) -> list[AffectedCase]:
    """The running cases of ``process_key`` (on versions below ``below`` if given) and whether each could move to
    the process in ``target``; at most MAX_CASES, oldest first (``running_count`` says how many there are).
    A verdict seen before for the same case history and target is not judged again (engine/verdicts.py)."""
    query = _running(process_key, below).order_by(Case.id).limit(MAX_CASES)
    judge = _Judge(process_key, target)
    return [_affected(session, case, judge) for case in session.scalars(query)]


def running_count(session: Session, process_key: str, *, below: int | None = None) -> int:
    query = _running(process_key, below).with_only_columns(func.count(Case.id)).order_by(None)
    return int(session.scalar(query) or 0)


def _running(process_key: str, below: int | None) -> Select[Case]:
    query = (
        select(Case)
        .join(ProcessVersion, ProcessVersion.id == Case.process_version_id)
        .where(ProcessVersion.process_key == process_key, Case.status == "active")
    )
    return query if below is None else query.where(ProcessVersion.version < below)


class _Judge:
    """Judges cases against one target; the target is compiled only when a verdict is not remembered."""

    def __init__(self, process_key: str, target: Bundle) -> None:
        self.process_key = process_key
        self.target = target
        self._process: runtime.CompiledProcess | None = None
        self._compiled = False

    def verdict(self, session: Session, case: Case) -> verdicts.Verdict:
        remembered = verdicts.get(case.id, case.last_hash, self.target.content_hash)
        if remembered is not None:
            return remembered
        process = self._compile()
        if process is None:
            verdict = verdicts.Verdict(False, "het concept heeft fouten; los die eerst op")
        else:
            assessment = migration.assess(session, case, process)
            verdict = verdicts.Verdict(assessment.can_move, assessment.reason)
        verdicts.put(case.id, case.last_hash, self.target.content_hash, verdict)
        return verdict

    def _compile(self) -> runtime.CompiledProcess | None:
        if not self._compiled:
            self._compiled = True
            try:
                self._process = runtime.compile_process(self.target.diagram_files, self.process_key)
            except BundleInvalidError:
                self._process = None
        return self._process


def _affected(session: Session, case: Case, judge: _Judge) -> AffectedCase:
    waiting = list(
        session.scalars(
            select(HumanTask.name).where(HumanTask.case_id == case.id, HumanTask.state == "open").order_by(HumanTask.id)
        )
    )
    verdict = judge.verdict(session, case)
    return AffectedCase(case.reference, case.process_version.version, waiting, verdict.can_move, verdict.reason)


def changed_ids(diffs: list[FileDiff]) -> Iterator[str]:
    for diff in diffs:
        yield from (*diff.added, *diff.removed, *diff.changed)
