"""Run one notebook, cell by cell: the process of a notebook_task attempt.

`python -m headrace.notebook.runner NOTEBOOK [--save EXECUTED.ipynb]`

- Cells run in this process's own IPython shell (`inprocess`: no kernel to start, issue 12);
  a notebook that needs a real kernel (`inprocess.needs_kernel`) gets a Jupyter kernel
  (ipykernel via nbclient) in this process's group, so the worker's timeout and cancel kill
  it and everything its cells started (see `provisioner`).
- Cell outputs go to the log as they arrive and into the executed notebook, saved after every
  cell (by default `notebook.ipynb` next to the attempt's log); secrets are redacted from both.
- A task with `libraries` (bundles) or an `environment_key` gets its environment (uv-built,
  cached like every task environment) first on the path of the cells (`_task_environment`).
- `dbutils.notebook.exit(value)` ends the run successfully; the value becomes get-output's
  `notebook_output.result`. A failing cell ends it with exit status 1 and a Python-style
  traceback as the log's last lines (the worker takes the error and trace from there).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from headrace.notebook.inprocess import CellFailed, needs_kernel
from headrace.runtime.notebook import EXIT_FILE_ENV, NOTEBOOK_PATH_ENV, notebook_output
from headrace.runtime.output import report_output
from headrace.runtime.secrets import Redactor

KERNEL_NAME = "headrace-python"
# The task's environment spec (its libraries), passed on by the worker (own_environment).
ENVIRONMENT_SPEC_ENV = "HEADRACE_ENVIRONMENT_SPEC"
EXECUTED_NAME = "notebook.ipynb"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _parameters() -> dict[str, str]:
    path = os.environ.get("HEADRACE_CONTEXT")
    if not path:
        return {}
    with open(path, encoding="utf-8") as f:
        return dict(json.load(f).get("parameters") or {})


def _kernel_dirs(scratch: Path) -> list[str]:
    """A kernel spec that starts headrace.notebook.kernel on this interpreter."""
    folder = scratch / "kernels" / KERNEL_NAME
    folder.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "headrace.notebook.kernel", "-f", "{connection_file}"],
        "display_name": "Python 3 (Headrace)",
        "language": "python",
    }
    (folder / "kernel.json").write_text(json.dumps(spec))
    return [str(scratch / "kernels")]


def _client(nb: Any, notebook: Path, redact: Redactor, scratch: Path) -> Any:
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpecManager
    from nbclient import NotebookClient

    from headrace.notebook.provisioner import SameGroupProvisioner

    class Client(NotebookClient):  # type: ignore[misc]
        """nbclient with redaction and a live copy of every output in the log."""

        def output(self, outs: Any, msg: dict[str, Any], display_id: Any, cell_index: int) -> Any:
            if redact:
                msg["content"] = redact.deep(msg["content"])
            _echo(msg)
            return super().output(outs, msg, display_id, cell_index)

    specs = KernelSpecManager(kernel_dirs=_kernel_dirs(scratch))
    # Unix sockets in a private folder rather than TCP on loopback: no other local user can
    # connect to the kernel (and ipykernel has nothing to warn about).
    km = AsyncKernelManager(
        kernel_name=KERNEL_NAME,
        kernel_spec_manager=specs,
        transport="ipc",
        ip=str(scratch / "kernel"),
        connection_file=str(scratch / "kernel.json"),
    )
    km.kernel_id = "headrace"
    km.provisioner = SameGroupProvisioner(
        kernel_id=km.kernel_id, kernel_spec=km.kernel_spec, parent=km
    )
    return Client(
        nb,
        km=km,
        timeout=None,  # the task's timeout_seconds is the worker's to enforce
        startup_timeout=120,
        allow_errors=False,
        shutdown_kernel="immediate",
        resources={"metadata": {"path": str(notebook.parent)}},
    )


def _echo(msg: dict[str, Any]) -> None:
    """Copy an output message into the log (stdout of this process)."""
    kind, content = msg["msg_type"], msg["content"]
    if kind == "stream":
        target = sys.stderr if content.get("name") == "stderr" else sys.stdout
        target.write(content.get("text", ""))
        target.flush()
    elif kind in ("execute_result", "display_data"):
        text = content.get("data", {}).get("text/plain")
        if text:
            sys.stdout.write(text.rstrip("\n") + "\n")
            sys.stdout.flush()


def _execute(
    client: Any, nb: Any, save: Any, kernel_env: dict[str, str], redact: Redactor
) -> CellFailed | None:
    """Run every code cell; stop at the first error (returned) or at notebook.exit (None)."""
    from nbclient.exceptions import CellExecutionError

    with client.setup_kernel(env=kernel_env):
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            try:
                client.execute_cell(cell, index)
            except CellExecutionError as exc:
                if exc.ename == "NotebookExit":
                    _show_exit(cell, redact(Path(kernel_env[EXIT_FILE_ENV]).read_text()))
                    save()
                    return None
                trace = _error_traceback(cell)
                save()
                # The reply's message did not pass through output(): redact it here.
                return CellFailed(index, exc.ename, redact(exc.evalue), trace)
            save()
    return None


def _show_exit(cell: Any, value: str) -> None:
    """The exit cell shows what Databricks shows, not a NotebookExit traceback."""
    from nbformat.v4 import new_output

    cell.outputs = [
        out
        for out in cell.outputs
        if not (out.get("output_type") == "error" and out.get("ename") == "NotebookExit")
    ]
    shown = value if len(value) <= 1000 else value[:1000] + "..."
    cell.outputs.append(new_output("stream", name="stdout", text=f"Notebook exited: {shown}\n"))


def _error_traceback(cell: Any) -> list[str]:
    for out in cell.outputs:
        if out.get("output_type") == "error":
            return [_ANSI.sub("", line) for line in out.get("traceback") or []]
    return []


def _spark_head(evalue: str) -> list[str]:
    """A Spark error's message without its query plan and JVM stack trace (issue 12)."""
    lines = evalue.split("\nJVM stacktrace:", 1)[0].splitlines()
    for i, line in enumerate(lines):
        if "SQLSTATE: " in line:
            return lines[: i + 1]
    return lines


