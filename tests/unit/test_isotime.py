"""Tests for ISO 8601 timer parsing, arithmetic and timer expression checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from engine.isotime import (
    Duration,
    TimerKind,
    add_duration,
    parse_cycle,
    parse_datetime,
    parse_duration,
    timer_expression_problems,
)

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P14D", Duration(days=14)),
        ("P3M", Duration(months=3)),
        ("P12M", Duration(months=12)),
        ("P4Y", Duration(years=4)),
        ("P8W", Duration(weeks=8)),
        ("PT1H", Duration(hours=1)),
        ("PT90M", Duration(minutes=90)),
        ("PT1.5S", Duration(seconds=1.5)),
        ("PT0,25S", Duration(seconds=0.25)),
        ("P1Y2M3DT4H5M6S", Duration(years=1, months=2, days=3, hours=4, minutes=5, seconds=6.0)),
        ("P1WT12H", Duration(weeks=1, hours=12)),
        ("P0D", Duration()),
    ],
)
def test_parse_duration(text: str, expected: Duration) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("P", "no parts"),
        ("PT", "no hours, minutes or seconds"),
        ("P1DT", "no hours, minutes or seconds"),
        ("", "not an ISO 8601 duration"),
        ("14 days", "not an ISO 8601 duration"),
        ("p14d", "not an ISO 8601 duration"),
        ("P14", "not an ISO 8601 duration"),
        ("P1M1Y", "not an ISO 8601 duration"),
        ("P14D ", "not an ISO 8601 duration"),
        ("-P1D", "negative"),
        ("P-1D", "not an ISO 8601 duration"),
        ("P1.5D", "only seconds may have a fraction"),
        ("P1W2D", "mixes weeks"),
    ],
)
def test_parse_duration_refuses(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_duration(text)


@pytest.mark.parametrize(
    ("start", "duration", "expected"),
    [
        ("2026-01-31T09:00:00+00:00", "P1M", "2026-02-28T09:00:00+00:00"),
        ("2028-01-31T09:00:00+00:00", "P1M", "2028-02-29T09:00:00+00:00"),
        ("2026-03-31T09:00:00+00:00", "P1M", "2026-04-30T09:00:00+00:00"),
        ("2026-11-30T09:00:00+00:00", "P3M", "2027-02-28T09:00:00+00:00"),
        ("2026-05-15T09:00:00+00:00", "P12M", "2027-05-15T09:00:00+00:00"),
        ("2028-02-29T09:00:00+00:00", "P4Y", "2032-02-29T09:00:00+00:00"),
        ("2028-02-29T09:00:00+00:00", "P1Y", "2029-02-28T09:00:00+00:00"),
        ("2026-01-01T09:00:00+00:00", "P8W", "2026-02-26T09:00:00+00:00"),
        ("2026-12-25T09:00:00+00:00", "P14D", "2027-01-08T09:00:00+00:00"),
        ("2026-01-31T23:30:00+00:00", "P1MT1H", "2026-03-01T00:30:00+00:00"),
        ("2026-01-01T00:00:00Z", "PT1.5S", "2026-01-01T00:00:01.500000+00:00"),
    ],
)
def test_add_duration(start: str, duration: str, expected: str) -> None:
    assert add_duration(parse_datetime(start), parse_duration(duration)) == parse_datetime(expected)


def test_add_days_keeps_wall_clock_across_dst() -> None:
    start = datetime(2026, 3, 20, 9, 0, tzinfo=AMSTERDAM)
    result = add_duration(start, parse_duration("P14D"))
    assert result.hour == 9
    assert result.utcoffset() == timedelta(hours=2)


def test_add_hours_is_elapsed_time_across_dst() -> None:
    start = datetime(2026, 3, 29, 1, 0, tzinfo=AMSTERDAM)
    result = add_duration(start, parse_duration("PT2H"))
    # Same-zone subtraction in Python ignores the offsets, so compare in UTC.
    assert result.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=2)
    assert result.hour == 4


def test_add_duration_refuses_naive_start() -> None:
    with pytest.raises(ValueError, match="time zone"):
        add_duration(datetime(2026, 1, 1), Duration(days=1))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-31T09:00:00Z", datetime(2026, 1, 31, 9, tzinfo=UTC)),
        ("2026-01-31T09:00:00+01:00", datetime(2026, 1, 31, 9, tzinfo=timezone(timedelta(hours=1)))),
        ("2026-01-31T09:00Z", datetime(2026, 1, 31, 9, tzinfo=UTC)),
    ],
)
def test_parse_datetime(text: str, expected: datetime) -> None:
    assert parse_datetime(text) == expected
    assert parse_datetime(text).utcoffset() is not None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2026-01-31T09:00:00", "no time zone"),
        ("2026-01-31", "no time zone"),
        ("31-01-2026", "not an ISO 8601 date-time"),
        ("", "not an ISO 8601 date-time"),
        ("P14D", "not an ISO 8601 date-time"),
    ],
)
def test_parse_datetime_refuses(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_datetime(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("R3/PT1H", (3, None, Duration(hours=1))),
        ("R/P1D", (None, None, Duration(days=1))),
        ("R2/2026-01-01T09:00:00Z/P1W", (2, datetime(2026, 1, 1, 9, tzinfo=UTC), Duration(weeks=1))),
    ],
)
def test_parse_cycle(text: str, expected: tuple[int | None, datetime | None, Duration]) -> None:
    assert parse_cycle(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("PT1H", "must look like"),
        ("3/PT1H", "must start with Rn/ or R/"),
        ("Rx/PT1H", "must start with Rn/ or R/"),
        ("R0/PT1H", "zero times"),
        ("R3/P", "no parts"),
        ("R3/2026-01-01T09:00:00/PT1H", "no time zone"),
        ("R3/PT1H/2026-01-01T09:00:00Z", "not supported"),
        ("R3/PT1H/P1D/P1D", "must look like"),
    ],
)
def test_parse_cycle_refuses(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_cycle(text)


@pytest.mark.parametrize(
    ("kind", "expression"),
    [
        ("duration", '"P14D"'),
        ("duration", "'P3M'"),
        ("duration", '"P12M"'),
        ("duration", '"P4Y"'),
        ("duration", '"P8W"'),
        ("duration", '"P2D" if urgent else "P14D"'),
        ("duration", '"P2D" if soort == "spoed" else "P14D"'),
        ("duration", '\n    "P14D"\n'),
        ("duration", "termijn"),
        ("duration", "instellingen.termijn"),
        ("duration", 'termijnen["bezwaar"]'),
        ("duration", 'termijn or "P14D"'),
        ("date", '"2026-09-01T09:00:00+02:00"'),
        ("date", "besluit_deadline"),
        ("cycle", '"R3/PT1H"'),
        ("cycle", '"R/P1D"'),
        ("cycle", '"R2/2026-01-01T09:00:00Z/P1W"'),
    ],
)
def test_timer_expression_accepted(kind: TimerKind, expression: str) -> None:
    assert timer_expression_problems(kind, expression) == []


@pytest.mark.parametrize(
    ("kind", "expression", "fragment"),
    [
        ("duration", '"P"', "'P'"),
        ("duration", '"14 days"', "'14 days'"),
        ("duration", '"P2D" if urgent else "14 dagen"', "'14 dagen'"),
        ("duration", "P14D", 'quoted: "P14D"'),
        ("cycle", "R2/PT1H", 'quoted: "R2/PT1H"'),
        ("date", "2026-01-01T09:00:00Z", 'quoted: "2026-01-01T09:00:00Z"'),
        ("duration", '"P2D" if', "not valid Python"),
        ("duration", "", "empty"),
        ("duration", "14", "not a string"),
        ("duration", 'f"P{dagen}D"', "cannot be checked"),
        ("duration", '"P" + str(dagen) + "D"', "cannot be checked"),
        ("duration", "bereken_termijn()", "cannot be checked"),
        ("date", '"2026-09-01T09:00:00"', "no time zone"),
        ("cycle", '"PT1H"', "must look like"),
    ],
)
def test_timer_expression_problems(kind: TimerKind, expression: str, fragment: str) -> None:
    problems = timer_expression_problems(kind, expression)
    assert len(problems) == 1
    assert fragment in problems[0]


def test_timer_expression_reports_each_bad_branch() -> None:
    problems = timer_expression_problems("duration", '"P" if urgent else "14 days"')
    assert len(problems) == 2
    assert "'P'" in problems[0]
    assert "'14 days'" in problems[1]
