""" "Proefrit": run a draft through the engine with sample data and show the path it takes.

The run is a workflow in memory only: no database, no case, no outbox, no e-mail (notifications are collected and
listed as "would notify"), with a frozen clock that jumps to each next deadline when nothing else can move.
User tasks are completed in the order the engine offers them, each with the sample data given for its BPMN id,
or else data generated from its form (required fields, defaults, first choices). The run stops when the process
ends, when it waits for a message, at a problem (named in Dutch), or after MAX_STEPS.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from engine import reasons, runtime
from engine.bundles import BPMN_NS, Bundle, parse_xml
from engine.clock import FrozenClock
from engine.errors import BundleInvalidError, EngineError, FormValidationError, NotFoundError
from engine.forms import validate_submission
from engine.validation import SPIFF_NS

MAX_STEPS = 100
TRIAL_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TRIAL_SEED = "proefrit"
TIMER_STEP = timedelta(seconds=1)


@dataclass(frozen=True)
class TrialTask:
    bpmn_id: str
    name: str
    lane: str
    form: str | None


@dataclass
class TrialResult:
    path: list[str] = field(default_factory=list)  # BPMN ids completed, in order
    steps: list[str] = field(default_factory=list)  # what happened, in Dutch
    waiting: list[str] = field(default_factory=list)  # BPMN ids it stopped at
    notifications: list[tuple[str, str]] = field(default_factory=list)  # (role, template) it would send
    finished: bool = False
    problem: str | None = None

    def markers(self) -> dict[str, list[str]]:
        """For case-diagram.js: what ran and where it stopped."""
        return {"done": list(dict.fromkeys(self.path)), "active": self.waiting}


def user_tasks(bundle: Bundle, process_key: str) -> list[TrialTask]:
    """The user tasks of the process and everything it calls, in the order the specs list them."""
    process = runtime.compile_process(bundle.diagram_files, process_key)
    found: dict[str, TrialTask] = {}
    for lane in ("Bestuurder", "CCV", "Werkgever", "BVA"):
        for bpmn_id, name in runtime.user_tasks_in_lane(process, lane):
            found.setdefault(bpmn_id, TrialTask(bpmn_id, name, lane, _form_of(bundle, bpmn_id)))
    return sorted(found.values(), key=lambda task: (task.lane, task.name))


def _form_of(bundle: Bundle, bpmn_id: str) -> str | None:
    for text in bundle.diagram_files.values():
        root = parse_xml(text)
        if root is None:
            continue
        for task in root.iter(f"{{{BPMN_NS}}}userTask"):
            if task.get("id") == bpmn_id:
                for prop in task.iter(f"{{{SPIFF_NS}}}property"):
                    if prop.get("name") == "formJsonSchemaFilename":
                        return str(prop.get("value", "")) or None
    return None


def sample_for(bundle: Bundle, form_name: str | None) -> dict[str, Any]:
    """Data that satisfies the form's required fields (defaults and first choices where given)."""
    if not form_name:
        return {}
    try:
        schema = json.loads(bundle.form_files[form_name])
    except (KeyError, json.JSONDecodeError):
        return {}
    value = _sample(schema)
    return value if isinstance(value, dict) else {}


def _sample(node: Mapping[str, Any]) -> Any:  # noqa: PLR0911 - one answer per JSON Schema type
    if "default" in node:
        return node["default"]
    if "const" in node:
        return node["const"]
    if node.get("enum"):
        return node["enum"][0]
    kind = node.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in node:
        properties = node.get("properties", {})
        return {name: _sample(properties[name]) for name in node.get("required", []) if name in properties}
    if kind == "array":
        items = node.get("items", {})
        return [_sample(items) for _ in range(int(node.get("minItems", 0)))]
    if kind == "boolean":
        return True
    if kind in ("number", "integer"):
        return node.get("minimum", 1 if node.get("exclusiveMinimum") is not None else 0)
    if kind == "string":
        return _sample_string(node)
    return None


