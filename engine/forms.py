"""JSON Schema forms: checking form definitions and validating submissions with Dutch field errors."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from engine.errors import BundleInvalidError, FieldError, FormValidationError, Problem
from engine.sandbox import is_reserved_name

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
SENSITIVITY_CLASSES = frozenset({"P", "I", "C", "S", "S+"})

# SpiffWorkflow's deserializer treats any dict with this key as a serialized object and fails on it.
FORBIDDEN_KEY = "typename"

_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+")

_FORMAT_CHECKER = FormatChecker()


@_FORMAT_CHECKER.checks("email")
def _is_email(instance: object) -> bool:
    """Stricter than jsonschema's own check, which accepts anything containing an '@'."""
    return not isinstance(instance, str) or _EMAIL.fullmatch(instance) is not None


@dataclass(frozen=True)
class FormSchema:
    """A checked form: its file name, its JSON Schema and the sensitivity class of each field path."""

    name: str
    schema: Mapping[str, Any]
    sensitivity: Mapping[str, str]


# --------------------------------------------------------------------------------------------------
# Form definitions.


def _is_object_schema(node: Mapping[str, Any]) -> bool:
    kind = node.get("type")
    return kind == "object" or (isinstance(kind, list) and "object" in kind) or "properties" in node


def _properties(node: Mapping[str, Any]) -> Mapping[str, Any]:
    properties = node.get("properties", {})
    return properties if isinstance(properties, Mapping) else {}


