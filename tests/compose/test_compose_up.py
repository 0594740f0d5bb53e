"""`docker compose up` gives the whole system (issue 7): the five services of docker-compose.yml start in their
order, and people use it through the published port as they would. A bestuurder logs in (password, then
enrolling the authenticator), sends an aanmelding; the workers mail the confirmation to Mailpit; a CCV adviser
completes the first task; the hash chains verify in the container; every log line is a JSON line. The database
restarts and web and workers carry on by themselves. Then the system goes down and up again without losing
anything: the case and the bestuurder's session survive. Two more start an operator's production settings: what
the app then refuses and requires, and a database dump restored into a new system with only those settings.

Where Docker Hub cannot be reached the stand-in images of deploy/standin/ replace its three images (chosen by
.ci/ensure-docker.sh); the Dockerfile, docker-compose.yml, the health checks and the app are the real ones."""

from __future__ import annotations

import base64
import http.client
import json
import re
import secrets
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from engine import demo, totp
from tests.compose.stack import Stack
from tests.processes.paths import advisering_tot_concept
from tests.topology.browser import Browser, Statuses
from tests.topology.scenario import refusal
from tests.websupport import form_fields
from tests.worker.mailserver import free_port

pytestmark = pytest.mark.docker

PUBLIC = "regeling.voorbeeld.nl"
SECRET = re.compile(r'<code id="totp-sleutel">([A-Z2-7 ]+)</code>')


@pytest.fixture
def start() -> Iterator[Callable[[dict[str, str]], Stack]]:
    """Brings the system up with an operator's settings; takes it down with its volumes afterwards."""
    started: list[Stack] = []

    def up(settings: dict[str, str]) -> Stack:
        started.append(Stack(web_port=free_port(), mail_port=free_port(), settings=settings))
        started[-1].up()
        return started[-1]

    yield up
    for stack in started:
        stack.down(volumes=True)


@pytest.fixture
def stack(start: Callable[[dict[str, str]], Stack]) -> Stack:
    return start({})  # the file's own defaults: a local trial


@pytest.fixture
def browsers() -> Iterator[list[Browser]]:
    made: list[Browser] = []
    yield made
    for browser in made:
        browser.close()


def test_docker_compose_up_gives_the_whole_system(stack: Stack, browsers: list[Browser]) -> None:
    states = stack.states()
    assert states["db"] == [("running", 0)] and stack.health("db") == ["healthy"]
    assert states["migrate"] == [("exited", 0)]  # the one-shot init ran before web and workers
    assert states["web"] == [("running", 0)] and stack.health("web") == ["healthy"]
    assert states["worker"] == [("running", 0), ("running", 0)]
    assert states["mail"] == [("running", 0)]
    stack.wait_healthy("worker", count=2, seconds=60)  # their heartbeats

    made = stack.exec("web", "regeling", "demo")
    assert made.returncode == 0, made.stderr[-2000:]
    bestuurder = Browser([stack.web_port], Statuses())
    browsers.append(bestuurder)
    log_in_first_time(bestuurder, "burgemeester")
    reference = send_aanmelding(bestuurder)

    confirmation = f"Zaak {reference}: Uw aanmelding is ontvangen"
    wait_for(lambda: confirmation in subjects_to(stack, "burgemeester@voorbeeld.invalid"), "no confirmation mail")

    adviser = Browser([stack.web_port], Statuses())
    browsers.append(adviser)
    log_in_first_time(adviser, "ccv-adviseur-1")
    contact = advisering_tot_concept()[0]  # the path tests' contact_organisatie
    complete(adviser, reference, open_task_guid(stack, reference, contact.task), contact.data)
    history = [event["task"] for event in case_report(stack, reference)["history"]]
    assert "contact_organisatie" in history, history

    verified = stack.exec("web", "regeling", "verify")
    assert verified.returncode == 0 and "0 met een gebroken keten" in verified.stdout, verified.stdout[-2000:]
    assert subjects_to(stack, "burgemeester@voorbeeld.invalid").count(confirmation) == 1  # sent once, by one worker
    for service in ("web", "worker"):
        assert_json_lines(stack.logs(service), service)
    assert not bestuurder.statuses.server_errors and not adviser.statuses.server_errors

    stack.run("restart", "db")  # maintenance: the database goes away and comes back; nothing else restarts
    ready = f"127.0.0.1:{stack.web_port}"
    wait_for(lambda: http_get(stack.web_port, "/gereed", host=ready).status == 200, "not ready after the db restart")
    second = send_aanmelding(bestuurder)
    second_mail = f"Zaak {second}: Uw aanmelding is ontvangen"
    wait_for(lambda: second_mail in subjects_to(stack, "burgemeester@voorbeeld.invalid"), "the workers did not recover")

    stack.down(volumes=False)
    stack.up()
    page = bestuurder.get(f"/zaken/{reference}")  # the same session, kept in the database
    assert page.status == 200 and reference in page.text
    assert open_task_guid(stack, reference, "contact_organisatie") == ""  # still done after the restart


