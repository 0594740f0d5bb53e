"""Export: a deployed version as its files, in the layout `regeling validate` and `regeling deploy` read back
(``processes/`` with the BPMN and DMN files, ``forms/`` beside it), as a zip or into a directory."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from engine.bundles import FORM_SUFFIX
from engine.model import ProcessVersion

# A fixed time in every zip entry: the same version always exports to the same bytes.
_ZIP_TIME = (2024, 1, 1, 0, 0, 0)


def export_paths(version: ProcessVersion) -> dict[str, str]:
    """Path in the export -> text, for every file of the version."""
    return {_export_path(name): text for name, text in sorted(version.files.items())}


def _export_path(name: str) -> str:
    return name if name.endswith(FORM_SUFFIX) else f"processes/{name}"


def export_zip(version: ProcessVersion) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, text in export_paths(version).items():
            archive.writestr(zipfile.ZipInfo(path, date_time=_ZIP_TIME), text.encode("utf-8"))
    return buffer.getvalue()


def zip_name(version: ProcessVersion) -> str:
    return f"{version.process_key}-versie-{version.version}.zip"


def export_to_directory(version: ProcessVersion, directory: Path) -> list[Path]:
    """Write the version's files under ``directory`` (created if missing); returns the paths written."""
    written = []
    for path, text in export_paths(version).items():
        target = directory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written
