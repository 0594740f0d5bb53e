"""RestrictedPython sandbox for every script and expression in a diagram."""

from __future__ import annotations

import ast
import builtins
import copy
import functools
import operator
import re
import sys
import time
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
from RestrictedPython.transformer import RestrictingNodeTransformer

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


# --------------------------------------------------------------------------------------------------
# Resource limits. A script may not run for ever nor build a value that eats the server's memory: loops
# written in Python are stopped by the time limit (``time_limit``); what one C-level operation could do at
# once (``10**10**10``, ``"x" * 10**9``, ``list(range(10**12))``) is refused before it starts.

TIME_LIMIT_SECONDS = 1.0  # CPU time of one script or expression (the thread's own, so load elsewhere does not count)
MAX_ITEMS = 1_000_000  # the longest text, list or range a script may build in one operation
MAX_INT_BITS = 100_000  # the largest whole number a script may build in one operation (about 30 000 digits)
_CHECK_EVERY = 1024  # opcodes between two looks at the clock
# A width or precision of 100 000 or more, or one given as an argument, in a format spec or a %-format.
_LIMIT_DIGITS = re.compile(r"\d{6,}|\*")
_PERCENT_LIMIT = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(?:\*|\d{6,}|\d*\.(?:\*|\d{6,}))")


class ScriptLimitError(ScriptRejectedError):
    """A script or expression hit a resource limit at run time (too long, or a value too large)."""


def _too_large(what: str) -> ScriptLimitError:
    return ScriptLimitError(f"{what} would be too large (limit {MAX_ITEMS} items or {MAX_INT_BITS} bits)")


def _check_int(value: int) -> None:
    if value.bit_length() > MAX_INT_BITS:
        raise _too_large("the number")


def _check_repeat(sequence: Any, times: Any) -> None:
    if isinstance(times, int) and isinstance(sequence, str | bytes | list | tuple):
        if len(sequence) * max(times, 0) > MAX_ITEMS:
            raise _too_large("the repeated text or list")


def _pow(base: Any, exponent: Any, modulo: Any = None) -> Any:
    if modulo is None and isinstance(base, int) and isinstance(exponent, int) and exponent > 0:
        if max(base.bit_length() - 1, 0) * exponent > MAX_INT_BITS:
            raise _too_large("the number")
    return pow(base, exponent) if modulo is None else pow(base, exponent, modulo)


def _check_mul(left: Any, right: Any) -> None:
    _check_repeat(left, right)
    _check_repeat(right, left)
    if isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
        raise _too_large("the number")


def _mul(left: Any, right: Any) -> Any:
    _check_mul(left, right)
    return left * right


def _lshift(left: Any, right: Any) -> Any:
    if isinstance(left, int) and isinstance(right, int) and left and left.bit_length() + right > MAX_INT_BITS:
        raise _too_large("the number")
    return left << right


def _mod(left: Any, right: Any) -> Any:
    if isinstance(left, str) and _PERCENT_LIMIT.search(left):
        raise ScriptLimitError("a %-format with a width of 100 000 or more, or a computed width, is not allowed")
    return left % right


_GUARDED_OPERATORS: Mapping[str, Callable[[Any, Any], Any]] = types.MappingProxyType(
    {"**": _pow, "*": _mul, "<<": _lshift, "%": _mod}
)
_OPERATOR_SYMBOLS = {ast.Pow: "**", ast.Mult: "*", ast.LShift: "<<", ast.Mod: "%"}


def _binop(symbol: str, left: Any, right: Any) -> Any:
    """Guard the binary operators compile_restricted code calls for ``**``, ``*``, ``<<`` and ``%``."""
    return _GUARDED_OPERATORS[symbol](left, right)


def _range(*args: int) -> range:
    """``range`` that refuses more than MAX_ITEMS numbers: ``list(range(10**12))`` runs in C, out of reach of
    the time limit."""
    numbers = range(*args)
    try:
        length = len(numbers)
    except OverflowError:
        raise _too_large("the range") from None
    if length > MAX_ITEMS:
        raise _too_large("the range")
    return numbers


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy, with ``**``, ``*``, ``<<`` and ``%`` routed through size guards."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:  # noqa: N802 - the name ast.NodeTransformer calls
        node = self.node_contents_visit(node)
        symbol = _OPERATOR_SYMBOLS.get(type(node.op))
        if symbol is None:
            return node
        call = ast.Call(
            func=ast.Name(id="_binop_", ctx=ast.Load()),
            args=[ast.Constant(symbol), node.left, node.right],
            keywords=[],
        )
        return ast.fix_missing_locations(ast.copy_location(call, node))


_SANDBOX_FILES = frozenset({"<exec>", "<eval>"})


class _Budget:
    """A sys.settrace tracer that stops restricted code once it used its CPU time. Opcode events, not line
    events: ``while True: pass`` on one line never raises a line event again."""

    __slots__ = ("deadline", "expired", "ticks")

    def __init__(self, seconds: float) -> None:
        self.deadline = time.thread_time() + seconds
        self.ticks = 0
        self.expired = False

    def on_call(self, frame: types.FrameType, _event: str, _arg: Any) -> Callable[..., Any] | None:
        if frame.f_code.co_filename not in _SANDBOX_FILES:
            return None
        frame.f_trace_opcodes = True
        return self.on_step

    def on_step(self, _frame: types.FrameType, _event: str, _arg: Any) -> Callable[..., Any]:
        self.ticks += 1
        if self.ticks % _CHECK_EVERY == 0:
            self.check()
        return self.on_step

    def check(self) -> None:
        if self.expired or time.thread_time() > self.deadline:
            self.expired = True
            raise timeout_error()


