"""RestrictedPython sandbox for every script and expression in a diagram."""

from __future__ import annotations

import ast
import builtins
import copy
import functools
import operator
import re
import types
from collections.abc import Callable, Mapping
from typing import Any, Literal

from RestrictedPython.compile import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safe_builtins,
    safer_getattr,
)

from engine.errors import ScriptRejectedError

Mode = Literal["eval", "exec"]

# safe_builtins minus what check_source refuses anyway (setattr, delattr), what needs a class machinery we
# do not offer (__build_class__), and what breaks deterministic replay: id() leaks addresses and hash() of
# a str changes per process (PYTHONHASHSEED).
_EXCLUDED_SAFE_BUILTINS = frozenset({"setattr", "delattr", "__build_class__", "_getattr_", "id", "hash"})

# The harmless parts of limited_builtins/utility_builtins and the usual data helpers. RestrictedPython's
# limited_list/limited_range are not used: list("abc") failing or range() capped at 1000 only surprises
# authors, while a while-loop can burn CPU just as well.
_EXTRA_BUILTIN_NAMES = (
    "len", "sum", "min", "max", "any", "all", "sorted", "list", "dict", "set", "frozenset", "tuple",
    "str", "int", "float", "bool", "range", "zip", "enumerate", "round", "abs", "isinstance", "reversed",
)  # fmt: skip


def _build_safe_builtins() -> dict[str, Any]:
    chosen = {name: value for name, value in safe_builtins.items() if name not in _EXCLUDED_SAFE_BUILTINS}
    chosen.update({name: getattr(builtins, name) for name in _EXTRA_BUILTIN_NAMES})
    return chosen


_SAFE_BUILTINS: Mapping[str, Any] = types.MappingProxyType(_build_safe_builtins())

SANDBOX_NAMES: frozenset[str] = frozenset(_SAFE_BUILTINS)

# Refused by name at validation time; none of them is in the sandbox, so at run time they raise NameError.
_FORBIDDEN_NAMES = frozenset({
    "open", "eval", "exec", "compile", "getattr", "setattr", "delattr", "globals", "locals", "vars",
    "__import__", "input", "breakpoint", "help", "memoryview", "type", "object", "print", "dir", "super",
    "exit", "quit",
})  # fmt: skip

# str.format can reach attributes through the format string ('{0.__class__}'), which no AST check sees.
_FORBIDDEN_ATTRIBUTES = frozenset({"format", "format_map"})

_INPLACE_OPERATORS: Mapping[str, Callable[[Any, Any], Any]] = types.MappingProxyType(
    {
        "+=": operator.iadd,
        "-=": operator.isub,
        "*=": operator.imul,
        "/=": operator.itruediv,
        "//=": operator.ifloordiv,
        "%=": operator.imod,
    }
)
_INPLACE_TYPES = (int, float, str, list, tuple)

_RESTRICTED_LINE = re.compile(r"^Line (\d+): (.*)$", re.DOTALL)


def _inplace_var(op: str, target: Any, value: Any) -> Any:
    """Guard for augmented assignment; RestrictedPython refuses ``x += y`` unless this is provided."""
    apply = _INPLACE_OPERATORS.get(op)
    if apply is None:
        raise TypeError(f"operator {op} is not allowed in scripts")
    if not isinstance(target, _INPLACE_TYPES):
        raise TypeError(f"operator {op} is only allowed on numbers, strings, lists and tuples")
    return apply(target, value)


