"""The only module that imports SpiffWorkflow: it parses bundles and runs, saves and inspects workflows.

Everything it hands out is one of our own types, so the rest of the engine never sees a Spiff object.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
import types
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from uuid import UUID, uuid4

import SpiffWorkflow.bpmn.specs.event_definitions.timer as spiff_timer_module
import SpiffWorkflow.task as spiff_task_module
from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.specs.event_definitions.message import (
    MessageEventDefinition as BaseMessageEventDefinition,
)
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.spiff.parser import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.serializer import DEFAULT_CONFIG as SPIFF_CONFIG
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.deep_merge import DeepMerge
from SpiffWorkflow.util.task import TaskIterator, TaskState

from engine import isotime, sandbox
from engine.clock import Clock, system_clock
from engine.errors import BundleInvalidError, InvalidTransitionError, Problem, ProcessError

# --------------------------------------------------------------------------------------------------
# The clock. SpiffWorkflow's timer module calls datetime.now() itself; we give it a datetime whose
# now() asks the clock of the command being run (a context variable, so threads do not share it).

_CLOCK: ContextVar[Clock] = ContextVar("engine_clock", default=system_clock)


class _ClockedDatetime(datetime):
    @classmethod
    def now(cls, tz: tzinfo | None = None) -> _ClockedDatetime:
        moment = _CLOCK.get()()
        moment = moment.astimezone(tz) if tz is not None else moment.astimezone().replace(tzinfo=None)
        return cls(
            moment.year,
            moment.month,
            moment.day,
            moment.hour,
            moment.minute,
            moment.second,
            moment.microsecond,
            moment.tzinfo,
        )


spiff_timer_module.datetime = _ClockedDatetime


def _calendar_timedelta(parsed_duration: dict[str, float], start: datetime | None = None) -> timedelta:
    """A duration counted the way engine.isotime (and EU Regulation 1182/71) counts it: P3M from
    30 November ends on 28 February, where SpiffWorkflow's own arithmetic overshoots into March."""
    start = start or _ClockedDatetime.now(UTC)
    fields = {name: value if name == "seconds" else int(value) for name, value in parsed_duration.items()}
    return isotime.add_duration(start, isotime.Duration(**fields)) - start  # type: ignore[arg-type]


TimerEventDefinition.get_timedelta_from_start = staticmethod(_calendar_timedelta)


# --------------------------------------------------------------------------------------------------
# Task data. SpiffWorkflow passes data from task to task with DeepMerge, which copies only the outer list or
# dict of a value: the dicts inside a list (the measures of a case, say) stay shared between the tasks, and the
# next merge into one of them changes them in the finished tasks too. A restored workflow does not share them
# (each task's data comes from JSON), so a case that ran on in memory and the same case restored from its
# snapshot went different ways from the next merge on, and a replay from that snapshot did not reach the
# recorded state. Every value a merge puts in place is a copy of its own instead: in memory as after a restore.


def _own_copy(value: Any) -> Any:
    """``value`` (JSON-like task data) copied down to its leaves, sharing no dict, list or set with it."""
    if isinstance(value, dict):
        return {key: _own_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_own_copy(item) for item in value]
    if isinstance(value, set):
        return set(value)
    return value


def _merge_data(a: dict[Any, Any], b: Mapping[Any, Any], path: list[str] | None = None) -> dict[Any, Any]:
    """DeepMerge.merge (b into a, keeping what only a has) with copies of b's values."""
    for key in b:
        if key in a:
            if a[key] == b[key]:
                continue
            if isinstance(a[key], dict) and isinstance(b[key], dict):
                _merge_data(a[key], b[key])
                continue
            if isinstance(a[key], list) and isinstance(b[key], list):
                _merge_list(a[key], b[key])
                continue
        a[key] = _own_copy(b[key])
    return a


def _merge_list(a: list[Any], b: list[Any], path: list[str] | None = None) -> None:
    """DeepMerge.merge_array with copies: dicts merged by position, other items added once, then cut to b's length."""
    seen_hashable: set[Any] = set()
    seen_unhashable: list[Any] = []
    for item in a:
        try:
            seen_hashable.add(item)
        except TypeError:
            seen_unhashable.append(item)
    for index, value in enumerate(b):
        if isinstance(value, dict):
            if len(a) > index:
                a[index] = _merge_data(a[index], value) if isinstance(a[index], dict) else _own_copy(value)
            else:
                a.append(_own_copy(value))
            continue
        try:
            if value in seen_hashable:
                continue
            seen_hashable.add(value)
        except TypeError:
            if value in seen_unhashable:
                continue
            seen_unhashable.append(value)
        a.append(_own_copy(value))
    del a[len(b) :]


DeepMerge.merge = staticmethod(_merge_data)
DeepMerge.merge_array = staticmethod(_merge_list)


@contextlib.contextmanager
def _running_at(clock: Clock) -> Iterator[None]:
    token = _CLOCK.set(clock)
    try:
        yield
    finally:
        _CLOCK.reset(token)


# --------------------------------------------------------------------------------------------------
# Determinism. A task gets a random uuid4 and stamps each state change with time.time(); both end up in
# the stored state, and the guid is what a form submits and what the inbox index holds. Inside a command
# (a "step") both come from the step instead: guids from the step's seed (the case and the head of its
# history) and a counter, timestamps from the command's frozen time and a counter. The same inputs on
# the same state therefore build exactly the same workflow, guids and all, which is what lets a case be
# restored from an older snapshot by re-running the events recorded since (engine/replay.py).