def _child_schemas(node: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Subschemas other than properties, with the path suffix their fields get ('' = same level)."""
    items = node.get("items")
    if isinstance(items, Mapping):
        yield "", items
    for keyword in ("prefixItems", "allOf", "anyOf", "oneOf"):
        branches = node.get(keyword)
        if isinstance(branches, list):
            yield from (("", branch) for branch in branches if isinstance(branch, Mapping))
    definitions = node.get("$defs")
    if isinstance(definitions, Mapping):
        for key, value in definitions.items():
            if isinstance(value, Mapping):
                yield f"$defs/{key}", value


def _join(path: str, name: str) -> str:
    return f"{path}/{name}" if path and name else path or name


def _property_problems(path: str, prop: Any) -> list[str]:
    if not isinstance(prop, Mapping):
        return [f"property '{path}' is not a schema object"]
    problems = []
    if not prop.get("title"):
        problems.append(f"property '{path}' has no title")
    sensitivity = prop.get("x-sensitivity")
    if sensitivity is None:
        problems.append(f"property '{path}' has no x-sensitivity")
    elif sensitivity not in SENSITIVITY_CLASSES:
        problems.append(f"property '{path}' has x-sensitivity {sensitivity!r}, not one of P, I, C, S, S+")
    prefill = prop.get("x-prefill")
    if prefill is not None and (not isinstance(prefill, str) or is_reserved_name(prefill)):
        problems.append(f"property '{path}' has x-prefill {prefill!r}, not the name of a case data field")
    if path.rsplit("/", 1)[-1] == FORBIDDEN_KEY:
        problems.append(f"property '{path}' may not be called {FORBIDDEN_KEY!r}")
    return problems


def _object_problems(path: str, node: Mapping[str, Any]) -> list[str]:
    where = f"object '{path}'" if path else "the form"
    problems = []
    if node.get("additionalProperties") is not False:
        problems.append(f"{where} needs additionalProperties: false")
    required = node.get("required", [])
    declared = _properties(node)
    for name in required if isinstance(required, list) else []:
        if name not in declared:
            problems.append(f"{where} requires {name!r}, which is not a property")
    return problems


def _structure_problems(path: str, node: Mapping[str, Any]) -> list[str]:
    """Walk every (nested) schema: objects must be closed, properties labelled and classified."""
    problems = _object_problems(path, node) if _is_object_schema(node) else []
    for name, prop in _properties(node).items():
        prop_path = _join(path, name)
        problems += _property_problems(prop_path, prop)
        if isinstance(prop, Mapping):
            problems += _structure_problems(prop_path, prop)
    for suffix, child in _child_schemas(node):
        problems += _structure_problems(_join(path, suffix), child)
    return problems


def _top_level_problems(schema: Mapping[str, Any]) -> list[str]:
    problems = []
    if schema.get("$schema") != DRAFT_2020_12:
        problems.append(f"$schema must be {DRAFT_2020_12}")
    if schema.get("type") != "object":
        problems.append("the form must have type: object")
    if not schema.get("title"):
        problems.append("the form has no title")
    for name in _properties(schema):
        # Form fields are merged into the case data at top level, where scripts see them as variables.
        if is_reserved_name(name):
            problems.append(f"field name {name!r} is reserved for scripts (a builtin or starts with '_')")
    return problems


def _meta_schema_problems(schema: Mapping[str, Any]) -> list[str]:
    """Every violation of the draft 2020-12 meta-schema, not just the first (as check_schema gives)."""
    meta = Draft202012Validator(Draft202012Validator.META_SCHEMA)
    errors = sorted(meta.iter_errors(schema), key=lambda error: list(map(str, error.absolute_path)))
    return [
        f"not a valid JSON Schema at '{'/'.join(map(str, error.absolute_path)) or '/'}': {error.message}"
        for error in errors
    ]


def form_definition_problems(name: str, schema: Mapping[str, Any]) -> list[str]:
    """Everything wrong with a form's schema (``name`` is for the caller's messages); empty if usable."""
    return _meta_schema_problems(schema) + _top_level_problems(schema) + _structure_problems("", schema)


def _sensitivity_map(path: str, node: Mapping[str, Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, prop in _properties(node).items():
        prop_path = _join(path, name)
        found[prop_path] = str(prop["x-sensitivity"])
        found.update(_sensitivity_map(prop_path, prop))
    items = node.get("items")
    if isinstance(items, Mapping):
        found.update(_sensitivity_map(path, items))
    return found


def load_form(name: str, text: str) -> FormSchema:
    """Parse and check a ``*.schema.json`` file; raises BundleInvalidError listing every problem."""
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as error:
        reason = f"invalid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
        raise BundleInvalidError([Problem(name, "", reason)]) from None
    if not isinstance(schema, dict):
        raise BundleInvalidError([Problem(name, "", "the form must be a JSON object")])
    problems = form_definition_problems(name, schema)
    if problems:
        raise BundleInvalidError([Problem(name, "", problem) for problem in problems])
    return FormSchema(name=name, schema=schema, sensitivity=_sensitivity_map("", schema))


# --------------------------------------------------------------------------------------------------
# Submissions. Messages are Dutch and never repeat the submitted value: it may be personal data.

_TYPE_MESSAGES = {
    "number": "Moet een getal zijn.",
    "integer": "Moet een geheel getal zijn.",
    "boolean": "Moet ja of nee zijn.",
    "string": "Moet tekst zijn.",
    "array": "Moet een lijst zijn.",
    "object": "Moet een groep velden zijn.",
    "null": "Moet leeg zijn.",
}
_FORMAT_MESSAGES = {
    "date": "Geen geldige datum (JJJJ-MM-DD).",
    "date-time": "Geen geldige datum en tijd.",
    "time": "Geen geldige tijd.",
    "email": "Geen geldig e-mailadres.",
    "uri": "Geen geldig webadres.",
}
UNKNOWN_FIELD = "Dit veld is onbekend."
REQUIRED_FIELD = "Dit veld is verplicht."
INVALID_VALUE = "Ongeldige waarde."


def _number(value: Any) -> str:
    """A schema bound as Dutch readers write it: 10, 2,5."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).replace(".", ",")


def _type_message(error: ValidationError) -> str:
    expected = error.validator_value
    names = expected if isinstance(expected, list) else [expected]
    meaningful = [name for name in names if name != "null"] or names
    return _TYPE_MESSAGES.get(str(meaningful[0]), INVALID_VALUE)


def _length_message(error: ValidationError) -> str:
    limit = error.validator_value
    if error.validator == "maxLength":
        return f"Te lang (maximaal {limit} tekens)."
    return "Dit veld mag niet leeg zijn." if limit == 1 else f"Te kort (minimaal {limit} tekens)."