def _report_failure(failed: CellFailed, notebook: Path, nb: Any) -> None:
    """The log's last lines: a Python-style traceback ending with `Name: message`."""
    number = sum(1 for c in nb.cells[: failed.index + 1] if c.cell_type == "code")
    lines = ["Traceback (most recent call last):", f"  notebook {notebook.name}, cell {number}"]
    for chunk in failed.traceback:
        for line in chunk.splitlines():
            # IPython's header line repeats the marker the worker looks for: keep one.
            if "Traceback (most recent call last)" in line:
                continue
            if line.strip() and not set(line.strip()) <= {"-"}:
                lines.append("  " + line)
    # The worker takes the error from the last line: the whole message, on one line.
    message = " ".join(part.strip() for part in _spark_head(failed.evalue) if part.strip())
    lines.append(f"{failed.ename}: {message}".rstrip().rstrip(":"))
    sys.stdout.flush()
    sys.stderr.write("\n".join(lines) + "\n")
    sys.stderr.flush()


def run(notebook: Path, save_to: Path | None) -> int:
    """Run the notebook; 0 on success (or notebook.exit), 1 if a cell failed."""
    from headrace.notebook import document

    nb = document.load(notebook)
    parameters = _parameters()
    if notebook.suffix == ".ipynb":
        document.inject_parameters(nb, parameters)
    redact = Redactor.from_directory()
    if save_to is not None:
        save_to.parent.mkdir(parents=True, exist_ok=True)
        report_output(executed_notebook=str(save_to))

    def save() -> None:
        if save_to is not None:
            document.write(nb, save_to)

    save()
    try:
        libraries = _task_environment()
    except Exception as exc:  # EnvironmentFailed: uv's own message
        sys.stderr.write(f"{type(exc).__name__}: {exc}\n")
        return 1
    with tempfile.TemporaryDirectory(prefix="headrace-nb-") as scratch:
        exit_file = Path(scratch) / "exit-value"
        kernel_env = dict(os.environ)
        if libraries is not None:  # a real kernel gets them first on its path too
            path = kernel_env.get("PYTHONPATH")
            kernel_env["PYTHONPATH"] = str(libraries) + (os.pathsep + path if path else "")
        kernel_env[EXIT_FILE_ENV] = str(exit_file)
        kernel_env[NOTEBOOK_PATH_ENV] = str(notebook)
        kernel_env["HEADRACE_NOTEBOOK_KERNEL"] = "1"
        if needs_kernel(nb):
            client = _client(nb, notebook, redact, Path(scratch))
            _stop_kernel_on_sigterm(client)
            failed = _execute(client, nb, save, kernel_env, redact)
        else:
            from headrace.notebook import inprocess

            def on_exit(cell: Any) -> None:
                _show_exit(cell, redact(exit_file.read_text()))

            failed = inprocess.execute(nb, notebook, save, kernel_env, redact, on_exit)
        exited = exit_file.read_text(encoding="utf-8") if exit_file.exists() else None
    if failed is not None:
        _report_failure(failed, notebook, nb)
        return 1
    output = notebook_output(redact(exited)) if exited is not None else {}
    report_output(notebook_output=output)
    return 0


def _task_environment() -> Path | None:
    """The site-packages of the task's environment (its `libraries` or `environment_key`),
    built by uv if need be, put first on this process's path; None when the task has none.

    Cells run on Headrace's interpreter (in this process, or a kernel started from it), which
    has what notebooks need (IPython, dbutils, nbclient); the environment's packages are found
    before Headrace's own, so a library's version wins over one Headrace happens to have,
    except for a module Headrace had imported before the notebook started.
    """
    text = os.environ.pop(ENVIRONMENT_SPEC_ENV, "")
    if not text:
        return None
    from headrace.config import default_home
    from headrace.worker.environments import ensure_environment

    python = ensure_environment(json.loads(text), default_home(), sys.stdout.buffer)
    sys.stdout.flush()
    found = sorted(python.parent.parent.glob("lib/python*/site-packages"))
    if not found:
        return None
    sys.path.insert(0, str(found[0]))
    return found[0]


def _stop_kernel_on_sigterm(client: Any) -> None:
    """On SIGTERM (a notebook.run timeout) take the kernel down too, then leave."""

    def stop(signum: int, frame: Any) -> None:
        provisioner = getattr(getattr(client, "km", None), "provisioner", None)
        process = getattr(provisioner, "process", None)
        if process is not None:
            process.kill()
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def _default_save() -> Path | None:
    out = os.environ.get("HEADRACE_OUTPUT")
    return Path(out).parent / EXECUTED_NAME if out else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="headrace.notebook.runner")
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--save", type=Path, default=None, help="where the executed notebook goes")
    args = parser.parse_args(argv)
    from headrace.notebook.document import NotebookFormatError

    try:
        code = run(args.notebook, args.save if args.save is not None else _default_save())
    except NotebookFormatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    raise SystemExit(code)


if __name__ == "__main__":
    main()
