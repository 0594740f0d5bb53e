"""The errors the engine raises; the web layer maps each class to one status code and a Dutch message."""

from __future__ import annotations

from dataclasses import dataclass


class EngineError(Exception):
    """Root of every error the engine raises on purpose."""


class NotFoundError(EngineError):
    """The case, task or version does not exist, or the actor may not know that it does."""


class PermissionDeniedError(EngineError):
    """The actor's role or scope does not allow this action."""


class InvalidTransitionError(EngineError):
    """The task is not READY, already completed, or the message is not awaited."""


class ConflictError(EngineError):
    """The case changed since the form was rendered (stale ``lock_version``) or is busy."""


@dataclass(frozen=True)
class FieldError:
    """One problem with one submitted field; ``field`` is a slash path such as ``maatregelen/0/omschrijving``."""

    field: str
    message: str


class FormValidationError(EngineError):
    """The submission does not satisfy the task's JSON Schema; nothing was stored."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class Problem:
    """One finding of bundle validation: the file, the element id (or '') and the reason."""

    file: str
    element: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.element or '-'}: {self.message}"


class BundleInvalidError(EngineError):
    """A process bundle failed validation; ``problems`` lists every finding."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


class ScriptRejectedError(EngineError):
    """A script or expression is refused by the sandbox (at validation or at run time)."""


class ProcessError(EngineError):
    """The process itself failed while running (a script or expression raised); the case is unchanged."""

    def __init__(self, message: str, element: str = "") -> None:
        super().__init__(message)
        self.element = element