_KEYWORD_MESSAGES: dict[str, Callable[[ValidationError], str]] = {
    "type": _type_message,
    "enum": lambda error: "Kies een van de toegestane waarden.",
    "const": lambda error: "Kies een van de toegestane waarden.",
    "format": lambda error: _FORMAT_MESSAGES.get(str(error.validator_value), "Heeft niet de juiste vorm."),
    "pattern": lambda error: "Heeft niet de juiste vorm.",
    "maxLength": _length_message,
    "minLength": _length_message,
    "minimum": lambda error: f"Moet minimaal {_number(error.validator_value)} zijn.",
    "maximum": lambda error: f"Mag maximaal {_number(error.validator_value)} zijn.",
    "exclusiveMinimum": lambda error: f"Moet groter zijn dan {_number(error.validator_value)}.",
    "exclusiveMaximum": lambda error: f"Moet kleiner zijn dan {_number(error.validator_value)}.",
    "multipleOf": lambda error: f"Moet een veelvoud van {_number(error.validator_value)} zijn.",
    "minItems": lambda error: f"Vul minimaal {error.validator_value} in.",
    "maxItems": lambda error: f"Vul maximaal {error.validator_value} in.",
    "uniqueItems": lambda error: "Elke waarde mag maar een keer voorkomen.",
}


def _error_path(error: ValidationError) -> str:
    return "/".join(str(part) for part in error.absolute_path)


def _field_errors(error: ValidationError) -> list[FieldError]:
    """One jsonschema error as field errors; required and additionalProperties name the field itself."""
    path = _error_path(error)
    instance = error.instance if isinstance(error.instance, Mapping) else {}
    if error.validator == "required":
        required = error.validator_value if isinstance(error.validator_value, list) else []
        missing = [name for name in required if name not in instance]
        return [FieldError(_join(path, name), REQUIRED_FIELD) for name in missing]
    if error.validator == "additionalProperties":
        declared = _properties(error.schema) if isinstance(error.schema, Mapping) else {}
        extras = [str(name) for name in instance if name not in declared]
        return [FieldError(_join(path, name), UNKNOWN_FIELD) for name in extras]
    describe = _KEYWORD_MESSAGES.get(str(error.validator))
    return [FieldError(path, describe(error) if describe else INVALID_VALUE)]


def _forbidden_key_errors(path: str, value: Any) -> Iterator[FieldError]:
    if isinstance(value, Mapping):
        if FORBIDDEN_KEY in value:
            yield FieldError(_join(path, FORBIDDEN_KEY), "Dit veld is niet toegestaan.")
        for key, child in value.items():
            yield from _forbidden_key_errors(_join(path, str(key)), child)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _forbidden_key_errors(_join(path, str(index)), child)


def _declared_only(schema: Mapping[str, Any], value: Any) -> Any:
    """A deep copy keeping only schema-declared fields, so nothing undeclared reaches the case data."""
    if isinstance(value, Mapping) and "properties" in schema:
        declared = _properties(schema)
        return {key: _declared_only(declared[key], item) for key, item in value.items() if key in declared}
    items = schema.get("items")
    if isinstance(value, list) and isinstance(items, Mapping):
        return [_declared_only(items, item) for item in value]
    return copy.deepcopy(value)


def validate_submission(form: FormSchema, data: Mapping[str, Any]) -> dict[str, Any]:
    """Check submitted data against the form; raises FormValidationError with every field error."""
    validator = Draft202012Validator(form.schema, format_checker=_FORMAT_CHECKER)
    errors = {field_error for error in validator.iter_errors(data) for field_error in _field_errors(error)}
    reported = {error.field for error in errors}
    errors |= {error for error in _forbidden_key_errors("", data) if error.field not in reported}
    if errors:
        raise FormValidationError(sorted(errors, key=lambda error: (error.field, error.message)))
    cleaned = _declared_only(form.schema, data)
    if not isinstance(cleaned, dict):
        raise FormValidationError([FieldError("", _TYPE_MESSAGES["object"])])
    return cleaned