def timeout_error() -> ScriptLimitError:
    return ScriptLimitError(
        f"stopped after {TIME_LIMIT_SECONDS:g} s: the script or expression takes too long (an endless loop?)"
    )


class time_limit:  # noqa: N801 - used as a function: ``with time_limit():``
    """Run restricted code with at most TIME_LIMIT_SECONDS of CPU time; raises ScriptLimitError after it.

    Once the tracer raised, Python switches tracing off; a script cannot catch that error (try/except is
    refused by the policy), and should it have run on anyway the error is raised here all the same. A class,
    not a generator: it wraps every expression of every command, so its own cost counts."""

    __slots__ = ("budget", "previous")

    def __enter__(self) -> None:
        self.budget = _Budget(TIME_LIMIT_SECONDS)
        self.previous = sys.gettrace()
        sys.settrace(self.budget.on_call)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: Any) -> None:
        sys.settrace(self.previous)
        if kind is None and self.budget.expired:
            raise timeout_error()


def _build_safe_builtins() -> dict[str, Any]:
    chosen = {name: value for name, value in safe_builtins.items() if name not in _EXCLUDED_SAFE_BUILTINS}
    chosen.update({name: getattr(builtins, name) for name in _EXTRA_BUILTIN_NAMES})
    chosen.update({"range": _range, "pow": _pow})
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
# Text methods that pad to a width given as a number: ``"x".ljust(10**9)`` allocates a gigabyte in C.
_WIDTH_ATTRIBUTES = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs"})

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
    if op == "*=":
        _check_mul(target, value)
    if op == "%=":
        return _mod(target, value)
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
        "_binop_": _binop,
    }


def is_reserved_name(name: str) -> bool:
    """True if case data must not use this key: it would shadow a builtin or a guard inside scripts."""
    return name in SANDBOX_NAMES or name.startswith("_")


def script_variables(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """``data`` without the keys is_reserved_name refuses. It runs for every expression a command evaluates
    and case data seldom holds such a key, so then ``data`` itself comes back, without a copy."""
    if SANDBOX_NAMES.isdisjoint(data) and not any(key.startswith("_") for key in data):
        return data
    return {key: value for key, value in data.items() if not is_reserved_name(key)}


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
        reason = _limit_reason(node)
        if reason is not None:
            return f"line {line}: {reason}"
    return None


def _limit_reason(node: ast.AST) -> str | None:
    """What would escape the resource limits: catching their error, padding to huge widths, endless loops."""
    if isinstance(node, ast.Try | ast.TryStar):
        return "try/except is not allowed; a step that fails must fail"
    if isinstance(node, ast.Attribute) and node.attr in _WIDTH_ATTRIBUTES:
        return f"'.{node.attr}' is not allowed"
    if isinstance(node, ast.FormattedValue) and isinstance(node.format_spec, ast.JoinedStr):
        for part in node.format_spec.values:
            if isinstance(part, ast.FormattedValue) or (
                isinstance(part, ast.Constant) and _LIMIT_DIGITS.search(str(part.value))
            ):
                return "a format width of 100 000 or more, or a computed width, is not allowed"
    if isinstance(node, ast.While) and _always_true(node.test) and not _leaves_loop(node.body):
        return "endless loop: 'while True' without break or return"
    return None


def _always_true(test: ast.expr) -> bool:
    return isinstance(test, ast.Constant) and bool(test.value)


def _leaves_loop(body: list[ast.stmt]) -> bool:
    """Whether a statement of this loop body (not of a loop or function inside it) breaks or returns."""
    pending: list[ast.AST] = list(body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Break | ast.Return):
            return True
        if isinstance(node, ast.While | ast.For | ast.FunctionDef | ast.Lambda | ast.AsyncFunctionDef):
            # A break in a nested loop leaves that loop only; but its else-branch belongs to ours.
            pending.extend(getattr(node, "orelse", []) if isinstance(node, ast.While | ast.For) else [])
            continue
        pending.extend(ast.iter_child_nodes(node))
    return False


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
    try:
        result = compiler(text, filename=f"<{mode}>", policy=_Policy)
    except SyntaxError as error:
        # Parses but does not compile: `return`, `break` or `yield` outside a function or loop.
        raise ScriptRejectedError(_syntax_reason(error)) from None
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
    scope = _checked_globals(data)
    with time_limit():
        return eval(code, scope)  # noqa: S307 - restricted code with sandbox globals


def _is_data_value(name: str, value: Any) -> bool:
    """Whether a top-level name left by a script belongs in case data (as TaskDataEnvironment decides)."""
    if is_reserved_name(name):
        return False
    return not isinstance(value, types.ModuleType) and not callable(value)


def execute(script: str, data: dict[str, Any]) -> None:
    """Run a script with the case data as its globals, then write new, changed and deleted names back."""
    code = compile_script(script)
    scope = _checked_globals(data)
    with time_limit():
        exec(code, scope)  # noqa: S102 - restricted code with sandbox globals
    results = {name: value for name, value in scope.items() if _is_data_value(name, value)}
    for name in [name for name in data if name not in results]:
        del data[name]
    data.update(results)
