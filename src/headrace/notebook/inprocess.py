"""Run a notebook's cells in this process's IPython shell, without a Jupyter kernel (issue 12).

A kernel costs a second interpreter, ipykernel, ZeroMQ and nbclient: about a second and a half
before the first cell on two busy cores. The runner process itself hosts an IPython
`InteractiveShell` instead, set up as the kernel is (`magics.install`: the same globals,
Databricks magics, `%run`, `%sql`), and turns what the shell shows into the same nbformat
outputs nbclient would write:

- `print` and `sys.stderr` -> `stream` outputs (consecutive writes of one stream merged), each
  write also copied to the log at once; secrets redacted from both;
- `display(...)` -> `display_data`; a cell's last expression -> `execute_result`;
- an exception -> an `error` output with IPython's traceback (and the runner's CellFailed).

What differs from a kernel: output that a subprocess writes straight to the file descriptors
(`os.system`, not `%sh`, which streams through `sys.stdout`) reaches the log but not the
executed notebook; `input()` meets end of file. Notebooks that need a real kernel (`%matplotlib`, ipywidgets,
matplotlib or seaborn imports: inline figures) use one: see `needs_kernel`.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from headrace.runtime.secrets import Redactor

# Cells that want a live kernel's front-end protocol (comms, inline plots) run in one.
_KERNEL_ONLY = re.compile(
    r"^\s*(%matplotlib\b|(import|from)\s+(ipywidgets|matplotlib|seaborn)\b)", re.M
)
EXECUTOR_ENV = "HEADRACE_NOTEBOOK_EXECUTOR"  # "kernel" forces a Jupyter kernel
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class CellFailed(Exception):
    """A cell raised: its error name, value and traceback lines (ANSI codes removed)."""

    def __init__(self, index: int, ename: str, evalue: str, traceback: list[str]) -> None:
        super().__init__(f"{ename}: {evalue}")
        self.index = index
        self.ename = ename
        self.evalue = evalue
        self.traceback = traceback


def needs_kernel(nb: Any) -> bool:
    """True if this notebook must run in a Jupyter kernel (or the setting says so)."""
    if os.environ.get(EXECUTOR_ENV, "").strip().lower() == "kernel":
        return True
    return any(c.cell_type == "code" and _KERNEL_ONLY.search(c.source) for c in nb.cells)


class _Sink:
    """Where the running cell's outputs go (the hooks below all write here)."""

    def __init__(self, redact: Redactor) -> None:
        self.redact = redact
        self.outputs: list[Any] = []

    def stream(self, name: str, text: str) -> None:
        from nbformat.v4 import new_output

        if not text:
            return
        last = self.outputs[-1] if self.outputs else None
        if last is not None and last.get("output_type") == "stream" and last.get("name") == name:
            last["text"] += text
        else:
            self.outputs.append(new_output("stream", name=name, text=text))

    def rich(self, kind: str, data: dict[str, Any], metadata: dict[str, Any], **extra: Any) -> None:
        from nbformat.v4 import new_output

        if self.redact:
            data = self.redact.deep(data)
        text = data.get("text/plain")
        if text:  # the log gets what the kernel runner echoed: the plain text
            sys.__stdout__.write(str(text).rstrip("\n") + "\n")
            sys.__stdout__.flush()
        self.outputs.append(new_output(kind, data=data, metadata=metadata or {}, **extra))


class _CellStream:
    """sys.stdout / sys.stderr while cells run: to the log at once and into the cell's outputs."""

    def __init__(self, name: str, real: Any, sink: _Sink) -> None:
        self.name, self._real, self._sink = name, real, sink
        self.encoding = getattr(real, "encoding", "utf-8")
        self.errors = getattr(real, "errors", "strict")

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        shown = self._sink.redact(text) if self._sink.redact else text
        self._real.write(shown)
        self._real.flush()
        self._sink.stream(self.name, shown)
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._real.flush()

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return int(self._real.fileno())

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _shell(sink: _Sink) -> Any:
    """An InteractiveShell whose display machinery writes into `sink`."""
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets import Type

    class Publisher(DisplayPublisher):  # type: ignore[misc]
        def publish(self, data: Any, metadata: Any = None, *args: Any, **kwargs: Any) -> None:
            sink.rich("display_data", dict(data), dict(metadata or {}))

        def clear_output(self, wait: bool = False) -> None:
            sink.outputs[:] = []

    class Hook(DisplayHook):  # type: ignore[misc]
        def write_output_prompt(self) -> None:
            pass

        def write_format_data(self, format_dict: Any, md_dict: Any = None) -> None:
            sink.rich(
                "execute_result",
                dict(format_dict),
                dict(md_dict or {}),
                execution_count=self.prompt_count,
            )

        def finish_displayhook(self) -> None:
            sys.stdout.flush()

    class Shell(InteractiveShell):  # type: ignore[misc]
        display_pub_class = Type(Publisher)
        displayhook_class = Type(Hook)

        def _showtraceback(self, etype: Any, evalue: Any, stb: list[str]) -> None:
            from nbformat.v4 import new_output

            name, value = etype.__name__, str(evalue)
            if sink.redact:
                value, stb = sink.redact(value), [sink.redact(line) for line in stb]
            sink.outputs.append(new_output("error", ename=name, evalue=value, traceback=stb))

        def enable_gui(self, gui: Any = None) -> None:
            pass

    return Shell.instance(colors="Linux")


def execute(
    nb: Any,
    notebook: Path,
    save: Callable[[], None],
    env: dict[str, str],
    redact: Redactor,
    on_exit: Callable[[Any], None],
) -> CellFailed | None:
    """Run every code cell of `nb` here; stop at the first error (returned) or at
    notebook.exit (`on_exit(cell)`, then None). `env` is what a kernel's environment would be."""
    from headrace.notebook.magics import install
    from headrace.runtime.notebook import NotebookExit

    os.environ.update(env)
    # As ipykernel does: figures (pandas' .plot() imports matplotlib itself) shown inline.
    if not os.environ.get("MPLBACKEND"):
        os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    os.chdir(notebook.parent)
    sys.argv = [str(notebook)]
    if "" not in sys.path:  # as in a kernel: the notebook's folder (the cwd) is importable
        sys.path.insert(0, "")
    sink = _Sink(redact)
    shell = _shell(sink)
    install(shell)
    sys.stdout = _CellStream("stdout", sys.__stdout__, sink)
    sys.stderr = _CellStream("stderr", sys.__stderr__, sink)
    try:
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            sink.outputs = cell.outputs = []
            result = shell.run_cell(cell.source, store_history=True)
            cell.execution_count = result.execution_count
            error = result.error_before_exec or result.error_in_exec
            if isinstance(error, NotebookExit):
                on_exit(cell)
                save()
                return None
            if error is not None:
                save()
                return _failure(index, cell, error, redact)
            save()
    finally:
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    return None


def _failure(index: int, cell: Any, error: BaseException, redact: Redactor) -> CellFailed:
    trace: list[str] = []
    for out in cell.outputs:
        if out.get("output_type") == "error":
            trace = [_ANSI.sub("", line) for line in out.get("traceback") or []]
    value = redact(str(error)) if redact else str(error)
    return CellFailed(index, type(error).__name__, value, trace)
