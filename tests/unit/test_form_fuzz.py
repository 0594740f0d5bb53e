"""Fuzzing the form validation with Hypothesis: for every form of the regeling, random and hostile payloads
(wrong types, huge strings, nested objects, unknown keys, ``__proto__``, NUL bytes, long arrays, HTML) either
raise FormValidationError or give a cleaned dict that satisfies the schema and holds declared fields only.
The web variant posts random fields to a task page and to /aanmelden: never a 500, and the case is unchanged
unless the answer is a success redirect.

Derandomized with a bounded number of examples, so CI sees the same inputs every run and stays fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from sqlalchemy import func, select

from engine.errors import FormValidationError
from engine.forms import _FORMAT_CHECKER, FormSchema, load_form, validate_submission
from engine.model import Case
from tests.websupport import (
    PROJECT,
    Site,
    csrf_of,
    lock_version_of,
)

FORM_FILES = sorted((PROJECT / "forms").glob("*.schema.json"))
FORMS = {path.name: load_form(path.name, path.read_text(encoding="utf-8")) for path in FORM_FILES}

HOSTILE_KEYS = st.sampled_from(
    ["__proto__", "constructor", "prototype", "typename", "_private", "len", "a\x00b", "", "x" * 300, "<b>", "0"]
)
HOSTILE_TEXT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "<script>alert(1)</script>",
            '"><img src=x onerror=alert(1)>',
            "\x00",
            "nul\x00byte",
            "x" * 100_000,
            "{{ 7*7 }}",
            "'; DROP TABLE case; --",
            "2026-02-31",
            "9999-99-99",
            "1e309",
            "NaN",
            "\ud7ff\ufffe",
        ]
    ),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([10**100, -(10**100), 2**63]),
    st.floats(allow_nan=True, allow_infinity=True),
    HOSTILE_TEXT,
)
HOSTILE = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.one_of(HOSTILE_KEYS, st.text(max_size=10)), children, max_size=5),
    ),
    max_leaves=20,
)
LONG_ARRAYS = st.sampled_from([[0] * 10_000, ["x"] * 5_000, [{}] * 1_000, [[[[[]]]]]])


def _value_for(schema: Mapping[str, Any], hostile: bool = True) -> st.SearchStrategy[Any]:
    """Well-typed values for a property (so the success path runs too), with ``hostile`` sometimes others."""
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    typed: list[st.SearchStrategy[Any]] = []
    if "enum" in schema:
        typed.append(st.sampled_from(list(schema["enum"])))
    elif "string" in kinds:
        if schema.get("format") == "date":
            typed.append(st.dates().map(str))
        elif schema.get("format") == "email":
            typed.append(st.just("iemand@voorbeeld.invalid"))
        else:
            typed.append(st.text(min_size=1, max_size=min(40, int(schema.get("maxLength", 40)))))
    if "boolean" in kinds:
        typed.append(st.booleans())
    if "number" in kinds or "integer" in kinds:
        typed.append(st.integers(min_value=0, max_value=10**6))
    if "null" in kinds:
        typed.append(st.none())
    if "array" in kinds and isinstance(schema.get("items"), Mapping):
        typed.append(st.lists(_value_for(schema["items"], hostile), min_size=1, max_size=3))
    if "object" in kinds or "properties" in schema:
        typed.append(_object_for(schema, hostile))
    if not hostile:
        return st.one_of(*typed) if typed else st.none()
    return st.one_of(*typed, HOSTILE, LONG_ARRAYS) if typed else HOSTILE


def _object_for(schema: Mapping[str, Any], hostile: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    properties: Mapping[str, Any] = schema.get("properties", {})
    values = {name: st.deferred(lambda p=p: _value_for(p, hostile)) for name, p in properties.items()}
    if not hostile:  # every required field, well typed: the payloads that may pass
        required = [name for name in schema.get("required", []) if name in values]
        optional = {name: value for name, value in values.items() if name not in required}
        return st.fixed_dictionaries({name: values[name] for name in required}, optional=optional)
    declared = st.fixed_dictionaries({}, optional=values)
    extra = st.dictionaries(HOSTILE_KEYS, HOSTILE, max_size=2)
    return st.one_of(declared, st.builds(lambda a, b: {**a, **b}, declared, extra))


def _payloads(form: FormSchema) -> st.SearchStrategy[Any]:
    return st.one_of(
        _object_for(form.schema, hostile=False),
        _object_for(form.schema),
        st.builds(
            lambda a, b: {**a, **b},
            _object_for(form.schema, hostile=False),
            st.dictionaries(HOSTILE_KEYS, HOSTILE, max_size=2),
        ),
        HOSTILE,
        LONG_ARRAYS,
    )


def _only_declared(schema: Mapping[str, Any], value: Any, path: str = "") -> list[str]:
    """The paths in ``value`` that the schema does not declare."""
    found: list[str] = []
    if isinstance(value, dict) and "properties" in schema:
        properties = schema["properties"]
        for key, item in value.items():
            if key not in properties:
                found.append(f"{path}/{key}")
            else:
                found += _only_declared(properties[key], item, f"{path}/{key}")
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for index, item in enumerate(value):
            found += _only_declared(schema["items"], item, f"{path}/{index}")
    return found


FUZZ = settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


@pytest.mark.parametrize("name", sorted(FORMS))
def test_validation_refuses_or_cleans_every_payload(name: str) -> None:
    form = FORMS[name]
    validator = Draft202012Validator(form.schema, format_checker=_FORMAT_CHECKER)

    @FUZZ
    @given(_payloads(form))
    def check(payload: Any) -> None:
        try:
            cleaned = validate_submission(form, payload)
        except FormValidationError as error:
            assert error.errors  # a refusal always says which field
            return
        assert isinstance(cleaned, dict)
        assert list(validator.iter_errors(cleaned)) == []
        assert _only_declared(form.schema, cleaned) == []

    check()


def test_every_form_is_fuzzed() -> None:
    assert len(FORMS) >= 20 and "aanmelding.schema.json" in FORMS


# -- the web variant ---------------------------------------------------------------------------------------

WEB = settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
FIELD_VALUES = st.one_of(HOSTILE_TEXT, st.lists(HOSTILE_TEXT, max_size=3), st.sampled_from(["ja", "nee", "0", "-1"]))


def _web_fields(schema: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The slash paths a browser posts for this form (two rows of every group)."""
    paths: list[str] = []
    for name, prop in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        items = prop.get("items")
        if isinstance(items, Mapping) and "properties" in items:
            for row in ("0", "1"):
                paths += _web_fields(items, f"{path}/{row}/")
        else:
            paths.append(path)
    return paths


