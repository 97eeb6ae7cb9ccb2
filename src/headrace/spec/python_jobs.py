"""Jobs in a Python module, written with Databricks' `databricks-bundles` package.

`headrace run pipeline.py` (and `headrace validate`) accept a module whose top-level names hold
`databricks.bundles.jobs.Job` objects, or that defines `load_resources()` returning `Resources`.
The module runs in its own interpreter process (it is the user's code, with its imports), which
prints the jobs as Jobs API JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from headrace.errors import SpecError, SpecIssue

TIMEOUT_SECONDS = 300

_MODULE_LOADER = r"""
import json, runpy, sys
from databricks.bundles.core import Resources
from databricks.bundles.jobs import Job
namespace = runpy.run_path(sys.argv[1], run_name="__headrace_jobs__")
jobs = {}
for name, value in namespace.items():
    if isinstance(value, Job):
        jobs[name] = value.as_dict()
loader = namespace.get("load_resources")
if not jobs and callable(loader):
    resources = loader()
    if isinstance(resources, Resources):
        jobs = {name: job.as_dict() for name, job in resources.jobs.items()}
json.dump(jobs, sys.stdout)
"""


def load_job_module(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(variable name, job settings) for each `Job` a Python module defines.

    Raises:
        SpecError: the module fails to import, defines no job, or databricks-bundles is missing.
    """
    proc = subprocess.run(
        [sys.executable, "-c", _MODULE_LOADER, str(path)],
        cwd=path.parent,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
    )
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        if any("No module named 'databricks.bundles'" in ln for ln in lines):
            raise SpecError(
                "jobs in Python need databricks-bundles: pip install databricks-bundles",
                source=str(path),
            )
        raise SpecError(
            [SpecIssue("", f"cannot load jobs: {lines[-1] if lines else proc.returncode}")],
            source=str(path),
        )
    jobs = json.loads(proc.stdout or "{}")
    if not jobs:
        raise SpecError(
            "the module defines no databricks.bundles.jobs.Job (nor load_resources())",
            source=str(path),
        )
    return list(jobs.items())