def _apply(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Guard RestrictedPython routes ``f(*a, **kw)`` calls through; the callee is already sandboxed."""
    return function(*args, **kwargs)


def sandbox_globals() -> dict[str, Any]:
    """A fresh globals dict for one run: safe builtins and the guards compile_restricted code calls."""
    return {
        # A copy, so a script can never change the builtins another script sees.
        "__builtins__": dict(_SAFE_BUILTINS),
        "_getattr_": safer_getattr,
        "_getitem_": default_guarded_getitem,
        "_getiter_": default_guarded_getiter,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_write_": full_write_guard,
        "_inplacevar_": _inplace_var,
        "_apply_": _apply,
    }


def is_reserved_name(name: str) -> bool:
    """True if case data must not use this key: it would shadow a builtin or a guard inside scripts."""
    return name in SANDBOX_NAMES or name.startswith("_")


def _syntax_reason(error: SyntaxError) -> str:
    return f"line {error.lineno}: {error.msg}"


def _restricted_reason(errors: tuple[str, ...]) -> str:
    """The earliest of RestrictedPython's messages; its SyntaxError has no lineno, only 'Line N: ...' text."""
    parsed: list[tuple[int, str]] = []
    for text in errors:
        match = _RESTRICTED_LINE.match(text)
        if match is None:
            parsed.append((0, text))
        else:
            parsed.append((int(match.group(1)), match.group(2).rstrip(".")))
    line, message = min(parsed, key=lambda item: item[0])
    return f"line {line}: {message}" if line else message


def _policy_reason(tree: ast.AST) -> str | None:
    """Our own refusals on top of RestrictedPython's: imports, dangerous builtins, str.format."""
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import | ast.ImportFrom):
            return f"line {line}: import is not allowed"
        if isinstance(node, ast.Name) and node.id in _FORBIDDEN_NAMES:
            return f"line {line}: '{node.id}' is not allowed"
        if isinstance(node, ast.Attribute) and node.attr in _FORBIDDEN_ATTRIBUTES:
            return f"line {line}: '.{node.attr}' is not allowed; use an f-string"
        if isinstance(node, ast.ClassDef):
            return f"line {line}: class definitions are not allowed"
    return None


def _prepare(source: str, mode: Mode) -> str:
    # Expression text from BPMN elements often carries surrounding newlines; they mean nothing, but
    # compile() in eval mode treats leading whitespace as an indentation error.
    return source.strip() if mode == "eval" else source


@functools.lru_cache(maxsize=2048)
def _compile(source: str, mode: Mode) -> types.CodeType:
    text = _prepare(source, mode)
    try:
        tree = ast.parse(text, filename=f"<{mode}>", mode=mode)
    except SyntaxError as error:
        raise ScriptRejectedError(_syntax_reason(error)) from None
    reason = _policy_reason(tree)
    if reason is not None:
        raise ScriptRejectedError(reason)
    # The *_exec/_eval variants return errors instead of raising and do not emit SyntaxWarnings, which a
    # warnings-as-errors test run would turn into failures.
    compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    result = compiler(text, filename=f"<{mode}>")
    if result.errors:
        raise ScriptRejectedError(_restricted_reason(tuple(result.errors)))
    code = result.code
    if not isinstance(code, types.CodeType):
        raise ScriptRejectedError("the source did not compile")
    return code


def compile_expression(source: str) -> types.CodeType:
    """Compile a condition or other expression for ``eval`` under the sandbox; raises ScriptRejectedError."""
    return _compile(source, "eval")


def compile_script(source: str) -> types.CodeType:
    """Compile a script task body for ``exec`` under the sandbox; raises ScriptRejectedError."""
    return _compile(source, "exec")


def check_source(source: str, mode: Mode) -> str | None:
    """The reason this source would be refused (for bundle validation), or None if it is acceptable."""
    try:
        _compile(source, mode)
    except ScriptRejectedError as error:
        return str(error)
    return None


def _checked_globals(data: Mapping[str, Any]) -> dict[str, Any]:
    reserved = sorted(key for key in data if is_reserved_name(key))
    if reserved:
        raise ScriptRejectedError(f"case data key '{reserved[0]}' shadows a sandbox name")
    scope = sandbox_globals()
    # A deep copy, so a script that fails halfway leaves the caller's data untouched.
    scope.update(copy.deepcopy(dict(data)))
    return scope


def evaluate(expression: str, data: Mapping[str, Any]) -> Any:
    """Evaluate an expression with the case data as variables; run-time errors propagate unchanged."""
    code = compile_expression(expression)
    return eval(code, _checked_globals(data))  # noqa: S307 - restricted code with sandbox globals


def _is_data_value(name: str, value: Any) -> bool:
    """Whether a top-level name left by a script belongs in case data (as TaskDataEnvironment decides)."""
    if is_reserved_name(name):
        return False
    return not isinstance(value, types.ModuleType) and not callable(value)


def execute(script: str, data: dict[str, Any]) -> None:
    """Run a script with the case data as its globals, then write new, changed and deleted names back."""
    code = compile_script(script)
    scope = _checked_globals(data)
    exec(code, scope)  # noqa: S102 - restricted code with sandbox globals
    results = {name: value for name, value in scope.items() if _is_data_value(name, value)}
    for name in [name for name in data if name not in results]:
        del data[name]
    data.update(results)
