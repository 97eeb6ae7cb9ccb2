"""Problems found while loading a bundle, each with its file and line: errors (all raised
at once as one SpecError) and the warnings the Databricks CLI only prints."""

from __future__ import annotations

from pathlib import Path

from headrace.bundle.located import Loc
from headrace.errors import SpecError, SpecIssue


class Issues:
    """Problems found so far, each with its file and line."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.items: list[SpecIssue] = []
        self.warnings: list[str] = []

    def add(self, loc: Loc | None, where: str, message: str) -> None:
        self.items.append(SpecIssue(self._path(loc, where), message))

    def warn(self, loc: Loc | None, where: str, message: str) -> None:
        """A problem the Databricks CLI only warns about (unknown fields, anchor-only keys)."""
        text = f"{self._path(loc, where)}: {message}"
        if text not in self.warnings:
            self.warnings.append(text)

    def _path(self, loc: Loc | None, where: str) -> str:
        label = loc.label(self.root) if loc is not None else ""
        return f"{label}: {where}" if label and where else (label or where)

    def raise_if_any(self, source: Path) -> None:
        if self.items:
            error = SpecError(self.items, source=str(source), what="bundle")
            error.warnings = list(self.warnings)  # type: ignore[attr-defined]
            raise error
