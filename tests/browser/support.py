"""Helpers for the real-Chromium tests: what went wrong on a page, and screenshots."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import ConsoleMessage, Error, Page, Response

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"


@dataclass
class PageProblems:
    """Console errors, uncaught exceptions and HTTP responses >= 400 seen on one page."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_responses: list[str] = field(default_factory=list)

    def all(self) -> list[str]:
        return [*self.console_errors, *self.page_errors, *self.failed_responses]

    def assert_clean(self) -> None:
        assert not self.all(), "problems on the page:\n" + "\n".join(self.all())


def watch(page: Page) -> PageProblems:
    """Start collecting the page's problems; call before `page.goto`."""
    problems = PageProblems()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.console_errors.append(f"console.error: {message.text} ({message.location.get('url', '')})")

    def on_page_error(error: Error) -> None:
        problems.page_errors.append(f"uncaught: {error}")

    def on_response(response: Response) -> None:
        if response.status >= 400:
            problems.failed_responses.append(f"HTTP {response.status} {response.request.method} {response.url}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    page.on("response", on_response)
    return problems


def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """Save a PNG of the page as var/screenshots/<name>.png (git-ignored) and return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=path, full_page=full_page)
    return path
