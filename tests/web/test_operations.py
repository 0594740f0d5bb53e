"""What operations needs: liveness and readiness, a request id on every response and log line, JSON logs,
and the app served by gunicorn exactly as docker compose runs it."""

from __future__ import annotations

import gc
import json
import logging
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from engine import bundles
from engine.clock import FrozenClock
from tests.websupport import START, Site, make_app
from tests.worker.mailserver import free_port
from web.logs import JsonFormatter, RequestIdFilter
from web.warmup import settle

ROOT = Path(__file__).resolve().parents[2]


def test_liveness_and_readiness(site: Site) -> None:
    client = site.client()
    assert client.get("/gezond").json == {"status": "ok"}
    assert client.get("/gereed").json == {"status": "ok"}


def test_not_ready_without_a_migrated_database(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'leeg.db'}", FrozenClock(START))
    response = app.test_client().get("/gereed")
    assert response.status_code == 503
    assert response.json == {"status": "niet gereed", "problemen": ["schema"]}


def test_a_web_process_parses_its_processes_and_freezes_before_serving(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    bundles.forget_compiled()
    thresholds = gc.get_threshold()
    try:
        with caplog.at_level(logging.INFO, logger="web.warmup"):
            settle(site.app)
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] == 50_000
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
    assert caplog.messages == ["process diagrams parsed before serving: regeling"]
    assert bundles._COMPILED  # the first task page parses nothing


def test_a_web_process_that_finds_no_database_still_starts(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'ontbreekt' / 'regeling.db'}", FrozenClock(START))
    thresholds = gc.get_threshold()
    try:
        settle(app)
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
    assert caplog.messages == ["process diagrams not parsed before serving: the database did not answer"]


def test_request_id_is_echoed_when_safe_and_made_otherwise(site: Site) -> None:
    client = site.client()
    assert client.get("/gezond", headers={"X-Request-ID": "proxy-1234abcd"}).headers["X-Request-ID"] == "proxy-1234abcd"
    made = client.get("/gezond", headers={"X-Request-ID": "<script>alert(1)</script>"}).headers["X-Request-ID"]
    assert len(made) == 16 and "<" not in made
    assert len(client.get("/gezond").headers["X-Request-ID"]) == 16


def test_json_log_lines_carry_the_request_id_and_no_exception_text(site: Site) -> None:
    record = logging.LogRecord("web.test", logging.ERROR, __file__, 1, "stap %s mislukt", ("x",), None)
    with site.app.test_request_context(headers={"X-Request-ID": "abcdef123456"}):
        from flask import g

        g.request_id = "abcdef123456"
        RequestIdFilter().filter(record)
    try:
        raise ValueError("woonadres Synthetischestraat 1")
    except ValueError:
        record.exc_info = sys.exc_info()
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "abcdef123456" and line["message"] == "stap x mislukt"
    assert line["exception"] == "ValueError"
    assert "Synthetischestraat" not in json.dumps(line)


