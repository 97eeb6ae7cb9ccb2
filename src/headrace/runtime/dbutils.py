"""A Databricks-style `dbutils` for task processes: widgets, jobs.taskValues, notebook, fs,
secrets."""

from __future__ import annotations

import json
import os
from typing import Any

from headrace.limits import MAX_TASK_VALUE_BYTES
from headrace.runtime.fs import Fs
from headrace.runtime.notebook import NotebookUtils
from headrace.runtime.secrets import Secrets

_MISSING = object()


class TaskValueError(ValueError):
    """A task value could not be set or read."""


def _context() -> dict[str, Any] | None:
    path = os.environ.get("HEADRACE_CONTEXT")
    if not path:
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _check_choice(name: str, default: str, choices: list[str]) -> None:
    if default not in list(choices):
        raise TaskValueError(
            f"widget {name!r}: default value {default!r} is not one of its choices {list(choices)}"
        )


class Widgets:
    """`dbutils.widgets`: the task's parameters, with widget defaults when absent."""

    def __init__(self, owner: DBUtils) -> None:
        self._owner = owner
        self._defaults: dict[str, str] = {}
        # Values given to `%run ./nb $name="value"` while that notebook runs (innermost last).
        self.overlays: list[dict[str, str]] = []

    def _params(self) -> dict[str, str]:
        ctx = self._owner.context
        params = dict(ctx.get("parameters", {})) if ctx else {}
        for overlay in self.overlays:
            params.update(overlay)
        return params

    def get(self, name: str) -> str:
        """The parameter `name`, else the widget's default. Raises: TaskValueError."""
        params = self._params()
        if name in params:
            return params[name]
        if name in self._defaults:
            return self._defaults[name]
        known = ", ".join(sorted(params)) or "none"
        raise TaskValueError(f"no parameter or widget named {name!r} (parameters: {known})")

    def getArgument(self, name: str, default: str | None = None) -> str | None:
        """Deprecated Databricks alias of get() with a default."""
        try:
            return self.get(name)
        except TaskValueError:
            return default

    def getAll(self) -> dict[str, str]:
        """Every widget default overlaid with the task's parameters."""
        return {**self._defaults, **self._params()}

    def text(self, name: str, defaultValue: str = "", label: str | None = None) -> None:
        """Declare a text widget with a default."""
        self._defaults[name] = defaultValue

    def dropdown(
        self, name: str, defaultValue: str, choices: list[str], label: str | None = None
    ) -> None:
        """Declare a dropdown widget; its default must be one of `choices` (as on Databricks)."""
        _check_choice(name, defaultValue, choices)
        self._defaults[name] = defaultValue

    def combobox(
        self, name: str, defaultValue: str, choices: list[str], label: str | None = None
    ) -> None:
        """Declare a combobox widget (any value, `choices` are suggestions) with a default."""
        self._defaults[name] = defaultValue

    def multiselect(
        self, name: str, defaultValue: str, choices: list[str], label: str | None = None
    ) -> None:
        """Declare a multiselect widget; its default must be one of `choices`."""
        _check_choice(name, defaultValue, choices)
        self._defaults[name] = defaultValue

    def remove(self, name: str) -> None:
        self._defaults.pop(name, None)

    def removeAll(self) -> None:
        self._defaults.clear()


class TaskValues:
    """`dbutils.jobs.taskValues`: small JSON values passed between tasks of a run."""

    def __init__(self, owner: DBUtils) -> None:
        self._owner = owner
        self._mine: dict[str, Any] = {}

    def set(self, key: str, value: Any) -> None:
        """Set a value other tasks can read. Raises: TaskValueError (not JSON, too large)."""
        if not isinstance(key, str) or not key:
            raise TaskValueError("a task value key must be a non-empty string")
        try:
            encoded = json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise TaskValueError(f"task value {key!r} is not JSON-serialisable: {exc}") from None
        size = len(encoded.encode())
        if size > MAX_TASK_VALUE_BYTES:
            raise TaskValueError(
                f"task value {key!r} is {size} bytes as JSON; the limit is {MAX_TASK_VALUE_BYTES}"
            )
        self._mine[key] = value
        out = os.environ.get("HEADRACE_TASK_VALUES")
        if out:
            # Merge with what is there: a notebook's kernel and the notebooks it runs are
            # separate processes writing the same task's values.
            try:
                with open(out, encoding="utf-8") as f:
                    current = json.load(f)
            except (FileNotFoundError, ValueError):
                current = {}
            current[key] = value
            tmp = f"{out}.{os.getpid()}.tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(current, f)
            os.replace(tmp, out)

    def get(
        self,
        taskKey: str,
        key: str,
        default: Any = _MISSING,
        debugValue: Any = _MISSING,
    ) -> Any:
        """A value set by task `taskKey` in this run; `debugValue` outside a run."""
        ctx = self._owner.context
        if ctx is None:
            if debugValue is _MISSING:
                raise TaskValueError("not inside a Headrace task run and no debugValue given")
            return debugValue
        if taskKey == ctx.get("task_key") and key in self._mine:
            return self._mine[key]
        found = ctx.get("task_values", {}).get(taskKey, {})
        if key in found:
            return found[key]
        if default is not _MISSING:
            return default
        raise TaskValueError(
            f"task {taskKey!r} set no value named {key!r} (or is no task of this job)"
        )


class Jobs:
    """`dbutils.jobs`."""

    def __init__(self, owner: DBUtils) -> None:
        self.taskValues = TaskValues(owner)


class DBUtils:
    """The subset of Databricks' dbutils that task processes use."""

    def __init__(self) -> None:
        self._context: Any = _MISSING
        self.widgets = Widgets(self)
        self.jobs = Jobs(self)
        self.notebook = NotebookUtils()
        self.fs = Fs()
        self.secrets = Secrets()

    @property
    def context(self) -> dict[str, Any] | None:
        if self._context is _MISSING:
            self._context = _context()
        return self._context


dbutils = DBUtils()
