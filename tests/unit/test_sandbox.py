"""Tests for the RestrictedPython sandbox that runs diagram scripts and expressions."""

from __future__ import annotations

import builtins
import re
from typing import Any

import pytest
from RestrictedPython.compile import compile_restricted_exec

from engine import sandbox
from engine.errors import ScriptRejectedError
from engine.sandbox import (
    SANDBOX_NAMES,
    check_source,
    compile_expression,
    compile_script,
    evaluate,
    execute,
    is_reserved_name,
    sandbox_globals,
)

ESCAPES = [
    pytest.param("import os\nx = os.getpid()", "import is not allowed", id="import"),
    pytest.param("from os import path", "import is not allowed", id="from-import"),
    pytest.param("x = __import__('os')", "'__import__' is not allowed", id="dunder-import"),
    pytest.param("x = open('/etc/passwd').read()", "'open' is not allowed", id="open"),
    pytest.param("x = ().__class__.__base__.__subclasses__()", 'starts with "_"', id="subclasses"),
    pytest.param("x = getattr(data, '__class__')", "'getattr' is not allowed", id="getattr"),
    pytest.param("x = '{0.__class__}'.format(1)", "'.format' is not allowed", id="format"),
    pytest.param("x = '{0.__class__}'.format_map({})", "'.format_map' is not allowed", id="format-map"),
    pytest.param("x = eval('1')", "'eval' is not allowed", id="eval"),
    pytest.param("exec('x = 1')", "'exec' is not allowed", id="exec"),
    pytest.param("x = type(1)", "'type' is not allowed", id="type"),
    pytest.param("x = vars()", "'vars' is not allowed", id="vars"),
    pytest.param("x = globals()", "'globals' is not allowed", id="globals"),
    pytest.param("x = object", "'object' is not allowed", id="object-reference"),
    pytest.param("class A:\n    pass", "class definitions are not allowed", id="class"),
    pytest.param("x = _secret", 'starts with "_"', id="underscore-name"),
]


