"""Who may act on which case: lanes are roles, and each role sees only its own scope."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from engine.errors import NotFoundError, PermissionDeniedError
from engine.model import Case


class Role(StrEnum):
    BESTUURDER = "Bestuurder"
    CCV = "CCV"
    WERKGEVER = "Werkgever"
    BVA = "BVA"
    PROCESBEHEERDER = "Procesbeheerder"
    AUDITOR = "Auditor"
    BEHEERDER = "Beheerder"
    SYSTEEM = "Systeem"


LANE_ROLES = frozenset({Role.BESTUURDER, Role.CCV, Role.WERKGEVER, Role.BVA})


@dataclass(frozen=True)
class Actor:
    """The person (or the worker) on whose behalf a command runs."""

    id: str
    role: Role
    organisation: str | None = None


SYSTEM = Actor("systeem", Role.SYSTEEM)


def may_see_case(actor: Actor, case: Case) -> bool:
    """The case-level scope of each role (design/architecture.md, "Access and privacy")."""
    if actor.role is Role.BESTUURDER:
        return case.bestuurder == actor.id
    if actor.role is Role.WERKGEVER:
        return case.organisation == actor.organisation
    return actor.role in (Role.CCV, Role.BVA, Role.AUDITOR, Role.SYSTEEM)


def require_case_access(actor: Actor, case: Case) -> None:
    # Out-of-scope cases are reported as missing, so their existence does not leak.
    if not may_see_case(actor, case):
        raise NotFoundError("case not found")


def require_sender(actor: Actor, message: str, senders: Collection[str]) -> None:
    """Only the roles a message's schema names (``x-senders``) may send it; the worker always may."""
    if actor.role is not Role.SYSTEEM and actor.role.value not in senders:
        raise PermissionDeniedError(f"the {actor.role.value} role may not send {message}")


def require_lane(actor: Actor, lane: str) -> None:
    if actor.role.value != lane:
        raise PermissionDeniedError(f"this task belongs to the {lane or 'unknown'} lane")
