"""Jinja filters: dates and times in Dutch, in the Netherlands' time zone."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import Flask

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
MONTHS = ("jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec")


# Traces for process owners in diagram and form texts: "(stap 5; ⚠️ A6)", "⚠️ A10", "[S42]".
_TRACE_GROUP = re.compile(r"\s*\([^()]*⚠[^()]*\)")
_TRACE = re.compile(r"\s*(?:⚠️?\s*A\d+(?:,\s*A\d+)*:?|\[S\d+\])")


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(datum=format_date, tijd=format_datetime, voor_gebruiker=for_end_users)


def for_end_users(text: str | None) -> str:
    """A diagram or form text without the assumption and source markers meant for process owners."""
    if not text:
        return ""
    cleaned = _TRACE.sub("", _TRACE_GROUP.sub("", text))
    return re.sub(r"\s*;\s*(?=[;.)]|$)", "", cleaned).strip()


def format_date(value: date | datetime | str | None) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return value
    elif isinstance(value, datetime):
        day = value.astimezone(AMSTERDAM).date()
    else:
        day = value
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def format_datetime(value: datetime | None) -> str:
    if value is None:
        return ""
    local = value.astimezone(AMSTERDAM)
    return f"{format_date(local)} {local:%H:%M}"
