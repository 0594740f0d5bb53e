"""Process bundles: the BPMN, DMN and form files of a process, hashed, deployed as versions, compiled once."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path

from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import runtime
from engine.errors import BundleInvalidError, NotFoundError, Problem
from engine.forms import FormSchema, load_form
from engine.model import ProcessVersion

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
FORM_SUFFIX = ".schema.json"
MAX_FILE_BYTES = 2_000_000


@dataclass(frozen=True)
class Bundle:
    """File name -> text. BPMN/DMN under their own names, forms as ``forms/<name>.schema.json``."""

    files: Mapping[str, str]

    @cached_property
    def content_hash(self) -> str:
        digest = hashlib.sha256()
        for name in sorted(self.files):
            digest.update(name.encode() + b"\0" + hashlib.sha256(self.files[name].encode()).digest())
        return digest.hexdigest()

    @property
    def diagram_files(self) -> dict[str, str]:
        return {n: t for n, t in self.files.items() if n.endswith((".bpmn", ".dmn"))}

    @property
    def form_files(self) -> dict[str, str]:
        return {n.removeprefix("forms/"): t for n, t in self.files.items() if n.endswith(FORM_SUFFIX)}

    def form(self, name: str) -> FormSchema:
        text = self.form_files.get(name)
        if text is None:
            raise NotFoundError(f"form {name} is not part of this process version")
        return load_form(name, text)

    def root_process_ids(self) -> list[str]:
        """Executable processes that no call activity of the bundle calls: what a case starts."""
        declared: list[str] = []
        called: set[str] = set()
        for text in self.diagram_files.values():
            root = parse_xml(text)
            if root is None:
                continue
            for process in root.iter(f"{{{BPMN_NS}}}process"):
                if process.get("isExecutable", "true") != "false":
                    declared.append(process.get("id", ""))
            called.update(e.get("calledElement", "") for e in root.iter(f"{{{BPMN_NS}}}callActivity"))
        return sorted(p for p in declared if p not in called)


def parse_xml(text: str) -> etree._Element | None:
    """Parse untrusted XML without DTDs, entities or network access; None if it is not well-formed."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        return etree.fromstring(text.encode("utf-8"), parser)
    except etree.XMLSyntaxError:
        return None


def read_bundle(paths: Iterable[str | Path]) -> Bundle:
    """Collect the bundle named by files and directories; a ``processes/`` dir brings its sibling ``forms/``."""
    files: dict[str, str] = {}
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise BundleInvalidError([Problem(str(path), "", "no such file or directory")])
        for file in _bundle_files(path):
            files[_bundle_name(file)] = _read_text(file)
    if not any(n.endswith(".bpmn") for n in files):
        raise BundleInvalidError([Problem(", ".join(map(str, paths)), "", "no .bpmn file found")])
    return Bundle(files)


def _bundle_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    found = [p for p in sorted(path.iterdir()) if p.suffix in (".bpmn", ".dmn") or p.name.endswith(FORM_SUFFIX)]
    forms_dir = path.parent / "forms"
    if path.name == "processes" and forms_dir.is_dir():
        found += sorted(forms_dir.glob(f"*{FORM_SUFFIX}"))
    return found


def _bundle_name(file: Path) -> str:
    return f"forms/{file.name}" if file.name.endswith(FORM_SUFFIX) else file.name


def _read_text(file: Path) -> str:
    if file.stat().st_size > MAX_FILE_BYTES:
        raise BundleInvalidError([Problem(file.name, "", f"file larger than {MAX_FILE_BYTES} bytes")])
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise BundleInvalidError([Problem(file.name, "", "not UTF-8 text")]) from error


# --------------------------------------------------------------------------------------------------
# Versions in the database.


def deploy(session: Session, bundle: Bundle, *, actor: str, comment: str, at: datetime) -> list[ProcessVersion]:
    """Store the bundle as a new version of each root process, unless that exact content is deployed."""
    from engine.validation import validate_bundle

    problems = validate_bundle(bundle)
    if problems:
        raise BundleInvalidError(problems)
    versions = []
    for process_key in bundle.root_process_ids():
        versions.append(_deploy_one(session, bundle, process_key, actor=actor, comment=comment, at=at))
    return versions


def _deploy_one(
    session: Session, bundle: Bundle, process_key: str, *, actor: str, comment: str, at: datetime
) -> ProcessVersion:
    existing = session.scalar(
        select(ProcessVersion).where(
            ProcessVersion.process_key == process_key, ProcessVersion.content_hash == bundle.content_hash
        )
    )
    if existing is not None:
        return existing
    last = session.scalar(select(func.max(ProcessVersion.version)).where(ProcessVersion.process_key == process_key))
    version = ProcessVersion(
        process_key=process_key,
        version=(last or 0) + 1,
        content_hash=bundle.content_hash,
        files=dict(bundle.files),
        deployed_by=actor,
        deployed_at=at,
        comment=comment,
        status="active",
    )
    session.add(version)
    session.flush()
    return version


def active_version(session: Session, process_key: str) -> ProcessVersion:
    version = session.scalar(
        select(ProcessVersion)
        .where(ProcessVersion.process_key == process_key, ProcessVersion.status == "active")
        .order_by(ProcessVersion.version.desc())
        .limit(1)
    )
    if version is None:
        raise NotFoundError(f"process {process_key} has no active version; run `regeling deploy`")
    return version


_COMPILED: dict[tuple[str, str], runtime.CompiledProcess] = {}


def compiled(version: ProcessVersion) -> runtime.CompiledProcess:
    """The parsed spec of a version; parsed once per process and content hash, then shared."""
    key = (version.process_key, version.content_hash)
    if key not in _COMPILED:
        bundle = Bundle(version.files)
        _COMPILED[key] = runtime.compile_process(bundle.diagram_files, version.process_key)
    return _COMPILED[key]


def compile_active(session: Session) -> list[str]:
    """Parse the active version of every process now rather than on the first case that needs it; returns
    the process keys."""
    keys = list(session.scalars(select(ProcessVersion.process_key).where(ProcessVersion.status == "active").distinct()))
    for key in keys:
        compiled(active_version(session, key))
    return sorted(keys)


def forget_compiled() -> None:
    """Parse every version again when next used, as a process that just started does."""
    _COMPILED.clear()


def bundle_of(version: ProcessVersion) -> Bundle:
    return Bundle(version.files)


def message_form_name(message: str) -> str:
    """Every message from outside has a schema of its payload, with the roles that may send it."""
    return f"bericht_{message}{FORM_SUFFIX}"


_FORMS: dict[tuple[str, str], FormSchema] = {}


def form_of(version: ProcessVersion, name: str) -> FormSchema:
    """The schema of form ``name`` as deployed with ``version``; loaded once per content hash."""
    key = (version.content_hash, name)
    if key not in _FORMS:
        _FORMS[key] = Bundle(version.files).form(name)
    return _FORMS[key]
