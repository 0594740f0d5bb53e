"""Tests for turning posted task forms into JSON (web.formdata) and engine errors into per-field messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from werkzeug.datastructures import MultiDict

from engine.errors import FieldError, FormValidationError
from engine.forms import FormSchema, load_form, validate_submission
from web.formdata import (
    ParsedForm,
    RowAction,
    UploadSlot,
    draft_values,
    error_map,
    field_kind,
    parse_number,
    parse_submission,
)

FORMS = Path(__file__).resolve().parents[2] / "forms"


def _prop(title: str, **schema: Any) -> dict[str, Any]:
    return {"title": title, "x-sensitivity": "I", **schema}


SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Alles",
    "type": "object",
    "additionalProperties": False,
    "required": ["naam", "akkoord"],
    "properties": {
        "naam": _prop("Naam", type="string", maxLength=50),
        "toelichting": _prop("Toelichting", type="string", maxLength=2000),
        "datum": _prop("Datum", type="string", format="date"),
        "email": _prop("E-mail", type="string", format="email"),
        "soort": _prop("Soort", type="string", enum=["gemeente", "provincie"]),
        "bedrag": _prop("Bedrag", type="number", minimum=0),
        "aantal": _prop("Aantal", type="integer", minimum=1),
        "dreiging": _prop("Dreiging", type="boolean"),
        "akkoord": _prop("Akkoord", type="boolean", const=True),
        "domeinen": _prop("Domeinen", type="array", items={"type": "string", "enum": ["werk", "wonen", "digitaal"]}),
        "bewijs": _prop("Bewijs", type="string", maxLength=200, **{"x-widget": "upload"}),
        "zaaknummer": _prop("Zaaknummer", type="string", readOnly=True),
        "maatregelen": _prop(
            "Maatregelen",
            type="array",
            minItems=1,
            items={
                "type": "object",
                "title": "Maatregel",
                "additionalProperties": False,
                "required": ["omschrijving"],
                "properties": {
                    "omschrijving": _prop("Omschrijving", type="string", maxLength=500),
                    "kosten": _prop("Kosten", type="number", minimum=0),
                    "nodig": _prop("Nodig", type="boolean"),
                    "offerte": _prop("Offerte", type="string", **{"x-widget": "upload"}),
                },
            },
        ),
    },
}


def _parse(*fields: tuple[str, str], schema: dict[str, Any] = SCHEMA, new_files: set[str] | None = None) -> ParsedForm:
    return parse_submission(schema, MultiDict(list(fields)), new_files or set())


def _form(name: str) -> FormSchema:
    return load_form(f"{name}.schema.json", (FORMS / f"{name}.schema.json").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------------------------------
# Field kinds.


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("naam", "text"),
        ("datum", "text"),
        ("soort", "text"),
        ("bedrag", "number"),
        ("aantal", "integer"),
        ("dreiging", "yesno"),
        ("akkoord", "checkbox"),
        ("domeinen", "checkboxes"),
        ("bewijs", "upload"),
        ("zaaknummer", "readonly"),
        ("maatregelen", "group"),
    ],
)
def test_field_kind(name: str, kind: str) -> None:
    assert field_kind(SCHEMA["properties"][name]) == kind


def test_nullable_types_are_recognised() -> None:
    assert field_kind({"type": ["number", "null"]}) == "number"
    assert field_kind({"type": "object", "properties": {}}) == "object"


# --------------------------------------------------------------------------------------------------
# Text.


def test_text_fields_are_kept_trimmed() -> None:
    parsed = _parse(("naam", "  A. Jansen "), ("datum", "2026-02-01"), ("email", "a@example.nl"), ("soort", "gemeente"))
    assert parsed.data == {"naam": "A. Jansen", "datum": "2026-02-01", "email": "a@example.nl", "soort": "gemeente"}
    assert parsed.raw == parsed.data


def test_empty_fields_are_absent_so_required_errors_appear() -> None:
    parsed = _parse(("naam", ""), ("toelichting", "   "), ("bedrag", ""), ("dreiging", ""))
    assert parsed.data == {}
    assert parsed.raw == {}


def test_textarea_newlines_are_normalised_and_nul_removed() -> None:
    parsed = _parse(("toelichting", "regel 1\r\nregel\x00 2\r\n"))
    assert parsed.data == {"toelichting": "regel 1\nregel 2"}


def test_unknown_names_are_ignored() -> None:
    parsed = _parse(("naam", "A"), ("status", "goedgekeurd"), ("csrf_token", "x"), ("maatregelen/0/prijs", "3"))
    assert parsed.data == {"naam": "A"}
    assert parsed.raw == {"naam": "A"}


def test_read_only_fields_are_never_taken_from_the_post() -> None:
    assert _parse(("zaaknummer", "Z-999"), ("naam", "A")).data == {"naam": "A"}


def test_first_value_wins_when_a_name_is_posted_twice() -> None:
    assert _parse(("naam", "A"), ("naam", "B")).data == {"naam": "A"}


# --------------------------------------------------------------------------------------------------
# Numbers.


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("12", 12),
        ("-3", -3),
        ("12,5", 12.5),
        ("12.5", 12.5),
        ("1.250", 1250),
        ("1.250,50", 1250.5),
        ("1.250.000", 1250000),
        ("0.125", 0.125),
        ("€ 1.250,00", 1250),
        ("1 250", 1250),
        ("12,0", 12),
    ],
)
def test_parse_number(text: str, number: float) -> None:
    parsed = parse_number(text)
    assert parsed == number
    assert isinstance(parsed, int) == isinstance(number, int)


@pytest.mark.parametrize("text", ["veel", "1,2,3", "12.5.1", "1e5", "nan", "inf", "0x10", "١٢", "9" * 41])
def test_not_a_number(text: str) -> None:
    assert parse_number(text) is None


def test_integer_refuses_fractions() -> None:
    assert parse_number("2,5", integer=True) is None
    assert parse_number("2,0", integer=True) == 2


def test_numbers_are_converted() -> None:
    parsed = _parse(("bedrag", "1.250,50"), ("aantal", "3"))
    assert parsed.data == {"bedrag": 1250.5, "aantal": 3}
    assert parsed.raw == {"bedrag": "1.250,50", "aantal": "3"}


def test_bad_numbers_stay_raw_so_the_engine_names_the_field() -> None:
    parsed = _parse(("naam", "A"), ("akkoord", "ja"), ("bedrag", "veel"), ("aantal", "2,5"))
    assert parsed.data["bedrag"] == "veel"
    assert parsed.data["aantal"] == "2,5"
    with pytest.raises(FormValidationError) as caught:
        validate_submission(FormSchema("alles", SCHEMA, {}), parsed.data)
    assert caught.value.errors == [
        FieldError("aantal", "Moet een geheel getal zijn."),
        FieldError("bedrag", "Moet een getal zijn."),
    ]


# --------------------------------------------------------------------------------------------------
# Booleans and choices.


@pytest.mark.parametrize(("text", "value"), [("ja", True), ("nee", False), ("Ja", True), ("misschien", "misschien")])
def test_yes_no_radios(text: str, value: Any) -> None:
    assert _parse(("dreiging", text)).data == {"dreiging": value}


@pytest.mark.parametrize("text", ["on", "ja"])
def test_checkbox_that_must_be_ticked(text: str) -> None:
    assert _parse(("akkoord", text)).data == {"akkoord": True}


def test_unticked_checkbox_is_absent_and_required() -> None:
    parsed = _parse(("naam", "A"))
    with pytest.raises(FormValidationError) as caught:
        validate_submission(FormSchema("alles", SCHEMA, {}), parsed.data)
    assert caught.value.errors == [FieldError("akkoord", "Dit veld is verplicht.")]


def test_enum_checkboxes_become_a_list() -> None:
    parsed = _parse(("domeinen", "werk"), ("domeinen", "digitaal"), ("domeinen", ""))
    assert parsed.data == {"domeinen": ["werk", "digitaal"]}
    assert parsed.raw == {"domeinen": ["werk", "digitaal"]}


def test_no_checkbox_ticked_is_absent() -> None:
    assert "domeinen" not in _parse(("naam", "A")).data


# --------------------------------------------------------------------------------------------------
# Repeatable groups.


def test_rows_are_rebuilt_in_index_order_and_renumbered() -> None:
    parsed = _parse(
        ("maatregelen/10/omschrijving", "slot"),
        ("maatregelen/2/omschrijving", "camera"),
        ("maatregelen/2/kosten", "99,95"),
        ("maatregelen/2/nodig", "nee"),
    )
    assert parsed.data == {
        "maatregelen": [{"omschrijving": "camera", "kosten": 99.95, "nodig": False}, {"omschrijving": "slot"}]
    }
    assert parsed.raw == {
        "maatregelen": [{"omschrijving": "camera", "kosten": "99,95", "nodig": "nee"}, {"omschrijving": "slot"}]
    }


def test_empty_rows_are_dropped() -> None:
    parsed = _parse(
        ("maatregelen/0/omschrijving", ""),
        ("maatregelen/0/kosten", " "),
        ("maatregelen/1/omschrijving", "camera"),
        ("maatregelen/2/omschrijving", ""),
    )
    assert parsed.data == {"maatregelen": [{"omschrijving": "camera"}]}
    assert parsed.raw == parsed.data


def test_only_empty_rows_leave_the_array_absent() -> None:
    parsed = _parse(("maatregelen/0/omschrijving", ""), ("maatregelen/0/kosten", ""))
    assert "maatregelen" not in parsed.data
    assert "maatregelen" not in parsed.raw


def test_non_canonical_row_numbers_are_ignored() -> None:
    parsed = _parse(
        ("maatregelen/01/omschrijving", "a"), ("maatregelen/x/omschrijving", "b"), ("maatregelen/-1/omschrijving", "c")
    )
    assert parsed.data == {}


# --------------------------------------------------------------------------------------------------
# Row actions.


def test_add_row() -> None:
    parsed = _parse(("maatregelen/0/omschrijving", "camera"), ("_actie", "rij_toevoegen:maatregelen"))
    assert parsed.row_action == RowAction("toevoegen", "maatregelen")
    assert parsed.raw == {"maatregelen": [{"omschrijving": "camera"}, {}]}
    assert parsed.data == {}  # nothing is submitted


def test_add_row_to_an_empty_group() -> None:
    parsed = _parse(("_actie", "rij_toevoegen:maatregelen"))
    assert parsed.raw == {"maatregelen": [{}]}


def test_empty_rows_stay_while_editing_rows() -> None:
    parsed = _parse(
        ("maatregelen/0/omschrijving", ""),
        ("maatregelen/1/omschrijving", "camera"),
        ("_actie", "rij_toevoegen:maatregelen"),
    )
    assert parsed.raw == {"maatregelen": [{}, {"omschrijving": "camera"}, {}]}


def test_remove_row() -> None:
    parsed = _parse(
        ("maatregelen/0/omschrijving", "camera"),
        ("maatregelen/1/omschrijving", "slot"),
        ("maatregelen/2/omschrijving", "hek"),
        ("_actie", "rij_verwijderen:maatregelen/1"),
    )
    assert parsed.row_action == RowAction("verwijderen", "maatregelen", 1)
    assert parsed.raw == {"maatregelen": [{"omschrijving": "camera"}, {"omschrijving": "hek"}]}
    assert parsed.data == {}


@pytest.mark.parametrize(
    "action",
    [
        "rij_toevoegen:naam",
        "rij_toevoegen:onbekend",
        "rij_verwijderen:maatregelen",
        "rij_verwijderen:maatregelen/01",
        "opslaan",
        "",
    ],
)
def test_unknown_actions_are_a_plain_submit(action: str) -> None:
    parsed = _parse(("maatregelen/0/omschrijving", "camera"), ("_actie", action))
    assert parsed.row_action is None
    assert parsed.data == {"maatregelen": [{"omschrijving": "camera"}]}


# --------------------------------------------------------------------------------------------------
# Uploads.


def test_upload_fields_are_listed_with_the_current_document_kept() -> None:
    parsed = _parse(("bewijs", "doc-1"), ("maatregelen/3/omschrijving", "camera"), ("maatregelen/3/offerte", "doc-2"))
    assert parsed.data == {"bewijs": "doc-1", "maatregelen": [{"omschrijving": "camera", "offerte": "doc-2"}]}
    assert parsed.uploads == [
        UploadSlot("bewijs", "bewijs"),
        UploadSlot("maatregelen/3/offerte", "maatregelen/0/offerte"),
    ]


def test_upload_without_current_document_is_absent_but_listed() -> None:
    parsed = _parse(("naam", "A"))
    assert "bewijs" not in parsed.data
    assert parsed.uploads == [UploadSlot("bewijs", "bewijs")]


def test_stored_upload_goes_into_both_documents() -> None:
    parsed = _parse(("bewijs", "doc-1"), ("maatregelen/0/omschrijving", "camera"))
    parsed.set_value("bewijs", "doc-9")
    parsed.set_value("maatregelen/0/offerte", "doc-8")
    assert parsed.data == {"bewijs": "doc-9", "maatregelen": [{"omschrijving": "camera", "offerte": "doc-8"}]}
    assert parsed.raw == parsed.data


def test_row_with_only_a_new_file_is_kept() -> None:
    parsed = _parse(("maatregelen/0/omschrijving", ""), new_files={"maatregelen/0/offerte"})
    assert parsed.uploads == [
        UploadSlot("bewijs", "bewijs"),
        UploadSlot("maatregelen/0/offerte", "maatregelen/0/offerte"),
    ]
    parsed.set_value("maatregelen/0/offerte", "doc-3")
    assert parsed.data == {"maatregelen": [{"offerte": "doc-3"}]}


def test_dropped_rows_have_no_upload_slots() -> None:
    parsed = _parse(("maatregelen/0/omschrijving", ""), ("maatregelen/1/omschrijving", "camera"))
    assert parsed.uploads == [
        UploadSlot("bewijs", "bewijs"),
        UploadSlot("maatregelen/1/offerte", "maatregelen/0/offerte"),
    ]


def test_upload_after_a_row_action_only_changes_the_shown_values() -> None:
    parsed = _parse(("maatregelen/0/omschrijving", "camera"), ("_actie", "rij_toevoegen:maatregelen"))
    parsed.set_value("bewijs", "doc-1")
    assert parsed.raw["bewijs"] == "doc-1"
    assert parsed.data == {}


# --------------------------------------------------------------------------------------------------
# Drafts.


def test_draft_values_are_the_typed_values_as_json() -> None:
    parsed = _parse(("naam", "A"), ("bedrag", "veel"), ("dreiging", "ja"), ("maatregelen/0/kosten", "1,5"))
    draft = draft_values(parsed)
    assert json.loads(json.dumps(draft)) == {
        "naam": "A",
        "bedrag": "veel",
        "dreiging": "ja",
        "maatregelen": [{"kosten": "1,5"}],
    }
    draft["maatregelen"][0]["kosten"] = "2"
    assert parsed.raw["maatregelen"][0]["kosten"] == "1,5"


# --------------------------------------------------------------------------------------------------
# Errors.


def test_error_map_by_field_in_form_order() -> None:
    errors = [
        FieldError("naam", "Dit veld is verplicht."),
        FieldError("bedrag", "Moet een getal zijn."),
        FieldError("akkoord", "Dit veld is verplicht."),
    ]
    assert list(error_map(errors, SCHEMA).items()) == [
        ("naam", ["Dit veld is verplicht."]),
        ("bedrag", ["Moet een getal zijn."]),
        ("akkoord", ["Dit veld is verplicht."]),
    ]


def test_row_errors_are_also_listed_for_the_row() -> None:
    errors = [
        FieldError("maatregelen/1/omschrijving", "Dit veld is verplicht."),
        FieldError("maatregelen/1/kosten", "Moet een getal zijn."),
        FieldError("maatregelen/0/kosten", "Moet minimaal 0 zijn."),
    ]
    assert error_map(errors, SCHEMA) == {
        "maatregelen/0": ["Moet minimaal 0 zijn."],
        "maatregelen/0/kosten": ["Moet minimaal 0 zijn."],
        "maatregelen/1": ["Dit veld is verplicht.", "Moet een getal zijn."],
        "maatregelen/1/omschrijving": ["Dit veld is verplicht."],
        "maatregelen/1/kosten": ["Moet een getal zijn."],
    }
    assert list(error_map(errors, SCHEMA)) == [
        "maatregelen/0",
        "maatregelen/0/kosten",
        "maatregelen/1",
        "maatregelen/1/omschrijving",
        "maatregelen/1/kosten",
    ]


def test_errors_outside_the_schema_are_form_level() -> None:
    errors = [
        FieldError("status", "Dit veld is onbekend."),
        FieldError("maatregelen/0/typename", "Dit veld is niet toegestaan."),
        FieldError("", "Moet een groep velden zijn."),
        FieldError("naam", "Te lang (maximaal 50 tekens)."),
    ]
    assert error_map(errors, SCHEMA) == {
        "": ["Dit veld is onbekend.", "Dit veld is niet toegestaan.", "Moet een groep velden zijn."],
        "naam": ["Te lang (maximaal 50 tekens)."],
    }
    assert next(iter(error_map(errors, SCHEMA))) == ""


def test_error_on_one_checkbox_value_belongs_to_the_checkbox_group() -> None:
    errors = [FieldError("domeinen/1", "Kies een van de toegestane waarden.")]
    assert error_map(errors, SCHEMA) == {"domeinen": ["Kies een van de toegestane waarden."]}


def test_error_map_of_no_errors_is_empty() -> None:
    assert error_map([], SCHEMA) == {}


# --------------------------------------------------------------------------------------------------
# Round trip through the engine's validator with a real form.

CONCEPTADVIES = [
    ("maatregelen/0/domein", "wonen"),
    ("maatregelen/0/categorie", "elektronisch"),
    ("maatregelen/0/omschrijving", "Camerabewaking voordeur"),
    ("maatregelen/0/geschatte_kosten", "1.250,00"),
    ("maatregelen/1/domein", "digitaal"),
    ("maatregelen/1/categorie", "organisatorisch_bewustwording"),
    ("maatregelen/1/omschrijving", "Training online vindbaarheid"),
    ("maatregelen/1/geschatte_kosten", "450"),
    ("maatregelen/2/omschrijving", ""),
    ("conceptadvies_toelichting", "Zie gesprek."),
    ("csrf_token", "abc"),
]


def test_filled_conceptadvies_passes_the_engine() -> None:
    form = _form("conceptadvies")
    parsed = _parse(*CONCEPTADVIES, schema=dict(form.schema))
    assert validate_submission(form, parsed.data) == {
        "maatregelen": [
            {
                "domein": "wonen",
                "categorie": "elektronisch",
                "omschrijving": "Camerabewaking voordeur",
                "geschatte_kosten": 1250,
            },
            {
                "domein": "digitaal",
                "categorie": "organisatorisch_bewustwording",
                "omschrijving": "Training online vindbaarheid",
                "geschatte_kosten": 450,
            },
        ],
        "conceptadvies_toelichting": "Zie gesprek.",
    }


def test_missing_description_in_a_row_is_reported_for_that_row() -> None:
    form = _form("conceptadvies")
    fields = [(name, "" if name == "maatregelen/0/omschrijving" else value) for name, value in CONCEPTADVIES]
    parsed = _parse(*fields, schema=dict(form.schema))
    with pytest.raises(FormValidationError) as caught:
        validate_submission(form, parsed.data)
    assert caught.value.errors == [FieldError("maatregelen/0/omschrijving", "Dit veld is verplicht.")]
    assert error_map(caught.value.errors, form.schema) == {
        "maatregelen/0": ["Dit veld is verplicht."],
        "maatregelen/0/omschrijving": ["Dit veld is verplicht."],
    }


def test_empty_conceptadvies_reports_the_group_as_required() -> None:
    form = _form("conceptadvies")
    parsed = _parse(("maatregelen/0/omschrijving", ""), schema=dict(form.schema))
    with pytest.raises(FormValidationError) as caught:
        validate_submission(form, parsed.data)
    assert error_map(caught.value.errors, form.schema) == {"maatregelen": ["Dit veld is verplicht."]}


def test_aanmelding_with_consent_boxes_passes_the_engine() -> None:
    form = _form("aanmelding")
    parsed = _parse(
        ("naam", "A. Jansen"),
        ("functie", "burgemeester"),
        ("ambtsstatus", "in_ambt"),
        ("organisatie_type", "gemeente"),
        ("organisatie_naam", "Gemeente Voorbeeld"),
        ("woonadres", "Dorpsstraat 1"),
        ("acute_dreiging", "nee"),
        ("toestemming_contact_organisatie", "on"),
        ("toestemming_delen_advies", "ja"),
        schema=dict(form.schema),
    )
    result = validate_submission(form, parsed.data)
    assert result["acute_dreiging"] is False
    assert result["toestemming_contact_organisatie"] is True