_ID_NAMESPACE = UUID("6b1d3c52-7d0e-4a8e-9f43-2f4d1c7a9e10")
_TICK = 1e-6  # seconds between two timestamps of one step


class _TaskId(UUID):
    """A task guid that remembers its hash: SpiffWorkflow looks tasks up by guid for every parent and
    child it visits (tens of thousands of times a command), and UUID.__hash__ is Python code."""

    __slots__ = ("_hash",)
    _hash: int

    def __init__(self, value: UUID) -> None:
        super().__init__(int=value.int)
        object.__setattr__(self, "_hash", hash(value.int))

    @classmethod
    def from_name(cls, name: str) -> _TaskId:
        """``uuid5(_ID_NAMESPACE, name)`` built as a _TaskId straight away, not as a UUID first and then
        copied (a command makes hundreds)."""
        task_id = cls.__new__(cls)
        digest = hashlib.sha1(_ID_NAMESPACE.bytes + name.encode("utf-8")).digest()  # noqa: S324 - RFC 4122 name-based
        UUID.__init__(task_id, bytes=digest[:16], version=5)
        object.__setattr__(task_id, "_hash", hash(task_id.int))
        return task_id

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple[Any, ...]:
        return (_TaskId, (UUID(int=self.int),))


class _Step:
    """The source of task guids and state-change timestamps while one command runs."""

    def __init__(self, seed: str, start: float) -> None:
        self.seed = seed
        self.start = start
        self.ids = 0
        self.ticks = 0

    def next_id(self) -> UUID:
        self.ids += 1
        return _TaskId.from_name(f"{self.seed}#{self.ids}")

    def next_time(self) -> float:
        self.ticks += 1
        return self.start + self.ticks * _TICK


_STEP: ContextVar[_Step | None] = ContextVar("engine_step", default=None)


def _task_id() -> UUID:
    step = _STEP.get()
    return uuid4() if step is None else step.next_id()


def _task_time() -> float:
    step = _STEP.get()
    return time.time() if step is None else step.next_time()


# SpiffWorkflow.task gets a time module of its own whose time() asks the step.
_step_time_module = types.ModuleType("engine_step_time")
_step_time_module.__dict__.update({k: v for k, v in vars(time).items() if not k.startswith("__")})
_step_time_module.time = _task_time  # type: ignore[attr-defined]
spiff_task_module.uuid4 = _task_id
spiff_task_module.time = _step_time_module


@contextlib.contextmanager
def _stepping(clock: Clock, seed: str, after: float = 0.0) -> Iterator[None]:
    """Run one command at the clock's time, with guids from ``seed`` and timestamps later than ``after``
    (the newest in the workflow, so the order of state changes survives a clock that stands still)."""
    step = _Step(seed, max(clock().timestamp(), after))
    token = _STEP.set(step)
    try:
        with _running_at(clock):
            yield
    finally:
        _STEP.reset(token)


# --------------------------------------------------------------------------------------------------
# SpiffWorkflow stops walking the task tree at depth 1000. Every loop round (a BVA <-> CCV revision,
# a re-advice) makes the tree deeper, so a long case would look finished with work still open.
# The walk is iterative, so lifting the limit costs nothing but time proportional to the tree.

_DEPTH_LIMIT = 10**9
TaskIterator.__init__.__defaults__ = (None, _DEPTH_LIMIT, True, None)
BpmnTaskIterator.__init__.__defaults__ = (None, _DEPTH_LIMIT, True, False, None)


# --------------------------------------------------------------------------------------------------
# Scripts and service tasks.


