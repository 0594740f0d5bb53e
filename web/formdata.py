"""Posted task forms as JSON for the task's JSON Schema, and the engine's field errors per form field.

Every input is named by its slash path into the JSON document (``naam``, ``maatregelen/0/omschrijving``). The same
paths key :func:`error_map`, and the nested ``data``/``raw`` documents have the shape the form macros
(``templates/forms/macros.html``) re-display, so a submission, a draft and stored case data all render the same way.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, Literal, Protocol

from engine.errors import FieldError

ACTION_FIELD: Final = "_actie"
ADD_ROW: Final = "rij_toevoegen"
REMOVE_ROW: Final = "rij_verwijderen"

FieldKind = Literal[
    "readonly", "object", "group", "checkboxes", "checkbox", "yesno", "integer", "number", "upload", "text"
]

# Canonical row numbers only: "01" and "1" must not both address row 1.
_INDEX = re.compile(r"0|[1-9][0-9]*")
_ACTION = re.compile(rf"{ADD_ROW}:(?P<array>.+)|{REMOVE_ROW}:(?P<row_of>.+)/(?P<index>{_INDEX.pattern})")

# Dutch readers write 1.250,50; "1.250" therefore means 1250, not 1.25. A leading "0." group is a decimal point.
_DUTCH_THOUSANDS = re.compile(r"-?[1-9][0-9]{0,2}(?:\.[0-9]{3})+(?:,[0-9]+)?")
_COMMA_DECIMAL = re.compile(r"-?[0-9]+(?:,[0-9]+)?")
_POINT_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
# Longer input is not a plausible amount; leaving it raw lets the engine report it instead of converting huge numbers.
_MAX_NUMBER_LENGTH = 40

_BOOLEANS: Final = {"ja": True, "nee": False, "on": True}


class MultiDictLike(Protocol):
    """What the parser needs of ``request.form`` (a werkzeug ``MultiDict``)."""

    def getlist(self, key: str, /) -> list[str]: ...

    def keys(self) -> Iterable[str]: ...


@dataclass(frozen=True)
class RowAction:
    """A press on "Rij toevoegen" (``index`` None) or "Verwijderen" (the row's ``index``) of a repeatable group."""

    kind: Literal["toevoegen", "verwijderen"]
    array: str
    index: int | None = None


@dataclass(frozen=True)
class UploadSlot:
    """An upload field: its file is ``request.files[name]``; its document id belongs at ``path``."""

    name: str
    path: str


@dataclass
class ParsedForm:
    """A posted form.

    ``data`` is the JSON document for ``validate_submission`` (empty after a row action: nothing is submitted then).
    ``raw`` has the same shape with the values as typed (strings, lists of strings), for re-display and drafts; after a
    row action it has the added row, lacks the removed one and keeps empty rows, otherwise its rows match ``data``.
    """

    data: dict[str, Any]
    raw: dict[str, Any]
    uploads: list[UploadSlot] = field(default_factory=list)
    row_action: RowAction | None = None

    def set_value(self, path: str, value: Any) -> None:
        """Put a value (e.g. the document id of a stored upload) at ``path`` in both documents."""
        _assign(self.raw, path, value)
        if self.row_action is None:
            _assign(self.data, path, value)


# --------------------------------------------------------------------------------------------------
# Schema helpers.


def _types(node: Mapping[str, Any]) -> set[str]:
    kind = node.get("type")
    if isinstance(kind, str):
        return {kind}
    return {str(name) for name in kind} if isinstance(kind, list) else set()


def _properties(node: Mapping[str, Any]) -> Mapping[str, Any]:
    properties = node.get("properties")
    return properties if isinstance(properties, Mapping) else {}


def _items(node: Mapping[str, Any]) -> Mapping[str, Any]:
    items = node.get("items")
    return items if isinstance(items, Mapping) else {}


def field_kind(prop: Mapping[str, Any]) -> FieldKind:
    """How a property is posted; the macros use the same rules (and split "text" into their widgets)."""
    types = _types(prop)
    if prop.get("readOnly") is True:
        return "readonly"
    if "array" in types:
        items = _items(prop)
        return "group" if "object" in _types(items) or "properties" in items else "checkboxes"
    if "object" in types or "properties" in prop:
        return "object"
    if "boolean" in types:
        return "checkbox" if prop.get("const") is True else "yesno"
    if "integer" in types:
        return "integer"
    if "number" in types:
        return "number"
    return "upload" if prop.get("x-widget") == "upload" else "text"


def _join(path: str, name: str) -> str:
    return f"{path}/{name}" if path else name


@dataclass(frozen=True)
class _Location:
    """Where a path lands in the schema: the field that shows it, the rows around it and its place in the form."""

    key: str
    node: Mapping[str, Any]
    rows: tuple[str, ...]
    order: tuple[int, ...]


def _locate(schema: Mapping[str, Any], path: str) -> _Location | None:
    """Walk ``path`` through the schema; None when it names nothing the form has.

    Below a leaf field (one value of a checkbox list) the walk stops: that field is what the user sees.
    """
    node = schema
    kept: list[str] = []
    rows: list[str] = []
    order: list[int] = []
    for part in path.split("/") if path else []:
        kind = field_kind(node) if kept else "object"
        if kind == "object":
            names = list(_properties(node))
            if part not in names:
                return None
            node = _properties(node)[part]
            order.append(names.index(part))
        elif kind == "group" and _INDEX.fullmatch(part):
            node = _items(node)
            order.append(int(part))
            rows.append("/".join([*kept, part]))
        elif kind == "group":
            return None
        else:
            break
        kept.append(part)
    key = "/".join(kept)
    return _Location(key, node, tuple(row for row in rows if row != key), tuple(order))


# --------------------------------------------------------------------------------------------------
# Values.


def _clean_text(text: str) -> str:
    # Browsers post textarea newlines as CRLF while maxlength counts them as one character; PostgreSQL cannot
    # store NUL in jsonb text.
    return text.replace("\r\n", "\n").replace("\x00", "").strip()


def parse_number(text: str, *, integer: bool = False) -> int | float | None:
    """A number as a Dutch user types it ("1.250,50", "12,5", "12.5"); None when it is not one."""
    compact = re.sub(r"\s", "", text).removeprefix("€")
    if len(compact) > _MAX_NUMBER_LENGTH:
        return None
    if _DUTCH_THOUSANDS.fullmatch(compact):
        canonical = compact.replace(".", "").replace(",", ".")
    elif _COMMA_DECIMAL.fullmatch(compact) or _POINT_DECIMAL.fullmatch(compact):
        canonical = compact.replace(",", ".")
    else:
        return None
    value = Decimal(canonical)
    if value == value.to_integral_value():
        return int(value)
    return None if integer else float(value)


def _typed(kind: FieldKind, text: str) -> Any:
    """The JSON value for a typed text; what cannot be converted stays a string, so the engine names the field."""
    if kind in ("yesno", "checkbox"):
        return _BOOLEANS.get(text.lower(), text)
    if kind in ("integer", "number"):
        number = parse_number(text, integer=kind == "integer")
        return text if number is None else number
    return text


def _assign(document: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split("/")
    node: Any = document
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    node[parts[-1]] = value


_ABSENT: Final[Any] = object()


class _Parser:
    """One walk over the schema, reading the posted names (``posted``) and writing renumbered paths (``path``)."""

    def __init__(self, form: MultiDictLike, action: RowAction | None, new_files: Collection[str]) -> None:
        self.form = form
        self.names = list(form.keys())
        self.action = action
        self.new_files = new_files
        self.uploads: list[UploadSlot] = []

    def first(self, name: str) -> str:
        values = self.form.getlist(name)
        return _clean_text(values[0]) if values else ""

    def properties(self, schema: Mapping[str, Any], posted: str, path: str) -> tuple[dict[str, Any], dict[str, Any]]:
        data: dict[str, Any] = {}
        raw: dict[str, Any] = {}
        for name, prop in _properties(schema).items():
            typed, value = self.field(prop, _join(posted, name), _join(path, name))
            if typed is not _ABSENT:
                data[name] = typed
            if value is not _ABSENT:
                raw[name] = value
        return data, raw

    def field(self, prop: Mapping[str, Any], posted: str, path: str) -> tuple[Any, Any]:
        """(data, raw) for one property; ``_ABSENT`` where the field stays out of that document."""
        kind = field_kind(prop)
        if kind == "readonly":
            return _ABSENT, _ABSENT  # shown as text, so any posted value is not the user's to set
        if kind == "object":
            data, raw = self.properties(prop, posted, path)
            return data or _ABSENT, raw or _ABSENT
        if kind == "group":
            data_rows, raw_rows = self.rows(_items(prop), posted, path)
            return data_rows or _ABSENT, raw_rows or _ABSENT
        if kind == "checkboxes":
            chosen = [text for text in map(_clean_text, self.form.getlist(posted)) if text]
            return chosen or _ABSENT, chosen or _ABSENT
        if kind == "upload":
            self.uploads.append(UploadSlot(posted, path))
        text = self.first(posted)
        return (_typed(kind, text), text) if text else (_ABSENT, _ABSENT)

    def rows(self, items: Mapping[str, Any], posted: str, path: str) -> tuple[list[Any], list[Any]]:
        """Rows in posted order, renumbered from 0; empty rows are dropped except while editing the rows."""
        data_rows: list[Any] = []
        raw_rows: list[Any] = []
        for index in self.row_indices(posted):
            if self.action == RowAction("verwijderen", posted, index):
                continue
            row_posted = f"{posted}/{index}"
            uploads_before = len(self.uploads)
            data, raw = self.properties(items, row_posted, f"{path}/{len(raw_rows)}")
            if raw or self.has_new_file(row_posted):
                data_rows.append(data)
                raw_rows.append(raw)
            elif self.action is not None:
                raw_rows.append(raw)  # an added row the user has not filled in yet must stay on screen
            else:
                del self.uploads[uploads_before:]
        if self.action == RowAction("toevoegen", posted):
            raw_rows.append({})
        return data_rows, raw_rows

    def row_indices(self, posted: str) -> list[int]:
        pattern = re.compile(rf"{re.escape(posted)}/({_INDEX.pattern})/")
        found = {int(match.group(1)) for name in self.names if (match := pattern.match(name))}
        return sorted(found)

    def has_new_file(self, row_posted: str) -> bool:
        return any(name.startswith(f"{row_posted}/") for name in self.new_files)


def _row_action(schema: Mapping[str, Any], form: MultiDictLike) -> RowAction | None:
    """The row button pressed, if it names a repeatable group of this form; anything else is a plain submit."""
    posted = form.getlist(ACTION_FIELD)
    match = _ACTION.fullmatch(posted[0]) if posted else None
    if match is None:
        return None
    array = match.group("array") or match.group("row_of")
    location = _locate(schema, array)
    if location is None or location.key != array or field_kind(location.node) != "group":
        return None
    if match.group("array"):
        return RowAction("toevoegen", array)
    return RowAction("verwijderen", array, int(match.group("index")))


def parse_submission(
    schema: Mapping[str, Any], form: MultiDictLike, new_files: Collection[str] = frozenset()
) -> ParsedForm:
    """Turn ``request.form`` into a :class:`ParsedForm` for ``schema``; names the schema lacks are ignored.

    ``new_files`` are the names of file inputs that carry a file, so a row holding only a new upload is kept.
    Upload fields get the posted hidden value (the current document id); store each new file in
    ``uploads`` and put its id in with :meth:`ParsedForm.set_value`. Check that any posted document id belongs to
    the case: the browser can send any id.
    """
    action = _row_action(schema, form)
    parser = _Parser(form, action, new_files)
    data, raw = parser.properties(schema, "", "")
    return ParsedForm(data={} if action else data, raw=raw, uploads=parser.uploads, row_action=action)


def draft_values(parsed: ParsedForm) -> dict[str, Any]:
    """What to store for "Opslaan als concept": the values as typed (JSON-safe); pass them back as macro values."""
    return copy.deepcopy(parsed.raw)


# --------------------------------------------------------------------------------------------------
# Errors.


def error_map(errors: Iterable[FieldError], schema: Mapping[str, Any]) -> dict[str, list[str]]:
    """Messages per field path, in form order; "" holds errors on fields the form does not show.

    A row path (``maatregelen/0``) also lists the messages of its fields, so a row with a problem can be marked.
    """
    collected: dict[str, list[str]] = {}
    order: dict[str, tuple[int, ...]] = {"": ()}
    for error in errors:
        location = _locate(schema, error.field)
        targets = (location.key, *location.rows) if location else ("",)
        if location:
            order[location.key] = location.order
            order.update({row: location.order[: row.count("/") + 1] for row in location.rows})
        for target in targets:
            messages = collected.setdefault(target, [])
            if error.message not in messages:
                messages.append(error.message)
    return {key: collected[key] for key in sorted(collected, key=lambda key: (key != "", order[key]))}