def test_gunicorn_serves_the_app_as_compose_runs_it(site: Site) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": site.app.config["DATABASE_URL"],
        "REGELING_SECRET_KEY": "test-sleutel-voor-gunicorn-niet-voor-productie",
        "REGELING_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        # Only the public name, as an operator sets it: the container's health check must pass all the same.
        "REGELING_TRUSTED_HOSTS": '["regeling.voorbeeld.nl"]',
        "REGELING_BASE_URL": "https://regeling.voorbeeld.nl",
    }
    command = [sys.executable, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py", "web.wsgi:app"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # noqa: S603
    health_check = [sys.executable, "deploy/healthcheck.py"]
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/gereed?zoek=geheim", headers={"Host": "regeling.voorbeeld.nl"}
                )
                with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310
                    assert response.status == 200
                    request_id = response.headers["X-Request-ID"]
                    break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not come up"
                time.sleep(0.2)
        hostile = urllib.request.Request(
            f"http://127.0.0.1:{port}/bestaat-niet%0D%0A2026%20INFO%20nep%1B%5B31m%E2%80%A8" + "x" * 300,
            headers={"Host": "regeling.voorbeeld.nl"},
        )
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(hostile, timeout=2)  # noqa: S310
        missing.value.close()
        with pytest.raises(urllib.error.HTTPError) as refused:  # the address alone is not a trusted host
            urllib.request.urlopen(f"http://127.0.0.1:{port}/gereed", timeout=2)  # noqa: S310
        refused.value.close()
        assert refused.value.code == 400
        assert subprocess.run(health_check, cwd=ROOT, env=env, check=False).returncode == 0  # noqa: S603
    finally:
        process.terminate()
        output = process.communicate(timeout=20)[0].decode()
    assert process.returncode == 0
    assert "geheim" not in output  # the access log has the path, never the query
    lines = [json.loads(line) for line in output.splitlines()]  # gunicorn's own lines are JSON lines too
    assert {"time", "level", "logger", "message", "request_id"} <= set().union(*lines)
    access = [line for line in lines if line["message"].startswith("GET /gereed 200 ")]
    assert {"logger": "gunicorn.access", "request_id": request_id} in [
        {"logger": line["logger"], "request_id": line["request_id"]} for line in access
    ]
    assert not [line for line in lines if line["logger"].startswith("alembic")]  # readiness probes are silent
    settled = [line["message"] for line in lines if line["logger"] == "web.warmup"]
    assert settled == ["process diagrams parsed before serving: regeling"] * 2  # each worker, before serving
    (forged,) = [line["message"] for line in lines if line["message"].startswith("GET /bestaat-niet")]
    assert forged.startswith("GET /bestaat-niet%0D%0A2026%20INFO%20nep%1B%5B31m%E2%80%A8xxx")  # as it travelled
    assert len(forged) < 240 and forged.isprintable() and forged.isascii()
    assert subprocess.run(health_check, cwd=ROOT, env=env, check=False).returncode == 1  # noqa: S603 (server gone)


@pytest.mark.parametrize(
    ("setting", "reason"),
    [
        ({"REGELING_SECRET_KEY": "vervang-mij-door-een-lange-willekeurige-sleutel"}, "SECRET_KEY is missing, a known"),
        ({"REGELING_ENCRYPTION_KEYS": "k1:kort"}, "REGELING_ENCRYPTION_KEYS: key 'k1' is not 32 bytes"),
    ],
)
def test_gunicorn_in_production_stops_saying_which_setting_is_wrong(
    tmp_path: Path, setting: dict[str, str], reason: str
) -> None:
    """The operator reads why in the (JSON) log, once per worker, without a traceback; gunicorn stops."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("REGELING_")},
        "DATABASE_URL": f"sqlite:///{tmp_path / 'leeg.db'}",
        "REGELING_PRODUCTION": "1",
        "REGELING_SECRET_KEY": "een-lange-willekeurige-sleutel-voor-deze-test-" + "x" * 20,
        "REGELING_ENCRYPTION_KEYS": "k1:" + "A" * 43 + "=",
        "REGELING_BIND": f"127.0.0.1:{free_port()}",
        "WEB_CONCURRENCY": "1",
        **setting,
    }
    command = [sys.executable, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py", "web.wsgi:app"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)  # noqa: S603
    lines = [json.loads(line) for line in (done.stdout + done.stderr).splitlines()]
    assert done.returncode != 0
    refusals = [line for line in lines if line["level"] == "CRITICAL"]
    assert refusals and reason in refusals[0]["message"], lines
    assert refusals[0]["message"].startswith("the web app refuses to start: ")


def test_spoofed_host_and_oversized_requests_are_refused(site: Site) -> None:
    """Scenario X7: with REGELING_TRUSTED_HOSTS set (a JSON list, as compose sets it) another Host header is
    refused; a body over MAX_CONTENT_LENGTH is refused before it is read."""
    app = make_app(site.app.config["DATABASE_URL"], FrozenClock(START), TRUSTED_HOSTS=["regeling.voorbeeld.nl"])
    client = app.test_client()
    assert client.get("/gezond", headers={"Host": "regeling.voorbeeld.nl"}).status_code == 200
    assert client.get("/gezond", headers={"Host": "aanvaller.example"}).status_code == 400
    big = b"x" * (site.app.config["MAX_CONTENT_LENGTH"] + 1)
    response = site.client().post("/inloggen", data=big, content_type="application/octet-stream")
    assert response.status_code == 413
