"""Resource limits of the script sandbox: endless loops are stopped by a CPU-time limit, values too large to
build are refused before they are built, and a diagram step that hits a limit fails as a whole, naming its
element, with the case left as it was."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from engine import bundles, runtime, sandbox
from engine.clock import system_clock
from engine.errors import ProcessError, ScriptRejectedError
from engine.validation import validate_bundle
from tests.support import ROOT, CaseDriver

MINI = ROOT / "tests" / "fixtures" / "mini"
SCRIPT = "totaal = sum([m.get('bedrag', 0) for m in posten])"
LOOP = "n = 0\nwhile n >= 0:\n    n += 1\ntotaal = n"


@pytest.fixture(autouse=True)
def short_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """A tenth of the real limit, so the loops here cost little time; the mechanism is the same."""
    monkeypatch.setattr(sandbox, "TIME_LIMIT_SECONDS", 0.1)


RUN_TIME = {
    "endless-loop": (LOOP, "takes too long"),
    "endless-comprehension": ("x = [i for i in range(10**6) for j in range(10**6)]", "takes too long"),
    "exponential-recursion": ("def f(n):\n    return f(n - 1) + f(n - 1) if n else 1\nx = f(60)", "takes too long"),
    "huge-text": ("x = 'x' * 10**9", "too large"),
    "huge-list": ("x = [0] * 10**9", "too large"),
    "huge-repeat-in-place": ("x = 'x'\nx *= 10**9", "too large"),
    "huge-power": ("x = 10**10**10", "too large"),
    "huge-pow-builtin": ("x = pow(10, 10**10)", "too large"),
    "huge-shift": ("x = 1 << 10**10", "too large"),
    "huge-range": ("x = list(range(10**12))", "too large"),
    "huge-percent-width": ("x = '%01000000000d' % 1", "width"),
    "computed-percent-width": ("x = '%*d' % (10**9, 1)", "width"),
}

AT_VALIDATION = {
    "import": ("import os", "import is not allowed"),
    "open": ("x = open('/etc/passwd').read()", "'open' is not allowed"),
    "dunder": ("x = ().__class__.__base__.__subclasses__()", 'starts with "_"'),
    "while-true": ("while True:\n    pass", "endless loop"),
    "while-true-one-line": ("while 1: pass", "endless loop"),
    "catching-the-limit": ("try:\n    x = 1\nexcept Exception:\n    x = 2", "try/except is not allowed"),
    "ljust": ("x = 'a'.ljust(10**9)", "'.ljust' is not allowed"),
    "zfill": ("x = 'a'.zfill(10**9)", "'.zfill' is not allowed"),
    "fstring-width": ("x = f'{1:>1000000000}'", "format width"),
    "fstring-computed-width": ("n = 10**9\nx = f'{1:>{n}}'", "format width"),
}


@pytest.mark.parametrize(("script", "reason"), RUN_TIME.values(), ids=RUN_TIME.keys())
def test_run_time_limits_stop_the_script(script: str, reason: str) -> None:
    assert sandbox.check_source(script, "exec") is None  # nothing wrong to see: only running shows it
    data: dict[str, Any] = {"a": 1}
    tracer = sys.gettrace()
    with pytest.raises(sandbox.ScriptLimitError, match=reason):
        sandbox.execute(script, data)
    assert data == {"a": 1}
    assert sys.gettrace() is tracer  # whatever traced before (coverage, a debugger) traces again


@pytest.mark.parametrize(("script", "reason"), AT_VALIDATION.values(), ids=AT_VALIDATION.keys())
def test_validation_refuses(script: str, reason: str) -> None:
    problem = sandbox.check_source(script, "exec")
    assert problem is not None and reason in problem
    with pytest.raises(ScriptRejectedError, match=reason):
        sandbox.execute(script, {})


def test_an_expression_is_limited_too() -> None:
    with pytest.raises(sandbox.ScriptLimitError, match="too large"):
        sandbox.evaluate("'x' * n", {"n": 10**9})
    with pytest.raises(sandbox.ScriptLimitError, match="takes too long"):
        sandbox.evaluate("len([i for i in range(10**6) for j in range(10**6)])", {})


def test_a_loop_with_a_break_is_allowed() -> None:
    data: dict[str, Any] = {}
    sandbox.execute("n = 0\nwhile True:\n    n += 1\n    if n == 5:\n        break", data)
    assert data == {"n": 5}


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("x = 2 ** 10 * 3 % 1000", 72),
        ("x = 'ab' * 3", "ababab"),
        ("x = [0] * 3", [0, 0, 0]),
        ("x = 3 * [1]", [1, 1, 1]),
        ("x = '%05.1f' % 2.25", "002.2"),
        ("x = '%(a)s-%(b)d' % {'a': 'x', 'b': 2}", "x-2"),
        ("x = f'{2.5:>8.2f}'", "    2.50"),
        ("x = 1 << 10", 1024),
        ("x = pow(2, 10, 1000)", 24),
        ("x = 7 % 3", 1),
        ("x = len(range(1000))", 1000),
        ("x = 1.5 * 2", 3.0),
        ("x = 'a'\nx *= 2", "aa"),
    ],
)
def test_ordinary_arithmetic_still_works(script: str, expected: Any) -> None:
    data: dict[str, Any] = {}
    sandbox.execute(script, data)
    assert data["x"] == expected


def test_the_real_limit_is_one_second() -> None:
    # Read from the module source, not the monkeypatched value.
    assert "TIME_LIMIT_SECONDS = 1.0" in Path(sandbox.__file__).read_text()


def _mini_with(tmp_path: Path, script: str) -> Path:
    shutil.copytree(MINI, tmp_path / "mini")
    target = tmp_path / "mini" / "processes" / "mini.bpmn"
    text = target.read_text()
    assert SCRIPT in text
    target.write_text(text.replace(SCRIPT, script.replace(">", "&gt;").replace("<", "&lt;")))
    return tmp_path / "mini" / "processes"


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        (LOOP, "takes too long"),
        ("totaal = len('x' * 10**9)", "too large"),
        ("totaal = 10**10**10", "too large"),
    ],
    ids=["endless-loop", "huge-text", "huge-power"],
)
def test_a_script_task_that_hits_a_limit_fails_naming_its_element(tmp_path: Path, script: str, reason: str) -> None:
    path = _mini_with(tmp_path, script)
    assert [p for p in validate_bundle(bundles.read_bundle([path])) if p.element == "bereken"] == []
    process = runtime.compile_process(bundles.read_bundle([path]).diagram_files, "mini")
    workflow = runtime.Workflow.start(process, {}, system_clock, seed="test")
    guid = workflow.ready_user_tasks()[0].guid
    with pytest.raises(ProcessError, match=reason) as raised:
        workflow.complete(guid, {"naam": "x", "posten": []}, system_clock, seed="test:1")
    assert raised.value.element == "bereken"


@pytest.mark.parametrize(
    "script",
    ["while True: pass", "import os\ntotaal = 1", "totaal = ().__class__.__base__.__subclasses__()"],
    ids=["while-true", "import", "dunder"],
)
def test_regeling_validate_names_the_element(tmp_path: Path, script: str) -> None:
    found = validate_bundle(bundles.read_bundle([_mini_with(tmp_path, script)]))
    assert [(p.file, p.element) for p in found] == [("mini.bpmn", "bereken")]


def test_a_command_that_hits_the_limit_leaves_the_case_unchanged(tmp_path: Path, sqlite_engine: Engine) -> None:
    driver = CaseDriver(sqlite_engine)
    driver.deploy(_mini_with(tmp_path, LOOP))
    reference = driver.start(process_key="mini")
    before = driver.case(reference)
    with pytest.raises(ProcessError, match="takes too long") as raised:
        driver.complete(reference, "aanvragen", "Bestuurder", {"naam": "x", "posten": []})
    assert raised.value.element == "bereken"
    after = driver.case(reference)
    assert (after.lock_version, after.event_count, after.state) == (
        before.lock_version,
        before.event_count,
        before.state,
    )
    assert [t.bpmn_id for t in driver.open_tasks(reference)] == ["aanvragen"]
    assert driver.outbox(reference) == []