class _SandboxEnvironment(TaskDataEnvironment):  # type: ignore[misc]
    """Every expression and script of a diagram runs under RestrictedPython's compile_restricted."""

    def __init__(self) -> None:
        super().__init__(sandbox.sandbox_globals())

    def evaluate(self, expression: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> Any:
        scope = sandbox.sandbox_globals()
        scope.update(external_context or {})
        # A data key may never replace a guard or a builtin the restricted code relies on.
        scope.update(sandbox.script_variables(context))
        code = sandbox.compile_expression(expression)
        with sandbox.time_limit():
            return eval(code, scope)  # noqa: S307 - restricted bytecode

    def execute(self, script: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> bool:
        code = sandbox.compile_script(script)
        self.check_for_overwrite(context, external_context or {})
        before = dict(context)
        context.update(sandbox.sandbox_globals())
        context.update(external_context or {})
        try:
            with sandbox.time_limit():
                exec(code, context)  # noqa: S102 - restricted bytecode
        finally:
            self._remove_globals_and_functions_from_context(context, external_context)
        _require_json_values({k: v for k, v in context.items() if before.get(k) is not v})
        return True


@dataclass(frozen=True)
class Notification:
    """A ``notify`` service task ran: tell ``role`` there is something to do (template ``template``)."""

    role: str
    template: str
    element: str
    task_guid: str


KNOWN_OPERATORS = frozenset({"notify"})


class _ScriptEngine(PythonScriptEngine):  # type: ignore[misc]
    """Collects notifications instead of sending them: the caller writes them to the outbox."""

    def __init__(self) -> None:
        super().__init__(environment=_SandboxEnvironment())
        self.notifications: list[Notification] = []

    def call_service(self, task: Any, operation_name: str, operation_params: dict[str, Any]) -> str:
        # Overridden on the engine, not the environment: the library's own error path is broken
        # in 3.2.0 (NameError on 'script'), and here we also get the task for the record.
        if operation_name != "notify":
            raise WorkflowTaskException(f"unknown service operator {operation_name!r}", task=task)
        params = {name: spec["value"] for name, spec in operation_params.items()}
        note = Notification(
            role=str(params.get("role", "")),
            template=str(params.get("template", "")),
            element=task.task_spec.bpmn_id or task.task_spec.name,
            task_guid=str(task.id),
        )
        self.notifications.append(note)
        return json.dumps({"role": note.role, "template": note.template})


# --------------------------------------------------------------------------------------------------
# Serialization without the spec: the spec belongs to the pinned process version, not to the case.


class _PinnedSpecConverter(BpmnWorkflowConverter):  # type: ignore[misc]
    def to_dict(self, workflow: Any) -> dict[str, Any]:
        dct: dict[str, Any] = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any], process: CompiledProcess | None = None) -> Any:
        if process is None:
            raise ValueError("restoring a case needs its process version")
        workflow = self.target_class(process.spec, process.subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _make_serializer() -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = _PinnedSpecConverter
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


_SERIALIZER = _make_serializer()
_ENCODER_MODE = threading.Lock()
SERIALIZER_VERSION: str = _SERIALIZER.VERSION


# --------------------------------------------------------------------------------------------------
# Parsing bundles.


@dataclass(frozen=True)
class CompiledProcess:
    """The parsed spec of one executable process with everything it calls; shared by all its cases."""

    process_id: str
    spec: Any
    subprocess_specs: dict[str, Any]


def _parser_for(files: Mapping[str, str]) -> SpiffBpmnParser:
    parser = SpiffBpmnParser(validator=VALIDATOR)
    for name in sorted(files):
        content = files[name].encode("utf-8")
        if name.endswith(".bpmn"):
            parser.add_bpmn_str(content, filename=name)
        elif name.endswith(".dmn"):
            parser.add_dmn_str(content, filename=name)
    return parser


def _problem_from(error: Exception, fallback_file: str = "") -> Problem:
    if isinstance(error, ValidationException):
        element = str(getattr(error, "id", "") or "")
        file_name = str(getattr(error, "file_name", "") or fallback_file)
        line = getattr(error, "line_number", "")
        where = f" (line {line})" if line not in ("", None) else ""
        return Problem(file_name.rsplit("/", 1)[-1], element, f"{_first_line(error)}{where}")
    return Problem(fallback_file, "", _first_line(error))


def _first_line(error: Exception) -> str:
    text = str(error).strip() or error.__class__.__name__
    return text.splitlines()[0].rstrip(". ")


def spiff_problems(files: Mapping[str, str]) -> list[Problem]:
    """What SpiffWorkflow itself says about a bundle: XML/XSD errors, then each process's spec errors."""
    problems: list[Problem] = []
    parser = SpiffBpmnParser(validator=VALIDATOR)
    for name in sorted(files):
        content = files[name].encode("utf-8")
        try:
            if name.endswith(".bpmn"):
                parser.add_bpmn_str(content, filename=name)
            elif name.endswith(".dmn"):
                parser.add_dmn_str(content, filename=name)
        except (SpiffWorkflowException, ValueError, SyntaxError) as error:
            problems.append(_problem_from(error, name))
    if problems:
        return problems
    for process_id in parser.get_process_ids():
        try:
            parser.get_spec(process_id)
            parser.get_subprocess_specs(process_id)
        except (SpiffWorkflowException, ValueError, KeyError) as error:
            problems.append(_problem_from(error))
    return problems


def compile_process(files: Mapping[str, str], process_id: str) -> CompiledProcess:
    """Parse a bundle and return the spec of ``process_id``; a broken bundle raises BundleInvalidError."""
    problems = spiff_problems(files)
    if problems:
        raise BundleInvalidError(problems)
    parser = _parser_for(files)
    if process_id not in parser.get_process_ids():
        raise BundleInvalidError([Problem("", process_id, "no executable process with this id")])
    spec, subprocess_specs = parser.get_spec(process_id), parser.get_subprocess_specs(process_id)
    for container in (spec, *subprocess_specs.values()):
        _connect_loop_merges(container)
    return CompiledProcess(process_id, spec, subprocess_specs)


def _connect_loop_merges(container: Any) -> None:
    """Let every multi-instance (and loop) task hear its instances complete, from the start.

    SpiffWorkflow connects that signal on the shared task spec only when the task creates an instance. A
    process that restores a case whose instances were created elsewhere (another web process, a worker, an
    earlier run) never did, so the instances completed unmerged and the multi-instance never finished; and a
    replay from a snapshot taken after the instances were created went another way than the live run.
    """
    for task_spec in container.task_specs.values():
        if isinstance(task_spec, LoopTask):
            instance_spec = container.task_specs[task_spec.task_spec]
            if not instance_spec.completed_event.is_connected(task_spec.merge_child):
                instance_spec.completed_event.connect(task_spec.merge_child)


@dataclass(frozen=True)
class StepTexts:
    """What a diagram says about one user task: the instructions for the person doing it, and why it exists."""

    name: str
    instructions: str | None
    documentation: str | None


def step_texts(process: CompiledProcess, process_id: str, bpmn_id: str) -> StepTexts | None:
    """The texts of user task ``bpmn_id`` of ``process_id`` (the main process or one it calls)."""
    spec = process.spec if process_id == process.process_id else process.subprocess_specs.get(process_id)
    task_spec = spec.task_specs.get(bpmn_id) if spec is not None else None
    if task_spec is None:
        return None
    extensions = getattr(task_spec, "extensions", {}) or {}
    return StepTexts(
        name=task_spec.bpmn_name or bpmn_id,
        instructions=extensions.get("instructionsForEndUser"),
        documentation=task_spec.documentation,
    )


def user_tasks_in_lane(process: CompiledProcess, lane: str) -> list[tuple[str, str]]:
    """(bpmn id, name) of every user task in ``lane``, in the process and everything it calls."""
    found: dict[str, str] = {}
    for spec in (process.spec, *process.subprocess_specs.values()):
        for task_spec in spec.task_specs.values():
            if getattr(task_spec, "manual", False) and task_spec.lane == lane and task_spec.bpmn_id:
                found.setdefault(task_spec.bpmn_id, task_spec.bpmn_name or task_spec.bpmn_id)
    return list(found.items())


# --------------------------------------------------------------------------------------------------
# Running workflows.


@dataclass(frozen=True)
class UserTaskView:
    """A READY user task as the engine and its callers see it."""

    guid: str
    bpmn_id: str
    name: str
    lane: str
    form: str | None
    instructions: str | None
    documentation: str | None
    due_at: datetime | None
    subject: str | None = None  # what this instance is about, e.g. the measure of one parallel branch


@dataclass(frozen=True)
class FiredTimer:
    element: str
    due_at: str


class Workflow:
    """A running case in memory. Not thread-safe: one command at a time, inside the case's lock."""

    def __init__(self, wf: Any, script_engine: _ScriptEngine, snapshot_seq: int | None = None) -> None:
        self._wf = wf
        self._engine = script_engine
        # The event of the last snapshot stored of this workflow: the one it was restored from, or the
        # one a command wrote since (None: not stored yet, or stored before snapshots named their event).
        self.snapshot_seq = snapshot_seq
        self._finished = self._finished_ids()
        self._completed_since: list[str] = []
        self._ready: list[UserTaskView] | None = None
        # The READY user tasks the inbox index (human_task) holds for this workflow, with their due dates.
        self._indexed = self._index_entries()

    # -- life cycle -------------------------------------------------------------------------------

    @classmethod
    def start(cls, process: CompiledProcess, data: Mapping[str, Any], clock: Clock, *, seed: str) -> Workflow:
        """A new case run to its first wait; ``seed`` names the step (see _Step) and fixes its guids."""
        script_engine = _ScriptEngine()
        with _stepping(clock, seed):
            wf = BpmnWorkflow(process.spec, process.subprocess_specs, script_engine=script_engine)
            wf.task_tree.data.update(json.loads(json.dumps(data)))
            workflow = cls(wf, script_engine)
            workflow._advance(clock)
        workflow._indexed = {}  # a new case has nothing in the index yet
        return workflow

    @classmethod
    def restore(cls, process: CompiledProcess, state: str, serializer_version: str) -> Workflow:
        if serializer_version != SERIALIZER_VERSION:
            raise ProcessError(
                f"case state has serializer version {serializer_version}; this engine reads "
                f"{SERIALIZER_VERSION} only — migrate the case before loading it"
            )
        dct = json.loads(state)
        seq = dct.pop(_SEQ_KEY, None)
        wf = _SERIALIZER.registry.restore(dct, process=process)
        script_engine = _ScriptEngine()
        wf.script_engine = script_engine
        return cls(wf, script_engine, seq if isinstance(seq, int) else None)

    def to_state(self, seq: int | None = None) -> str:
        """The state as JSON, as of event ``seq`` if given; a restored state serializes to an equal document.

        Keys are not sorted: tasks must stay in creation order, because restoring a task reads its
        data from its parent, which therefore has to come first.
        """
        # Encoder mode is what serialize_json uses: task data is left to the JSON encoder instead of
        # being copied value by value first (a third of the cost of a command otherwise).
        registry = _SERIALIZER.registry
        with _ENCODER_MODE:  # the flag lives on the shared registry
            registry._encoder_mode = True
            try:
                dct = _SERIALIZER.to_dict(self._wf)
            finally:
                registry._encoder_mode = False
        for workflow in (dct, *dct["subprocesses"].values()):
            _sort_deletions(workflow["tasks"])
        if seq is not None:
            dct[_SEQ_KEY] = seq
        try:
            return json.dumps(dct, cls=_SERIALIZER._encoder_cls, separators=(",", ":"), ensure_ascii=False)
        except (TypeError, ValueError) as error:
            # A script left something JSON cannot hold (a set, say); the command fails, nothing is stored.
            raise ProcessError(f"case data cannot be stored: {_first_line(error)}") from error

    # -- commands ---------------------------------------------------------------------------------

    # Each takes the clock of the command and the seed of its step (see _Step): the same seed, time and
    # input on the same state give the same workflow, guids included.

    def complete(self, guid: str, data: Mapping[str, Any], clock: Clock, *, seed: str) -> UserTaskView:
        task = self._ready_user_task(guid)
        view = _view(task)
        with self._step(clock, seed):
            task.task_spec.add_data_from_form(task, json.loads(json.dumps(data)))
            with _as_process_error():
                task.run()
            self._advance(clock)
        return view

    def deliver_message(self, name: str, payload: Mapping[str, Any], clock: Clock, *, seed: str) -> None:
        if name not in self.awaited_messages():
            raise InvalidTransitionError(f"the case is not waiting for message {name!r}")
        event = BpmnEvent(MessageEventDefinition(name), json.loads(json.dumps(payload)))
        with self._step(clock, seed):
            with _as_process_error():
                try:
                    self._wf.send_event(event)
                except WorkflowException as error:
                    raise InvalidTransitionError(f"the case is not waiting for message {name!r}") from error
            self._advance(clock)

    def fire_due_timers(self, clock: Clock, *, seed: str) -> list[FiredTimer]:
        """Fire every timer due at the clock's time (and any that fall due as a result)."""
        fired: list[FiredTimer] = []
        with self._step(clock, seed):
            for _round in range(100):
                due = self._due_timers(clock())
                if not due:
                    break
                fired.extend(due)
                with _as_process_error():
                    self._wf.refresh_timers()
                self._advance(clock)
        return fired

    def forget_data(self) -> None:
        """Erase the case data (retention, engine/retention.py): every task's data, and the messages
        finished tasks caught; what is left is the shape of what happened (elements and their states)."""
        for task in self._all_tasks():
            task.data = {}
            if task.has_state(TaskState.FINISHED_MASK):
                task.internal_data = {}
        for workflow in (self._wf, *self._wf.subprocesses.values()):
            workflow.data = {}

    # -- repairs (engine/repair.py): new events, replayed like every other -----------------------

    def correct_data(self, values: Mapping[str, Any]) -> None:
        """Fields of a completed task take new values wherever the case data lives now: every task
        holding a token, the last finished task and, once the case has finished, the workflow itself."""
        fresh = json.dumps(values)
        holders = [t for t in self._all_tasks() if t.has_state(_TOKEN_STATES)]
        if self._wf.last_task is not None:
            holders.append(self._wf.last_task)
        for task in holders:
            task.data.update(json.loads(fresh))
        if self._wf.is_completed():
            self._wf.data.update(json.loads(fresh))

    def become(self, state: str) -> None:
        """Take on the workflow stored in ``state`` (of this same process): a repair that moved the case
        back to an earlier moment records that moment's state, and every replay of the repair comes here."""
        process = CompiledProcess(self._wf.spec.name, self._wf.spec, self._wf.subprocess_specs)
        other = Workflow.restore(process, state, SERIALIZER_VERSION)
        self._wf, self._engine = other._wf, other._engine
        self._finished = other._finished
        self._completed_since = []
        self._ready = None

    def unfinished_task_guids(self) -> set[str]:
        """Guids of every task not finished yet, predicted ones included: each may still become READY
        under this guid."""
        return {str(t.id) for t in self._all_tasks() if not t.has_state(TaskState.FINISHED_MASK)}

    def index_holds(self, entries: Mapping[str, datetime | None]) -> None:
        """The inbox index holds these READY tasks (guid -> due date): the next ``index_changes`` is
        counted from them (a workflow that took on another state, ``become``, is indexed as the old one)."""
        self._indexed = dict(entries)

    def _step(self, clock: Clock, seed: str) -> contextlib.AbstractContextManager[None]:
        latest = max((t.last_state_change for t in self._all_tasks()), default=0.0)
        return _stepping(clock, seed, latest)

    def recorded(self) -> None:
        """What the steps so far did is on record already (they were replayed from the history):
        nothing to index, notify or report."""
        self._engine.notifications = []
        self._completed_since = []
        self._indexed = self._index_entries()

    def _advance(self, clock: Clock) -> None:
        with _running_at(clock), _as_process_error():
            self._wf.do_engine_steps()
            # do_engine_steps ends by refreshing timers; one that fell due then is READY and needs
            # another pass (a zero-length timer, or a clock that jumped past several deadlines).
            for _round in range(100):
                if not any(t.state == TaskState.READY and not t.task_spec.manual for t in self._all_tasks()):
                    break
                self._wf.do_engine_steps()
        self._ready = None
        self._refuse_unhandled_events()
        self._note_completed()
        compact(self._wf)
        self._finished = self._finished_ids()

    def _all_tasks(self) -> Iterator[Any]:
        """Every task of the workflow and its subprocesses, in no particular order (fast: no tree walk)."""
        yield from self._wf.tasks.values()
        for sub in self._wf.subprocesses.values():
            yield from sub.tasks.values()

    def _finished_ids(self) -> set[UUID]:
        return {t.id for t in self._all_tasks() if t.has_state(TaskState.FINISHED_MASK)}

    def _note_completed(self) -> None:
        fresh = [t for t in self._all_tasks() if t.state == TaskState.COMPLETED and t.id not in self._finished]
        fresh.sort(key=lambda t: t.last_state_change)
        self._completed_since.extend(t.task_spec.bpmn_id for t in fresh if t.task_spec.bpmn_id is not None)

    def _refuse_unhandled_events(self) -> None:
        for event in self._wf.get_events():
            definition = event.event_definition
            if not isinstance(definition, BaseMessageEventDefinition):
                raise ProcessError(f"unhandled {type(definition).__name__} {definition.name!r}")

    # -- inspection -------------------------------------------------------------------------------

    def ready_user_tasks(self) -> list[UserTaskView]:
        """The READY user tasks in tree order; remembered until the workflow moves again."""
        if self._ready is None:
            # What get_tasks(state=READY, manual=True) returns, without walking the whole tree: the few
            # READY user tasks, put in the order that walk would find them.
            ready = [t for t in self._all_tasks() if t.state == TaskState.READY and t.task_spec.manual]
            ready.sort(key=_tree_position)
            self._ready = [_view(task) for task in ready]
        return list(self._ready)

    def task_data(self, guid: str) -> dict[str, Any]:
        """The case data as a READY user task sees it (what its form may be prefilled from), as a copy: a page
        that changed a list in it would otherwise change the workflow kept in memory for the next command."""
        return _own_copy(self._ready_user_task(guid).data)  # type: ignore[no-any-return]

    def ready_task(self, guid: str) -> UserTaskView | None:
        return next((view for view in self.ready_user_tasks() if view.guid == guid), None)

    def index_changes(self) -> tuple[set[str], list[UserTaskView], list[UserTaskView]]:
        """What the inbox index must change since the last call: guids no longer READY, tasks newly READY,
        and tasks still READY whose due date moved (a reminder fired, the next deadline on its border
        now counts)."""
        ready = self.ready_user_tasks()
        closed = set(self._indexed) - {view.guid for view in ready}
        opened = [view for view in ready if view.guid not in self._indexed]
        redated = [view for view in ready if view.guid in self._indexed and self._indexed[view.guid] != view.due_at]
        self._indexed = self._index_entries()
        return closed, opened, redated

    def _index_entries(self) -> dict[str, datetime | None]:
        return {view.guid: view.due_at for view in self.ready_user_tasks()}

    def drain_notifications(self) -> list[Notification]:
        notes, self._engine.notifications = self._engine.notifications, []
        return notes

    def drain_completed(self) -> list[str]:
        """BPMN ids of the elements completed since the last call, in the order they completed."""
        done, self._completed_since = self._completed_since, []
        return done

    @property
    def completed(self) -> bool:
        return bool(self._wf.is_completed())

    @property
    def data(self) -> dict[str, Any]:
        """The case data as the most recently finished task left it (a copy, as ``task_data``)."""
        return _own_copy(self._latest_data())  # type: ignore[no-any-return]

    def value(self, name: str, default: Any = None) -> Any:
        """One value of ``data`` (a copy), without copying the rest: a command reads one after every step."""
        return _own_copy(self._latest_data().get(name, default))

    def _latest_data(self) -> dict[str, Any]:
        if self._wf.is_completed():
            return self._wf.data  # type: ignore[no-any-return]
        last = self._wf.last_task
        return last.data if last is not None else self._wf.task_tree.data  # type: ignore[no-any-return]

    def end_event(self) -> str | None:
        """The BPMN id of the top-level end event the case finished at, if it finished."""
        if not self._wf.is_completed():
            return None
        ends = [
            t.task_spec.bpmn_id
            for t in self._wf.get_tasks(state=TaskState.COMPLETED, skip_subprocesses=True)
            if type(t.task_spec).__name__ == "EndEvent" and t.task_spec.bpmn_id
        ]
        return ends[-1] if ends else None

    def awaited_messages(self) -> set[str]:
        names: set[str] = set()
        for task in self._waiting_event_tasks():
            for definition in _definitions(task.task_spec.event_definition):
                if isinstance(definition, BaseMessageEventDefinition):
                    names.add(definition.name)
        return names

    def next_timer_at(self) -> datetime | None:
        moments = [moment for _task, moment in self._timer_deadlines()]
        return min(moments) if moments else None

    def live_elements(self) -> dict[str, dict[str, list[str]]]:
        """Per process id, the BPMN ids holding a token: ``active`` (ready or running) and ``waiting``
        (timers and messages); what a diagram of the case marks besides its history."""
        marks: dict[str, dict[str, list[str]]] = {}
        for task in self._all_tasks():
            bpmn_id = task.task_spec.bpmn_id
            if bpmn_id is None or not task.has_state(_TOKEN_STATES):
                continue
            kind = "waiting" if task.state == TaskState.WAITING else "active"
            marks.setdefault(task.workflow.spec.name, {"active": [], "waiting": []})[kind].append(bpmn_id)
        return marks

    def state_hash(self) -> str:
        """A canonical hash of the state: spec names and states of all tasks, data of the live ones.

        Task guids are left out (they were random before commands took them from their step, and the
        events recorded since keep this definition); the tasks are hashed in a fixed order. Only tasks
        holding a token (ready, waiting, started) contribute their data: finished data cannot change
        and predicted tasks have none of their own.
        """
        parts = []
        for task in self._all_tasks():
            state = _STATE_NAMES.get(task.state) or TaskState.get_name(task.state)
            part = f"{task.workflow.spec.name}|{task.task_spec.name}|{state}"
            if task.state & _TOKEN_STATES:
                part += "|" + _canonical_text(task.data)
            parts.append(part)
        parts.sort()
        digest = hashlib.sha256("\n".join(parts).encode())
        digest.update(_canonical_text(self._wf.data).encode())
        return digest.hexdigest()

    # -- helpers ----------------------------------------------------------------------------------

    def _ready_user_task(self, guid: str) -> Any:
        try:
            task = self._wf.get_task_from_id(UUID(guid))
        except (ValueError, SpiffWorkflowException):
            task = None
        if task is None or not task.task_spec.manual:
            raise InvalidTransitionError("no such user task in this case")
        if task.state != TaskState.READY:
            raise InvalidTransitionError(f"task {task.task_spec.bpmn_id} is {TaskState.get_name(task.state)}")
        return task

    def _waiting_event_tasks(self) -> list[Any]:
        return [t for t in self._wf.event_manager.tasks.values() if t.state == TaskState.WAITING]

    def _timer_deadlines(self) -> list[tuple[Any, datetime]]:
        result: list[tuple[Any, datetime]] = []
        for task in self._waiting_event_tasks():
            definitions = _definitions(task.task_spec.event_definition)
            if not any(isinstance(d, TimerEventDefinition) for d in definitions):
                continue
            moment = _deadline_of(task)
            if moment is not None:
                result.append((task, moment))
        return result

    def _due_timers(self, now: datetime) -> list[FiredTimer]:
        return [
            FiredTimer(task.task_spec.bpmn_id or task.task_spec.name, moment.isoformat())
            for task, moment in self._timer_deadlines()
            if moment < now
        ]


# --------------------------------------------------------------------------------------------------
# Compaction. SpiffWorkflow keeps every finished task and every finished subprocess forever, and walks
# all of them on every step, so each loop round (a revision, a re-advice, a 4-year re-evaluation)
# makes every later command slower. Our event table is the history; the workflow only needs what can
# still happen. Once the unfinished part of a (sub)workflow hangs deeper than COMPACT_DEPTH below its
# root, the finished tasks above and beside it are dropped and it is re-attached to the root.
# (Kept small: fewer tasks make every step, save and hash cheaper; the path tests also run at 1.)

COMPACT_DEPTH = 3


def compact(workflow: Any) -> None:
    """Drop finished history that no unfinished task descends from, in the workflow and its subprocesses."""
    _drop_finished_subprocesses(workflow)
    for sub in [workflow, *list(workflow.subprocesses.values())]:
        if sub.task_tree is not None and (sub is workflow or sub.parent_task_id in workflow.subprocesses):
            _compact_one(sub)


def _drop_finished_subprocesses(workflow: Any) -> None:
    # A finished call activity has already merged its subprocess's data into its own task.
    for sub in list(workflow.subprocesses.values()):
        if sub.parent_task_id not in workflow.subprocesses:
            continue  # dropped with its parent in this same pass
        caller = sub.parent_workflow.tasks.get(sub.parent_task_id)
        if caller is not None and caller.has_state(TaskState.FINISHED_MASK):
            workflow.delete_subprocess(caller)


def _compact_one(sub: Any) -> None:
    unfinished = [t for t in sub.tasks.values() if not t.has_state(TaskState.FINISHED_MASK)]
    if not unfinished:
        return
    chain = _chain_to(unfinished[0])
    deepest = len(chain) - 1
    index = {task.id: i for i, task in enumerate(chain)}
    for task in unfinished[1:]:
        parent = task.parent
        if parent is not None and not parent.has_state(TaskState.FINISHED_MASK):
            continue  # it hangs from the chain no higher than its unfinished parent, which is walked itself
        node = task
        while node.id not in index:
            node = node.parent
        deepest = min(deepest, index[node.id])
    if deepest < COMPACT_DEPTH:
        return
    root, anchor = chain[0], chain[deepest]
    keep = {root.id, *(t.id for t in _subtree(anchor))}
    doomed = [t for t in sub.tasks.values() if t.id not in keep]
    top = sub.top_workflow
    for task in doomed:
        if task.id in top.subprocesses:
            top.delete_subprocess(task)
    for task in doomed:
        del sub.tasks[task.id]
        top.event_manager.remove_task(task)
    root._children = [anchor.id]
    anchor._parent = root.id
    if sub.last_task is not None and sub.last_task.id not in keep:
        sub.last_task = anchor


def _tree_position(task: Any) -> list[int]:
    """Where a depth-first walk of the workflow (get_tasks) meets ``task``: the child indexes from the
    root down to it, a subprocess's tasks coming after its calling task and before that task's children."""
    path: list[int] = []
    node = task
    while True:
        parent = node.parent
        while parent is not None:
            path.append(parent._children.index(node.id))
            node, parent = parent, parent.parent
        caller = node.workflow.parent_task_id
        if caller is None:
            break
        path.append(-1)
        node = node.workflow.parent_workflow.tasks[caller]
    path.reverse()
    return path


def _chain_to(task: Any) -> list[Any]:
    chain = [task]
    while chain[-1].parent is not None:
        chain.append(chain[-1].parent)
    chain.reverse()
    return chain


def _subtree(task: Any) -> list[Any]:
    found, stack = [], [task]
    while stack:
        node = stack.pop()
        found.append(node)
        stack.extend(node.children)
    return found


_SEQ_KEY = "engine_event_seq"  # in a stored state: the event it is the state after
# TaskState.get_name builds its table on every call; the hash asks it for every task of every command.
_STATE_NAMES = {
    value: TaskState.get_name(value)
    for value in (
        TaskState.MAYBE,
        TaskState.LIKELY,
        TaskState.FUTURE,
        TaskState.WAITING,
        TaskState.READY,
        TaskState.STARTED,
        TaskState.COMPLETED,
        TaskState.ERROR,
        TaskState.CANCELLED,
    )
}
_TOKEN_STATES = TaskState.READY | TaskState.WAITING | TaskState.STARTED


def _sort_deletions(tasks: dict[str, Any]) -> None:
    # The serializer lists deleted data keys in dict order, which differs after a restore; sorted,
    # the same state always serializes to the same JSON.
    for task in tasks.values():
        delta = task.get("delta")
        if delta and delta.get("deletions"):
            delta["deletions"].sort()


_JSON_SCALARS = (str, int, float, bool, type(None))


def _require_json_values(assigned: Mapping[str, Any]) -> None:
    """Case data must survive storage unchanged: a set or tuple a script leaves would come back a list,
    and the case would then behave (and hash) differently once restored. Only what the script assigned
    is walked; everything else already passed this check or a form's schema."""
    problem = _non_json(dict(assigned))
    if problem:
        raise ValueError(f"case data cannot be stored: {problem} (only JSON values are allowed)")


def _non_json(value: Any, path: str = "") -> str:
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"a non-text key in {path or 'the data'}"
            found = _non_json(item, f"{path}/{key}" if path else key)
            if found:
                return found
        return ""
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _non_json(item, f"{path}/{index}")
            if found:
                return found
        return ""
    if isinstance(value, _JSON_SCALARS):
        return ""
    return f"a {type(value).__name__} in '{path}'"


def _definitions(definition: Any) -> list[Any]:
    if isinstance(definition, MultipleEventDefinition):
        return list(definition.event_definitions)
    return [definition]


def _deadline_of(task: Any) -> datetime | None:
    value = task._get_internal_data("event_value")
    if isinstance(value, dict):  # a cycle timer keeps its next firing under 'next'
        value = value.get("next")
    if isinstance(value, list):  # an event-based gateway keeps one value per timer
        value = min((v for v in value if isinstance(v, str)), default=None)
    if not isinstance(value, str):
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _view(task: Any) -> UserTaskView:
    spec = task.task_spec
    extensions = getattr(spec, "extensions", {}) or {}
    properties = extensions.get("properties", {}) or {}
    return UserTaskView(
        guid=str(task.id),
        bpmn_id=spec.bpmn_id or spec.name,
        name=spec.bpmn_name or spec.bpmn_id or spec.name,
        lane=spec.lane or "",
        form=properties.get("formJsonSchemaFilename"),
        instructions=extensions.get("instructionsForEndUser"),
        documentation=spec.documentation,
        due_at=_due_at(task),
        subject=_subject(properties.get(SUBJECT_PROPERTY), task.data),
    )


SUBJECT_PROPERTY = "onderwerp"
SUBJECT_MAX = 200


def _subject(path: str | None, data: Mapping[str, Any]) -> str | None:
    """The value at a dotted data path (``maatregel.omschrijving``): looked up, never evaluated."""
    value: Any = data
    for part in (path or "").split(".") if path else ():
        value = value.get(part) if isinstance(value, Mapping) else None
    if path is None or value is None or isinstance(value, Mapping | list):
        return None
    return str(value)[:SUBJECT_MAX]


def _due_at(task: Any) -> datetime | None:
    """The earliest deadline of a timer attached to the task's border (its boundary events)."""
    if task.parent is None or type(task.parent.task_spec).__name__ != "BoundaryEventSplit":
        return None
    moments = [
        moment
        for sibling in task.parent.children
        if sibling is not task
        and sibling.state == TaskState.WAITING
        and any(isinstance(d, TimerEventDefinition) for d in _definitions(sibling.task_spec.event_definition))
        and (moment := _deadline_of(sibling)) is not None
    ]
    return min(moments) if moments else None


# What json.dumps(value, sort_keys=True, separators=(",", ":")) writes, without building an encoder per call.
_CANONICAL_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


def _canonical_text(value: Any) -> str:
    # Strict: the state hash is taken after every command while the whole state is serialized only
    # every few, so this is where data JSON cannot hold (a set a decision table returned) is refused.
    try:
        return _CANONICAL_ENCODER.encode(value)
    except (TypeError, ValueError) as error:
        raise ProcessError(f"case data cannot be stored: {_first_line(error)}") from error


@contextlib.contextmanager
def _as_process_error() -> Iterator[None]:
    try:
        yield
    except WorkflowTaskException as error:
        element = ""
        if error.task is not None:
            element = error.task.task_spec.bpmn_id or error.task.task_spec.name
        # SpiffWorkflow words an expression's failure as "Error evaluating expression …" only: a sandbox
        # limit says itself what happened, for the process owner.
        cause = getattr(error, "exception", None)
        message = str(cause) if isinstance(cause, sandbox.ScriptLimitError) else _first_line(error)
        raise ProcessError(message, element) from error
    except (SpiffWorkflowException, ValueError) as error:
        raise ProcessError(_first_line(error)) from error