def test_production_takes_its_settings_from_the_environment(start: Callable[[dict[str, str]], Stack]) -> None:
    """An operator's .env: production on, own keys, the public name. The health check passes through the public
    name; the app answers only to that name, with HSTS and __Host- cookies; no local key is made. An example
    secret key or missing encryption keys stop the web app and `regeling init` with one line saying why."""
    stack = start(production_settings())
    assert stack.health("web") == ["healthy"]
    page = http_get(stack.web_port, "/inloggen", host=PUBLIC)
    assert page.status == 200 and page.getheader("Strict-Transport-Security")
    cookies = page.headers.get_all("Set-Cookie") or []
    assert cookies and all(c.startswith("__Host-") and "Secure" in c for c in cookies), cookies
    assert http_get(stack.web_port, "/inloggen", host=f"127.0.0.1:{stack.web_port}").status == 400
    no_local_key = stack.exec("web", "python", "-c", "import pathlib; print(list(pathlib.Path('var').iterdir()))")
    assert no_local_key.stdout.strip() == "[]", no_local_key.stdout

    example_key = "vervang-mij-door-een-lange-willekeurige-sleutel"  # docker-compose.yml's placeholder
    refused = stack.compose("run", "--rm", "--no-deps", "-e", f"REGELING_SECRET_KEY={example_key}", "web")
    assert refused.returncode != 0 and "refuses to start: PRODUCTION is on but SECRET_KEY is missing" in (
        refused.stdout + refused.stderr
    ), refused.stderr[-2000:]
    no_keys = stack.compose("run", "--rm", "--no-deps", "-e", "REGELING_ENCRYPTION_KEYS=", "migrate")
    assert no_keys.returncode != 0 and "REGELING_ENCRYPTION_KEYS" in no_keys.stdout + no_keys.stderr
    for output in (refused, no_keys):
        assert "Traceback" not in output.stdout + output.stderr, (output.stdout + output.stderr)[-3000:]


def test_a_database_dump_and_the_keys_bring_the_system_back(start: Callable[[dict[str, str]], Stack]) -> None:
    """Disaster recovery as the README describes it: pg_dump of one system, restored into a new one that has
    only the operator's settings (its keys) in common. Every case, every hash chain and every document is back,
    and the documents still decrypt."""
    settings = production_settings()
    old = start(settings)
    made = old.exec("web", "regeling", "demo")  # cases at several stages, with uploaded documents
    assert made.returncode == 0, made.stderr[-2000:]
    dump = old.exec("db", "pg_dump", "--username=regeling", "--no-owner", "regeling")
    assert dump.returncode == 0 and "CREATE TABLE" in dump.stdout, dump.stderr[-2000:]
    before = (listing(old), documents_read(old))

    new = start(settings)
    new.run("stop", "web", "worker")
    recreate = "DROP DATABASE regeling; CREATE DATABASE regeling OWNER regeling;"
    assert new.exec("db", "psql", "--username=regeling", "--dbname=postgres", stdin=recreate).returncode == 0
    restored = new.exec(
        "db", "psql", "--username=regeling", "--dbname=regeling", "--set=ON_ERROR_STOP=1", "--quiet", stdin=dump.stdout
    )
    assert restored.returncode == 0, restored.stderr[-2000:]
    new.run("start", "web", "worker")
    new.wait_healthy("web")

    assert (listing(new), documents_read(new)) == before and before[1] > 0
    verified = new.exec("web", "regeling", "verify")
    assert verified.returncode == 0 and "3 zaken gecontroleerd, 0 met een gebroken keten" in verified.stdout


