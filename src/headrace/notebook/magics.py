"""The kernel's side of a notebook task: Databricks' names and magics inside IPython.

`install(shell)` puts `dbutils`, `display`, ... into the user namespace and adds the magics of
Databricks notebooks: `%sql` (the SQL warehouse), `%sh`, `%md`, `%pip`, `%run` (another
notebook inline, in this namespace), `%fs`, `%python`. Databricks writes them with one `%` at
the top of a cell; an input transformer turns that into IPython's cell-magic form.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from headrace.runtime.notebook import NOTEBOOK_PATH_ENV, NotebookExit

# Databricks cell magics: `%sql` on the first line makes the whole cell SQL.
_CELL_MAGICS = {
    "sql": "sql",
    "sh": "sh",
    "md": "md",
    "md-sandbox": "md",
    "scala": "scala",
    "r": "r",
}
_FIRST = re.compile(r"^%([A-Za-z][\w-]*)(.*)$")
# The warehouse a notebook's %sql cells use (notebook_task.warehouse_id); default: embedded.
WAREHOUSE_ENV = "HEADRACE_NOTEBOOK_WAREHOUSE"


class ShellCommandError(RuntimeError):
    """A `%sh` or `%pip` command exited with a non-zero status."""


class UnsupportedLanguage(RuntimeError):
    """A `%scala` or `%r` cell: only Python and SQL run here."""


def databricks_cell_magics(lines: list[str]) -> list[str]:
    """IPython input transformer: `%sql` as a cell's first line -> `%%sql`; `%python` dropped."""
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        return lines
    head = lines[first].strip()
    if head.startswith("%%"):
        return lines
    match = _FIRST.match(head)
    if match is None:
        return lines
    name, rest = match.group(1), match.group(2)
    if name == "python":
        return lines[:first] + ([rest.strip() + "\n"] if rest.strip() else []) + lines[first + 1 :]
    body = lines[first + 1 :]
    if name in _CELL_MAGICS and any(line.strip() for line in body):
        return [f"%%{_CELL_MAGICS[name]}{rest}\n", *body]
    if name in _CELL_MAGICS:  # one line (`%sh ls`): the line-magic form of the same magic
        return [f"%{_CELL_MAGICS[name]}{rest}\n"]
    return lines


class _Notebooks:
    """Which notebook is running (a stack: `%run` runs another one inside)."""

    def __init__(self) -> None:
        current = os.environ.get(NOTEBOOK_PATH_ENV)
        self.stack: list[Path] = [Path(current)] if current else []

    @property
    def folder(self) -> Path:
        return self.stack[-1].parent if self.stack else Path.cwd()


def install(shell: Any) -> None:
    """Prepare an IPython shell to run Databricks notebooks."""
    from headrace.runtime.namespace import notebook_globals

    shell.user_ns.update(notebook_globals())
    notebooks = _Notebooks()
    shell.user_ns["_headrace_notebooks"] = notebooks
    shell.input_transformers_cleanup.append(databricks_cell_magics)
    shell.set_custom_exc((NotebookExit,), _show_exit)
    register = shell.register_magic_function
    register(lambda line, cell=None: _sql(shell, line, cell), "line_cell", "sql")
    register(lambda line, cell=None: _sh(line, cell), "line_cell", "sh")
    register(lambda line, cell=None: _md(line, cell), "line_cell", "md")
    register(lambda line: _pip(line), "line", "pip")
    run = _no_var_expand(lambda line: _run(shell, notebooks, line))
    register(run, "line", "run")
    register(lambda line: _fs(line), "line", "fs")
    for language in ("scala", "r"):
        register(_unsupported(language), "line_cell", language)


def _no_var_expand(magic: Any) -> Any:
    # `%run ./nb $day="..."` is Databricks' argument syntax, not IPython's $variable expansion.
    magic._ipython_magic_no_var_expand = True  # IPython.core.magic.no_var_expand
    return magic


def _show_exit(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None):  # type: ignore[no-untyped-def]
    # No traceback for a normal end; the runner shows "Notebook exited: ..." in its place.
    return []


def _unsupported(language: str):  # type: ignore[no-untyped-def]
    def magic(line: str, cell: str | None = None) -> None:
        raise UnsupportedLanguage(
            f"%{language} cells are not supported: Headrace runs Python and SQL notebooks"
        )

    return magic


