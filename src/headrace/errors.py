"""One exception root for Headrace; faces map these to API error codes and CLI exit codes."""

from __future__ import annotations

from dataclasses import dataclass


class HeadraceError(Exception):
    """Something went wrong in Headrace."""

    exit_code = 1

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message if message is not None else (self.__doc__ or "").strip())


@dataclass(frozen=True)
class SpecIssue:
    """One problem in a job spec: where it is (a field path) and what is wrong."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class SpecError(HeadraceError):
    """The job spec is invalid."""

    exit_code = 2

    def __init__(
        self, issues: list[SpecIssue] | str, source: str | None = None, *, what: str = "job spec"
    ) -> None:
        if isinstance(issues, str):
            issues = [SpecIssue("", issues)]
        self.issues = list(issues)
        self.source = source
        n = len(self.issues)
        lines = "\n".join(f"  {issue}" for issue in self.issues)
        if source:
            message = f"{source}: {n} error{'s' if n != 1 else ''} in {what}\n{lines}"
        elif n == 1:
            message = str(self.issues[0])  # a flag or an API field: one line says it all
        else:
            message = f"{n} errors\n{lines}"
        super().__init__(message)


class NotFound(HeadraceError):
    """No such object."""

    exit_code = 3


class Conflict(HeadraceError):
    """The object is not in a state that allows this."""

    exit_code = 4


class ResourceConflict(Conflict):
    """Another operation holds the object (Databricks' RESOURCE_CONFLICT, HTTP 409): e.g. a
    pipeline update started while one is active."""


class InvalidTransition(Conflict):
    """A state change was attempted from a state that does not allow it."""


class AttemptEnded(InvalidTransition):
    """The attempt has already ended (a cancel, a timeout or a recovery got there first)."""


class PermissionDenied(HeadraceError):
    """You do not have permission to do this."""

    exit_code = 5


class NotSupported(HeadraceError):
    """This feature is not supported yet."""

    exit_code = 6
