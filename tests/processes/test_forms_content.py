"""The regeling's forms speak Dutch to their users: a title and a description on the form and every field."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.support import ROOT

FORMS = sorted((ROOT / "forms").glob("*.schema.json"))


def fields(node: Mapping[str, Any], path: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    for name, spec in node.get("properties", {}).items():
        yield path + name, spec
        yield from fields(spec, f"{path}{name}/")
        if isinstance(spec.get("items"), dict):
            yield from fields(spec["items"], f"{path}{name}/")


@pytest.mark.parametrize("form", FORMS, ids=[f.name for f in FORMS])
def test_the_form_and_every_field_have_a_title_and_a_description(form: Path) -> None:
    schema = json.loads(form.read_text())
    assert schema.get("title") and schema.get("description")
    unexplained = [path for path, spec in fields(schema) if not (spec.get("title") and spec.get("description"))]
    assert unexplained == []


def test_the_forms_are_found_so_the_check_above_is_not_empty() -> None:
    assert {"aanmelding.schema.json", "bericht_aftreden.schema.json"} <= {f.name for f in FORMS}
