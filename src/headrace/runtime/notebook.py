"""`dbutils.notebook`: exit(value) and run(path, timeout_seconds, arguments)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from headrace.limits import MAX_NOTEBOOK_RESULT_BYTES
from headrace.runtime.notebook_shared import (  # re-exported
    EXIT_FILE_ENV,
    NOTEBOOK_PATH_ENV,
    NotebookRunError,
)

__all__ = [
    "EXIT_FILE_ENV",
    "NOTEBOOK_PATH_ENV",
    "NotebookExit",
    "NotebookRunError",
    "NotebookUtils",
    "notebook_output",
]


class NotebookExit(BaseException):
    """`dbutils.notebook.exit()` was called: the notebook ends successfully.

    A BaseException so that a user's `except Exception:` cannot swallow it (as on Databricks).
    """

    def __init__(self, value: str) -> None:
        super().__init__(value)
        self.value = value


def notebook_output(value: str) -> dict[str, Any]:
    """get-output's `notebook_output`: the value, cut at Databricks' 5 MB limit."""
    raw = value.encode()
    if len(raw) <= MAX_NOTEBOOK_RESULT_BYTES:
        return {"result": value, "truncated": False}
    cut = raw[:MAX_NOTEBOOK_RESULT_BYTES].decode(errors="ignore")
    return {"result": cut, "truncated": True}


class NotebookUtils:
    """`dbutils.notebook`."""

    def exit(self, value: Any) -> None:
        """End the notebook successfully with `value` (a string) as the task's result."""
        text = value if isinstance(value, str) else str(value)
        exit_file = os.environ.get(EXIT_FILE_ENV)
        if exit_file:
            Path(exit_file).write_text(text, encoding="utf-8")
            raise NotebookExit(text)
        # A Python script task: report the value like a notebook would, and stop.
        from headrace.runtime.output import report_output
        from headrace.runtime.secrets import Redactor

        report_output(notebook_output=notebook_output(Redactor.from_directory()(text)))
        raise SystemExit(0)

    def run(
        self, path: str, timeout_seconds: int = 0, arguments: dict[str, Any] | None = None
    ) -> str | None:
        """Run another notebook in its own kernel; returns the value it passed to exit().

        Raises:
            NotebookRunError: it failed, timed out or was not found.
        """
        from headrace.notebook.child import run_notebook

        return run_notebook(path, timeout_seconds, arguments or {})

    def help(self) -> None:
        print("dbutils.notebook: exit(value), run(path, timeout_seconds, arguments)")
