"""docker-compose.yml brought up for a test: its own project name and host ports, the images chosen by
.ci/ensure-docker.sh (Docker Hub's, or the stand-ins of deploy/standin/ where Docker Hub cannot be reached), and
the file's own defaults for everything else (no REGELING_* from the test run leaks into it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
IMAGES_ENV = ROOT / "var" / "compose-images.env"
UP_SECONDS = 600  # a first build installs the app's packages from PyPI


def compose_command() -> list[str]:
    """Compose v2 (`docker compose`) where installed, else Debian's docker-compose 1.29."""
    if shutil.which("docker") and _quiet(["docker", "compose", "version"]):
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise AssertionError("no docker compose here: run `bash .ci/ensure-docker.sh` (make test does)")


def _quiet(command: list[str]) -> bool:
    return subprocess.run(command, capture_output=True, check=False).returncode == 0  # noqa: S603


@dataclass
class Stack:
    web_port: int
    mail_port: int
    settings: dict[str, str] = field(default_factory=dict)  # what an operator puts in .env
    project: str = field(default_factory=lambda: f"regeling-compose-{uuid.uuid4().hex[:8]}")

    def __post_init__(self) -> None:
        assert IMAGES_ENV.is_file(), f"{IMAGES_ENV} is missing: run `bash .ci/ensure-docker.sh` (make test does)"
        assert _quiet(["docker", "info"]), "no Docker daemon answers: run `bash .ci/ensure-docker.sh` (make test does)"
        self.command = [*compose_command(), "--project-name", self.project, "--env-file", str(IMAGES_ENV)]
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("REGELING_", "POSTGRES_", "DATABASE_"))},
            "REGELING_IMAGE": "regeling-compose-test",  # not the `regeling` image someone may have built
            "WEB_PORT": str(self.web_port),
            "MAIL_UI_PORT": str(self.mail_port),
            **self.settings,
        }

    def compose(
        self, *arguments: str, timeout: float = 120, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603
            [*self.command, *arguments],
            input=stdin,
            check=False,
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def run(self, *arguments: str, timeout: float = 120) -> str:
        done = self.compose(*arguments, timeout=timeout)
        assert done.returncode == 0, f"compose {' '.join(arguments)}: {done.returncode}\n{done.stderr[-3000:]}"
        return done.stdout

    def exec(self, service: str, *command: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return self.compose("exec", "-T", service, *command, stdin=stdin)

    def wait_healthy(self, service: str, count: int = 1, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while self.health(service) != ["healthy"] * count:
            assert time.monotonic() < deadline, (
                f"{service} is not healthy: {self.states()}\n{self.logs(service)[-3000:]}"
            )
            time.sleep(1)

    def up(self) -> None:
        self.run("up", "--detach", "--build", timeout=UP_SECONDS)
        self.wait_healthy("web")

    def down(self, *, volumes: bool) -> None:
        self.run("down", *(["--volumes"] if volumes else []), timeout=180)

    def containers(self, service: str) -> list[str]:
        return self.run("ps", "--quiet", service).split()

    def inspect(self, service: str) -> list[dict[str, Any]]:
        ids = self.containers(service)
        if not ids:
            return []
        found = subprocess.run(["docker", "inspect", *ids], capture_output=True, text=True, check=True)  # noqa: S603, S607
        return [item["State"] for item in json.loads(found.stdout)]

    def health(self, service: str) -> list[str]:
        return [str(state.get("Health", {}).get("Status", "none")) for state in self.inspect(service)]

    def states(self) -> dict[str, list[tuple[str, int]]]:
        """Per service: (status, exit code) of each of its containers, stopped ones included."""
        return {
            service: [(str(state["Status"]), int(state["ExitCode"])) for state in self.inspect(service)]
            for service in ("db", "migrate", "web", "worker", "mail")
        }

    def logs(self, service: str) -> str:
        """What the service's containers wrote, without compose's name prefixes."""
        output = []
        for container in self.containers(service):
            found = subprocess.run(["docker", "logs", container], capture_output=True, text=True, check=True)  # noqa: S603, S607
            output.append(found.stdout + found.stderr)
        return "".join(output)
