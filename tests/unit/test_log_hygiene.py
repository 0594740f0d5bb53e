"""The log-hygiene check of tests/conftest.py bites: a run whose test logs synthetic personal data fails, and
says which test and which logger; the same run without that line passes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]

LEAKING_TEST = """
import logging


def test_logs_a_home_address():
    logging.getLogger("engine.lek").info("adres %s", "Synthetischestraat 1, 9999 ZZ Nergenshuizen")


def test_logs_an_exception_with_an_email_address():
    try:
        raise ValueError("mail naar bestuurder@voorbeeld.invalid mislukt")
    except ValueError:
        logging.getLogger("web.lek").exception("mislukt")
"""

CLEAN_TEST = """
import logging


def test_logs_only_a_reference():
    logging.getLogger("engine.schoon").warning("zaak %s", "BV-2026-0001")
"""


def run_pytest(directory: Path, source: str) -> subprocess.CompletedProcess[str]:
    (directory / "test_child.py").write_text(source, encoding="utf-8")
    # -p tests.conftest: the child loads the very plugin `make test` runs under (the child's own tests are outside
    # tests/, so nothing else of this suite is collected); -c /dev/null keeps this project's settings out.
    command = [sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest", "-p", "no:cacheprovider"]
    command += ["-c", os.devnull, "--rootdir", str(directory), str(directory)]
    return subprocess.run(  # noqa: S603 - our own interpreter and arguments
        command, cwd=PROJECT, capture_output=True, text=True, timeout=120, check=False
    )


def test_a_run_that_logs_personal_data_fails(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, LEAKING_TEST)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "2 passed" in output  # the tests themselves pass: the hygiene check fails the run
    assert "log hygiene failed" in output
    assert "test_child.py::test_logs_a_home_address" in output and "engine.lek" in output
    assert "test_child.py::test_logs_an_exception_with_an_email_address" in output and "web.lek" in output


def test_a_clean_run_passes(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, CLEAN_TEST)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "log hygiene" not in output
