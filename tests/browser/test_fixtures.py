"""The browser fixtures themselves: separate sessions per page, problems and screenshots."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, request, session
from playwright.sync_api import Page

from tests.browser.support import SCREENSHOTS, screenshot, watch


def make_app() -> Flask:
    app = Flask(__name__)
    app.secret_key = "only-for-this-test"

    @app.get("/login/<name>")
    def login(name: str) -> str:
        session["user"] = name
        return f"<p id='user'>{name}</p>"

    @app.get("/whoami")
    def whoami() -> str:
        return f"<p id='user'>{session.get('user', 'anoniem')}</p>"

    @app.get("/broken")
    def broken() -> tuple[str, int]:
        return f"<p>{request.path}</p>", 500

    return app


def test_each_page_is_its_own_session(live_server: Callable[[Flask], str], new_page: Callable[..., Page]) -> None:
    base = live_server(make_app())
    alice, bob = new_page(), new_page()
    alice.goto(base + "/login/alice")
    bob.goto(base + "/whoami")
    assert bob.locator("#user").inner_text() == "anoniem"
    bob.goto(base + "/login/bob")
    alice.goto(base + "/whoami")
    assert alice.locator("#user").inner_text() == "alice"
    assert alice.evaluate("navigator.language") == "nl-NL"


def test_problems_and_screenshot(live_server: Callable[[Flask], str], new_page: Callable[..., Page]) -> None:
    base = live_server(make_app())
    page = new_page()
    problems = watch(page)
    page.goto(base + "/broken")
    with page.expect_console_message(lambda message: message.type == "error"):
        page.evaluate("console.error('kapot')")
    assert problems.failed_responses == [f"HTTP 500 GET {base}/broken"]
    assert any("kapot" in error for error in problems.console_errors)
    path = screenshot(page, "fixtures-broken")
    assert path == SCREENSHOTS / "fixtures-broken.png"
    assert path.stat().st_size > 0
