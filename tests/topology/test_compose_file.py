"""docker-compose.yml and the Dockerfile against the code they run, without Docker (tests/compose/ runs them):
the services and their order of start, every command and file they name, every variable they set being one the
code reads, and the database and mail addresses agreeing with the services that serve them.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from flask import Flask

from web.config import defaults

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("migrate", "web", "worker")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    return loaded


def _source_text() -> str:
    files = [*(ROOT / "engine").rglob("*.py"), *(ROOT / "web").rglob("*.py"), *(ROOT / "deploy").rglob("*.py")]
    return "\n".join(path.read_text(encoding="utf-8") for path in files)


def test_the_services_start_in_order_and_the_workers_are_two(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"db", "migrate", "web", "worker", "mail"}
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    for name in ("web", "worker"):
        assert services[name]["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
    assert services["migrate"]["restart"] == "no"
    for name in ("db", "web", "worker", "mail"):  # back after a crash or a reboot of the host
        assert services[name]["restart"] == "unless-stopped", name
    assert services["worker"]["deploy"]["replicas"] == 2
    assert services["worker"]["command"] == ["regeling", "worker"]
    assert services["db"]["healthcheck"]["test"][1].startswith("pg_isready")


def test_every_command_and_file_named_exists(compose: dict[str, Any]) -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert "regeling" in scripts
    web = compose["services"]["web"]
    assert web["command"][:3] == ["gunicorn", "--config", "deploy/gunicorn.conf.py"]
    assert (ROOT / web["command"][2]).is_file()
    module, _, attribute = web["command"][3].partition(":")
    assert (ROOT / (module.replace(".", "/") + ".py")).read_text(encoding="utf-8").count(f"\n{attribute} = ") == 1
    for name in ("web", "worker"):
        check = compose["services"][name]["healthcheck"]["test"]
        assert check[:2] == ["CMD", "python"] and (ROOT / check[2]).is_file(), name
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    for line in re.findall(r"^COPY (.+)$", dockerfile, flags=re.MULTILINE):
        for source in line.split()[:-1]:
            assert (ROOT / source).exists(), f"Dockerfile copies {source}, which is not in the repository"
    assert "deploy" in re.findall(r"^COPY (\S+)", dockerfile, flags=re.MULTILINE)


def test_every_variable_set_is_one_the_code_reads(compose: dict[str, Any]) -> None:
    source = _source_text()
    settings = set(defaults()) | set(Flask.default_config)
    for name in APP_SERVICES:
        for variable in compose["services"][name]["environment"]:
            read = f'"{variable}"' in source or (
                variable.startswith("REGELING_") and variable.removeprefix("REGELING_") in settings
            )
            assert read, f"{name} sets {variable}, which nothing reads"


def test_the_database_and_mail_addresses_point_at_their_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    db = services["db"]["environment"]
    mail_ports = [port.rsplit(":", 1)[-1] for port in services["mail"]["ports"]]
    for name in APP_SERVICES:
        environment = services[name]["environment"]
        url = urlsplit(environment["DATABASE_URL"].replace("${POSTGRES_PASSWORD:-regeling}", "regeling"))
        assert url.scheme == "postgresql+psycopg" and url.hostname == "db"
        assert url.username == db["POSTGRES_USER"] and url.path == f"/{db['POSTGRES_DB']}"
        assert environment["SMTP_HOST"] == "mail" and environment["SMTP_PORT"] == "1025"  # Mailpit's SMTP port
        assert urlsplit(environment["MAILPIT_API"]).port == int(mail_ports[0]) == 8025
        assert services[name]["volumes"] == ["appvar:/app/var"]  # one local key for all (no key set: a trial)
