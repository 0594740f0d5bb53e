"""Raw in-memory SpiffWorkflow driver for the regeling diagrams (no database; of the engine only its sandbox).

Runs every Path of tests/processes/paths.py against processes/*.bpmn + *.dmn with plain SpiffWorkflow 3.2:
- scripts/conditions/timer expressions under RestrictedPython ``compile_restricted`` (CONVENTIONS.md builtins only);
- ``notify`` service tasks are recorded as (role, template) and answer ``'{}'``;
- the clock is shifted by patching ``SpiffWorkflow.bpmn.specs.event_definitions.timer.datetime``;
- every path runs twice: plainly, and with a serialize -> JSON -> deepcopy -> restore after every step.

Usage: python -m bench.raw_spiff [path-name ...]   (exit status 1 if any path fails)
"""

from __future__ import annotations

import copy
import datetime as dt
import glob
import json
import os
import sys
import time
from typing import Any
from unittest import mock

import jsonschema
import SpiffWorkflow.bpmn.specs.event_definitions.timer as timer_mod
from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.spiff.parser import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.serializer import DEFAULT_CONFIG as SPIFF_CONFIG
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState

from engine import sandbox
from tests.processes.steps import Advance, Complete, ExpectReady, Message, Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROCESSES_DIR = os.path.join(ROOT, "processes")
FORMS_DIR = os.path.join(ROOT, "forms")
MAIN_PROCESS = "regeling"


class RestrictedEnvironment(TaskDataEnvironment):
    """The same RestrictedPython sandbox the engine uses (engine/sandbox.py), so both sides pay for it alike."""

    def __init__(self) -> None:
        super().__init__(sandbox.sandbox_globals())

    def evaluate(self, expression, context, external_context=None):
        scope = sandbox.sandbox_globals()
        scope.update(external_context or {})
        scope.update(context)
        return eval(sandbox.compile_expression(expression), scope)  # noqa: S307 - restricted bytecode

    def execute(self, script, context, external_context=None):
        return super().execute(sandbox.compile_script(script), context, external_context)


class RecordingEngine(PythonScriptEngine):
    def __init__(self, outbox: list[tuple[str, str]]) -> None:
        super().__init__(environment=RestrictedEnvironment())
        self.outbox = outbox

    def call_service(self, task, operation_name=None, operation_params=None, **kwargs):
        if operation_name != "notify":
            raise ValueError(f"unknown service operator {operation_name!r} in {task.task_spec.bpmn_id}")
        params = {k: v["value"] for k, v in operation_params.items()}
        assert params["role"] in ("Bestuurder", "CCV", "Werkgever", "BVA"), params
        self.outbox.append((params["role"], params["template"]))
        return "{}"


class Clock:
    offset = dt.timedelta(0)


class ShiftedDatetime(dt.datetime):
    @classmethod
    def now(cls, tz=None):
        return dt.datetime.now(tz) + Clock.offset


SERIALIZER = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))


def load_specs(processes_dir: str = PROCESSES_DIR):
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_bpmn_files(sorted(glob.glob(os.path.join(processes_dir, "*.bpmn"))))
    parser.add_dmn_files(sorted(glob.glob(os.path.join(processes_dir, "*.dmn"))))
    for pid in parser.get_process_ids():  # every diagram must build, not only those reachable from regeling
        parser.get_spec(pid)
        parser.get_subprocess_specs(pid)
    return parser.get_spec(MAIN_PROCESS), parser.get_subprocess_specs(MAIN_PROCESS)


_FORMS: dict[str, Any] = {}


def _form_validator(filename: str) -> jsonschema.Draft202012Validator:
    if filename not in _FORMS:
        with open(os.path.join(FORMS_DIR, filename), encoding="utf-8") as fh:
            schema = json.load(fh)
        _FORMS[filename] = jsonschema.Draft202012Validator(
            schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        )
    return _FORMS[filename]


def ready_user_tasks(wf: BpmnWorkflow):
    return wf.get_tasks(state=TaskState.READY, manual=True)


def _roundtrip(wf: BpmnWorkflow, engine: RecordingEngine) -> BpmnWorkflow:
    text = json.dumps(SERIALIZER.to_dict(wf))
    restored = SERIALIZER.from_dict(copy.deepcopy(json.loads(text)))
    restored.script_engine = engine
    return restored


def _deliver(wf: BpmnWorkflow, name: str, payload: dict) -> None:
    try:
        wf.send_event(BpmnEvent(MessageEventDefinition(name), copy.deepcopy(payload)))
        return
    except Exception as first_error:  # fall back to the waiting task's own definition (event-based gateway)
        for task in wf.get_tasks(state=TaskState.WAITING):
            edef = getattr(task.task_spec, "event_definition", None)
            defs = edef.event_definitions if isinstance(edef, MultipleEventDefinition) else [edef]
            for d in defs:
                if isinstance(d, MessageEventDefinition) and d.name == name:
                    wf.send_event(BpmnEvent(d, copy.deepcopy(payload)))
                    return
        raise AssertionError(f"nobody waits for message {name!r}: {first_error}") from None


