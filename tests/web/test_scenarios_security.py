"""Scenarios of reliability-scenarios.md proven over *every* route of the app (``app.url_map``, so a new route is
covered without a new line here): A1 (a half-done login reaches nothing), X1 (no POST without this session's CSRF
token, nothing changed), X2 (a GET to a state-changing URL is 405), X4 (security headers on every answer) and the
size guards of every input route (huge bodies, too many fields, a too large field, deep JSON, long strings: refused
with 4xx, never a 500)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import IntegerConverter, Rule

from tests.web.test_authorisation_matrix import fingerprint
from tests.websupport import PASSWORD, Site, csrf_of, post

PUBLIC_ENDPOINTS = {"static", "home.favicon", "health.alive", "health.ready"}
# The login itself: reachable half-way on purpose.
LOGIN_ENDPOINTS = {"auth.login", "auth.login_post", "auth.second_factor", "auth.second_factor_post", "auth.enrol"}
LOGIN_ENDPOINTS |= {"auth.enrol_post", "auth.logout"}


def _values(app: Flask, rule: Rule, site: Site) -> dict[str, Any]:
    """Plausible values for a rule's arguments: a real case and task where named, else a placeholder."""
    reference = site.cases["burgemeester"]
    known: dict[str, Any] = {
        "reference": reference,
        "task_guid": site.open_task(reference).task_guid,
        "name": "aftreden",
        "key": "regeling",
        "filename": "favicon.svg",
    }
    values: dict[str, Any] = {}
    for argument in rule.arguments:
        converter = rule._converters[argument]  # noqa: SLF001 - the converter says whether it must be a number
        values[argument] = 1 if isinstance(converter, IntegerConverter) else known.get(argument, "x")
    return values


def _url(site: Site, rule: Rule) -> str:
    with site.app.test_request_context():
        return rule.build(_values(site.app, rule, site), append_unknown=False)[1]  # type: ignore[index]


def _rules(site: Site, method: str) -> Iterator[Rule]:
    for rule in sorted(site.app.url_map.iter_rules(), key=lambda r: r.endpoint):
        if method in (rule.methods or set()):
            yield rule


def _half_logged_in(site: Site, login: str = "burgemeester") -> FlaskClient:
    client = site.client()
    first = post(client, "/inloggen", {"gebruikersnaam": login, "wachtwoord": PASSWORD})
    assert first.headers["Location"] == "/inloggen/code"
    return client


# -- A1 -------------------------------------------------------------------------------------------------------------


def test_a1_a_half_done_login_reaches_no_route(site: Site) -> None:
    client = _half_logged_in(site)
    wrong = []
    for method in ("GET", "POST"):
        for rule in _rules(site, method):
            if rule.endpoint in PUBLIC_ENDPOINTS | LOGIN_ENDPOINTS:
                continue
            url = _url(site, rule)
            response = client.get(url) if method == "GET" else post(client, url, {"wachtwoord": PASSWORD})
            if response.status_code != 302 or response.headers["Location"] != "/inloggen/code":
                wrong.append(f"{method} {rule.endpoint}: {response.status_code} {response.headers.get('Location')}")
    assert not wrong, "\n".join(wrong)
    assert client.get("/inloggen/code").status_code == 200  # still half-way, nothing else happened


# -- X1, X2 ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("login", [None, "beheerder", "burgemeester", "procesbeheerder"])
def test_x1_every_post_route_refuses_a_missing_or_foreign_csrf_token(site: Site, login: str | None) -> None:
    client = site.client(login)
    foreign = csrf_of(site.client("bva"))
    before = fingerprint(site)
    wrong = []
    for rule in _rules(site, "POST"):
        url = _url(site, rule)
        for data in ({}, {"csrf_token": foreign}, {"csrf_token": ""}):
            response = client.post(url, data={**data, "reden": "x", "rol": "Beheerder", "sessie": "alle"})
            if response.status_code != 400:
                wrong.append(f"{rule.endpoint} {sorted(data)}: {response.status_code}")
        header = client.post(url, headers={"X-CSRF-Token": foreign}, json={"text": "x"})
        if header.status_code != 400:
            wrong.append(f"{rule.endpoint} foreign header token: {header.status_code}")
    assert not wrong, "\n".join(wrong)
    assert fingerprint(site) == before
    if login:
        assert client.get("/meldingen").status_code == 200  # still logged in: a refused POST ends nothing


