"""Real-Chromium fixtures: Debian's /usr/bin/chromium driven by Playwright's sync API.

Playwright's own browser downloads are never used (they are not reachable here): `make test` runs
.ci/ensure-chromium.sh, which installs the Debian package. Without it these tests fail, they never skip.

    def test_something(live_server, new_page):
        base = live_server(create_app(...))
        page = new_page()                      # own BrowserContext: own cookies, own login
        problems = watch(page)                 # tests.browser.support
        page.goto(base + "/")
        ...
        problems.assert_clean()
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from werkzeug.serving import BaseWSGIServer, make_server

from engine import cache
from engine.clock import FrozenClock
from tests.websupport import START, build_seeded_database, make_app

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
# Playwright already passes --headless, --no-sandbox (chromium_sandbox=False), --disable-dev-shm-usage and
# friends; listed here so the command line does not depend on that. As root the sandbox cannot start.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-dev-shm-usage"]
VIEWPORT = {"width": 1280, "height": 800}


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.is_file() or not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium. "
            "Run `bash .ci/ensure-chromium.sh` (as root) or `make test`, which does that first.",
            pytrace=False,
        )
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """Factory: every call opens a page in a BrowserContext of its own (separate cookies = separate user).

    Keyword arguments go to `browser.new_context` (e.g. `locale`, `viewport`, `base_url`).
    """
    contexts: list[BrowserContext] = []

    def factory(**context_options: Any) -> Page:
        options: dict[str, Any] = {"viewport": VIEWPORT, "locale": "nl-NL", **context_options}
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield factory
    for context in contexts:
        context.close()


@pytest.fixture
def live_server() -> Iterator[Callable[[Flask], str]]:
    """Factory: serve a Flask app on 127.0.0.1 (free port, threaded) in a daemon thread; returns its base URL."""
    servers: list[tuple[BaseWSGIServer, threading.Thread]] = []

    def factory(app: Flask) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        # a short poll interval: shutdown() waits for the next poll, 0.5 s by default
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"live-server-{server.server_port}",
            daemon=True,
        )
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    yield factory
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The seeded database (processes, demo accounts and cases) built once; each test copies it."""
    path = tmp_path_factory.mktemp("seeded") / "seeded.db"
    return path, build_seeded_database(path)


@pytest.fixture
def app(seeded: tuple[Path, dict[str, str]], tmp_path: Path) -> Iterator[Flask]:
    """The app on a copy of the seeded database, its clock frozen in the afternoon of the demo's day."""
    template, _cases = seeded
    shutil.copyfile(template, tmp_path / "site.db")
    cache.clear()
    flask_app = make_app(f"sqlite:///{tmp_path / 'site.db'}", FrozenClock(START.replace(hour=15)))
    yield flask_app
    flask_app.extensions["regeling.db"].engine.dispose()
    cache.clear()
