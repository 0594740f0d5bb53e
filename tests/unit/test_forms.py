"""Tests for JSON Schema form definitions and submission validation."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from engine.errors import BundleInvalidError, FieldError, FormValidationError
from engine.forms import FormSchema, form_definition_problems, load_form, validate_submission

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Aanmelding",
    "type": "object",
    "additionalProperties": False,
    "required": ["naam", "bedrag", "akkoord"],
    "properties": {
        "naam": {"type": "string", "title": "Naam", "maxLength": 20, "x-sensitivity": "P"},
        "bedrag": {"type": "number", "title": "Bedrag", "minimum": 0, "x-sensitivity": "I"},
        "akkoord": {"type": "boolean", "title": "Akkoord", "x-sensitivity": "C"},
        "soort": {
            "type": "string",
            "title": "Soort",
            "enum": ["gemeente", "provincie"],
            "x-sensitivity": "P",
        },
        "ingangsdatum": {"type": "string", "format": "date", "title": "Ingangsdatum", "x-sensitivity": "I"},
        "email": {"type": "string", "format": "email", "title": "E-mail", "x-sensitivity": "C"},
        "maatregelen": {
            "type": "array",
            "title": "Maatregelen",
            "x-sensitivity": "S",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["omschrijving"],
                "properties": {
                    "omschrijving": {"type": "string", "title": "Omschrijving", "x-sensitivity": "S"},
                    "aantal": {"type": "integer", "title": "Aantal", "minimum": 1, "x-sensitivity": "S+"},
                },
            },
        },
    },
}

VALID: dict[str, Any] = {
    "naam": "A. Jansen",
    "bedrag": 1250.5,
    "akkoord": True,
    "soort": "gemeente",
    "ingangsdatum": "2026-02-01",
    "email": "a.jansen@example.nl",
    "maatregelen": [{"omschrijving": "camera", "aantal": 2}, {"omschrijving": "slot"}],
}


@pytest.fixture
def form() -> FormSchema:
    return load_form("aanmelding.schema.json", json.dumps(SCHEMA))


def _errors(form: FormSchema, data: dict[str, Any]) -> list[FieldError]:
    with pytest.raises(FormValidationError) as caught:
        validate_submission(form, data)
    return caught.value.errors


def _with(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(VALID)
    data.update(changes)
    return data


def test_valid_data_is_returned_unchanged_as_a_copy(form: FormSchema) -> None:
    result = validate_submission(form, VALID)
    assert result == VALID
    assert result is not VALID
    assert result["maatregelen"] is not VALID["maatregelen"]


def test_optional_fields_may_be_left_out(form: FormSchema) -> None:
    data = {"naam": "B", "bedrag": 0, "akkoord": False}
    assert validate_submission(form, data) == data


def test_missing_field(form: FormSchema) -> None:
    data = _with()
    del data["naam"]
    assert _errors(form, data) == [FieldError("naam", "Dit veld is verplicht.")]


def test_extra_field(form: FormSchema) -> None:
    assert _errors(form, _with(status="goedgekeurd")) == [FieldError("status", "Dit veld is onbekend.")]


def test_string_for_number(form: FormSchema) -> None:
    assert _errors(form, _with(bedrag="veel")) == [FieldError("bedrag", "Moet een getal zijn.")]


def test_string_for_boolean(form: FormSchema) -> None:
    assert _errors(form, _with(akkoord="ja")) == [FieldError("akkoord", "Moet ja of nee zijn.")]


def test_boolean_is_not_a_number(form: FormSchema) -> None:
    assert _errors(form, _with(bedrag=True)) == [FieldError("bedrag", "Moet een getal zijn.")]


def test_bad_enum(form: FormSchema) -> None:
    assert _errors(form, _with(soort="stad")) == [FieldError("soort", "Kies een van de toegestane waarden.")]


@pytest.mark.parametrize("value", ["01-02-2026", "2026-02-30", "2026-2-1", "morgen"])
def test_bad_date(form: FormSchema, value: str) -> None:
    assert _errors(form, _with(ingangsdatum=value)) == [FieldError("ingangsdatum", "Geen geldige datum (JJJJ-MM-DD).")]


@pytest.mark.parametrize("value", ["jansen", "a@", "@example.nl", "a@example", "a b@example.nl"])
def test_bad_email(form: FormSchema, value: str) -> None:
    assert _errors(form, _with(email=value)) == [FieldError("email", "Geen geldig e-mailadres.")]


def test_too_long_and_below_minimum(form: FormSchema) -> None:
    assert _errors(form, _with(naam="x" * 21, bedrag=-1)) == [
        FieldError("bedrag", "Moet minimaal 0 zijn."),
        FieldError("naam", "Te lang (maximaal 20 tekens)."),
    ]


def test_nested_array_item_errors_have_paths(form: FormSchema) -> None:
    data = _with(maatregelen=[{"omschrijving": 5}, {"aantal": 0}, {"omschrijving": "x", "prijs": 3}])
    assert _errors(form, data) == [
        FieldError("maatregelen/0/omschrijving", "Moet tekst zijn."),
        FieldError("maatregelen/1/aantal", "Moet minimaal 1 zijn."),
        FieldError("maatregelen/1/omschrijving", "Dit veld is verplicht."),
        FieldError("maatregelen/2/prijs", "Dit veld is onbekend."),
    ]


def test_several_errors_at_once_sorted_by_field(form: FormSchema) -> None:
    data = _with(bedrag="x", akkoord=1, soort="stad", extra=1)
    del data["naam"]
    assert [error.field for error in _errors(form, data)] == ["akkoord", "bedrag", "extra", "naam", "soort"]


def test_messages_never_echo_the_submitted_value(form: FormSchema) -> None:
    secret = "Dorpsstraat-1-geheim"
    data = _with(naam=secret * 2, bedrag=secret, soort=secret, email=secret, ingangsdatum=secret)
    data[secret] = secret
    with pytest.raises(FormValidationError) as caught:
        validate_submission(form, data)
    assert all(secret not in error.message for error in caught.value.errors)
    # The unknown key is reported by name (it is the field), but its value never appears.
    assert str(caught.value).count(secret) == 1


def test_typename_key_is_refused(form: FormSchema) -> None:
    errors = _errors(form, _with(maatregelen=[{"omschrijving": "x", "typename": "Foo"}]))
    assert [error.field for error in errors] == ["maatregelen/0/typename"]


def test_typename_is_refused_even_if_declared() -> None:
    schema = copy.deepcopy(SCHEMA)
    schema["properties"]["typename"] = {"type": "string", "title": "T", "x-sensitivity": "P"}
    problems = form_definition_problems("f", schema)
    assert problems == ["property 'typename' may not be called 'typename'"]
    form = FormSchema("f", schema, {})
    assert _errors(form, _with(typename="x")) == [FieldError("typename", "Dit veld is niet toegestaan.")]


def test_only_declared_fields_are_kept_even_without_lint() -> None:
    loose = copy.deepcopy(SCHEMA)
    del loose["additionalProperties"]
    form = FormSchema("f", loose, {})
    assert validate_submission(form, _with(extra=1)) == VALID


def test_non_object_submission(form: FormSchema) -> None:
    with pytest.raises(FormValidationError) as caught:
        validate_submission(form, [1, 2])  # type: ignore[arg-type]
    assert caught.value.errors == [FieldError("", "Moet een groep velden zijn.")]


def test_sensitivity_map(form: FormSchema) -> None:
    assert form.sensitivity["naam"] == "P"
    assert form.sensitivity["maatregelen"] == "S"
    assert form.sensitivity["maatregelen/aantal"] == "S+"
    assert form.name == "aanmelding.schema.json"


def test_valid_definition_has_no_problems() -> None:
    assert form_definition_problems("f", SCHEMA) == []


def test_missing_additional_properties_at_any_level() -> None:
    schema = copy.deepcopy(SCHEMA)
    del schema["additionalProperties"]
    del schema["properties"]["maatregelen"]["items"]["additionalProperties"]
    assert form_definition_problems("f", schema) == [
        "the form needs additionalProperties: false",
        "object 'maatregelen' needs additionalProperties: false",
    ]


def test_missing_and_bad_sensitivity() -> None:
    schema = copy.deepcopy(SCHEMA)
    del schema["properties"]["naam"]["x-sensitivity"]
    schema["properties"]["maatregelen"]["items"]["properties"]["aantal"]["x-sensitivity"] = "geheim"
    assert form_definition_problems("f", schema) == [
        "property 'naam' has no x-sensitivity",
        "property 'maatregelen/aantal' has x-sensitivity 'geheim', not one of P, I, C, S, S+",
    ]


def test_missing_titles() -> None:
    schema = copy.deepcopy(SCHEMA)
    del schema["title"]
    del schema["properties"]["bedrag"]["title"]
    assert form_definition_problems("f", schema) == [
        "the form has no title",
        "property 'bedrag' has no title",
    ]


def test_wrong_draft_and_type() -> None:
    schema = copy.deepcopy(SCHEMA)
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    schema["type"] = "array"
    problems = form_definition_problems("f", schema)
    assert "$schema must be https://json-schema.org/draft/2020-12/schema" in problems
    assert "the form must have type: object" in problems


def test_invalid_json_schema_is_reported() -> None:
    schema = copy.deepcopy(SCHEMA)
    schema["properties"]["bedrag"]["minimum"] = "nul"
    schema["required"] = "naam"
    problems = form_definition_problems("f", schema)
    assert any(p.startswith("not a valid JSON Schema at 'properties/bedrag/minimum'") for p in problems)
    assert any(p.startswith("not a valid JSON Schema at 'required'") for p in problems)


def test_required_names_must_be_properties() -> None:
    schema = copy.deepcopy(SCHEMA)
    schema["required"] = ["naam", "onbekend"]
    assert form_definition_problems("f", schema) == ["the form requires 'onbekend', which is not a property"]


@pytest.mark.parametrize("field", ["len", "sum", "_geheim"])
def test_field_names_reserved_for_scripts(field: str) -> None:
    schema = copy.deepcopy(SCHEMA)
    schema["properties"][field] = {"type": "string", "title": "X", "x-sensitivity": "P"}
    problems = form_definition_problems("f", schema)
    assert len(problems) == 1
    assert f"field name {field!r} is reserved" in problems[0]


def test_load_form_bad_json() -> None:
    with pytest.raises(BundleInvalidError) as caught:
        load_form("kapot.schema.json", '{"title": "x",')
    [problem] = caught.value.problems
    assert problem.file == "kapot.schema.json"
    assert problem.element == ""
    assert problem.message.startswith("invalid JSON: ")
    assert "line 1" in problem.message


def test_load_form_not_an_object() -> None:
    with pytest.raises(BundleInvalidError) as caught:
        load_form("lijst.schema.json", "[]")
    assert [p.message for p in caught.value.problems] == ["the form must be a JSON object"]


def test_load_form_lists_every_definition_problem() -> None:
    schema = copy.deepcopy(SCHEMA)
    del schema["additionalProperties"]
    del schema["properties"]["naam"]["x-sensitivity"]
    with pytest.raises(BundleInvalidError) as caught:
        load_form("f.schema.json", json.dumps(schema))
    assert [p.message for p in caught.value.problems] == [
        "the form needs additionalProperties: false",
        "property 'naam' has no x-sensitivity",
    ]
    assert all(p.file == "f.schema.json" for p in caught.value.problems)


def test_x_prefill_must_name_a_case_data_field() -> None:
    from engine.forms import form_definition_problems

    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "title": "T",
        "additionalProperties": False,
        "properties": {"a": {"type": "string", "title": "A", "x-sensitivity": "P", "x-prefill": 3}},
    }
    assert any("x-prefill" in problem for problem in form_definition_problems("t", schema))
    schema["properties"]["a"]["x-prefill"] = "b"  # type: ignore[index]
    assert form_definition_problems("t", schema) == []