def test_x2_a_get_to_a_state_changing_url_is_405(site: Site) -> None:
    client = site.client("beheerder")
    readable = {rule.rule for rule in _rules(site, "GET")}
    checked = 0
    for rule in _rules(site, "POST"):
        if rule.rule in readable:  # the same address also shows a page (the form itself)
            continue
        checked += 1
        assert client.get(_url(site, rule)).status_code == 405, rule.endpoint
    assert checked >= 10


# -- X4 -------------------------------------------------------------------------------------------------------------


def _check_headers(response: Any, *, behind_login: bool) -> list[str]:
    headers = response.headers
    problems = []
    csp = headers.get("Content-Security-Policy", "")
    if "frame-ancestors 'none'" not in csp or "script-src 'self'" not in csp or "unsafe-eval" in csp:
        problems.append(f"CSP {csp!r}")
    if headers.get("X-Content-Type-Options") != "nosniff":
        problems.append("nosniff")
    if not headers.get("Referrer-Policy"):
        problems.append("Referrer-Policy")
    if behind_login and headers.get("Cache-Control") != "no-store":
        problems.append(f"Cache-Control {headers.get('Cache-Control')!r}")
    return problems


@pytest.mark.parametrize("login", [None, "beheerder", "burgemeester", "auditor", "procesbeheerder"])
def test_x4_security_headers_on_every_answer(site: Site, login: str | None) -> None:
    client = site.client(login)
    wrong = []
    for rule in _rules(site, "GET"):
        response = client.get(_url(site, rule))
        behind_login = login is not None and rule.endpoint != "static"
        problems = _check_headers(response, behind_login=behind_login)
        response.close()
        if problems:
            wrong.append(f"{rule.endpoint} ({response.status_code}): {problems}")
    assert not wrong, "\n".join(wrong)


def test_x4_hsts_in_production(site: Site) -> None:
    from tests.web.test_login_security import PRODUCTION_KEY
    from tests.websupport import make_app

    app = make_app(site.app.config["DATABASE_URL"], site.clock, PRODUCTION=True, SECRET_KEY=PRODUCTION_KEY)
    try:
        for path in ("/inloggen", "/gezond", "/nergens", "/static/favicon.svg"):
            response = app.test_client().get(path)
            hsts = response.headers.get("Strict-Transport-Security", "")
            response.close()
            assert hsts.startswith("max-age=31536000") and "includeSubDomains" in hsts, path
    finally:
        app.extensions["regeling.db"].engine.dispose()


# -- size guards (D/U: huge bodies, many fields, long strings, deep JSON) ----------------------------------------

DEEP_JSON = "[" * 100_000 + "]" * 100_000
LONG = "a" * 400_000  # under the form memory limit, far over any field's own limit
LONG_FIELDS = (
    *("gebruikersnaam", "wachtwoord", "code", "reden", "account", "actie", "sessie", "rol", "doel"),
    *("nieuw_wachtwoord", "herhaal_wachtwoord", "naam", "lock_version", "formaat", "_actie", "next"),
)


def _oversized_posts(client: FlaskClient, url: str, config: Any) -> Iterator[tuple[str, Any]]:
    """Bodies over a limit: refused (413) before any view runs, whoever sends them."""
    token = csrf_of(client)
    form_limit, parts = int(config["MAX_FORM_MEMORY_SIZE"]), int(config["MAX_FORM_PARTS"])
    yield "huge upload", client.post(url, data=_huge(config), content_type="multipart/form-data; boundary=x")
    yield "huge form", client.post(url, data={"csrf_token": token, "reden": "x" * form_limit})
    yield "many fields", client.post(url, data={"csrf_token": token, **{f"veld{i}": "x" for i in range(parts + 1)}})
    many_parts = {
        "csrf_token": token,
        **{f"veld{i}": "x" for i in range(parts + 1)},
        "bestand": (io.BytesIO(b"x"), "x"),
    }
    yield "many multipart fields", client.post(url, data=many_parts, content_type="multipart/form-data")
    big_field = {"csrf_token": token, "reden": "x" * (form_limit + 1), "bestand": (io.BytesIO(b"x"), "x")}
    yield "large multipart field", client.post(url, data=big_field, content_type="multipart/form-data")
    huge_json = b'{"text": "' + b"x" * int(config.get("MAX_JSON_BYTES", 5 * 1024 * 1024)) + b'"}'
    yield (
        "huge json",
        client.post(url, data=huge_json, content_type="application/json", headers={"X-CSRF-Token": token}),
    )


_HUGE: dict[int, bytes] = {}


def _huge(config: Any) -> bytes:
    size = int(config["MAX_CONTENT_LENGTH"]) + 1
    return _HUGE.setdefault(size, b"x" * size)


