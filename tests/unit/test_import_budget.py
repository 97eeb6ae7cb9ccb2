"""The import budget of `headrace run` (issue 18): which modules a one-task run loads, not time.

Start-up is most of a small run's wall time, so `headrace run` must not pull in the server, the
UI, notebooks, Spark, SQL warehouses or Alembic, and the number of modules it loads may grow
only on purpose. The budget is documented in docs/benchmarks.md; raise it there and here
together, with the reason, if a change really needs more.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# Measured 2026-12 (Python 3.11, SQLite store): `run --quiet` 495 modules in all, 75 of them
# headrace's; the default output adds rich (47 modules) for its summary table. The margin
# absorbs other Python versions and site hooks, not new dependencies.
MODULE_BUDGET = 540
RICH_BUDGET = 50  # `headrace run` without --quiet prints its summary table with rich
HEADRACE_MODULE_BUDGET = 85

# Never needed to run a shell task against a SQLite store (the server, UI, notebooks, Spark,
# warehouses, migrations, PostgreSQL, data frames, HTTP clients, pretty tracebacks).
HEAVY = (
    "fastapi",
    "uvicorn",
    "starlette",
    "jinja2",
    "pandas",
    "numpy",
    "pyarrow",
    "pyspark",
    "py4j",
    "nbclient",
    "nbformat",
    "nbconvert",
    "jupyter_client",
    "duckdb",
    "alembic",
    "psycopg",
    "psycopg2",
    "sqlalchemy.dialects.postgresql",
    "httpx",
    "requests",
    "rich",
    "dbt",
    "dlt",
    "headrace.api",
    "headrace.ui",
    "headrace.notebook",
    "headrace.warehouse",
    "headrace.bundle",
)

# Runs the real CLI entry point in this interpreter and, as it leaves (main() ends with
# os._exit), writes the names in sys.modules to a file.
PROBE = textwrap.dedent(
    """
    import json, os, sys
    out = sys.argv.pop(1)
    leave = os._exit
    def _exit(code):
        with open(out, "w") as f:
            json.dump(sorted(sys.modules), f)
        leave(code)
    os._exit = _exit
    from headrace.cli.main import main
    sys.argv = ["headrace", *sys.argv[1:]]
    main()
    """
)


def _modules_of_a_run(tmp_path: Path, *flags: str) -> list[str]:
    job = tmp_path / "one.yml"
    job.write_text(
        "name: one\ntasks:\n  - task_key: a\n    shell_command_task: {command: 'true'}\n"
    )
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    out = tmp_path / "modules.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    env["HEADRACE_HOME"] = str(tmp_path / "home")
    proc = subprocess.run(
        [
            sys.executable,
            str(probe),
            str(out),
            "run",
            str(job),
            *flags,
            "--db",
            str(tmp_path / "s.db"),
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(out.read_text())


@pytest.mark.parametrize("quiet", [True, False], ids=["quiet", "summary"])
def test_headrace_run_stays_within_its_import_budget(tmp_path: Path, quiet: bool) -> None:
    modules = _modules_of_a_run(tmp_path, *(["--quiet"] if quiet else []))
    rich = [m for m in modules if m == "rich" or m.startswith("rich.")]
    if not quiet:  # the summary table; --quiet (what scripts and bench/ use) must not load it
        modules = [m for m in modules if m not in rich]
        assert len(rich) <= RICH_BUDGET
    packages = tuple(f"{name}." for name in HEAVY)
    heavy = [m for m in modules if m in HEAVY or m.startswith(packages)]
    assert heavy == [], "headrace run imports modules it does not need"
    ours = [m for m in modules if m == "headrace" or m.startswith("headrace.")]
    assert len(ours) <= HEADRACE_MODULE_BUDGET, sorted(ours)
    assert len(modules) <= MODULE_BUDGET, f"{len(modules)} modules (budget {MODULE_BUDGET})"