def production_settings() -> dict[str, str]:
    """What an operator puts in .env: production on, own keys and password, the public name only."""
    return {
        "REGELING_PRODUCTION": "1",
        "REGELING_SECRET_KEY": secrets.token_urlsafe(48),
        "REGELING_ENCRYPTION_KEYS": f"k1:{base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()}",
        "REGELING_BASE_URL": f"https://{PUBLIC}",
        "REGELING_TRUSTED_HOSTS": json.dumps([PUBLIC]),
        "POSTGRES_PASSWORD": secrets.token_urlsafe(24),
    }


def listing(stack: Stack) -> str:
    cases = stack.exec("web", "regeling", "cases")
    assert cases.returncode == 0, cases.stderr[-2000:]
    return cases.stdout


DOCUMENTS_READ = """
import hashlib
from sqlalchemy import select
from engine.db import make_engine, make_session_factory
from engine.model import Document
with make_session_factory(make_engine())() as session:
    documents = list(session.scalars(select(Document)))
    assert all(hashlib.sha256(d.content).hexdigest() == d.sha256 for d in documents)
    print(len(documents))
"""


def documents_read(stack: Stack) -> int:
    """How many documents there are, each decrypted with the keys and checked against its digest."""
    read = stack.exec("web", "python", "-c", DOCUMENTS_READ)
    assert read.returncode == 0, read.stderr[-2000:]
    return int(read.stdout)


def http_get(port: int, path: str, *, host: str) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        response.read()
        return response
    finally:
        connection.close()


def log_in_first_time(browser: Browser, login: str) -> None:
    """Password, then the enrolment page: read the key as a person types it into the app, send its code."""
    first = browser.post(
        "/inloggen",
        {"gebruikersnaam": login, "wachtwoord": demo.DEMO_PASSWORD, "csrf_token": browser.get("/inloggen").token()},
    )
    assert (first.status, first.location) == (302, "/inloggen/koppelen"), (first.status, first.location)
    page = browser.get("/inloggen/koppelen")
    match = SECRET.search(page.text)
    assert match, "the enrolment page shows no key"
    code = totp.code_at(match.group(1).replace(" ", ""), datetime.now(UTC))
    enrolled = browser.post("/inloggen/koppelen", {"code": code, "csrf_token": page.token()})
    assert enrolled.status == 200 and "herstelcode" in enrolled.text.lower(), enrolled.status


def send_aanmelding(browser: Browser) -> str:
    data = demo.aanmelding("Bea Burgemeester", "burgemeester", ("Gemeente Voorbeeldstad", "gemeente"))
    page = browser.get("/aanmelden")
    assert page.status == 200, page.status
    sent = browser.post("/aanmelden", {**form_fields(data), "_actie": "versturen", "csrf_token": page.token()})
    assert sent.status == 302 and sent.location.startswith("/zaken/BV-"), refusal(sent)
    return sent.location.rsplit("/", 1)[-1]


def complete(browser: Browser, reference: str, guid: str, data: dict[str, Any]) -> None:
    url = f"/zaken/{reference}/taken/{guid}"
    page = browser.get(url)
    assert page.status == 200, page.status
    form = {**form_fields(data), "lock_version": page.lock_version(), "csrf_token": page.token(), "_actie": "versturen"}
    done = browser.post(url, form)
    assert (done.status, done.location) == (302, "/taken"), refusal(done)


def case_report(stack: Stack, reference: str) -> dict[str, Any]:
    shown = stack.exec("web", "regeling", "show", reference, "--json")
    assert shown.returncode == 0, shown.stderr[-2000:]
    report: dict[str, Any] = json.loads(shown.stdout)
    return report


def open_task_guid(stack: Stack, reference: str, bpmn_id: str) -> str:
    return next((t["task_guid"] for t in case_report(stack, reference)["open_tasks"] if t["bpmn_id"] == bpmn_id), "")


def subjects_to(stack: Stack, address: str) -> list[str]:
    """Subjects of the messages Mailpit holds for ``address``, through its published API port."""
    url = f"http://127.0.0.1:{stack.mail_port}/api/v1/messages"
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - a fixed loopback URL
        messages = json.load(response)["messages"]
    return [m["Subject"] for m in messages if address in [to["Address"] for to in m["To"]]]


def wait_for(condition: Callable[[], bool], message: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.5)


def assert_json_lines(output: str, service: str) -> None:
    for line in output.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            raise AssertionError(f"{service} wrote a line that is not JSON: {line[:200]!r}") from None
        assert {"time", "level", "logger", "message", "request_id"} <= set(record), line[:200]
        assert record["level"] not in ("ERROR", "CRITICAL"), line[:200]
