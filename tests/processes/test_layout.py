"""The diagrams open cleanly in any BPMN editor: full layout, documentation on every node, one lane each."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree

from tests.processes.layout import check
from tests.support import ROOT

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
DIAGRAMS = sorted((ROOT / "processes").glob("*.bpmn"))


def test_there_are_diagrams() -> None:
    assert {p.name for p in DIAGRAMS} >= {"regeling.bpmn"}


@pytest.mark.parametrize("diagram", DIAGRAMS, ids=[p.name for p in DIAGRAMS])
def test_layout_and_documentation(diagram: Path) -> None:
    assert check(str(diagram)) == []


SOURCE = re.compile(r"art\. ?\d|⚠️ ?[AQ]\d+|Awb \d|\bD\d+b?\b|[Ss]tap \d+|§ ?\d")


@pytest.mark.parametrize("diagram", DIAGRAMS, ids=[p.name for p in DIAGRAMS])
def test_every_documentation_names_the_article_or_assumption_it_implements(diagram: Path) -> None:
    root = etree.parse(str(diagram)).getroot()  # noqa: S320 - our own repository files
    unsourced = [
        element.get("id")
        for element in root.iter()
        if isinstance(element.tag, str)
        and (doc := element.find(f"{BPMN}documentation")) is not None
        and not SOURCE.search(doc.text or "")
    ]
    assert unsourced == []