def _hostile_posts(client: FlaskClient, url: str) -> Iterator[tuple[str, Any]]:
    """Bodies within the limits but hostile: the view answers, never with a 500."""
    token = csrf_of(client)
    json_token = {"X-CSRF-Token": token}
    yield "deep json", client.post(url, data=DEEP_JSON, content_type="application/json", headers=json_token)
    yield "deep json text", client.post(url, json={"text": DEEP_JSON}, headers=json_token)
    yield "json of the wrong shape", client.post(url, json=[1, {"text": 5}], headers=json_token)
    yield "long strings", client.post(url, data={"csrf_token": token, **dict.fromkeys(LONG_FIELDS, LONG[:20_000])})
    yield (
        "control characters",
        client.post(url, data={"csrf_token": token, **dict.fromkeys(LONG_FIELDS, "\x00\r\n\x1b[31m")}),
    )


def test_every_input_route_refuses_oversized_bodies_before_reading_them(site: Site) -> None:
    client = site.client("beheerder")
    wrong = []
    for rule in _rules(site, "POST"):
        for kind, response in _oversized_posts(client, _url(site, rule), site.app.config):
            if response.status_code != 413:
                wrong.append(f"{rule.endpoint} {kind}: {response.status_code}")
            response.close()
    assert not wrong, "\n".join(wrong)
    assert client.get("/meldingen").status_code == 200


@pytest.mark.parametrize("login", ["beheerder", "burgemeester", "procesbeheerder", "ccv-adviseur-1"])
def test_every_input_route_answers_hostile_bodies_without_a_500(site: Site, login: str) -> None:
    wrong = []
    client = site.client(login)
    for rule in _rules(site, "POST"):
        for kind, response in _hostile_posts(client, _url(site, rule)):
            if response.status_code >= 500:
                wrong.append(f"{rule.endpoint} {kind}: {response.status_code}")
            response.close()
        if client.get("/meldingen").status_code != 200:  # a hostile body to /uitloggen, /inloggen ended the login
            client = site.client(login)
    assert not wrong, "\n".join(wrong)


def test_long_values_are_not_stored_whole(site: Site) -> None:
    """Fields are cut or refused at their own limit: a 40 000-character reason or name is never kept."""
    from sqlalchemy import func, select

    from engine.model import AdminAction, LoginAttempt

    client = site.client("beheerder")
    post(client, "/beheer/accounts", {"account": "bva", "actie": "ontgrendelen", "reden": LONG[:40_000]})
    post(site.client(), "/inloggen", {"gebruikersnaam": LONG[:40_000], "wachtwoord": LONG[:40_000]})
    with site.session() as session:
        assert session.scalar(select(func.count()).select_from(AdminAction)) == 0
        longest = session.scalar(select(func.max(func.length(LoginAttempt.account_id))))
    assert longest is not None and longest <= 100


def test_a_nul_character_anywhere_is_a_bad_request_not_a_500(site: Site) -> None:
    """PostgreSQL refuses NUL in any text; no field of this app holds one, so it is refused at the door."""
    client = site.client("auditor")
    wrong = []
    for rule in _rules(site, "GET"):
        values = _values(site.app, rule, site)
        arguments: list[str | None] = [a for a, v in values.items() if isinstance(v, str)]
        for argument in arguments or [None]:
            hostile = {**values, argument: "a\x00b"} if argument else values
            with site.app.test_request_context():
                url = rule.build(hostile, append_unknown=False)[1]  # type: ignore[index]
            response = client.get(url, query_string={"q": "\x00"} if argument is None else None)
            if response.status_code != 400:
                wrong.append(f"{rule.endpoint} {argument}: {response.status_code}")
            response.close()
    assert not wrong, "\n".join(wrong)
    anonymous = site.client()
    assert post(anonymous, "/inloggen", {"gebruikersnaam": "burge\x00meester", "wachtwoord": "x"}).status_code == 400
    json_nul = post(client, "/privacy/inzage/export", {"account": "a\x00", "formaat": "json"})
    assert json_nul.status_code == 400
    token = {"X-CSRF-Token": csrf_of(client)}
    assert client.post("/meldingen/gelezen", json={"text": "a\x00"}, headers=token).status_code == 400
    upload = {"csrf_token": csrf_of(client), "bestand": (io.BytesIO(b"%PDF-1.4 \x00"), "a\x00.pdf")}
    assert client.post("/meldingen/gelezen", data=upload, content_type="multipart/form-data").status_code == 400
    assert client.get("/meldingen").status_code == 200
