"""Jinja filters: dates and times in Dutch, in the Netherlands' time zone."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import Flask

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
MONTHS = ("jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec")


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(datum=format_date, tijd=format_datetime)


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
