"""The diagrams open cleanly in any BPMN editor: full layout, documentation on every node, one lane each."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.processes.layout import check
from tests.support import ROOT

DIAGRAMS = sorted((ROOT / "processes").glob("*.bpmn"))


def test_there_are_diagrams() -> None:
    assert {p.name for p in DIAGRAMS} >= {"regeling.bpmn"}


@pytest.mark.parametrize("diagram", DIAGRAMS, ids=[p.name for p in DIAGRAMS])
def test_layout_and_documentation(diagram: Path) -> None:
    assert check(str(diagram)) == []
