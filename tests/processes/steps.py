"""The vocabulary of path tests: what a person or the clock does to a case, as data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any


@dataclass(frozen=True)
class Complete:
    """The first READY user task with this BPMN id is completed by ``role`` with ``data``."""

    task: str
    role: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Message:
    """A message from outside (e.g. ``aftreden``) is delivered to the case."""

    name: str
    role: str
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Advance:
    """The injected clock moves forward; due timers then fire."""

    by: timedelta


@dataclass(frozen=True)
class ExpectReady:
    """Exactly these BPMN ids are the READY user tasks now (order ignored, duplicates count)."""

    tasks: tuple[str, ...]


@dataclass(frozen=True)
class Path:
    """One way through the regeling, from aanmelding to ``end_event``."""

    name: str
    description: str
    steps: tuple[Complete | Message | Advance | ExpectReady, ...]
    end_event: str
    expect_data: dict[str, Any] = field(default_factory=dict)
    notifications: tuple[tuple[str, str], ...] | None = None  # (role, template) in order, if checked
