"""ISO 8601 durations, datetimes and cycles for timer events: parsing, arithmetic and diagram checks."""

from __future__ import annotations

import ast
import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

TimerKind = Literal["duration", "date", "cycle"]

_DURATION = re.compile(
    r"P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?P<time>T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:[.,]\d+)?)S)?)?"
)
_DATE_FIELDS = ("years", "months", "days")
_CYCLE_COUNT = re.compile(r"R(?P<count>\d*)")


@dataclass(frozen=True)
class Duration:
    """A parsed ISO 8601 duration; months and years stay calendar units until added to a date."""

    years: int = 0
    months: int = 0
    weeks: int = 0
    days: int = 0
    hours: int = 0
    minutes: int = 0
    seconds: float = 0.0


def _duration_shape_problem(text: str) -> str:
    """Why text is not a duration, for the cases the regular expression alone would explain badly."""
    if text.startswith("-"):
        return f"negative duration {text!r} is not allowed"
    if text.endswith("T"):
        return f"duration {text!r} has a 'T' but no hours, minutes or seconds"
    if re.search(r"\d[.,]\d", text):
        return f"duration {text!r}: only seconds may have a fraction"
    return f"{text!r} is not an ISO 8601 duration such as P14D, P3M or PT1H"


def parse_duration(text: str) -> Duration:
    """Parse ``PnYnMnWnDTnHnMnS`` (any part may be left out, but not all); raises ValueError with a reason."""
    match = _DURATION.fullmatch(text)
    if match is None or (match.group("time") == "T"):
        raise ValueError(_duration_shape_problem(text))
    parts = {name: value for name, value in match.groupdict().items() if value is not None and name != "time"}
    if not parts:
        raise ValueError(f"duration {text!r} has no parts; write for example P14D")
    # SpiffWorkflow's own parser refuses weeks next to years, months or days, so such a timer would only
    # fail once the case reaches it.
    if "weeks" in parts and any(name in parts for name in _DATE_FIELDS):
        raise ValueError(f"duration {text!r} mixes weeks with years, months or days")
    seconds = float(parts.pop("seconds", "0").replace(",", "."))
    return Duration(seconds=seconds, **{name: int(value) for name, value in parts.items()})


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        # The server's local zone must not decide a legal deadline.
        raise ValueError("a date-time needs a time zone (for example Z or +01:00)")


def _add_months(start: datetime, months: int) -> datetime:
    """Calendar month arithmetic that clamps to the month's last day (Jan 31 + 1 month = Feb 28/29)."""
    month_index = start.month - 1 + months
    year = start.year + month_index // 12
    month = month_index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


def add_duration(start: datetime, duration: Duration) -> datetime:
    """``start`` plus ``duration``: calendar units on the wall clock, hours and smaller as elapsed time."""
    _require_aware(start)
    shifted = _add_months(start, duration.years * 12 + duration.months)
    # Days keep the wall-clock time across a DST change (a deadline "in 14 days" stays at 09:00) ...
    shifted += timedelta(weeks=duration.weeks, days=duration.days)
    # ... while hours, minutes and seconds are real elapsed time, so they are added in UTC.
    elapsed = timedelta(hours=duration.hours, minutes=duration.minutes, seconds=duration.seconds)
    tz = shifted.tzinfo
    return (shifted.astimezone(UTC) + elapsed).astimezone(tz)


def parse_datetime(text: str) -> datetime:
    """Parse an ISO 8601 date-time with a zone (``Z`` or an offset); raises ValueError with a reason."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 date-time such as 2026-01-31T09:00:00+01:00") from None
    try:
        _require_aware(moment)
    except ValueError:
        raise ValueError(f"date-time {text!r} has no time zone; add Z or an offset such as +01:00") from None
    return moment


def _parse_cycle_count(text: str, whole: str) -> int | None:
    match = _CYCLE_COUNT.fullmatch(text)
    if match is None:
        raise ValueError(f"cycle {whole!r} must start with Rn/ or R/")
    if not match.group("count"):
        return None
    count = int(match.group("count"))
    if count == 0:
        raise ValueError(f"cycle {whole!r} repeats zero times")
    return count


def parse_cycle(text: str) -> tuple[int | None, datetime | None, Duration]:
    """Parse ``Rn/<duration>``, ``R/<duration>`` (endless) or ``Rn/<start>/<duration>``."""
    parts = text.split("/")
    if len(parts) not in (2, 3):
        raise ValueError(f"cycle {text!r} must look like R3/PT1H or R3/2026-01-01T09:00:00Z/P1D")
    count = _parse_cycle_count(parts[0], text)
    if len(parts) == 3 and parts[1].startswith("P"):
        raise ValueError(f"cycle {text!r}: Rn/<duration>/<end> is not supported; use Rn/<start>/<duration>")
    start = parse_datetime(parts[1]) if len(parts) == 3 else None
    return count, start, parse_duration(parts[-1])


def _iso_problem(kind: TimerKind, text: str) -> str | None:
    parsers: dict[TimerKind, Callable[[str], object]] = {
        "duration": parse_duration,
        "date": parse_datetime,
        "cycle": parse_cycle,
    }
    try:
        parsers[kind](text)
    except ValueError as error:
        return str(error)
    return None


def _result_problems(kind: TimerKind, node: ast.expr) -> list[str]:
    """Problems with every value the expression can produce; conditions and subscripts are not results."""
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, str):
            return [f"timer value {node.value!r} is not a string"]
        problem = _iso_problem(kind, node.value)
        return [] if problem is None else [problem]
    if isinstance(node, ast.IfExp):
        return _result_problems(kind, node.body) + _result_problems(kind, node.orelse)
    if isinstance(node, ast.BoolOp):
        return [problem for value in node.values for problem in _result_problems(kind, value)]
    if isinstance(node, ast.Name | ast.Attribute | ast.Subscript):
        # A value taken from case data is only known at run time; nothing to check statically.
        return []
    return [f"timer expression {ast.unparse(node)!r} cannot be checked; use a quoted ISO text, "
            "a conditional between quoted texts, or a data field"]  # fmt: skip


def timer_expression_problems(kind: TimerKind, expression: str) -> list[str]:
    """Problems with a timer's Python expression: syntax, and every ISO text it can give must parse."""
    text = expression.strip()
    if not text:
        return ["timer expression is empty"]
    if _iso_problem(kind, text) is None:
        # Bare ISO text is either a syntax error or, worse, valid Python with another meaning:
        # P14D is a variable name and R2/PT1H a division.
        return [f'ISO text must be quoted: "{text}"']
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as error:
        return [f"timer expression is not valid Python ({error.msg})"]
    return _result_problems(kind, tree.body)
