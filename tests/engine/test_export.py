"""Export of a version: a zip and `regeling export [KEY] VERSION DIR`, in the layout validate and deploy read back."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from engine import bundles, export
from engine.cli import main
from engine.model import ProcessVersion
from engine.validation import validate_bundle
from tests.support import ROOT, CaseDriver

MINI = ROOT / "tests" / "fixtures" / "mini" / "processes"


def test_the_zip_holds_every_file_and_is_the_same_each_time(sqlite_engine: Engine) -> None:
    driver = CaseDriver(sqlite_engine)
    driver.deploy(MINI)
    with driver.factory() as session:
        version = session.scalars(select(ProcessVersion)).one()
        data = export.export_zip(version)
        assert export.export_zip(version) == data
        assert export.zip_name(version) == "mini-versie-1.zip"
        files = dict(version.files)
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert sorted(archive.namelist()) == sorted(
        name if name.startswith("forms/") else f"processes/{name}" for name in files
    )
    assert archive.read("processes/mini.bpmn").decode() == files["mini.bpmn"]


def test_the_cli_writes_a_version_that_validates_again(
    sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", sqlite_engine.url.render_as_string(hide_password=False))
    CaseDriver(sqlite_engine).deploy(MINI)
    assert main(["export", "mini", "1", str(tmp_path / "uit")]) == 0
    assert "4 bestanden geschreven" in capsys.readouterr().out
    again = bundles.read_bundle([tmp_path / "uit" / "processes"])
    assert again == bundles.read_bundle([MINI]) and validate_bundle(again) == []
    assert main(["export", "2", str(tmp_path / "x")]) == 1
    assert "regeling heeft geen versie 2" in capsys.readouterr().err
    assert main(["export", "mini", "een", str(tmp_path / "x")]) == 1
