"""The worker builds notebook commands without loading Jupyter (start-up is on the hot path)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROBE = """
import json, sys
from headrace.worker.tasks import command_builder
command = command_builder("notebook_task")({"notebook_path": sys.argv[1]})
heavy = ("nbclient", "nbformat", "jupyter_client", "IPython", "ipykernel", "zmq", "duckdb")
print(json.dumps({"argv": command.argv, "loaded": [m for m in heavy if m in sys.modules]}))
"""


def test_building_a_notebook_command_imports_no_jupyter_module(tmp_path: Path) -> None:
    (tmp_path / "etl.py").write_text("# Databricks notebook source\nx = 1\n")

    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "etl")],
        capture_output=True,
        text=True,
        check=True,
    )

    result = json.loads(done.stdout)
    assert result["loaded"] == []
    assert result["argv"][1:] == ["-m", "headrace.notebook.runner", str(tmp_path / "etl.py")]
