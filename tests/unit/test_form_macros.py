"""Tests for the task form macros (web/templates/forms/macros.html), read back as HTML with lxml."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from lxml.html import HtmlElement
from werkzeug.datastructures import MultiDict

from engine.errors import FieldError
from web.formdata import error_map, parse_submission

ROOT = Path(__file__).resolve().parents[2]
FORM_FILES = sorted((ROOT / "forms").glob("*.schema.json"))
SCRIPT = "<script>alert(1)</script>"

ENV = Environment(loader=FileSystemLoader(ROOT / "web" / "templates"), autoescape=True)
IMPORT = '{% from "forms/macros.html" import render_form, render_values, error_summary %}'


def _schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((ROOT / "forms" / f"{name}.schema.json").read_text(encoding="utf-8"))
    return loaded


def _html(call: str, env: Environment = ENV, **context: Any) -> HtmlElement:
    markup = env.from_string(IMPORT + "<form>{{ " + call + " }}</form>").render(**context)
    form: HtmlElement = lxml.html.fragment_fromstring(markup)
    return form


def _form(schema: dict[str, Any], values: Any = None, errors: Any = None, documents: Any = None) -> HtmlElement:
    return _html(
        "render_form(schema, values, errors, documents=documents)",
        schema=schema,
        values=values or {},
        errors=errors or {},
        documents=documents or {},
    )


def _one(root: HtmlElement, xpath: str) -> HtmlElement:
    found = root.xpath(xpath)
    assert len(found) == 1, f"{xpath}: {len(found)} found"
    element: HtmlElement = found[0]
    return element


def _text(element: HtmlElement) -> str:
    return " ".join(element.text_content().split())


def _fields(root: HtmlElement) -> list[HtmlElement]:
    """Every control a user operates, apart from buttons and hidden inputs."""
    controls: list[HtmlElement] = root.xpath("//input[not(@type='hidden')] | //select | //textarea")
    return controls


UPLOAD_ROW_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["keuze", "ouder"],
    "properties": {
        "zaak": {"type": "string", "title": "Zaaknummer", "readOnly": True},
        "keuze": {
            "type": "string",
            "title": "Keuze",
            "description": "Kies er een.",
            "oneOf": [{"const": "a", "title": "Eerste"}, {"const": "b", "title": "Tweede"}],
        },
        "soort": {"type": "string", "title": "Soort", "enum": ["x", "y"], "x-enumNames": ["Iks", "IJ"]},
        "aantal": {"type": "integer", "title": "Aantal"},
        "domeinen": {
            "type": "array",
            "title": "Domeinen",
            "items": {"type": "string", "enum": ["werk", "wonen_thuis"]},
        },
        "ouder": {"type": "boolean", "title": "Ouder"},
        "bijlagen": {
            "type": "array",
            "title": "Bijlagen",
            "maxItems": 2,
            "items": {
                "type": "object",
                "title": "Bijlage",
                "properties": {
                    "bestand": {"type": "string", "title": "Bestand", "x-widget": "upload"},
                    "omschrijving": {"type": "string", "title": "Omschrijving"},
                },
            },
        },
    },
}


# --------------------------------------------------------------------------------------------------
# Every form.


@pytest.mark.parametrize("path", FORM_FILES, ids=[path.name for path in FORM_FILES])
def test_every_form_renders_with_labels_tied_to_unique_ids(path: Path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    root = _form(schema)
    controls = _fields(root)
    assert controls
    ids = [control.get("id") for control in controls]
    assert len(ids) == len(set(ids))
    for control in controls:
        label = _one(root, f"//label[@for='{control.get('id')}']")
        assert _text(label)
    for label in root.xpath("//label"):
        assert root.xpath(f"//*[@id='{label.get('for')}']")
    described = [
        ref for element in root.xpath("//*[@aria-describedby]") for ref in element.get("aria-describedby").split()
    ]
    assert all(root.xpath(f"//*[@id='{ref}']") for ref in described)


@pytest.mark.parametrize("path", FORM_FILES, ids=[path.name for path in FORM_FILES])
def test_every_form_renders_its_values_and_summary(path: Path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    errors = {name: ["Dit veld is verplicht."] for name in schema.get("required", [])}
    summary = _html("error_summary(errors, schema)", errors=errors, schema=schema)
    links = summary.xpath("//a/@href")
    assert len(links) == len(errors)
    form = _form(schema, errors=errors)
    assert all(form.xpath(f"//*[@id='{link[1:]}']") for link in links)
    _html("render_values(schema, {})", schema=schema)


def test_strict_undefined_does_not_break_rendering() -> None:
    strict = Environment(
        loader=FileSystemLoader(ROOT / "web" / "templates"), autoescape=True, undefined=StrictUndefined
    )
    for path in FORM_FILES:
        schema = json.loads(path.read_text(encoding="utf-8"))
        _html("render_form(schema, {}, {})", env=strict, schema=schema)


# --------------------------------------------------------------------------------------------------
# Single fields.


def test_text_field_with_label_hint_and_required_marker() -> None:
    root = _form(_schema("aanmelding"), {"naam": "A. Jansen"})
    field = _one(root, "//input[@name='naam']")
    assert field.get("id") == "veld-naam"
    assert field.get("type") == "text"
    assert field.get("value") == "A. Jansen"
    assert field.get("aria-describedby") == "veld-naam-hint"
    assert _text(_one(root, "//label[@for='veld-naam']")) == "Naam (verplicht)"
    assert _text(_one(root, "//*[@id='veld-naam-hint']")) == "Volledige naam van de bestuurder."
    assert field.get("aria-invalid") is None


def test_optional_fields_have_no_required_marker() -> None:
    root = _form(_schema("aanmelding"))
    assert _text(_one(root, "//label[@for='veld-telefoon_prive']")) == "Telefoon privé"
    assert _one(root, "//input[@name='telefoon_prive']").get("aria-required") is None
    assert _one(root, "//input[@name='woonadres']").get("aria-required") == "true"


def test_widgets_by_kind() -> None:
    root = _form(_schema("aanmelding"))
    assert _one(root, "//input[@name='datum_benoeming']").get("type") == "date"
    assert _one(root, "//input[@name='email_prive']").get("type") == "email"
    assert _one(root, "//textarea[@name='urgentie_reden']") is not None  # maxLength 1000
    assert _one(root, "//input[@name='woonadres']").get("type") == "text"  # maxLength 300
    number = _one(_form(_schema("oplevering")), "//input[@name='werkelijke_kosten']")
    assert (number.get("type"), number.get("inputmode")) == ("text", "decimal")
    assert _one(_form(UPLOAD_ROW_SCHEMA), "//input[@name='aantal']").get("inputmode") == "numeric"


def test_error_is_shown_and_tied_to_the_field() -> None:
    root = _form(_schema("aanmelding"), errors={"naam": ["Te lang (maximaal 200 tekens)."]})
    field = _one(root, "//input[@name='naam']")
    assert field.get("aria-invalid") == "true"
    assert field.get("aria-describedby").split() == ["veld-naam-hint", "veld-naam-fout"]
    error = _one(root, "//p[@class='veld-fout']")
    assert error.get("id") == "veld-naam-fout"
    assert _text(error) == "Fout: Te lang (maximaal 200 tekens)."
    assert "veld-met-fout" in error.getparent().get("class")


def test_error_on_a_radio_group() -> None:
    root = _form(_schema("aanmelding"), errors={"ambtsstatus": ["Dit veld is verplicht."]})
    group = _one(root, "//fieldset[.//input[@name='ambtsstatus']]")
    assert "veld-ambtsstatus-fout" in group.get("aria-describedby").split()
    assert {radio.get("aria-invalid") for radio in group.xpath(".//input")} == {"true"}


def test_values_are_escaped() -> None:
    schema = _schema("conceptadvies")
    values = {
        "conceptadvies_toelichting": SCRIPT,
        "maatregelen": [{"omschrijving": SCRIPT, "geschatte_kosten": SCRIPT}],
    }
    markup = ENV.from_string(IMPORT + "{{ render_form(schema, values) }}{{ render_values(schema, values) }}").render(
        schema=schema, values=values
    )
    assert "<script" not in markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markup
    root = _form(schema, values)
    assert not root.xpath("//script")
    assert _one(root, "//textarea[@name='conceptadvies_toelichting']").text == SCRIPT
    assert _one(root, "//input[@name='maatregelen/0/geschatte_kosten']").get("value") == SCRIPT


def test_quotes_in_values_cannot_break_out_of_attributes() -> None:
    root = _form(_schema("aanmelding"), {"naam": '" onfocus="alert(1)'})
    field = _one(root, "//input[@name='naam']")
    assert field.get("value") == '" onfocus="alert(1)'
    assert field.get("onfocus") is None


def test_escaped_error_messages_and_documents() -> None:
    root = _form(
        _schema("pkvw_bewijs"),
        {"pkvw_bewijs": "doc-1"},
        errors={"pkvw_bewijs": [SCRIPT]},
        documents={"doc-1": SCRIPT},
    )
    assert not root.xpath("//script")
    assert SCRIPT in _text(_one(root, "//*[@id='veld-pkvw_bewijs-huidig']"))


# --------------------------------------------------------------------------------------------------
# Choices.


@pytest.mark.parametrize(
    ("form", "field", "widget"),
    [
        ("aanmelding", "functie", "select"),  # 10 options
        ("woningscan", "woningtype", "select"),  # 5 options
        ("conceptadvies", "maatregelen/0/domein", "radio"),  # 4 options
        ("aanmelding", "ambtsstatus", "radio"),  # 3 options
        ("vaststelling", "besluit_bva", "radio"),  # 2 options
    ],
)
def test_radios_up_to_four_options_then_a_select(form: str, field: str, widget: str) -> None:
    root = _form(_schema(form))
    if widget == "select":
        select = _one(root, f"//select[@name='{field}']")
        assert select.xpath("./option")[0].get("value") == ""
        assert not root.xpath(f"//input[@name='{field}']")
    else:
        radios = root.xpath(f"//input[@name='{field}']")
        assert radios
        assert {radio.get("type") for radio in radios} == {"radio"}


def test_option_labels_from_values() -> None:
    root = _form(_schema("aanmelding"), {"functie": "waarnemend_burgemeester", "ambtsstatus": "benoeming_vastgesteld"})
    selected = _one(root, "//select[@name='functie']/option[@selected]")
    assert (selected.get("value"), _text(selected)) == ("waarnemend_burgemeester", "Waarnemend burgemeester")
    checked = _one(root, "//input[@name='ambtsstatus'][@checked]")
    assert _text(_one(root, f"//label[@for='{checked.get('id')}']")) == "Benoeming vastgesteld"


def test_option_labels_from_one_of_and_enum_names() -> None:
    root = _form(UPLOAD_ROW_SCHEMA)
    assert [_text(label) for label in root.xpath("//fieldset[.//input[@name='keuze']]//label")] == ["Eerste", "Tweede"]
    assert [_text(label) for label in root.xpath("//fieldset[.//input[@name='soort']]//label")] == ["Iks", "IJ"]


def test_yes_no_radios() -> None:
    for value, checked in [(True, "ja"), ("ja", "ja"), (False, "nee"), ("nee", "nee")]:
        root = _form(_schema("aanmelding"), {"acute_dreiging": value})
        radios = root.xpath("//input[@name='acute_dreiging']")
        assert [(radio.get("type"), radio.get("value")) for radio in radios] == [("radio", "ja"), ("radio", "nee")]
        assert [radio.get("value") for radio in radios if radio.get("checked") is not None] == [checked]
        assert [_text(label) for label in root.xpath("//fieldset[.//input[@name='acute_dreiging']]//label")] == [
            "Ja",
            "Nee",
        ]


def test_required_true_boolean_is_one_checkbox() -> None:
    root = _form(_schema("aanmelding"), {"toestemming_delen_advies": True})
    box = _one(root, "//input[@name='toestemming_delen_advies']")
    assert (box.get("type"), box.get("value"), box.get("checked")) == ("checkbox", "ja", "checked")
    assert _text(_one(root, "//label[@for='veld-toestemming_delen_advies']")) == "Toestemming delen advies (verplicht)"
    assert _one(root, "//input[@name='toestemming_contact_organisatie']").get("checked") is None


def test_enum_list_is_checkboxes() -> None:
    root = _form(UPLOAD_ROW_SCHEMA, {"domeinen": ["wonen_thuis"]})
    boxes = root.xpath("//input[@name='domeinen']")
    assert [(box.get("type"), box.get("value"), box.get("checked")) for box in boxes] == [
        ("checkbox", "werk", None),
        ("checkbox", "wonen_thuis", "checked"),
    ]
    assert _text(_one(root, f"//label[@for='{boxes[1].get('id')}']")) == "Wonen thuis"


# --------------------------------------------------------------------------------------------------
# Repeatable groups.


def test_required_group_with_min_items_gets_one_empty_row() -> None:
    root = _form(_schema("conceptadvies"))
    rows = root.xpath("//fieldset[@class='rij']")
    assert len(rows) == 1
    assert _text(_one(rows[0], "./legend")) == "Maatregelen 1"
    assert _one(root, "//textarea[@name='maatregelen/0/omschrijving']").get("id") == "veld-maatregelen-0-omschrijving"
    assert not root.xpath("//button[starts-with(@value, 'rij_verwijderen')]")  # one row is the minimum
    add = _one(root, "//button[@name='_actie']")
    assert (add.get("type"), add.get("value"), add.get("formnovalidate")) == ("submit", "rij_toevoegen:maatregelen", "")
    assert _text(add).startswith("Rij toevoegen")


def test_group_rows_with_values_and_remove_buttons() -> None:
    values = {"maatregelen": [{"omschrijving": "camera", "geschatte_kosten": 1250.5}, {"omschrijving": "slot"}]}
    root = _form(_schema("conceptadvies"), values)
    legends = [_text(legend) for legend in root.xpath("//fieldset[contains(@class, 'rij')]/legend")]
    assert legends == ["Maatregelen 1", "Maatregelen 2"]
    assert _one(root, "//textarea[@name='maatregelen/1/omschrijving']").text == "slot"
    assert _one(root, "//input[@name='maatregelen/0/geschatte_kosten']").get("value") == "1250,5"
    removes = root.xpath("//button[starts-with(@value, 'rij_verwijderen')]")
    assert [button.get("value") for button in removes] == [
        "rij_verwijderen:maatregelen/0",
        "rij_verwijderen:maatregelen/1",
    ]
    assert all(button.get("formnovalidate") is not None and button.get("type") == "submit" for button in removes)
    assert _text(removes[1]) == "Verwijderen Maatregelen 2"


def test_row_with_errors_is_marked() -> None:
    schema = _schema("conceptadvies")
    errors = error_map([FieldError("maatregelen/1/omschrijving", "Dit veld is verplicht.")], schema)
    root = _form(schema, {"maatregelen": [{}, {}]}, errors)
    assert "rij-met-fout" in _one(root, "//fieldset[@id='veld-maatregelen-1']").get("class")
    assert "rij-met-fout" not in _one(root, "//fieldset[@id='veld-maatregelen-0']").get("class")
    assert _one(root, "//textarea[@name='maatregelen/1/omschrijving']").get("aria-invalid") == "true"
    assert len(root.xpath("//p[@class='veld-fout']")) == 1  # the row itself repeats nothing


def test_group_error_is_shown_on_the_group() -> None:
    root = _form(_schema("conceptadvies"), errors={"maatregelen": ["Dit veld is verplicht."]})
    group = _one(root, "//fieldset[@id='veld-maatregelen']")
    assert "veld-maatregelen-fout" in group.get("aria-describedby")
    assert _text(_one(group, "./p[@class='veld-fout']")) == "Fout: Dit veld is verplicht."


def test_no_add_button_at_max_items() -> None:
    root = _form(UPLOAD_ROW_SCHEMA, {"bijlagen": [{}, {}]})
    assert not root.xpath("//button[@value='rij_toevoegen:bijlagen']")
    assert len(root.xpath("//button[starts-with(@value, 'rij_verwijderen:bijlagen/')]")) == 2


def test_optional_group_may_have_no_rows() -> None:
    root = _form(UPLOAD_ROW_SCHEMA)
    assert not root.xpath("//fieldset[@id='veld-bijlagen']//fieldset")
    assert _one(root, "//button[@value='rij_toevoegen:bijlagen']") is not None


# --------------------------------------------------------------------------------------------------
# Uploads and read-only fields.


def test_upload_with_current_document() -> None:
    root = _form(_schema("pkvw_bewijs"), {"pkvw_bewijs": "doc-1"}, documents={"doc-1": "certificaat.pdf"})
    assert _one(root, "//input[@type='file']").get("name") == "pkvw_bewijs"
    assert _one(root, "//input[@type='hidden']").get("name") == "pkvw_bewijs"
    assert _one(root, "//input[@type='hidden']").get("value") == "doc-1"
    assert _text(_one(root, "//*[@id='veld-pkvw_bewijs-huidig']")) == "Huidig bestand: certificaat.pdf"


def test_upload_without_document_has_no_hidden_value() -> None:
    root = _form(_schema("pkvw_bewijs"))
    assert _one(root, "//input[@type='file']").get("id") == "veld-pkvw_bewijs"
    assert not root.xpath("//input[@type='hidden']")


def test_read_only_field_is_text_without_an_input() -> None:
    root = _form(UPLOAD_ROW_SCHEMA, {"zaak": "Z-2026-0001"})
    assert not root.xpath("//*[@name='zaak']")
    assert _text(_one(root, "//*[@id='veld-zaak']")) == "Zaaknummer Z-2026-0001"


# --------------------------------------------------------------------------------------------------
# Error summary.


def test_error_summary_links_to_each_field() -> None:
    schema = _schema("conceptadvies")
    errors = error_map(
        [
            FieldError("maatregelen/0/omschrijving", "Dit veld is verplicht."),
            FieldError("conceptadvies_toelichting", "Te lang (maximaal 4000 tekens)."),
            FieldError("status", "Dit veld is onbekend."),
        ],
        schema,
    )
    summary = _html("error_summary(errors, schema)", errors=errors, schema=schema)
    box = _one(summary, "//div[@role='alert']")
    assert _text(_one(box, ".//h2")) == "Er is een probleem"
    items = [(_text(item), item.xpath("./a/@href")) for item in box.xpath(".//li")]
    assert items == [
        ("Dit veld is onbekend.", []),
        ("Maatregelen 1, Omschrijving: Dit veld is verplicht.", ["#veld-maatregelen-0-omschrijving"]),
        ("Toelichting: Te lang (maximaal 4000 tekens).", ["#veld-conceptadvies_toelichting"]),
    ]
    form = _form(schema, errors=errors)
    assert _one(form, "//*[@id='veld-maatregelen-0-omschrijving']").tag == "textarea"


def test_no_summary_without_errors() -> None:
    assert (
        ENV.from_string(IMPORT + "{{ error_summary({}, schema) }}").render(schema=_schema("aanmelding")).strip() == ""
    )


# --------------------------------------------------------------------------------------------------
# Read-only values.


def _values(schema: dict[str, Any], data: dict[str, Any], **extra: Any) -> dict[str, str]:
    root = _html("render_values(schema, data, documents, document_url)", schema=schema, data=data, **extra)
    return {_text(row.xpath("./dt")[0]): _text(row.xpath("./dd")[0]) for row in root.xpath("//dl/div")}


def test_values_as_text() -> None:
    data = {
        "naam": "A. Jansen",
        "functie": "commissaris_van_de_koning",
        "datum_benoeming": "2026-02-01",
        "acute_dreiging": False,
        "toestemming_delen_advies": True,
    }
    shown = _values(_schema("aanmelding"), data, documents={}, document_url=None)
    assert shown == {
        "Naam": "A. Jansen",
        "Functie": "Commissaris van de koning",
        "Datum benoeming": "01-02-2026",
        "Acute dreiging": "Nee",
        "Toestemming delen advies": "Ja",
    }


def test_rows_as_a_table() -> None:
    data = {
        "maatregelen": [{"domein": "wonen", "categorie": "fysiek", "omschrijving": "slot", "geschatte_kosten": 99.5}]
    }
    root = _html("render_values(schema, data)", schema=_schema("conceptadvies"), data=data)
    table = _one(root, "//dd/table")
    assert [_text(th) for th in table.xpath(".//th")] == [
        "Nr.",
        "Domein",
        "Categorie",
        "Omschrijving",
        "Geschatte kosten",
    ]
    assert [_text(td) for td in table.xpath(".//tbody/tr/td")] == ["1", "Wonen", "Fysiek", "slot", "99,5"]


def test_upload_as_a_link() -> None:
    def url(document_id: str) -> str:
        return f"/documenten/{document_id}"

    root = _html(
        "render_values(schema, data, documents, url)",
        schema=_schema("pkvw_bewijs"),
        data={"pkvw_bewijs": "doc-1"},
        documents={"doc-1": "bewijs.pdf"},
        url=url,
    )
    link = _one(root, "//dd/a")
    assert (link.get("href"), _text(link)) == ("/documenten/doc-1", "bewijs.pdf")


# --------------------------------------------------------------------------------------------------
# Round trip: what the macros render is what the parser reads back.


def _posted(root: HtmlElement) -> MultiDict[str, str]:
    return MultiDict(root.form_values())


@pytest.mark.parametrize(
    ("form", "data"),
    [
        (
            "conceptadvies",
            {
                "maatregelen": [
                    {"domein": "werk", "categorie": "digitaal", "omschrijving": "a\nb", "geschatte_kosten": 1250.5},
                    {"domein": "wonen", "categorie": "fysiek", "omschrijving": "slot", "geschatte_kosten": 0},
                ],
                "conceptadvies_toelichting": "Zie verslag.",
            },
        ),
        (
            "aanmelding",
            {
                "naam": "A. Jansen",
                "functie": "dijkgraaf",
                "ambtsstatus": "afgetreden",
                "organisatie_type": "waterschap",
                "organisatie_naam": "Waterschap X",
                "datum_benoeming": "2020-05-01",
                "email_prive": "a@example.nl",
                "woonadres": "Dijk 1",
                "ontheffing_woonplaatsvereiste": False,
                "acute_dreiging": True,
                "toestemming_contact_organisatie": True,
                "toestemming_delen_advies": True,
            },
        ),
        (
            "pkvw_bewijs",
            {"pkvw_bewijs": "doc-7", "pkvw_bewijs_type": "verklaring", "herstel_eigen_kosten_bevestigd": True},
        ),
    ],
)
def test_rendered_values_parse_back_to_the_same_data(form: str, data: dict[str, Any]) -> None:
    schema = _schema(form)
    parsed = parse_submission(schema, _posted(_form(schema, data)))
    assert parsed.data == data


def test_typed_values_survive_a_round_trip() -> None:
    schema = _schema("oplevering")
    first = parse_submission(schema, MultiDict([("werkelijke_kosten", "1.250,5"), ("opleverdatum", "morgen")]))
    again = parse_submission(schema, _posted(_form(schema, first.raw)))
    assert again.raw == first.raw
    assert again.data == {"werkelijke_kosten": 1250.5, "opleverdatum": "morgen"}


def test_row_action_buttons_parse_as_row_actions() -> None:
    schema = _schema("conceptadvies")
    root = _form(schema, {"maatregelen": [{"omschrijving": "a"}, {"omschrijving": "b"}]})
    for button in root.xpath("//button[@name='_actie']"):
        posted = _posted(root)
        posted.add("_actie", button.get("value"))
        parsed = parse_submission(schema, posted)
        assert parsed.row_action is not None
        rows = len(parsed.raw["maatregelen"])
        assert rows == (3 if parsed.row_action.kind == "toevoegen" else 1)