@pytest.fixture
def sentinel_open(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every real open() call, so a test can prove no file was read."""
    opened: list[str] = []
    real_open = builtins.open

    def recording_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", recording_open)
    return opened


@pytest.mark.parametrize(("script", "reason"), ESCAPES)
def test_check_source_refuses_escape(script: str, reason: str) -> None:
    problem = check_source(script, "exec")
    assert problem is not None
    assert reason in problem
    assert problem.startswith("line ")


@pytest.mark.parametrize(("script", "reason"), ESCAPES)
def test_execute_refuses_escape_without_reading_files(script: str, reason: str, sentinel_open: list[str]) -> None:
    data: dict[str, Any] = {"data": 1}
    with pytest.raises(ScriptRejectedError, match=re.escape(reason)):
        execute(script, data)
    assert sentinel_open == []
    assert data == {"data": 1}


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os')",
        "open('/etc/passwd').read()",
        "().__class__.__base__.__subclasses__()",
        "getattr(x, '__class__')",
        "'{0.__class__}'.format(1)",
    ],
)
def test_expression_escapes_are_refused(expression: str, sentinel_open: list[str]) -> None:
    assert check_source(expression, "eval") is not None
    with pytest.raises(ScriptRejectedError):
        evaluate(expression, {"x": 1})
    assert sentinel_open == []


def _run_restricted_only(script: str) -> None:
    """Run code that passed RestrictedPython alone, as if our own policy check had been skipped."""
    result = compile_restricted_exec(script, filename="<test>")
    assert result.errors == ()
    assert result.code is not None
    exec(result.code, sandbox_globals())  # noqa: S102 - the point is to prove the globals hold


@pytest.mark.parametrize(
    ("script", "error"),
    [
        pytest.param("import os", ImportError, id="import"),
        pytest.param("x = open('/etc/passwd')", NameError, id="open"),
        pytest.param("x = getattr(1, 'real')", NameError, id="getattr"),
        pytest.param("x = '{0.__class__}'.format(1)", NotImplementedError, id="format"),
        pytest.param("x = type(1)", NameError, id="type"),
        pytest.param("x = compile('1', 'f', 'eval')", NameError, id="compile"),
    ],
)
def test_globals_alone_stop_escapes_at_run_time(script: str, error: type[Exception], sentinel_open: list[str]) -> None:
    with pytest.raises(error):
        _run_restricted_only(script)
    assert sentinel_open == []


def test_globals_have_no_dangerous_builtins() -> None:
    names = set(sandbox_globals()["__builtins__"])
    dangerous = {
        "__import__", "open", "eval", "exec", "compile", "getattr", "setattr", "delattr", "globals",
        "locals", "vars", "input", "breakpoint", "help", "memoryview", "type", "object", "id", "hash",
    }  # fmt: skip
    assert names & dangerous == set()
    assert "_print_" not in sandbox_globals()


def test_globals_are_fresh_each_time() -> None:
    first = sandbox_globals()
    first["__builtins__"]["len"] = None
    assert sandbox_globals()["__builtins__"]["len"] is len


def test_forbidden_names_are_not_sandbox_names() -> None:
    assert not sandbox._FORBIDDEN_NAMES & SANDBOX_NAMES


def test_sandbox_names_cover_documented_builtins() -> None:
    documented = {
        "len", "sum", "min", "max", "any", "all", "sorted", "list", "dict", "set", "tuple", "str",
        "int", "float", "bool", "range", "zip", "enumerate", "round", "abs", "isinstance",
        "reversed", "True", "False", "None",
    }  # fmt: skip
    assert documented <= SANDBOX_NAMES


def test_normal_script_computes_values() -> None:
    data: dict[str, Any] = {
        "maatregelen": [
            {"omschrijving": "camera", "kosten": 1200},
            {"omschrijving": "slot"},
            {"omschrijving": "alarm", "kosten": 800.5},
        ],
        "teller": 1,
        "label": "n",
        "lijst": [1],
    }
    script = (
        "kosten = [m.get('kosten', 0) for m in maatregelen]\n"
        "totaal = sum(kosten)\n"
        "aantal = len(maatregelen)\n"
        "teller += 2\n"
        "teller -= 1\n"
        "teller *= 5\n"
        "label += '-x'\n"
        "lijst += [2]\n"
        "niveau = 'hoog' if totaal > 1000 else 'laag'\n"
        "samenvatting = {'aantal': aantal, 'namen': [m['omschrijving'] for m in maatregelen]}\n"
        "for index, m in enumerate(maatregelen):\n"
        "    eerste = index\n"
        "    break\n"
    )
    execute(script, data)
    assert data["kosten"] == [1200, 0, 800.5]
    assert data["totaal"] == 2000.5
    assert data["aantal"] == 3
    assert data["teller"] == 10
    assert data["label"] == "n-x"
    assert data["lijst"] == [1, 2]
    assert data["niveau"] == "hoog"
    assert data["samenvatting"] == {"aantal": 3, "namen": ["camera", "slot", "alarm"]}
    assert data["eerste"] == 0


def test_script_results_drop_callables_and_builtin_names() -> None:
    data: dict[str, Any] = {}
    execute("double = lambda x: x * 2\ny = double(4)\nlen = 3", data)
    assert data == {"y": 8}


def test_script_deletes_are_written_back() -> None:
    data: dict[str, Any] = {"weg": 1, "blijft": 2}
    execute("del weg", data)
    assert data == {"blijft": 2}


def test_failing_script_leaves_data_unchanged() -> None:
    data: dict[str, Any] = {"lijst": [1], "x": 1}
    with pytest.raises(ZeroDivisionError):
        execute("lijst.append(2)\nx = 2\ny = 1 / 0", data)
    assert data == {"lijst": [1], "x": 1}


def test_unsupported_inplace_operator_raises() -> None:
    with pytest.raises(TypeError, match="not allowed"):
        execute("x = 2\nx **= 3", {})


def test_inplace_on_dict_raises() -> None:
    with pytest.raises(TypeError, match="only allowed"):
        execute("x = {}\nx += {}", {})


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("bedrag > 100", True),
        ("'spoed' if urgent else 'normaal'", "spoed"),
        ("rol in ('CCV', 'BVA')", True),
        ("x['k'] + 1", 2),
        ("len([i for i in items if i.get('ok')])", 1),
        ("sorted(items, key=lambda i: i['n'])[0]['n']", 1),
        ("max(1, 2) + min([3, 4]) + abs(-1) + round(1.6)", 8),
        ("any([False, True]) and not all([False])", True),
        ("f'{bedrag} euro'", "150 euro"),
        ("\n  bedrag == 150\n", True),
    ],
)
def test_evaluate_expressions(expression: str, expected: Any) -> None:
    data = {
        "bedrag": 150,
        "urgent": True,
        "rol": "CCV",
        "x": {"k": 1},
        "items": [{"n": 2, "ok": True}, {"n": 1}],
    }
    assert evaluate(expression, data) == expected


def test_evaluate_does_not_change_data() -> None:
    data = {"lijst": [1]}
    evaluate("lijst.append(2)", data)
    assert data == {"lijst": [1]}


def test_undefined_name_raises_name_error() -> None:
    with pytest.raises(NameError):
        evaluate("onbekend > 1", {})


@pytest.mark.parametrize("key", ["len", "_getattr_", "__builtins__"])
def test_data_shadowing_sandbox_names_is_refused(key: str) -> None:
    with pytest.raises(ScriptRejectedError, match="shadows"):
        evaluate("1", {key: 1})


def test_is_reserved_name() -> None:
    assert is_reserved_name("sum")
    assert is_reserved_name("_x")
    assert not is_reserved_name("maatregelen")


def test_script_variables_leave_out_reserved_keys_and_copy_only_when_there_are_some() -> None:
    plain = {"maatregelen": [], "bedrag": 1}
    assert sandbox.script_variables(plain) is plain
    mixed = {"maatregelen": [], "len": 1, "_getattr_": 2, "__builtins__": 3}
    assert sandbox.script_variables(mixed) == {"maatregelen": []}
    assert len(mixed) == 4  # the case data itself is left alone


def test_syntax_error_reports_its_line() -> None:
    assert check_source("a = 1\nb = (", "exec") == "line 2: '(' was never closed"


def test_restricted_error_reports_its_line() -> None:
    problem = check_source("a = 1\n\nb = a._x", "exec")
    assert problem is not None
    assert problem.startswith("line 3: ")


def test_print_is_refused_without_warnings() -> None:
    assert check_source("print(1)", "exec") == "line 1: 'print' is not allowed"


def test_statement_in_expression_is_refused() -> None:
    assert check_source("x = 1", "eval") is not None


def test_valid_sources_pass() -> None:
    assert check_source("totaal = sum(x['n'] for x in rijen)", "exec") is None
    assert check_source("a > 1 and b in ('x', 'y')", "eval") is None


def test_compiled_code_is_cached() -> None:
    assert compile_script("a = 1") is compile_script("a = 1")
    assert compile_expression("a + 1") is compile_expression("a + 1")


def test_compile_raises_script_rejected() -> None:
    with pytest.raises(ScriptRejectedError, match="import"):
        compile_script("import os")
    with pytest.raises(ScriptRejectedError, match="line 1"):
        compile_expression("a._b")


def test_compiled_expression_runs_with_sandbox_globals() -> None:
    # The SpiffWorkflow adapter combines the two itself.
    scope = sandbox_globals()
    scope["n"] = 4
    assert eval(compile_expression("n * 2"), scope) == 8  # noqa: S307


@pytest.mark.parametrize("script", ["return 1", "break", "x = (yield)"])
def test_code_that_parses_but_does_not_compile_is_refused_with_its_line(script: str) -> None:
    with pytest.raises(sandbox.ScriptRejectedError, match="line 1"):
        sandbox.compile_script(script)