def _posts(form: FormSchema) -> st.SearchStrategy[dict[str, Any]]:
    known = _web_fields(form.schema)
    keys = st.one_of(st.sampled_from(known), HOSTILE_KEYS, st.sampled_from(["lock_version", "_actie", "csrf_token"]))
    actions = st.sampled_from(["versturen", "concept", "rij_toevoegen:x", "rij_verwijderen:a/0", "", "\x00"])
    return st.builds(
        lambda fields, action: {**fields, "_actie": action},
        st.dictionaries(keys, FIELD_VALUES, max_size=12),
        actions,
    )


def _state(site: Site, reference: str) -> tuple[int, int, int]:
    with site.session() as session:
        case = session.scalar(select(Case).where(Case.reference == reference))
        count = session.scalar(select(func.count()).select_from(Case)) or 0
        assert case is not None
        return case.lock_version, case.event_count, count


def test_posting_random_fields_to_a_task_page(site: Site) -> None:
    reference = site.cases["burgemeester"]
    task = site.open_task(reference)
    client = site.client("ccv-adviseur-1")
    url = f"/zaken/{reference}/taken/{task.task_guid}"
    lock_version = lock_version_of(client.get(url).text)
    form = FORMS[task.form or ""]
    statuses: set[int] = set()

    @WEB
    @given(_posts(form), st.sampled_from([lock_version, lock_version, "0", "x", ""]))
    def check(fields: dict[str, Any], version: str) -> None:
        before = _state(site, reference)
        data = {**fields, "csrf_token": csrf_of(client), "lock_version": version}
        response = client.post(url, data=data)
        statuses.add(response.status_code)
        assert response.status_code < 500, response.status_code
        if response.status_code != 302:
            assert _state(site, reference) == before

    check()
    assert 422 in statuses  # the fields reached the form validation, not just the CSRF check


def test_posting_random_fields_to_aanmelden(site: Site) -> None:
    reference = site.cases["burgemeester"]
    client = site.client("burgemeester")
    form = FORMS["aanmelding.schema.json"]
    statuses: set[int] = set()

    @WEB
    @given(_posts(form))
    def check(fields: dict[str, Any]) -> None:
        before = _state(site, reference)
        response = client.post("/aanmelden", data={**fields, "csrf_token": csrf_of(client)})
        statuses.add(response.status_code)
        assert response.status_code < 500, response.status_code
        if response.status_code != 302:
            assert _state(site, reference) == before

    check()
    assert 422 in statuses


def test_the_forms_folder_is_where_the_fuzzer_looks() -> None:
    assert Path(PROJECT / "forms" / "aanmelding.schema.json") in FORM_FILES
