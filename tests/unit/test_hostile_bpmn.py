"""U3: hostile diagrams are refused by the bundle loader and `regeling validate` with a Problem (file, element,
reason), without reading local files and within bounded memory: XXE, billion laughs, an external DTD, a
deeply nested document and an oversized file.

Memory is measured as growth of the process's peak resident size (``ru_maxrss``, which also sees libxml2's
allocations, unlike tracemalloc); nothing here asserts on time.
"""

from __future__ import annotations

import resource
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from engine import bundles, runtime
from engine.cli import main
from engine.errors import BundleInvalidError, Problem
from engine.validation import validate_bundle
from tests.support import ROOT

MINI = ROOT / "tests" / "fixtures" / "mini"
PASSWD = Path("/etc/passwd")
MAX_GROWTH_BYTES = 200 * 1024 * 1024
HEADER = '<?xml version="1.0" encoding="UTF-8"?>\n'
DEFINITIONS = '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="defs">'


def _mini_bpmn() -> str:
    return (MINI / "processes" / "mini.bpmn").read_text(encoding="utf-8")


def _with_doctype(doctype: str, body: str = "&xxe;") -> str:
    """The fixture diagram with a DOCTYPE before its root and ``body`` inside a process documentation."""
    text = _mini_bpmn()
    declaration, rest = text.split("\n", 1)
    marker = '<bpmn:process id="mini"'
    assert marker in rest, "the fixture has a process 'mini'"
    start = rest.index(marker)
    end = rest.index(">", start) + 1
    rest = rest[:end] + f"<bpmn:documentation>{body}</bpmn:documentation>" + rest[end:]
    return f"{declaration}\n{doctype}\n{rest}"


def _xxe() -> str:
    return _with_doctype('<!DOCTYPE bpmn:definitions [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>')


def _billion_laughs() -> str:
    entities = ['<!ENTITY lol "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)
    ]
    return _with_doctype(f"<!DOCTYPE bpmn:definitions [{''.join(entities)}]>", "&lol9;")


def _external_dtd() -> str:
    return _with_doctype('<!DOCTYPE bpmn:definitions SYSTEM "file:///etc/passwd">', "extern")


def _parameter_entity() -> str:
    return _with_doctype('<!DOCTYPE bpmn:definitions [<!ENTITY % ext SYSTEM "file:///etc/passwd"> %ext;]>', "parameter")


def _deeply_nested(levels: int = 100_000) -> str:
    # Short tags keep it under the loader's size limit (700 kB), so it reaches the parser.
    return HEADER + DEFINITIONS + "<x>" * levels + "</x>" * levels + "</bpmn:definitions>"


HOSTILE: dict[str, Callable[[], str]] = {
    "xxe": _xxe,
    "billion_laughs": _billion_laughs,
    "external_dtd": _external_dtd,
    "parameter_entity": _parameter_entity,
    "deeply_nested": _deeply_nested,
}


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def _passwd_lines() -> list[str]:
    """Lines of /etc/passwd long and specific enough that finding one in output means the file was read."""
    try:
        lines = PASSWD.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ["root:x:0:0:"]
    return [line for line in lines if line.count(":") >= 5 and len(line) > 10] or ["root:x:0:0:"]


def _assert_nothing_read(*outputs: object) -> None:
    text = "\n".join(str(output) for output in outputs)
    for line in _passwd_lines():
        assert line not in text, "a line of /etc/passwd reached the output"
    assert "root:x:0:0" not in text
    assert "lollollol" not in text, "an entity was expanded"


def _bundle_dir(tmp_path: Path, diagram: str) -> Path:
    shutil.copytree(MINI, tmp_path / "mini")
    (tmp_path / "mini" / "processes" / "mini.bpmn").write_text(diagram, encoding="utf-8")
    return tmp_path / "mini" / "processes"


@pytest.mark.parametrize("make", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_diagram_is_refused_by_validation(
    tmp_path: Path, make: Callable[[], str], capsys: pytest.CaptureFixture[str]
) -> None:
    before = _peak_rss_bytes()
    path = _bundle_dir(tmp_path, make())
    problems = validate_bundle(bundles.read_bundle([path]))
    assert problems, "refused"
    assert all(isinstance(p, Problem) for p in problems)
    assert [p.file for p in problems] == ["mini.bpmn"]
    reason = problems[0].message
    assert "DOCTYPE/ENTITY declarations are not allowed" in reason or "not well-formed" in reason
    # The same through the command line: one line per problem, exit status 1.
    assert main(["validate", str(path)]) == 1
    out, err = capsys.readouterr()
    assert "mini.bpmn: -: " in out
    _assert_nothing_read(problems, out, err)
    assert _peak_rss_bytes() - before < MAX_GROWTH_BYTES


def test_deep_nesting_names_the_limit(tmp_path: Path) -> None:
    problems = validate_bundle(bundles.read_bundle([_bundle_dir(tmp_path, _deeply_nested())]))
    assert len(problems) == 1
    assert problems[0].message.startswith("XML is not well-formed")
    assert "depth" in problems[0].message.lower()


@pytest.mark.parametrize("make", HOSTILE.values(), ids=HOSTILE.keys())
def test_the_safe_parser_itself_reads_no_file_and_expands_no_entity(make: Callable[[], str]) -> None:
    """Below the DOCTYPE check: parse_xml (used by validation, deployment and the outline) is safe on its own."""
    before = _peak_rss_bytes()
    root = bundles.parse_xml(make())
    rendered = "" if root is None else "".join(str(part) for part in root.itertext())
    _assert_nothing_read(rendered)
    assert len(rendered) < 100_000
    assert _peak_rss_bytes() - before < MAX_GROWTH_BYTES


@pytest.mark.parametrize("make", HOSTILE.values(), ids=HOSTILE.keys())
def test_the_process_compiler_reads_no_file(make: Callable[[], str]) -> None:
    """A diagram that slipped past validation (compile_process skips it on purpose) reads no file either."""
    before = _peak_rss_bytes()
    files = {"mini.bpmn": make()}
    outputs: list[object] = [runtime.spiff_problems(files)]
    try:
        process = runtime.compile_process(files, "mini")
    except Exception as error:  # noqa: BLE001 - any refusal is fine; only what it reveals matters
        outputs.append(error)
    else:
        outputs.append(process.spec.description)
        outputs.extend(str(getattr(spec, "documentation", "")) for spec in process.spec.task_specs.values())
    _assert_nothing_read(*outputs)
    assert _peak_rss_bytes() - before < MAX_GROWTH_BYTES


def test_a_50_mb_file_is_refused_before_it_is_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _bundle_dir(tmp_path, _mini_bpmn())
    huge = path / "huge.bpmn"
    with huge.open("w", encoding="utf-8") as handle:
        handle.write(HEADER + DEFINITIONS)
        chunk = "<!-- " + "x" * (1024 * 1024 - 9) + " -->"
        for _ in range(50):
            handle.write(chunk)
        handle.write("</bpmn:definitions>")
    assert huge.stat().st_size > 50 * 1024 * 1024
    before = _peak_rss_bytes()
    with pytest.raises(BundleInvalidError) as raised:
        bundles.read_bundle([path])
    assert raised.value.problems == [Problem("huge.bpmn", "", f"file larger than {bundles.MAX_FILE_BYTES} bytes")]
    assert main(["validate", str(path)]) != 0
    out, err = capsys.readouterr()
    assert "huge.bpmn" in out + err and "larger than" in out + err
    assert _peak_rss_bytes() - before < 20 * 1024 * 1024, "the file was not read into memory"
