"""D4: log injection. A user name with CR/LF and ANSI escapes at login, form values, a URL and a request id
with CR/LF: every log line stays one line without raw control characters, and what was typed at login is
never logged (only the id of an account that exists, or ``onbekend``)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator

import pytest

from tests.websupport import Site, lock_version_of, post
from web.logs import JsonFormatter

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
MARKER = "INJECTIE-7f3a"  # in every typed value: it must not reach the log
FORGED = f"\r\n2026-03-02 09:00:00 INFO web.auth ingelogd account=beheerder {MARKER}"
ANSI = f"\x1b[2J\x1b[31m{MARKER}\x1b[0m\x07"

HOSTILE_NAMES = (
    f"bva{FORGED}",
    f"{MARKER}\nbva",
    f"bva\r{MARKER}",
    f"{ANSI}bva",
    f"bva\x00{MARKER}",
    f"\u2028{MARKER}\u0085bva",  # Unicode line and next-line separators
    f"  bva  \r\n{MARKER}  ",
)


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    # The app's own loggers at DEBUG (every line they can write); libraries keep their levels.
    caplog.set_level(logging.DEBUG, logger="web")
    caplog.set_level(logging.DEBUG, logger="engine")
    yield caplog


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Every captured record as the app writes it: plain text (development) and JSON (production)."""
    plain = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    formats: list[logging.Formatter] = [plain, JsonFormatter()]
    lines = []
    for record in caplog.records:
        record.request_id = getattr(record, "request_id", "-")
        for formatter in formats:
            lines.append(formatter.format(record))
        lines.append(record.getMessage())
    return lines


def _assert_one_clean_line_each(caplog: pytest.LogCaptureFixture) -> None:
    lines = _lines(caplog)
    for line in lines:
        assert "\n" not in line and "\r" not in line, f"a log line was split: {line!r}"
        assert not CONTROL.search(line), f"a raw control character in the log: {line!r}"
        assert "\u2028" not in line and "\u2029" not in line, f"a Unicode line separator in the log: {line!r}"
        assert MARKER not in line, f"typed input reached the log: {line!r}"
    for record in caplog.records:
        json.loads(JsonFormatter().format(record))  # still one parseable object


def test_a_hostile_user_name_at_login_is_never_logged(site: Site, logged: pytest.LogCaptureFixture) -> None:
    client = site.client()
    for name in HOSTILE_NAMES:
        response = post(client, "/inloggen", {"gebruikersnaam": name, "wachtwoord": f"fout-{MARKER}\r\nx"})
        assert response.status_code in (400, 401, 429)  # 400: a NUL is refused at the door (web/limits.py)
    failures = [r.getMessage() for r in logged.records if "inloggen mislukt" in r.getMessage()]
    assert failures, "the failed logins were logged"
    # A name that is an account once stripped ("  bva  ") logs that account's id; every other one: onbekend.
    assert {line.rsplit("account=", 1)[1] for line in failures} <= {"onbekend", "bva"}
    _assert_one_clean_line_each(logged)


def test_form_values_urls_and_headers_with_line_breaks_stay_out_of_the_log(
    site: Site, logged: pytest.LogCaptureFixture
) -> None:
    reference = site.cases["burgemeester"]
    task = site.open_task(reference, "contact_organisatie")
    url = f"/zaken/{reference}/taken/{task.task_guid}"
    adviser = site.client("ccv-adviseur-1")
    lock = lock_version_of(adviser.get(url).text)
    hostile = {
        "contactpersoon_organisatie": f"Secretaris{FORGED}",
        "datum_contact": f"2026-03-0{ANSI}\r\n",  # not a date: refused, typed value shown again
        "datum_gesprek_organisatie": "2026-03-04",
        "lock_version": lock,
        "_actie": "versturen",
    }
    assert post(adviser, url, hostile).status_code == 422
    # A stale form, a draft, a task and a case that do not exist, with CR/LF and ANSI in the path.
    assert post(adviser, url, {**hostile, "datum_contact": "2026-03-03", "lock_version": "0"}).status_code in (
        200,
        409,
    )
    assert post(adviser, url, {**hostile, "_actie": "concept"}).status_code in (200, 302)
    adviser.get(f"/zaken/{reference}/taken/%0d%0a{MARKER}%1b%5b31m")
    adviser.get(f"/zaken/BV%0D%0A{MARKER}")
    site.client("ccv-adviseur-2").get(f"/zaken/{reference}")  # refused (another adviser's case): logged
    adviser.get("/taken", headers={"X-Request-ID": f"abcdefgh{ANSI}"})
    # Completed for real with CR/LF in a free-text value.
    lock = lock_version_of(adviser.get(url).text)
    done = post(adviser, url, {**hostile, "datum_contact": "2026-03-03", "lock_version": lock})
    assert done.status_code == 302
    assert any("weigering" in r.getMessage() for r in logged.records), "a refusal was logged"
    _assert_one_clean_line_each(logged)
