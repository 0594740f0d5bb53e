"""One declarative policy (``forms/visibility.json``) saying which form fields each role may receive.

Everything that shows case data — task context, case page, document downloads — asks this module, so a
field the policy hides never leaves the server, whichever page asks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from engine.access import Role
from engine.bundles import FORM_SUFFIX

POLICY_FILE = Path(__file__).resolve().parent.parent / "forms" / "visibility.json"
ALL = "*"


@dataclass(frozen=True)
class RolePolicy:
    default_all: bool
    forms: Mapping[str, frozenset[str] | str]

    def visible_fields(self, form: str) -> frozenset[str] | str:
        """The field names of ``form`` this role may receive, or ``ALL``."""
        rule = self.forms.get(form_key(form))
        if rule is None:
            return ALL if self.default_all else frozenset()
        return rule


NOTHING = RolePolicy(default_all=False, forms={})


def form_key(form: str) -> str:
    """``aanmelding.schema.json`` and ``aanmelding`` name the same form."""
    return form.removesuffix(FORM_SUFFIX)


def parse_policy(text: str) -> dict[str, RolePolicy]:
    raw = json.loads(text)
    policies: dict[str, RolePolicy] = {}
    for role, rule in raw["roles"].items():
        Role(role)  # an unknown role name is a mistake in the policy, not a role without rights
        forms = {
            name: ALL if fields == ALL else frozenset(fields) for name, fields in (rule.get("forms") or {}).items()
        }
        policies[role] = RolePolicy(default_all=rule.get("default") == "all", forms=forms)
    return policies


@cache
def policy() -> dict[str, RolePolicy]:
    return parse_policy(POLICY_FILE.read_text(encoding="utf-8"))


def for_role(role: Role) -> RolePolicy:
    return policy().get(role.value, NOTHING)


def may_see_field(role: Role, form: str, field: str) -> bool:
    fields = for_role(role).visible_fields(form)
    return fields == ALL or field in fields


def visible_data(role: Role, form: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` of ``form`` without the fields ``role`` may not receive."""
    fields = for_role(role).visible_fields(form)
    if fields == ALL:
        return dict(data)
    return {name: value for name, value in data.items() if name in fields}