def _text(line: str, cell: str | None) -> str:
    return (line + "\n" + (cell or "")).strip()


def _sql(shell: Any, line: str, cell: str | None) -> None:
    from headrace.runtime.display import display
    from headrace.warehouse import execute

    text = _text(line, cell)
    if not text:
        return
    widgets = shell.user_ns["dbutils"].widgets.getAll()
    # Named parameter markers (:day) take the widget of that name, as Databricks' %sql does.
    used = {n for n in re.findall(r"(?<![:\w]):([A-Za-z_]\w*)", _without_strings(text))}
    parameters = {name: widgets[name] for name in used if name in widgets}
    warehouse = os.environ.get(WAREHOUSE_ENV) or None
    if warehouse is None and _on_spark_cluster():
        # The task has Spark compute: %sql runs on it and _sqldf is a Spark DataFrame.
        result = shell.user_ns["spark"].sql(text, args=parameters or None)
    else:
        result = execute(text, warehouse_id=warehouse, parameters=parameters or None)
    shell.user_ns["_sqldf"] = result
    display(result)


def _on_spark_cluster() -> bool:
    from headrace.runtime.spark import on_cluster

    return on_cluster()


def _without_strings(sql: str) -> str:
    """SQL with quoted strings and comments blanked (a ':x' inside them is no parameter)."""
    sql = re.sub(r"'(?:[^']|'')*'", "''", sql)
    sql = re.sub(r"--[^\n]*", "", sql)
    return re.sub(r"/\*.*?\*/", "", sql, flags=re.S)


def _stream(argv: list[str], what: str) -> None:
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    assert proc.stdout is not None
    for output_line in proc.stdout:
        sys.stdout.write(output_line)
    code = proc.wait()
    if code != 0:
        raise ShellCommandError(f"{what} exited with status {code}")


def _sh(line: str, cell: str | None) -> None:
    text = _text(line, cell)
    if text:
        _stream(["bash", "-c", text], "%sh command")


def _md(line: str, cell: str | None) -> None:
    from IPython.display import Markdown, display

    display(Markdown(_text(line, cell)))


def _pip(line: str) -> None:
    import importlib
    import shlex

    # Into the task's own interpreter (the kernel runs on it), as Databricks' notebook-scoped
    # libraries; a failed install fails the cell.
    # -I: the notebook's folder (a user file named pip.py, say) must not shadow pip itself.
    _stream([sys.executable, "-I", "-m", "pip", *shlex.split(line)], "%pip")
    importlib.invalidate_caches()


def _run(shell: Any, notebooks: _Notebooks, line: str) -> None:
    import shlex

    from headrace.notebook import document
    from headrace.notebook.paths import resolve

    args = shlex.split(line)
    if not args:
        raise ValueError("%run needs a notebook path, e.g. %run ./shared/setup")
    path = resolve(args[0], base=notebooks.folder)
    nb = document.load(path)
    widgets = shell.user_ns["dbutils"].widgets
    widgets.overlays.append(_run_arguments(args[1:]))
    notebooks.stack.append(path)
    try:
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or not cell.source.strip():
                continue
            code = shell.transform_cell(cell.source)
            exec(compile(code, f"<{path.name} cell {index + 1}>", "exec"), shell.user_ns)
    finally:
        notebooks.stack.pop()
        widgets.overlays.pop()


def _run_arguments(words: list[str]) -> dict[str, str]:
    """`$name=value` words after a %run path: widget values for the notebook it runs."""
    out = {}
    for word in words:
        name, sep, value = word.partition("=")
        if not name.startswith("$") or not sep or not name[1:].isidentifier():
            raise ValueError(f'%run arguments are written $name="value", got {word!r}')
        out[name[1:]] = value
    return out


def _fs(line: str) -> None:
    import shlex

    from headrace.runtime.dbutils import dbutils
    from headrace.runtime.display import display

    args = shlex.split(line)
    if not args:
        raise ValueError("%fs needs a command, e.g. %fs ls /tmp")
    command = getattr(dbutils.fs, args[0], None)
    if command is None or args[0].startswith("_"):
        raise ValueError(f"%fs {args[0]}: no such command (ls, cp, mv, rm, put, head, mkdirs)")
    result = command(*args[1:])
    if isinstance(result, list):
        display([vars(item) for item in result])
    elif isinstance(result, str):
        print(result)
