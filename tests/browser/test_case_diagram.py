"""web/static/js/case-diagram.js in real Chromium, on a tiny Flask app of its own (not the project's app).

The page carries a strict Content-Security-Policy, so the viewer is also proven to need no inline script.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask, Response, abort, render_template_string, send_file
from playwright.sync_api import Page

from tests.browser.support import ROOT, screenshot, watch

BPMN = ROOT / "processes" / "regeling.bpmn"
ERROR_TEXT = "Het diagram kon niet worden geladen."

# Real ids from processes/regeling.bpmn (shapes and sequence flows), plus ids that are not in it.
MARKERS = {
    "done": ["start", "aanmelding", "toets_in_aanmerking", "gw_in_aanmerking", "f_start__aanmelding", "bestaat_niet"],
    "active": ["behandeling"],
    "waiting": ["bnd_aftreden", "bnd_heradvies", "ook_niet"],
    "cancelled": ["urgent_markeren", "notify_politie"],
}
PRESENT = {
    "done": 5,
    "active": 1,
    "waiting": 2,
    "cancelled": 2,
}

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

PAGE = """<!doctype html>
<html lang="nl">
<head>
  <meta charset="utf-8">
  <title>Zaakdiagram</title>
  <link rel="stylesheet" href="{{ url_for('static', filename='vendor/bpmn-js/assets/diagram-js.css') }}">
  <link rel="stylesheet" href="{{ url_for('static', filename='vendor/bpmn-js/assets/bpmn-js.css') }}">
  <link rel="stylesheet" href="{{ url_for('static', filename='css/diagram.css') }}">
  <script defer
          src="{{ url_for('static', filename='vendor/bpmn-js/bpmn-navigated-viewer.production.min.js') }}"></script>
  <script src="{{ url_for('static', filename='js/case-diagram.js') }}" defer></script>
</head>
<body>
  <h1>Zaak 2024-0001</h1>
  {% for diagram in diagrams %}
  <section>
    <div id="{{ diagram.id }}" data-bpmn-url="{{ diagram.url }}" data-markers="{{ diagram.id }}-markers"
         data-label="Procesdiagram {{ diagram.id }}"></div>
    <script type="application/json" id="{{ diagram.id }}-markers">{{ markers|tojson }}</script>
  </section>
  {% endfor %}
  <ul class="diagram-legend">
    <li class="done">Afgerond</li><li class="active">Actief</li>
    <li class="waiting">Wacht</li><li class="cancelled">Geannuleerd</li>
  </ul>
</body>
</html>"""

PAGES = {
    "ok": [{"id": "regeling", "url": "/processes/regeling.bpmn"}],
    "broken": [
        {"id": "missing", "url": "/processes/bestaat-niet.bpmn"},
        {"id": "garbage", "url": "/garbage.bpmn"},
        {"id": "regeling", "url": "/processes/regeling.bpmn"},
    ],
}


def make_app() -> Flask:
    app = Flask(__name__, static_folder=str(ROOT / "web" / "static"), static_url_path="/static")

    @app.after_request
    def csp(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CSP
        return response

    @app.get("/processes/<name>.bpmn")
    def bpmn(name: str) -> Response:
        if name != "regeling":
            abort(404)
        return send_file(BPMN, mimetype="application/xml")

    @app.get("/favicon.ico")
    def favicon() -> Response:
        # Chromium asks for it even headless; a 404 there is a console error (but no `response` event)
        return Response(status=204)

    @app.get("/garbage.bpmn")
    def garbage() -> Response:
        return Response("<html>dit is geen BPMN</html>", mimetype="application/xml")

    @app.get("/page/<name>")
    def page(name: str) -> str:
        return render_template_string(PAGE, diagrams=PAGES[name], markers=MARKERS)

    return app


@pytest.fixture
def base_url(live_server: Callable[[Flask], str]) -> str:
    return live_server(make_app())


def wait_until_settled(page: Page, count: int) -> None:
    page.wait_for_function(
        "n => document.querySelectorAll('[data-bpmn-url][data-ready], [data-bpmn-url][data-error]').length === n",
        arg=count,
    )


def test_diagram_with_markers(base_url: str, new_page: Callable[..., Page]) -> None:
    page = new_page()
    problems = watch(page)
    page.goto(base_url + "/page/ok")
    wait_until_settled(page, 1)

    diagram = page.locator("#regeling")
    assert diagram.get_attribute("data-error") is None
    assert diagram.get_attribute("data-ready") == "1"
    assert page.locator("#regeling .djs-shape").count() > 40
    for state, expected in PRESENT.items():
        assert page.locator(f"#regeling .djs-element.{state}").count() == expected, state
    assert page.locator("#regeling .djs-element.done.djs-connection").count() == 1
    # the bpmn.io watermark must stay visible (licence)
    assert page.locator("#regeling .bjs-powered-by").is_visible()
    screenshot(page, "case-diagram")
    problems.assert_clean()


def test_keyboard(base_url: str, new_page: Callable[..., Page]) -> None:
    page = new_page()
    problems = watch(page)
    page.goto(base_url + "/page/ok")
    wait_until_settled(page, 1)
    diagram = page.locator("#regeling")
    assert diagram.get_attribute("tabindex") == "0"
    assert diagram.get_attribute("aria-label") == "Procesdiagram regeling"
    assert diagram.get_attribute("role") == "img"
    # one tab stop: bpmn-js's own focusable <svg> is taken out of the tab order
    assert page.locator("#regeling svg[tabindex]").count() == 0

    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "regeling"
    viewport = page.locator("#regeling .viewport")
    fitted = viewport.get_attribute("transform")
    page.keyboard.press("ArrowLeft")
    moved = viewport.get_attribute("transform")
    assert moved != fitted
    page.keyboard.press("+")
    assert viewport.get_attribute("transform") != moved
    page.keyboard.press("0")
    assert viewport.get_attribute("transform") == fitted
    screenshot(page, "case-diagram-focused", full_page=False)
    problems.assert_clean()


def test_broken_diagrams(base_url: str, new_page: Callable[..., Page]) -> None:
    page = new_page()
    problems = watch(page)
    page.goto(base_url + "/page/broken")
    wait_until_settled(page, 3)

    for broken, message in [("missing", "HTTP 404"), ("garbage", "")]:
        diagram = page.locator(f"#{broken}")
        assert diagram.get_attribute("data-ready") is None
        assert message in (diagram.get_attribute("data-error") or "<none>")
        assert diagram.inner_text().strip() == ERROR_TEXT
        assert diagram.locator("svg").count() == 0
    # a broken diagram does not take the others on the page down
    assert page.locator("#regeling").get_attribute("data-ready") == "1"
    screenshot(page, "case-diagram-broken")

    assert problems.page_errors == []
    assert problems.failed_responses == [f"HTTP 404 GET {base_url}/processes/bestaat-niet.bpmn"]
    # Chromium's own line for the 404, then one line per broken diagram from case-diagram.js
    assert len(problems.console_errors) == 3, problems.console_errors
    assert "status of 404" in problems.console_errors[0]
    assert sum("case-diagram: " in error for error in problems.console_errors) == 2