def _describe_ready(wf: BpmnWorkflow) -> list[str]:
    return sorted(t.task_spec.bpmn_id for t in ready_user_tasks(wf))


def run_path(path: Path, specs, roundtrip: bool = False, outbox: list | None = None) -> dict:
    """Drive one Path; returns the final workflow data. Raises AssertionError on any deviation."""
    spec, subprocess_specs = specs
    outbox = [] if outbox is None else outbox
    engine = RecordingEngine(outbox)
    Clock.offset = dt.timedelta(0)
    with mock.patch.object(timer_mod, "datetime", ShiftedDatetime):
        wf = BpmnWorkflow(spec, subprocess_specs, script_engine=engine)
        wf.do_engine_steps()
        if roundtrip:
            wf = _roundtrip(wf, engine)
        for index, step in enumerate(path.steps):
            where = f"{path.name} step {index + 1} ({step!r})"
            if isinstance(step, Complete):
                candidates = [t for t in ready_user_tasks(wf) if t.task_spec.bpmn_id == step.task]
                assert candidates, f"{where}: not READY; ready = {_describe_ready(wf)}"
                task = candidates[0]
                assert task.task_spec.lane == step.role, f"{where}: lane {task.task_spec.lane!r} != role {step.role!r}"
                form = task.task_spec.extensions.get("properties", {}).get("formJsonSchemaFilename")
                assert form, f"{where}: user task without form"
                errors = sorted(e.message for e in _form_validator(form).iter_errors(step.data))
                assert not errors, f"{where}: data does not fit {form}: {errors}"
                task.data.update(copy.deepcopy(step.data))
                task.run()
                wf.do_engine_steps()
            elif isinstance(step, Message):
                _deliver(wf, step.name, step.payload)
                wf.do_engine_steps()
            elif isinstance(step, Advance):
                Clock.offset += step.by
                for _ in range(2):
                    wf.refresh_timers()
                    wf.do_engine_steps()
            elif isinstance(step, ExpectReady):
                ready = _describe_ready(wf)
                assert ready == sorted(step.tasks), f"{where}: ready {ready} != expected {sorted(step.tasks)}"
            else:
                raise AssertionError(f"{where}: unknown step type")
            if roundtrip:
                wf = _roundtrip(wf, engine)
        assert wf.is_completed(), (
            f"{path.name}: not completed; ready = {_describe_ready(wf)}; waiting = "
            f"{sorted(t.task_spec.bpmn_id or t.task_spec.name for t in wf.get_tasks(state=TaskState.WAITING))}"
        )
        ends = [
            t
            for t in wf.get_tasks(state=TaskState.COMPLETED, skip_subprocesses=True)
            if t.task_spec.bpmn_id == path.end_event and t.task_spec.__class__.__name__ == "EndEvent"
        ]
        assert ends, f"{path.name}: end event {path.end_event!r} not reached"
        data = wf.data
        for key, expected in path.expect_data.items():
            assert key in data, f"{path.name}: {key!r} missing from final data"
            assert data[key] == expected, f"{path.name}: {key} = {data[key]!r}, expected {expected!r}"
        if path.notifications is not None:
            assert tuple(outbox) == tuple(path.notifications), (
                f"{path.name}: notifications differ:\n got      {outbox}\n expected {list(path.notifications)}"
            )
        return dict(data)


def main(argv: list[str]) -> int:
    from tests.processes.paths import PATHS

    specs = load_specs(PROCESSES_DIR)
    selected = [p for p in PATHS if not argv or p.name in argv]
    names = [p.name for p in PATHS]
    assert len(names) == len(set(names)), "duplicate path names"
    failures = 0
    for path in selected:
        results = []
        for roundtrip in (False, True):
            outbox: list = []
            started = time.perf_counter()
            try:
                run_path(path, specs, roundtrip=roundtrip, outbox=outbox)
                results.append(f"{'roundtrip' if roundtrip else 'plain'} ok {time.perf_counter() - started:.2f}s")
            except Exception as error:  # noqa: BLE001 - report every path
                failures += 1
                results.append(f"{'roundtrip' if roundtrip else 'plain'} FAIL {type(error).__name__}: {error}")
        status = "PASS" if all(" ok " in r for r in results) else "FAIL"
        print(
            f"{status} {path.name:45} -> {path.end_event:28} steps={len(path.steps):3} notify={len(outbox):3} | "
            + " | ".join(results)
        )
    print(f"{len(selected)} paths x 2 runs (plain, serialize/restore after every step): {failures} failed runs")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
