"""D3: no personal data in URLs. In real Chromium, several roles log in and crawl every same-origin link and
form action reachable from the start page (breadth-first, GET only, capped); no URL the browser shows or
requests, no link and no form action holds a name, address, e-mail, phone number or other case text of the
synthetic cases (engine/demo.py) in its path or query: only opaque ids and references."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote, unquote_plus, urldefrag, urljoin, urlsplit

from flask import Flask
from playwright.sync_api import Page, Request

from engine import demo
from tests.browser.test_accessibility import log_in

ROLES = ("burgemeester", "dijkgraaf", "ccv-adviseur-1", "werkgever-waterschap", "bva", "auditor", "beheerder")
MAX_PAGES = 150  # in all, shared by the roles
NEVER_VISIT = re.compile(r"/(uitloggen|inloggen)(/|$|\?)")  # a GET there could end the session
_CODE = re.compile(r"^[a-z_]+$")  # an enumeration value (in_ambt, wonen), not personal data
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
NOT_PERSONAL = {"organisatie_naam", "organisatie_type"}

LINKS_JS = """() => {
  const urls = [...document.querySelectorAll('a[href], area[href]')].map(a => ['link', a.href]);
  for (const form of document.querySelectorAll('form')) {
    const method = (form.getAttribute('method') || 'get').toLowerCase();
    urls.push(['action', form.action]);
    if (method === 'get') {
      const query = new URLSearchParams();
      for (const [name, value] of new FormData(form)) {
        if (typeof value === 'string') query.append(name, value);
      }
      const target = new URL(form.action);
      target.search = query.toString();
      urls.push(['get-form', target.href]);
    }
  }
  return urls;
}"""


def _strings(value: Any, key: str = "") -> Iterator[str]:
    if isinstance(value, dict):
        for name, item in value.items():
            if name not in NOT_PERSONAL:
                yield from _strings(item, name)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, key)
    elif isinstance(value, str) and not _CODE.match(value) and not _DATE.match(value) and len(value) >= 5:
        yield value


def personal_data() -> set[str]:
    """Every name, address, e-mail, phone number and free text of the demo's people and cases."""
    found: set[str] = set()
    for login, name, _organisation, _role in demo.ACCOUNTS:
        found |= {name, f"{login}@voorbeeld.invalid"}
        found |= {part for part in name.split() if len(part) >= 4 and part[0].isupper()}  # first and last names
    sample = demo.aanmelding("Bea Burgemeester", "burgemeester", ("Gemeente Voorbeeldstad", "gemeente"), acuut=True)
    found |= set(_strings(sample))
    for _login, _urgent, steps in demo.CASES:
        for step in steps:
            found |= set(_strings(step.data))
    found |= set(_strings(demo.VASTSTELLEN.data))
    address = sample["woonadres"]
    found |= {address.split(",")[0].split()[0], address.split()[-1], "9999 ZZ", "9999ZZ"}
    return {needle for needle in found if needle.strip()}


def _offending(url: str, needles: set[str]) -> list[str]:
    parts = urlsplit(url)
    shown = f"{parts.path}?{parts.query}"
    forms = {shown, unquote(shown), unquote_plus(shown)}
    text = " ".join(forms).casefold()
    return sorted(needle for needle in needles if needle.casefold() in text)


def test_the_needles_are_the_demo_data() -> None:
    needles = personal_data()
    for expected in ("Bea Burgemeester", "Demostraat", "Nergenshuizen", "demo@voorbeeld.invalid", "0600000000"):
        assert expected in needles
    assert _offending("http://x/zaken?q=Demostraat%201", needles) == ["Demostraat"]
    assert _offending("http://x/zaken?naam=bea+burgemeester", needles) == ["Bea Burgemeester", "Burgemeester"]
    assert _offending("http://x/zaken/BV-2026-0001/taken/0b8a", needles) == []


def test_no_url_reachable_by_any_role_carries_personal_data(
    app: Flask, live_server: Callable[[Flask], str], new_page: Callable[..., Page]
) -> None:
    base = live_server(app)
    origin = urlsplit(base).netloc
    needles = personal_data()
    seen_urls: dict[str, str] = {}  # every URL met (link, action, request, address bar) -> where
    visited = 0
    per_role = MAX_PAGES // len(ROLES)
    for login in ROLES:
        page = new_page()
        requested: list[str] = []

        def on_request(request: Request, into: list[str] = requested) -> None:
            into.append(request.url)

        page.on("request", on_request)
        log_in(page, base, login, app)
        queue: deque[str] = deque([page.url])
        done: set[str] = set()
        pages = 0
        while queue and pages < per_role:
            url = queue.popleft()
            if url in done:
                continue
            done.add(url)
            seen_urls.setdefault(url, f"{login}: queued")
            # Only HTML pages are opened in the tab (a document download would not be a navigation).
            head = page.context.request.get(url, max_redirects=5)
            if "text/html" not in head.headers.get("content-type", ""):
                continue
            page.goto(url)
            pages += 1
            seen_urls.setdefault(page.url, f"{login}: address bar")
            for kind, found in page.evaluate(LINKS_JS):
                target, _fragment = urldefrag(urljoin(page.url, found))
                split = urlsplit(target)
                if split.scheme not in ("http", "https") or split.netloc != origin:
                    continue
                seen_urls.setdefault(target, f"{login}: {kind} on {urlsplit(page.url).path}")
                if kind != "action" and not NEVER_VISIT.search(split.path) and target not in done:
                    queue.append(target)
        visited += pages
        for url in requested:
            seen_urls.setdefault(url, f"{login}: request")
        assert pages > 3, f"{login} reached only {pages} pages"
    assert visited <= MAX_PAGES
    assert any("/taken/" in url for url in seen_urls) and any("/zaken/" in url for url in seen_urls)
    leaks = {url: (where, hits) for url, where in seen_urls.items() if (hits := _offending(url, needles))}
    assert not leaks, "personal data in URLs:\n" + "\n".join(f"{u} ({w}): {h}" for u, (w, h) in leaks.items())