def _sample_string(node: Mapping[str, Any]) -> str:
    if node.get("format") == "date":
        return date(2026, 1, 5).isoformat()
    if node.get("format") == "date-time":
        return TRIAL_START.isoformat()
    if node.get("format") == "email":
        return "proefrit@example.org"
    return "voorbeeld".ljust(int(node.get("minLength", 0)), "x")


def run(
    bundle: Bundle,
    process_key: str,
    samples: Mapping[str, Mapping[str, Any]],
    *,
    initial: Mapping[str, Any] | None = None,
    start: datetime = TRIAL_START,
) -> TrialResult:
    """Run the process of ``bundle`` with ``samples`` (BPMN id -> form data) and report the path."""
    result = TrialResult()
    try:
        process = runtime.compile_process(bundle.diagram_files, process_key)
    except BundleInvalidError as error:
        result.problem = f"het concept kan niet worden gestart: {len(error.problems)} fout(en) bij Controleren"
        return result
    clock = FrozenClock(start)
    data = dict(initial or {"referentie": "PROEFRIT-0001", "organisatie": "proefrit"})
    try:
        workflow = runtime.Workflow.start(process, data, clock, seed=f"{TRIAL_SEED}:0")
        _collect(workflow, result)
        result.steps.append("Gestart")
        for number in range(1, MAX_STEPS + 1):
            if not _step(workflow, bundle, samples, clock, number, result):
                break
        else:
            result.problem = f"gestopt na {MAX_STEPS} stappen: loopt de proefrit in een kring?"
    except EngineError as error:
        result.problem = f"het proces liep vast: {reasons.in_dutch(error, context='proefrit')}"
        return result
    result.finished = workflow.completed
    result.waiting = [view.bpmn_id for view in workflow.ready_user_tasks()]
    if result.finished:
        result.steps.append(f"Afgerond bij {workflow.end_event() or 'het einde'}")
    return result


def _step(
    workflow: runtime.Workflow,
    bundle: Bundle,
    samples: Mapping[str, Mapping[str, Any]],
    clock: FrozenClock,
    number: int,
    result: TrialResult,
) -> bool:
    """One move of the run; False when it cannot move on."""
    if workflow.completed:
        return False
    ready = workflow.ready_user_tasks()
    if ready:
        task = ready[0]
        data = samples.get(task.bpmn_id)
        if data is None:
            data = sample_for(bundle, task.form)
        try:
            cleaned = validate_submission(bundle.form(task.form), data) if task.form else dict(data)
        except FormValidationError as error:
            result.problem = f"voorbeeldgegevens voor '{task.name}' ({task.bpmn_id}) kloppen niet: {error}"
            result.waiting = [task.bpmn_id]
            return False
        except NotFoundError as error:
            detail = reasons.in_dutch(error, context="proefrit")
            result.problem = f"voorbeeldgegevens voor '{task.name}' ({task.bpmn_id}) zijn niet te controleren: {detail}"
            result.waiting = [task.bpmn_id]
            return False
        workflow.complete(task.guid, cleaned, clock, seed=f"{TRIAL_SEED}:{number}")
        result.steps.append(f"{task.lane}: '{task.name}' afgerond")
        _collect(workflow, result)
        return True
    due = workflow.next_timer_at()
    if due is None:
        messages = ", ".join(sorted(workflow.awaited_messages())) or "niets"
        result.steps.append(f"Wacht op een bericht ({messages}); de proefrit stopt hier")
        return False
    # A deadline has passed once the clock is beyond it, as for the worker (engine/commands.py).
    clock.set(max(due + TIMER_STEP, clock()))
    fired = workflow.fire_due_timers(clock, seed=f"{TRIAL_SEED}:{number}")
    if not fired:
        result.problem = f"de termijn van {due:%d-%m-%Y %H:%M} verstreek, maar er ging niets af"
        return False
    result.steps += [f"Termijn {timer.element} verstreken ({clock():%d-%m-%Y})" for timer in fired]
    _collect(workflow, result)
    return True


def _collect(workflow: runtime.Workflow, result: TrialResult) -> None:
    result.path += workflow.drain_completed()
    for note in workflow.drain_notifications():
        result.notifications.append((note.role, note.template))
        result.steps.append(f"Zou melden aan {note.role}: {note.template} (niet verstuurd)")
