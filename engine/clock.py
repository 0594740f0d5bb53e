"""Time as a dependency: the engine never reads the wall clock itself, so tests and replay can set it."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from engine.crypto import ENV_PRODUCTION, is_production
from engine.errors import EngineError

Clock = Callable[[], datetime]

# A test clock shared by several processes (the topology test): the web processes and the workers all read
# the instant written in this file. Never honoured in production.
ENV_CLOCK_FILE = "REGELING_CLOCK_FILE"


class ClockConfigError(EngineError):
    """The environment asks for a test clock where only the real time may count."""


def system_clock() -> datetime:
    return datetime.now(UTC)


class FrozenClock:
    """A clock that stands still until told to move; for tests, benchmarks and replay."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._now = start

    def __call__(self) -> datetime:
        return self._now

    def advance(self, by: timedelta) -> datetime:
        self._now += by
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment


class FileClock:
    """The instant (ISO 8601 with offset) written in a file, read again only when the file changes.

    ``set`` replaces the file in one rename, so a reader in another process sees the old instant or the
    new one, never half a line; the file's identity (inode, mtime, size) tells a reader that it changed.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int] | None = None
        self._now: datetime | None = None

    def __call__(self) -> datetime:
        stat = os.stat(self.path)
        identity = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if identity != self._seen or self._now is None:
                self._now = _parse_instant(self.path.read_text(encoding="utf-8").strip(), self.path)
                self._seen = identity
            return self._now

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("FileClock needs an aware datetime")
        staging = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}")
        staging.write_text(moment.isoformat(), encoding="utf-8")
        os.replace(staging, self.path)

    def advance(self, by: timedelta) -> datetime:
        moment = self() + by
        self.set(moment)
        return moment


def _parse_instant(text: str, path: Path) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ClockConfigError(f"{path}: not an ISO 8601 instant") from None
    if moment.tzinfo is None:
        raise ClockConfigError(f"{path}: the instant has no UTC offset")
    return moment


def clock_from_env(environ: Mapping[str, str]) -> Clock:
    """The system clock, or the shared test clock of ``REGELING_CLOCK_FILE`` (refused in production)."""
    path = environ.get(ENV_CLOCK_FILE, "").strip()
    if not path:
        return system_clock
    if is_production(environ):
        raise ClockConfigError(f"{ENV_PRODUCTION}=1 and {ENV_CLOCK_FILE} is set: never a test clock in production")
    return checked_file_clock(Path(path))


def checked_file_clock(path: Path) -> FileClock:
    """A FileClock whose file is read once now: a missing or malformed file stops the start, not a timer."""
    clock = FileClock(path)
    try:
        clock()
    except OSError as error:
        raise ClockConfigError(f"{ENV_CLOCK_FILE}: {path} cannot be read ({type(error).__name__})") from None
    return clock
