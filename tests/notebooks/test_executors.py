"""Cells run in the runner's own IPython shell (no Jupyter kernel, issue 12) and give the same
executed notebook, log and result as in a Jupyter kernel (HEADRACE_NOTEBOOK_EXECUTOR=kernel)."""

from __future__ import annotations

from typing import Any

import pytest

from notebooks.helpers import cell_text, executed, log, output, source_notebook, task
from support import Headrace

CELLS = (
    """
    import os, sys
    print("hello", os.environ.get("HEADRACE_NOTEBOOK_KERNEL"))
    print("to stderr", file=sys.stderr)
    """,
    """
    # MAGIC %md
    # MAGIC # Title
    """,
    """
    display([{"a": 1, "b": "x"}])
    40 + 2
    """,
    """
    # MAGIC %sh echo from-sh
    """,
    """
    import helper
    print(helper.VALUE, __name__)
    """,
    """
    # Which executor ran the cells: a kernel has the runner's pid in JPY_PARENT_PID.
    dbutils.notebook.exit("kernel" if os.environ.get("JPY_PARENT_PID") else "in-process")
    """,
)


def _outputs(nb: dict[str, Any]) -> list[list[tuple[str, str]]]:
    """Each code cell's outputs as (type, text): what the two executors must agree on."""
    shown = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        shown.append([(_kind(out), cell_text({"outputs": [out]})) for out in cell["outputs"]])
    return shown


def _kind(out: dict[str, Any]) -> str:
    kind = str(out["output_type"])
    return f"{kind}:{out['name']}" if kind == "stream" else kind


def _merged_streams(cells: list[list[tuple[str, str]]]) -> list[list[tuple[str, str]]]:
    # A kernel may split one print into several stream outputs: compare joined text.
    out = []
    for cell in cells:
        merged: list[tuple[str, str]] = []
        for kind, text in cell:
            if merged and kind.startswith("stream") and merged[-1][0] == kind:
                merged[-1] = (kind, merged[-1][1] + text)
            else:
                merged.append((kind, text))
        out.append(merged)
    return out


def _run(hr: Headrace, executor: str) -> dict[str, Any]:
    hr.env["HEADRACE_NOTEBOOK_EXECUTOR"] = executor
    job = hr.write(
        "job.yml",
        """
        name: same
        tasks:
          - task_key: nb
            notebook_task: {notebook_path: ./nb.py}
        """,
    )
    return hr("run", job, "--json", timeout=300).json()


def test_in_process_cells_match_a_kernel(hr: Headrace) -> None:
    hr.write("helper.py", "VALUE = 'imported from the notebook folder'\n")
    source_notebook(hr, "nb.py", *CELLS)

    runs = {name: _run(hr, name) for name in ("", "kernel")}

    for name, run in runs.items():
        assert task(run, "nb")["state"]["result_state"] == "SUCCESS", run
        assert output(run, "nb")["notebook_output"]["result"] == (name or "in-process")
        for line in ("hello 1", "a | b", "42", "from-sh", "imported from the notebook folder"):
            assert line in log(run, "nb")
    here, kernel = (_merged_streams(_outputs(executed(runs[n], "nb"))) for n in ("", "kernel"))
    assert here[:-1] == kernel[:-1]
    assert here[0] == [("stream:stdout", "hello 1\n"), ("stream:stderr", "to stderr\n")]
    assert here[-1] == [("stream:stdout", "Notebook exited: in-process\n")]
    assert kernel[-1] == [("stream:stdout", "Notebook exited: kernel\n")]
    counts = [c.get("execution_count") for c in executed(runs[""], "nb")["cells"]]
    assert counts == [c.get("execution_count") for c in executed(runs["kernel"], "nb")["cells"]]


@pytest.mark.parametrize("executor", ["", "kernel"])
def test_a_failing_cell_reports_the_same_error_either_way(hr: Headrace, executor: str) -> None:
    source_notebook(hr, "nb.py", "x = 1", "print('before')\n{}['missing']")

    run = _run(hr, executor)

    state = task(run, "nb")["state"]
    assert state["result_state"] == "FAILED"
    assert "KeyError: 'missing'" in state["state_message"]
    [_, failed] = [c for c in executed(run, "nb")["cells"] if c["cell_type"] == "code"]
    assert [o["output_type"] for o in failed["outputs"]] == ["stream", "error"]
    assert failed["outputs"][1]["ename"] == "KeyError"
    assert "cell 2" in log(run, "nb")


def test_a_notebook_that_needs_a_kernel_gets_one(hr: Headrace) -> None:
    """ipywidgets (comms) and %matplotlib want a front end's kernel: such a notebook runs in
    one without being told (here: the kernel's parent-pid variable is set)."""
    source_notebook(
        hr,
        "nb.py",
        """
        import os
        try:
            import ipywidgets  # noqa: F401
        except ImportError:
            pass
        print("kernel parent", os.environ.get("JPY_PARENT_PID") is not None)
        """,
    )

    run = _run(hr, "")

    assert task(run, "nb")["state"]["result_state"] == "SUCCESS", run
    assert "kernel parent True" in log(run, "nb")


@pytest.mark.parametrize(
    ("source", "kernel"),
    [
        ("print(1)", False),
        ("%matplotlib inline", True),
        ("import matplotlib.pyplot as plt", True),
        ("  from seaborn import lineplot", True),
        ("import ipywidgets as w", True),
        ("# import matplotlib (a comment)", False),
        ("import matplotlibx", False),
    ],
)
def test_which_notebooks_need_a_kernel(
    source: str, kernel: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    from headrace.notebook.inprocess import EXECUTOR_ENV, needs_kernel

    monkeypatch.delenv(EXECUTOR_ENV, raising=False)
    nb = new_notebook(cells=[new_markdown_cell("import matplotlib"), new_code_cell(source)])
    assert needs_kernel(nb) is kernel
    monkeypatch.setenv(EXECUTOR_ENV, "kernel")
    assert needs_kernel(nb) is True
