""" "Vergelijken": element ids added, removed and changed per diagram; the layout does not count; in words."""

from __future__ import annotations

import re

from engine import bundles, diff
from engine.bundles import Bundle
from tests.support import ROOT

IMPORTS = ROOT / "tests" / "fixtures" / "import"
MINI = ROOT / "tests" / "fixtures" / "mini" / "processes"


def with_diagram(text: str) -> Bundle:
    return Bundle({**bundles.read_bundle([MINI]).files, "mini.bpmn": text})


def only(diffs: list[diff.FileDiff], name: str = "mini.bpmn") -> diff.FileDiff:
    return next(d for d in diffs if d.name == name)


def test_moving_shapes_changes_nothing_but_a_renamed_task_and_a_new_condition_do() -> None:
    text = (IMPORTS / "camunda_modeler.bpmn").read_text()
    moved = re.sub(r'x="(\d+)"', lambda m: f'x="{int(m.group(1)) + 40}"', text)
    assert only(diff.diff_bundles(with_diagram(text), with_diagram(moved))).status == "gelijk"

    edited = text.replace('name="Beoordelen"', 'name="Beoordelen door CCV"').replace(
        "len(posten) &gt; 0", "len(posten) &gt; 1"
    )
    result = only(diff.diff_bundles(with_diagram(text), with_diagram(edited)))
    assert (result.added, result.removed, sorted(result.changed)) == ([], [], ["Flow_ja", "beoordelen"])
    assert result.as_json() == {"toegevoegd": [], "verwijderd": [], "gewijzigd": result.changed}
    words = "\n".join(result.changes)
    assert "naam Beoordelen → Beoordelen door CCV" in words
    assert "voorwaarde len(posten) > 0 → len(posten) > 1" in words


def test_removed_elements_and_whole_files_are_named() -> None:
    old = bundles.read_bundle([MINI])
    text = old.files["mini.bpmn"].replace(
        '<bpmn:endEvent id="end_ingetrokken" name="Ingetrokken"><bpmn:incoming>f8</bpmn:incoming></bpmn:endEvent>', ""
    )
    new_files = {**old.files, "mini.bpmn": text, "forms/extra.schema.json": "{}"}
    new_files.pop("forms/bericht_intrekken.schema.json")
    diffs = diff.diff_bundles(old, Bundle(new_files))
    assert only(diffs).removed == ["end_ingetrokken"]
    assert "Verwijderd: eindgebeurtenis 'Ingetrokken' (end_ingetrokken) in lane CCV" in only(diffs).changes
    assert only(diffs, "forms/extra.schema.json").status == "toegevoegd"
    assert only(diffs, "forms/bericht_intrekken.schema.json").status == "verwijderd"
    assert [d.name for d in diffs][0] == "mini.bpmn"  # diagrams first


def test_a_new_recipient_or_template_of_a_notify_task_is_a_change_of_that_task() -> None:
    old = bundles.read_bundle([MINI])
    text = old.files["mini.bpmn"]
    edited = text.replace(
        '<spiffworkflow:parameter id="role" type="str" value="\'CCV\'" />\n'
        '            <spiffworkflow:parameter id="template" type="str" value="\'aanmelding_ontvangen\'" />',
        '<spiffworkflow:parameter id="role" type="str" value="\'BVA\'" />\n'
        '            <spiffworkflow:parameter id="template" type="str" value="\'urgente_aanmelding\'" />',
    )
    assert edited != text
    result = only(diff.diff_bundles(old, with_diagram(edited)))
    # the operator's id ("notify") and the parameters' ids ("role") are no elements of the diagram
    assert (result.added, result.removed, result.changed) == ([], [], ["meld_ccv"])
    (line,) = result.changes
    assert line.startswith("Gewijzigd: servicetaak 'Meld CCV' (meld_ccv)")
    assert "role='CCV'" in line and "role='BVA'" in line and "template='urgente_aanmelding'" in line
