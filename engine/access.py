"""Who may act on which case: lanes are roles, and each role sees only its own scope."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import ColumnElement, false, true

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
# Roles that read cases without ever acting on them.
READ_ONLY_ROLES = frozenset({Role.AUDITOR})


@dataclass(frozen=True)
class Actor:
    """The person (or the worker) on whose behalf a command runs."""

    id: str
    role: Role
    organisation: str | None = None


SYSTEM = Actor("systeem", Role.SYSTEEM)


def may_see_case(actor: Actor, case: Case) -> bool:
    """The case-level scope of each role (design/architecture.md, "Access and privacy").

    A bestuurder sees their own case; a werkgever the cases of their organisation; a CCV adviser the
    cases assigned to them and the unassigned ones (to claim); the BVA a case once its first BVA task
    opened (determination onwards); an auditor and the worker every case. Process owners and
    beheerders see no case data at all.
    """
    match actor.role:
        case Role.BESTUURDER:
            return case.bestuurder == actor.id
        case Role.WERKGEVER:
            return case.organisation == actor.organisation
        case Role.CCV:
            return case.ccv_adviser in (None, actor.id)
        case Role.BVA:
            return case.bva_since is not None
        case Role.AUDITOR | Role.SYSTEEM:
            return True
        case _:
            return False


def case_scope(actor: Actor) -> ColumnElement[bool]:
    """``may_see_case`` as a SQL condition on ``case``, for lists and the inbox."""
    match actor.role:
        case Role.BESTUURDER:
            return Case.bestuurder == actor.id
        case Role.WERKGEVER:
            return Case.organisation == (actor.organisation or "")
        case Role.CCV:
            return (Case.ccv_adviser == actor.id) | Case.ccv_adviser.is_(None)
        case Role.BVA:
            return Case.bva_since.is_not(None)
        case Role.AUDITOR | Role.SYSTEEM:
            return true()
        case _:
            return false()


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
